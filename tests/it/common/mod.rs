//! Helpers shared by the integration tests: the binary, fixture trees, real-world data.

pub mod dockerd;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// ../shared/realdata/REL, beside the repository.
pub fn realdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realdata")
        .join(rel)
}

pub fn realdata_text(rel: &str) -> String {
    let p = realdata(rel);
    let bytes = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

pub fn doctor() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("container-doctor").expect("binary");
    cmd.env_remove("NO_COLOR").env_remove("TMPDIR");
    cmd
}

pub fn doctor_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("container-doctor")
}

/// A sysroot for `--root`, built file by file.
pub struct Tree(pub tempfile::TempDir);

impl Tree {
    pub fn new() -> Self {
        Tree(tempfile::tempdir().expect("tempdir"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let p = self.path().join(rel.trim_start_matches('/'));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, contents).expect("write");
        self
    }

    /// Runs the doctor over this tree with the given extra arguments; returns output and JSON.
    pub fn run_json(&self, args: &[&str]) -> (Output, Value) {
        let out = doctor()
            .arg("--root")
            .arg(self.path())
            .args(["--format", "json"])
            .args(args)
            .output()
            .expect("run");
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        (out, v)
    }
}

/// A kernel configuration with every option kernel-config grades built in (but the two vsyscall
/// modes it notes), for trees of healthy hosts.
pub fn complete_kernel_config(release: &str) -> String {
    let data: toml::Value =
        toml::from_str(include_str!("../../../assets/kernel-config.toml")).expect("data");
    let mut text = format!("# Linux/x86 {release} Kernel Configuration\n");
    for option in data["option"].as_array().expect("options") {
        let name = option["name"].as_str().expect("name");
        if !["LEGACY_VSYSCALL_NATIVE", "LEGACY_VSYSCALL_NONE"].contains(&name) {
            text += &format!("CONFIG_{name}=y\n");
        }
    }
    text
}

/// The result of check `id` in a JSON report.
pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

pub fn status(report: &Value, id: &str) -> String {
    check(report, id)["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

pub fn summary(report: &Value, id: &str) -> String {
    check(report, id)["summary"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Tests that need root run for real; without root they fail unless explicitly allowed to skip.
pub fn require_root() -> bool {
    if rustix_euid() == 0 {
        return true;
    }
    if std::env::var_os("CONTAINER_DOCTOR_SKIP_ROOT_TESTS").is_some() {
        eprintln!("skipped: needs root");
        return false;
    }
    panic!("this test needs root (set CONTAINER_DOCTOR_SKIP_ROOT_TESTS=1 to skip it)");
}

fn rustix_euid() -> u32 {
    container_doctor::sys::euid()
}

/// Runs a copy of the doctor as nobody (65534): checks that need root must say so, not guess.
pub fn run_as_nobody(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let bin = dir.path().join("container-doctor");
    fs::copy(doctor_path(), &bin).expect("copy the binary");
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("setpriv (util-linux)")
}

/// Two stages running apt on one unlocked cache, built together: the race of moby/buildkit#1662
/// ("Could not get lock /var/lib/apt/lists/lock"). Findings on lines 4 and 6.
pub const APT_PARALLEL_DOCKERFILE: &str = "FROM debian:bookworm AS base\n\
FROM base AS tools\n\
# the lists and archives of apt, shared with the stage below\n\
RUN --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y make\n\
FROM base AS libs\n\
RUN --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y libc6-dev\n\
FROM scratch\n\
COPY --from=tools / /tools\n\
COPY --from=libs / /libs\n";
