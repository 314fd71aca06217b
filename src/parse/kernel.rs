//! Kernel release strings (`uname -r`, /proc/sys/kernel/osrelease) and /proc/version lines.
//!
//! The leading `X.Y[.Z]` is what upstream features key on. Distros append their own build
//! and ABI numbers (`3.10.0-1160.el7.x86_64`, `6.1.0-25-amd64`), so the patch level of a
//! Debian or Ubuntu release is the ABI, not the upstream sublevel; where /proc/version
//! states the real upstream version we pick it up as well.

use std::fmt;

/// A parsed kernel release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRelease {
    /// The release token as given.
    pub release: String,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `-rcN` of a release candidate.
    pub rc: Option<u32>,
    /// What follows the numbers (`-1160.el7.x86_64`, `-microsoft-standard-WSL2`, `+`).
    pub suffix: String,
}

impl KernelRelease {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// The build's origin as far as the release string tells it.
    pub fn flavour(&self) -> Option<Flavour> {
        Flavour::of(&self.suffix)
    }
}

impl fmt::Display for KernelRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(rc) = self.rc {
            write!(f, "-rc{rc}")?;
        }
        Ok(())
    }
}

/// Kernel builds whose release string says something about what they can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavour {
    /// Windows Subsystem for Linux 1: a syscall translation layer, not a Linux kernel.
    Wsl1,
    Wsl2,
    /// Red Hat Enterprise Linux and rebuilds (`el7`, `el8_6`, `el9_2`): features are backported,
    /// so the version understates what the kernel can do.
    Enterprise(String),
    /// Any other recognisable build tag (`amzn2023`, `generic`, `amd64`, `pve`, `arch1`, …).
    Other(String),
}

impl Flavour {
    fn of(suffix: &str) -> Option<Flavour> {
        if suffix.contains("Microsoft") {
            return Some(Flavour::Wsl1);
        }
        if suffix.contains("microsoft") {
            return Some(Flavour::Wsl2);
        }
        let parts: Vec<&str> = suffix
            .split(['-', '.', '+'])
            .filter(|p| !p.is_empty() && !p.bytes().all(|b| b.is_ascii_digit()))
            .filter(|p| !matches!(*p, "x86_64" | "aarch64" | "i686" | "ppc64le" | "s390x"))
            .collect();
        if let Some(el) = parts.iter().find(|p| is_enterprise_tag(p)) {
            return Some(Flavour::Enterprise(el.to_string()));
        }
        parts
            .iter()
            .find(|p| !p.starts_with("rc"))
            .map(|p| Flavour::Other(p.to_string()))
    }
}

/// `el7`, `el8_6`, `el9uek`: the Enterprise Linux release tags.
fn is_enterprise_tag(part: &str) -> bool {
    part.strip_prefix("el")
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_digit())
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flavour::Wsl1 => f.write_str("WSL1"),
            Flavour::Wsl2 => f.write_str("WSL2"),
            Flavour::Enterprise(tag) | Flavour::Other(tag) => f.write_str(tag),
        }
    }
}

/// Parses a bare release token such as `5.15.0-91-generic` or `6.8.0-rc3`.
pub fn parse_release(release: &str) -> Option<KernelRelease> {
    let release = release.trim();
    let end = release
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(release.len());
    let mut nums = release[..end].split('.').map(|n| n.parse::<u32>().ok());
    let major = nums.next()??;
    let minor = nums.next()??;
    let patch = match nums.next() {
        Some(p) => p?,
        None => 0,
    };
    let suffix = &release[end..];
    // A trailing dot belongs to nothing: `5.` or `5.4.` alone are not releases.
    if release[..end].ends_with('.') && suffix.is_empty() {
        return None;
    }
    let rc = suffix
        .split(['-', '.', '+'])
        .find_map(|p| p.strip_prefix("rc")?.parse().ok());
    Some(KernelRelease {
        release: release.to_string(),
        major,
        minor,
        patch,
        rc,
        suffix: suffix.to_string(),
    })
}

