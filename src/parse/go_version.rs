//! The Go tools' one-line version: `NAME PACKAGE VERSION REVISION`, as containerd, buildkitd and
//! buildctl print it (`fmt.Println(c.App.Name, version.Package, c.App.Version, version.Revision)`,
//! containerd cmd/containerd/command/main.go; BuildKit's cmd/buildkitd and cmd/buildctl).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoVersion {
    /// `containerd`, `buildkitd`, `buildctl`.
    pub name: String,
    /// `github.com/containerd/containerd/v2`, `containerd.io` (Docker's package), `github.com/moby/buildkit`.
    pub package: String,
    /// `v1.7.15`, `1.6.24`, `1.6.20~ds1`.
    pub version: String,
    /// The git commit; Debian puts its package version here (`1.6.20~ds1-1+deb12u3`).
    pub revision: Option<String>,
}

/// Parses the first line of `text`; `None` when it has fewer than three words.
pub fn parse(text: &str) -> Option<GoVersion> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut words = line.split_whitespace();
    let (name, package, version) = (words.next()?, words.next()?, words.next()?);
    Some(GoVersion {
        name: name.to_string(),
        package: package.to_string(),
        version: version.to_string(),
        revision: words.next().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_and_buildkit_as_printed() {
        // Upstream 1.x and 2.x release binaries (pastes in bug reports).
        let c = parse(
            "containerd github.com/containerd/containerd v1.7.15 926c9586fe4a6236699318391cd44976a98e31f1\n",
        )
        .unwrap();
        assert_eq!(
            (c.name.as_str(), c.version.as_str()),
            ("containerd", "v1.7.15")
        );
        let v2 = parse(
            "containerd github.com/containerd/containerd/v2 v2.2.1 dea7da592f5d1d2b7755e3a161be07f43fad8f75",
        )
        .unwrap();
        assert_eq!(v2.package, "github.com/containerd/containerd/v2");
        assert_eq!(v2.version, "v2.2.1");
        // Docker's containerd.io package: no `v`, the package name in place of the Go module.
        let docker =
            parse("containerd containerd.io 1.6.24 61f9fd88f79f081d64d6fa3bb1a0dc71ec870523")
                .unwrap();
        assert_eq!(
            (docker.package.as_str(), docker.version.as_str()),
            ("containerd.io", "1.6.24")
        );
        // Debian 12 (this machine): the revision is the Debian package version.
        let debian =
            parse("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n")
                .unwrap();
        assert_eq!(debian.version, "1.6.20~ds1");
        assert_eq!(debian.revision.as_deref(), Some("1.6.20~ds1-1+deb12u3"));
        // A release candidate (a containerd 1.5.0-rc.1 install log).
        assert_eq!(
            parse("containerd github.com/containerd/containerd v1.5.0-rc.1 f968359ecb3b581e6b61d2c7072f2e4b5347d560")
                .unwrap()
                .version,
            "v1.5.0-rc.1"
        );
        // buildkitd and buildctl (a BuildKit install log; nerdctl's TestParseBuildctlVersion).
        let bk = parse(
            "buildkitd github.com/moby/buildkit v0.12.3 438f47256f0decd64cc96084e22d3357da494c27",
        )
        .unwrap();
        assert_eq!(
            (bk.name.as_str(), bk.version.as_str()),
            ("buildkitd", "v0.12.3")
        );
        let ctl = parse(
            "buildctl github.com/moby/buildkit v0.10.3 c8d25d9a103b70dc300a4fd55e7e576472284e31",
        )
        .unwrap();
        assert_eq!(ctl.name, "buildctl");
        assert_eq!(parse("containerd\n"), None);
        assert_eq!(parse(""), None);
    }
}
