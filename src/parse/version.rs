//! Upstream release versions of container tools (`1.1.12`, `1.0.0-rc95`, `1.2.0-rc.1`,
//! `v2.2.0-beta.0`), as they appear inside the tools' output and the distributions' package
//! versions: a Debian repack suffix (`+ds1`, `~ds1`, `+dfsg1`), a packaging revision
//! (`-1ubuntu1`, `-1.el9`), or a git build (`-0-g59923ef`, `+dev`) is split off, so versions
//! compare as upstream numbers them.
//!
//! Ordering follows semver with one change runc needs: a pre-release like `rc95` compares its
//! letters and its number separately, so `1.0.0-rc6 < 1.0.0-rc10 < 1.0.0-rc95 < 1.0.0` (semver
//! would put `rc10` before `rc6`), and `rc.1` equals `rc1`.

use std::cmp::Ordering;
use std::fmt;

/// One part of a pre-release: letters or a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Word(String),
    Number(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// `1.2.3` → [1, 2, 3]; missing parts count as 0.
    pub release: Vec<u64>,
    /// `rc.1` → [rc, 1]; empty for a release.
    pub pre: Vec<Part>,
    /// What followed the version and does not order it: `+ds1`, `~ds1`, `-1ubuntu1`, `+dev`,
    /// `-12-gabc1234`.
    pub suffix: String,
    /// A build from git past the tag (`+dev`, `-N-gSHA` with N > 0): it may hold later fixes.
    pub git_build: bool,
    /// A distribution's repack or packaging revision is part of the string (`+ds1`, `~dfsg1`,
    /// `-1ubuntu1`): the distribution may have patched it without changing the number.
    pub distribution: bool,
    /// The text as given, without a leading `v`.
    pub text: String,
}

impl Version {
    /// Parses a version; `None` when it does not start with a number (`dev`, `library-import`,
    /// `unknown`).
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let digits_end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let numbers = text[..digits_end].trim_end_matches('.');
        if numbers.is_empty() {
            return None;
        }
        let release = numbers
            .split('.')
            .map(|n| n.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()?;
        let rest = &text[numbers.len()..];
        let mut v = Version {
            release,
            pre: Vec::new(),
            suffix: String::new(),
            git_build: false,
            distribution: false,
            text: text.to_string(),
        };
        v.read_rest(rest);
        Some(v)
    }

    /// Reads what follows the numbers: a pre-release, build metadata, a git describe, a
    /// distribution's revision.
    fn read_rest(&mut self, rest: &str) {
        // Build metadata (`+ds1`, `+dev`, `+dfsg1-1+deb12u1`) never orders a version.
        let (main, build) = match rest.find('+') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        // Debian's `~`: a repack (`~ds1`) or a pre-release (`4.0~rc1`).
        let (main, tilde) = match main.find('~') {
            Some(i) => (&main[..i], Some(&main[i + 1..])),
            None => (main, None),
        };
        let mut pre = "";
        if let Some(dashed) = main.strip_prefix('-') {
            let (before_git, git) = split_git_describe(dashed);
            if let Some(commits) = git {
                self.git_build |= commits > 0;
            }
            if before_git.starts_with(|c: char| c.is_ascii_alphabetic()) {
                // `-rc.1`, `-rc95`, `-beta.0`; a later `-1ubuntu1` is a revision.
                let end = before_git.find('-').unwrap_or(before_git.len());
                pre = &before_git[..end];
                self.distribution |= end < before_git.len();
            } else if !before_git.is_empty() {
                // `-1ubuntu1`, `-1.el9`, `-r0`: a packaging revision.
                self.distribution = true;
            }
        } else if let Some(dotted) = main.strip_prefix('.') {
            // `1.0-rc6` as CVE texts write it is handled above; `1.2.3.el9` is a revision.
            self.distribution |= !dotted.is_empty();
        } else if main.starts_with(|c: char| c.is_ascii_alphabetic()) {
            // `1.0rc1`.
            pre = main;
        }
        if let Some(t) = tilde {
            if is_repack(t) {
                self.distribution = true;
            } else if pre.is_empty() {
                pre = t.split('-').next().unwrap_or(t);
                self.distribution |= t.contains('-');
            }
        }
        if let Some(b) = build {
            if is_repack(b) || b.contains('-') {
                self.distribution = true;
            } else if b.starts_with("dev") || b.contains("git") {
                self.git_build = true;
            }
        }
        self.pre = pre_parts(pre);
        self.suffix = rest
            .strip_prefix(pre_prefix(rest, pre))
            .unwrap_or(rest)
            .to_string();
    }

    /// `1.1.12` with its pre-release, without suffixes: the version the table compares.
    pub fn upstream(&self) -> String {
        let mut s = self
            .release
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(
                &self
                    .pre
                    .iter()
                    .map(|p| match p {
                        Part::Word(w) => w.clone(),
                        Part::Number(n) => n.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("."),
            );
        }
        s
    }

    /// The first `n` release numbers (`major.minor` with 2).
    pub fn series(&self, n: usize) -> Vec<u64> {
        (0..n)
            .map(|i| self.release.get(i).copied().unwrap_or(0))
            .collect()
    }
}

/// `ds1`, `dfsg1`, `ds`, `dfsg`: Debian repacks of the upstream tarball.
fn is_repack(s: &str) -> bool {
    s.starts_with("ds") || s.starts_with("dfsg")
}

/// The text from the start of `rest` to the end of the pre-release, for the suffix.
fn pre_prefix<'a>(rest: &'a str, pre: &str) -> &'a str {
    if pre.is_empty() {
        return "";
    }
    match rest.find(pre) {
        Some(i) => &rest[..i + pre.len()],
        None => "",
    }
}

