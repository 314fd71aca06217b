//! Where a tool is installed, and (under `--root`, where the examined system's binaries are not
//! ours to run) which package put it there.

use super::Facts;
use crate::parse::packages;

/// Where distributions put container tools, searched after $PATH.
const DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/local/sbin",
    "/sbin",
    "/usr/bin",
    "/usr/local/bin",
    "/bin",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub path: String,
    /// The installed package that owns `path`, when a package database says so.
    pub package: Option<Package>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// The distribution's version string (`3.17.1-2+deb12u1`).
    pub version: String,
    /// The machine it was built for, as the kernel names it (`x86_64`, `aarch64`), when the
    /// database says (dpkg's `Architecture: amd64`).
    pub machine: Option<String>,
    /// The database it came from, and the line that says so: evidence.
    pub source: String,
    pub excerpt: String,
}

impl Tool {
    pub(super) fn find(host: &Facts, name: &str) -> Option<Tool> {
        // Live, $PATH is ours; under --root the examined system's is not known, so only the
        // usual directories count.
        let path_var = if host.is_live() {
            host.env("PATH").ok().flatten().unwrap_or_default()
        } else {
            String::new()
        };
        let path = path_var
            .split(':')
            .filter(|d| d.starts_with('/'))
            .chain(DIRS.iter().copied())
            .map(|d| format!("{}/{name}", d.trim_end_matches('/')))
            .find(|p| host.stat(p).is_ok_and(|m| m.is_executable_file()))?;
        let package = owner(host, &path);
        Some(Tool { path, package })
    }
}

/// Packages that ship container tools under another name (dockerd in docker.io, runc in
/// containerd.io): asked after the package named like the file. Reading every file list of a
/// system would cost thousands of reads.
const SHIPPERS: &[&str] = &[
    "docker.io",
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "moby-engine",
    "moby-runc",
    "moby-containerd",
    "podman",
    "buildah",
];

/// The package that installed `path`, from dpkg's or apk's database.
fn owner(host: &Facts, path: &str) -> Option<Package> {
    dpkg(host, path).or_else(|| apk(host, path))
}

pub(super) const DPKG_STATUS: &str = "/var/lib/dpkg/status";

fn dpkg(host: &Facts, path: &str) -> Option<Package> {
    let status = DPKG_STATUS;
    let base = path.rsplit('/').next().unwrap_or(path);
    let db = host.dpkg_status()?;
    std::iter::once(base)
        .chain(SHIPPERS.iter().copied().filter(|p| *p != base))
        .find_map(|name| {
            let list = host
                .read_text(&format!("/var/lib/dpkg/info/{name}.list"))
                .ok()?;
            if !packages::dpkg_list_has(&list, path) {
                return None;
            }
            let version = packages::dpkg_version(db, name)?;
            let machine = packages::dpkg_field(db, name, "Architecture").and_then(|a| {
                Some(
                    match a.as_str() {
                        "amd64" => "x86_64",
                        "arm64" => "aarch64",
                        "ppc64el" => "ppc64le",
                        "s390x" => "s390x",
                        "riscv64" => "riscv64",
                        _ => return None,
                    }
                    .to_string(),
                )
            });
            Some(Package {
                name: name.to_string(),
                machine,
                excerpt: format!("Package: {name}, Version: {version}"),
                version,
                source: status.to_string(),
            })
        })
}

fn apk(host: &Facts, path: &str) -> Option<Package> {
    let db = "/lib/apk/db/installed";
    let p = packages::apk_owner(&host.read_text(db).ok()?, path)?;
    Some(Package {
        excerpt: format!("P:{} V:{} owns {path}", p.name, p.version),
        machine: p.arch,
        name: p.name,
        version: p.version,
        source: db.to_string(),
    })
}
