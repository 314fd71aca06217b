//! The `NAME version VERSION` family: OCI runtimes (`runc --version`, `crun --version`), which
//! follow the first line with `key: value` lines (`commit:`, `spec:`, `go:`), and the tools that
//! print one line (`dockerd --version`: `Docker version 20.10.24+dfsg1, build 5d6db84`;
//! `docker-init --version`: `tini version 0.19.0 - git.de40ad0`; `podman --version`,
//! `buildah --version`).

/// What the first line and the `key: value` lines say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeVersion {
    /// `runc`, `crun`, `Docker`, `tini`.
    pub name: String,
    /// `None` for builds that carry no version: `go build` of runc prints
    /// `runc version spec: 1.0.1-dev`.
    pub version: Option<String>,
    /// `commit:` (runc, crun), `build` (dockerd), `git.` (tini). On Debian, runc's commit is the
    /// package version (`1.1.5+ds1-1+deb12u1`).
    pub commit: Option<String>,
    /// `spec:`: the OCI runtime spec it implements.
    pub spec: Option<String>,
}

/// Parses the first line `NAME version X` and the `key: value` lines after it; `None` when the
/// first non-empty line is not of that form.
pub fn parse(text: &str) -> Option<RuntimeVersion> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?;
    let (name, rest) = first.split_once(" version")?;
    let rest = rest.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let mut v = RuntimeVersion {
        name: name.to_string(),
        version: None,
        commit: None,
        spec: None,
    };
    if let Some(spec) = rest.strip_prefix("spec:") {
        // No version compiled in: the first line is all there is.
        v.spec = Some(spec.trim().to_string());
    } else {
        // `20.10.24+dfsg1, build 5d6db84` (dockerd); `0.19.0 - git.de40ad0` (tini).
        let mut words = rest.split_whitespace();
        v.version = words
            .next()
            .map(|w| w.trim_end_matches(',').to_string())
            .filter(|w| !w.is_empty());
        let tail: Vec<&str> = words.collect();
        match tail.as_slice() {
            ["build", c, ..] => v.commit = Some(c.to_string()),
            ["-", c, ..] => v.commit = Some(c.trim_start_matches("git.").to_string()),
            _ => {}
        }
    }
    for line in lines {
        match line.split_once(':') {
            Some(("commit", c)) => v.commit = Some(c.trim().to_string()).filter(|c| !c.is_empty()),
            Some(("spec", s)) => v.spec = Some(s.trim().to_string()),
            _ => {}
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> (Option<String>, Option<String>) {
        let v = parse(text).unwrap();
        (v.version, v.commit)
    }

    #[test]
    fn runc_as_printed() {
        // Debian 12's runc (this machine; the same in a Kata-on-Raspberry-Pi how-to): the commit
        // line is the Debian package version.
        let debian = parse(
            "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n",
        )
        .unwrap();
        assert_eq!(debian.name, "runc");
        assert_eq!(debian.version.as_deref(), Some("1.1.5+ds1"));
        assert_eq!(debian.commit.as_deref(), Some("1.1.5+ds1-1+deb12u1"));
        assert_eq!(debian.spec.as_deref(), Some("1.0.2-dev"));
        // Upstream static binary (pastes in several CI logs).
        assert_eq!(
            version(
                "runc version 1.1.12\ncommit: v1.1.12-0-g51d5e946\nspec: 1.0.2-dev\ngo: go1.20.13\nlibseccomp: 2.5.4"
            ),
            (Some("1.1.12".into()), Some("v1.1.12-0-g51d5e946".into()))
        );
        // runc 1.2.6 (a bug report paste).
        assert_eq!(
            version(
                "runc version 1.2.6\ncommit: v1.2.6-0-ge89a2992\nspec: 1.2.0\ngo: go1.23.7\nlibseccomp: 2.5.5"
            )
            .0
            .as_deref(),
            Some("1.2.6")
        );
        // Old releases without commit, go or libseccomp lines (a BuildKit 0.3 install log on Ubuntu).
        assert_eq!(
            version("runc version 1.0.0-rc6\nspec: 1.0.1-dev\n"),
            (Some("1.0.0-rc6".into()), None)
        );
        // `make install` from git (a runc build how-to).
        assert_eq!(
            version(
                "runc version 1.0.0-rc8+dev\ncommit: bf27c2f86dac5e7bd33880b33e4b542ad6a0289e\nspec: 1.0.1-dev\n"
            )
            .0
            .as_deref(),
            Some("1.0.0-rc8+dev")
        );
        // Built with `go build`, no version compiled in: Ubuntu 20.04's runc package and RHEL 8's
        // runc-1.0.0-60.rc8 as `podman info` shows them; dockerd logs "unknown output format".
        let bare = parse("runc version spec: 1.0.1-dev\n").unwrap();
        assert_eq!(bare.version, None);
        assert_eq!(bare.spec.as_deref(), Some("1.0.1-dev"));
    }

    #[test]
    fn crun_dockerd_and_tini() {
        // crun 1.19.1 from a `podman info` paste; 1.22 from a RHEL 9 paste (no patch number; its
        // commit line left out here).
        let crun = parse(
            "crun version 1.19.1\ncommit: 3e32a70c93f5aa5fea69b50256cca7fd4aa23c80\nrundir: /run/user/1000/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +CRIU +LIBKRUN +WASM:wasmedge +YAJL\n",
        )
        .unwrap();
        assert_eq!(crun.name, "crun");
        assert_eq!(crun.version.as_deref(), Some("1.19.1"));
        assert_eq!(crun.spec.as_deref(), Some("1.0.0"));
        assert_eq!(
            version("crun version 1.22\nrundir: /run/user/0/crun\nspec: 1.0.0\n+SYSTEMD +YAJL")
                .0
                .as_deref(),
            Some("1.22")
        );
        // Debian 12's dockerd (this machine).
        let dockerd = parse("Docker version 20.10.24+dfsg1, build 5d6db84\n").unwrap();
        assert_eq!(dockerd.name, "Docker");
        assert_eq!(dockerd.version.as_deref(), Some("20.10.24+dfsg1"));
        assert_eq!(dockerd.commit.as_deref(), Some("5d6db84"));
        // Debian 12's tini is `tini version 0.19.0` (this machine); upstream static builds add
        // the git commit (Docker's docker-init).
        assert_eq!(
            version("tini version 0.19.0 - git.de40ad0\n"),
            (Some("0.19.0".into()), Some("de40ad0".into()))
        );
        assert_eq!(
            version("tini version 0.19.0\n").0.as_deref(),
            Some("0.19.0")
        );
        // Debian 12's podman and buildah (this machine).
        assert_eq!(
            version("podman version 4.3.1\n"),
            (Some("4.3.1".into()), None)
        );
        assert_eq!(
            version("buildah version 1.28.2 (image-spec 1.1.0-rc2, runtime-spec 1.0.2-dev)\n"),
            (Some("1.28.2".into()), None)
        );
        // Not this family.
        assert_eq!(parse("Version: 3.17.1\n"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("some thing version 1\n"), None);
    }
}
