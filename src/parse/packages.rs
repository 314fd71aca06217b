//! Installed-package databases, read under `--root` where the examined system's binaries cannot
//! be run: dpkg's status file and file lists (Debian, Ubuntu) and apk's installed database
//! (Alpine). rpm keeps a SQLite or Berkeley DB database and is not read.

/// The version of `package` in dpkg's status file, when it is installed (`Status: … installed`).
pub fn dpkg_version(status: &str, package: &str) -> Option<String> {
    dpkg_field(status, package, "Version")
}

/// A field of an installed package's stanza in dpkg's status file (`Architecture`, `Version`).
pub fn dpkg_field(status: &str, package: &str, name: &str) -> Option<String> {
    status.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        (field("Package") == Some(package) && field("Status")?.ends_with(" installed"))
            .then(|| field(name).map(str::to_string))
            .flatten()
    })
}

/// Whether a dpkg file list (`/var/lib/dpkg/info/PKG.list`) holds `path`, counting /bin and
/// /usr/bin as one place on merged-/usr systems.
pub fn dpkg_list_has(list: &str, path: &str) -> bool {
    let unmerged = |p: &str| p.strip_prefix("/usr").unwrap_or(p).to_string();
    list.lines().any(|l| unmerged(l.trim()) == unmerged(path))
}

/// An installed package, as apk's database names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkPackage {
    pub name: String,
    pub version: String,
    /// `A:`, the architecture (`x86_64`, `aarch64`).
    pub arch: Option<String>,
}

/// The package in apk's installed database that owns `path` (`F:` directory plus `R:` file).
pub fn apk_owner(installed: &str, path: &str) -> Option<ApkPackage> {
    let path = path.trim_start_matches('/');
    installed.split("\n\n").find_map(|stanza| {
        let (mut name, mut version, mut arch, mut dir) = (None, None, None, "");
        let mut owns = false;
        for line in stanza.lines() {
            match line.split_once(':') {
                Some(("P", v)) => name = Some(v),
                Some(("V", v)) => version = Some(v),
                Some(("A", v)) => arch = Some(v.to_string()),
                Some(("F", v)) => dir = v,
                Some(("R", v)) => owns |= format!("{dir}/{v}") == path,
                _ => {}
            }
        }
        owns.then(|| {
            Some(ApkPackage {
                name: name?.to_string(),
                version: version?.to_string(),
                arch,
            })
        })
        .flatten()
    })
}

/// The upstream part of a packaged version: without dpkg's epoch (`1:`) and without the
/// packaging revision after the last `-` (dpkg's `-2+deb12u2`, apk's `-r0`).
pub fn upstream(version: &str) -> &str {
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    version.rsplit_once('-').map_or(version, |(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: criu-dev\nStatus: install ok installed\nVersion: 9.9\n\n\
        Package: criu\nStatus: deinstall ok config-files\nVersion: 3.16-1\n\n\
        Package: criu\nStatus: install ok installed\nPriority: optional\nVersion: 3.17.1-2+deb12u2\n\
        Description: checkpoint and restore in userspace\n criu contains the utilities\n";

    #[test]
    fn dpkg_installed_stanza_only() {
        assert_eq!(
            dpkg_version(STATUS, "criu").as_deref(),
            Some("3.17.1-2+deb12u2")
        );
        assert_eq!(dpkg_version(STATUS, "runc"), None);
        assert_eq!(dpkg_version("\0\u{1}garbage", "criu"), None);
    }

    #[test]
    fn dpkg_lists_and_merged_usr() {
        let list = "/.\n/usr\n/usr/sbin\n/usr/sbin/criu\n";
        assert!(dpkg_list_has(list, "/usr/sbin/criu"));
        assert!(dpkg_list_has(list, "/sbin/criu"));
        assert!(!dpkg_list_has(list, "/usr/local/sbin/criu"));
    }

    #[test]
    fn apk_owner_by_directory_and_file() {
        let db = "C:Q1abc=\nP:criu\nV:3.19-r1\nA:x86_64\nF:usr\nF:usr/sbin\nR:criu\nR:crit\n\n\
                  P:busybox\nV:1.36.1-r5\nF:bin\nR:busybox\n";
        assert_eq!(
            apk_owner(db, "/usr/sbin/criu"),
            Some(ApkPackage {
                name: "criu".into(),
                version: "3.19-r1".into(),
                arch: Some("x86_64".into())
            })
        );
        assert_eq!(apk_owner(db, "/usr/criu"), None);
        assert_eq!(apk_owner(db, "/bin/busybox").unwrap().name, "busybox");
    }

    #[test]
    fn upstream_versions() {
        assert_eq!(upstream("3.17.1-2+deb12u2"), "3.17.1");
        assert_eq!(upstream("1:4.1-1~bpo12+1"), "4.1");
        assert_eq!(upstream("3.19-r1"), "3.19");
        assert_eq!(upstream("4.2"), "4.2");
    }
}
