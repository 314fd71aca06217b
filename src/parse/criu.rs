//! CRIU's own words: `criu --version` and `criu check` (criu/config.c, criu/cr-check.c).

use std::fmt;

/// `Version: MAJOR.MINOR[.SUBLEVEL[.EXTRA]]`, with the GitID of git builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriuVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `v3.14-348-gb98bbda8e`, or a bare sha; `None` for distro builds (gitid 0).
    pub gitid: Option<String>,
}

impl CriuVersion {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for CriuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

/// Finds the version in `criu --version` output or in a log header line
/// (`(00.000029) Version: 3.15 (gitid v3.14-348-gb98bbda8e)`). The `Version:` field is
/// trusted over the GitID, which can name an older tag.
pub fn parse_version(text: &str) -> Option<CriuVersion> {
    let mut version = None;
    let mut gitid = None;
    for line in text.lines() {
        if let Some(rest) = line.split_once("Version:").map(|(_, r)| r.trim())
            && version.is_none()
        {
            let mut words = rest.split_whitespace();
            version = Some(numbers(words.next()?)?);
            // Log headers carry the git id inline: `(gitid X)`.
            if let (Some("(gitid"), Some(id)) = (words.next(), words.next()) {
                gitid = Some(id.trim_end_matches(')').to_string());
            }
        } else if let Some(id) = line.trim().strip_prefix("GitID:") {
            gitid = Some(id.trim().to_string());
        }
    }
    let (major, minor, patch) = version?;
    Some(CriuVersion {
        major,
        minor,
        patch,
        gitid: gitid.filter(|g| !g.is_empty() && g != "0"),
    })
}

/// A bare version as packages name it (`3.17.1`, `4.0~rc1`): the leading digits of each of the
/// first three dot-separated parts.
pub fn parse_bare_version(v: &str) -> Option<CriuVersion> {
    let (major, minor, patch) = numbers(v)?;
    Some(CriuVersion {
        major,
        minor,
        patch,
        gitid: None,
    })
}

fn numbers(v: &str) -> Option<(u32, u32, u32)> {
    let mut n = v.split('.').map(|x| {
        let digits = x.len() - x.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        x[..digits].parse::<u32>().ok()
    });
    let (major, minor) = (n.next()??, n.next()??);
    Some((major, minor, n.next().flatten().unwrap_or(0)))
}

/// How `criu check` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `Looks good.`
    Good,
    /// `Looks good but some kernel features are missing …`
    MissingFeatures,
    /// `Does not look good.`
    NotGood,
    /// No verdict line: CRIU could not even initialise (or is a 1.x build).
    None,
}

/// The verdict of `criu check` and its Error / Warn lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub verdict: Verdict,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

pub fn parse_check(text: &str) -> CheckReport {
    let mut report = CheckReport {
        verdict: Verdict::None,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    for line in text.lines().map(str::trim) {
        if line.starts_with("Looks good but") {
            report.verdict = Verdict::MissingFeatures;
        } else if line == "Looks good." {
            report.verdict = Verdict::Good;
        } else if line.starts_with("Does not look good") {
            report.verdict = Verdict::NotGood;
        } else if line.starts_with("Error ") || line.starts_with("Error(") {
            report.errors.push(line.to_string());
        } else if line.starts_with("Warn ") || line.starts_with("Warn(") {
            report.warnings.push(line.to_string());
        }
    }
    report
}