/// Splits `rc.1-45-gabc1234` into (`rc.1`, Some(45)) and `0-g59923ef` into (``, Some(0)).
fn split_git_describe(s: &str) -> (&str, Option<u64>) {
    let parts: Vec<&str> = s.rsplitn(3, '-').collect();
    if let [sha, commits, rest @ ..] = parts.as_slice()
        && let Some(hex) = sha.strip_prefix('g')
        && hex.len() >= 7
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && let Ok(n) = commits.parse::<u64>()
    {
        return (rest.first().copied().unwrap_or(""), Some(n));
    }
    (s, None)
}

/// `rc.1` / `rc1` → [rc, 1]; `beta.0` → [beta, 0].
fn pre_parts(pre: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    for piece in pre.split('.').filter(|p| !p.is_empty()) {
        let mut rest = piece;
        while !rest.is_empty() {
            let digits = rest.starts_with(|c: char| c.is_ascii_digit());
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digits)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            parts.push(match run.parse::<u64>() {
                Ok(n) if digits => Part::Number(n),
                _ => Part::Word(run.to_ascii_lowercase()),
            });
            rest = tail;
        }
    }
    parts
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.release.len().max(other.release.len());
        let at = |v: &Version, i: usize| v.release.get(i).copied().unwrap_or(0);
        for i in 0..len {
            match at(self, i).cmp(&at(other, i)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => cmp_pre(&self.pre, &other.pre),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Semver's rule for pre-release parts: numbers below words, shorter lists first.
fn cmp_pre(a: &[Part], b: &[Part]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Part::Number(m), Part::Number(n)) => m.cmp(n),
            (Part::Word(m), Part::Word(n)) => m.cmp(n),
            (Part::Number(_), Part::Word(_)) => Ordering::Less,
            (Part::Word(_), Part::Number(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn runc_release_candidates_order_as_runc_tags_them() {
        // runc's tags: v1.0.0-rc6 … rc10, rc90 … rc95, v1.0.0; v1.2.0-rc.1 … v1.2.0.
        let order = [
            "1.0.0-rc3",
            "1.0.0-rc6",
            "1.0.0-rc6+dev",
            "1.0.0-rc7",
            "1.0.0-rc10",
            "1.0.0-rc92",
            "1.0.0-rc95",
            "1.0.0",
            "1.1.11",
            "1.1.12",
            "1.2.0-rc.1",
            "1.2.0-rc.3",
            "1.2.0",
            "1.4.0-rc.2",
            "1.4.0-rc.3",
            "1.4.0",
        ];
        for w in order.windows(2) {
            assert!(v(w[0]) <= v(w[1]), "{} <= {}", w[0], w[1]);
        }
        assert!(v("1.0.0-rc6") < v("1.0.0-rc7"));
        assert_eq!(v("1.0.0-rc6+dev").cmp(&v("1.0.0-rc6")), Ordering::Equal);
        assert_eq!(v("1.2.0-rc.1").cmp(&v("1.2.0-rc1")), Ordering::Equal);
        // containerd's betas: 2.0.0-beta.0 < 2.0.0-rc.1 < 2.0.0.
        assert!(v("v2.0.0-beta.0") < v("2.0.0-rc.1") && v("2.0.0-rc.1") < v("2.0.0"));
        // Missing parts are zeros: crun's `1.22`.
        assert_eq!(v("1.22").cmp(&v("1.22.0")), Ordering::Equal);
    }

    #[test]
    fn distribution_and_git_suffixes_are_split_off() {
        // Debian 12's runc and containerd (`runc --version`, `containerd --version` on bookworm).
        let runc = v("1.1.5+ds1");
        assert_eq!(runc.upstream(), "1.1.5");
        assert!(runc.distribution && !runc.git_build);
        let containerd = v("1.6.20~ds1");
        assert_eq!(containerd.upstream(), "1.6.20");
        assert!(containerd.distribution);
        // Debian's docker.io: Engine API `Version` 20.10.24+dfsg1.
        assert_eq!(v("20.10.24+dfsg1").upstream(), "20.10.24");
        // The package version itself, as runc's `commit:` line prints it on Debian.
        let pkg = v("1.1.5+ds1-1+deb12u1");
        assert_eq!(pkg.upstream(), "1.1.5");
        assert!(pkg.distribution);
        // Ubuntu's revision (crun `1.14.1-1ubuntu1`) is not a pre-release.
        let ubuntu = v("1.14.1-1ubuntu1");
        assert_eq!(ubuntu.upstream(), "1.14.1");
        assert!(ubuntu.distribution && ubuntu.pre.is_empty());
        assert_eq!(v("1.1.12-1.el9").upstream(), "1.1.12");
        // Debian's `~rc` is a pre-release: criu's `4.0~rc1`.
        assert_eq!(v("4.0~rc1").upstream(), "4.0-rc.1");
        // git describe: on the tag (`-0-g…`) is the release; past it is a git build.
        let tagged = v("v1.2.5-0-g59923ef");
        assert_eq!(tagged.upstream(), "1.2.5");
        assert!(!tagged.git_build);
        let past = v("v2.0.0-rc.1-45-g1234abcd");
        assert_eq!(past.upstream(), "2.0.0-rc.1");
        assert!(past.git_build);
        assert!(v("1.0.0-rc93+dev").git_build);
        assert_eq!(v("1.0.0-rc93+dev").suffix, "+dev");
        // Engines built without a version.
        for odd in ["dev", "library-import", "unknown", "", "v", "1.x"] {
            assert!(
                Version::parse(odd).is_none_or(|x| x.release == [1]),
                "{odd}"
            );
        }
        assert!(Version::parse("library-import").is_none());
    }
}