/// Finds the release in any of the forms people paste: a bare release, a /proc/version line
/// (`Linux version R …`), or a `uname -a` line (`Linux HOST R …`, or `Linux R …` without host).
pub fn find_release(text: &str) -> Option<KernelRelease> {
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    match words.as_slice() {
        ["Linux", "version", r, ..] => parse_release(r),
        ["Linux", a, rest @ ..] => {
            parse_release(a).or_else(|| rest.first().and_then(|r| parse_release(r)))
        }
        [r, ..] => parse_release(r),
        [] => None,
    }
}

/// The upstream version a Debian or Ubuntu build states in /proc/version, when its release
/// token carries only the ABI name: `… Debian 6.1.106-3 (2024-08-26)` → 6.1.106,
/// `… (Ubuntu 5.15.0-91.101-generic 5.15.131)` → 5.15.131.
pub fn upstream_version(proc_version: &str) -> Option<(u32, u32, u32)> {
    // Only the build's version field (from `#1 …` on) counts: the compiler part before it
    // names Debian and Ubuntu too, with the compiler's own version.
    let words: Vec<&str> = proc_version
        .split_whitespace()
        .skip_while(|w| !w.starts_with('#'))
        .collect();
    let triple = |w: &&str| {
        let w = w.trim_end_matches(')');
        let core = w.split('-').next()?;
        let mut n = core.split('.').map(|x| x.parse::<u32>().ok());
        let v = (n.next()??, n.next()??, n.next()??);
        n.next().is_none().then_some(v)
    };
    if let Some(i) = words.iter().position(|w| *w == "Debian") {
        return words.get(i + 1).and_then(triple);
    }
    let i = words.iter().position(|w| *w == "(Ubuntu")?;
    words.get(i + 2).and_then(triple)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavours() {
        let f = |r: &str| {
            parse_release(r)
                .and_then(|k| k.flavour())
                .map(|f| f.to_string())
        };
        assert_eq!(f("3.10.0-1160.el7.x86_64").as_deref(), Some("el7"));
        assert_eq!(f("4.18.0-372.9.1.el8_6.x86_64").as_deref(), Some("el8_6"));
        assert_eq!(
            f("5.15.0-6.80.3.1.el8uek.x86_64").as_deref(),
            Some("el8uek")
        );
        assert_eq!(f("4.4.0-18985-Microsoft").as_deref(), Some("WSL1"));
        assert_eq!(
            f("5.15.133.1-microsoft-standard-WSL2").as_deref(),
            Some("WSL2")
        );
        assert_eq!(f("6.1.0-25-amd64").as_deref(), Some("amd64"));
        assert_eq!(f("6.8.0-rc3").as_deref(), None);
        assert_eq!(f("5.10.90+").as_deref(), None);
    }

    #[test]
    fn rejects_non_releases() {
        for s in [
            "",
            "Linux",
            "abc",
            "5",
            "5.",
            "x.1.2",
            "4294967296.1.0",
            "\u{0}",
        ] {
            assert!(find_release(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn release_candidates() {
        let k = parse_release("6.6.0-rc3-v8+").unwrap();
        assert_eq!((k.major, k.minor, k.patch, k.rc), (6, 6, 0, Some(3)));
        assert_eq!(k.to_string(), "6.6.0-rc3");
    }

    #[test]
    fn upstream_versions() {
        assert_eq!(
            upstream_version(
                "Linux version 6.1.0-25-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.106-3 (2024-08-26)"
            ),
            Some((6, 1, 106))
        );
        assert_eq!(
            upstream_version(
                "Linux version 5.15.0-91-generic (buildd@lcy02-amd64-045) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023 (Ubuntu 5.15.0-91.101-generic 5.15.131)"
            ),
            Some((5, 15, 131))
        );
        assert_eq!(
            upstream_version("Linux version 6.6.4-arch1-1 (linux@archlinux)"),
            None
        );
    }
}
