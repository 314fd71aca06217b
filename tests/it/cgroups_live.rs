//! cgroups and CRIU on this machine, for real: freezer cgroups made by the test (v1 and v2), the
//! active probe, Debian's criu, and stub criu programs for the version matrix.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{check, doctor, doctor_path, fixtures, require_root, status, summary};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The test's own cgroup trees: a scratch cgroup in the v1 freezer hierarchy and one in the cgroup2
/// hierarchy, with a child `frozen` holding one sleeping process. The doctor runs in a cgroup
/// namespace rooted at the scratch cgroups, with both hierarchies mounted afresh there, so it sees
/// only this tree: other frozen cgroups on the machine cannot change its verdict. Thawed and removed
/// on drop, whether the test passed or not.
struct TestCgroup {
    /// The scratch cgroups on the host: (v1 freezer, cgroup2).
    roots: (PathBuf, PathBuf),
    /// The cgroup with the sleeper, on the host.
    dir: PathBuf,
    child: Child,
    v1: bool,
}

/// Where the freezer and cgroup2 hierarchies are mounted on the host, and inside the namespace.
const FREEZER_V1: &str = "/sys/fs/cgroup/freezer";
const HYBRID_V2: &str = "/sys/fs/cgroup/unified";

impl TestCgroup {
    fn new(v1: bool) -> Self {
        let name = format!(
            "doctor-test-{}-{}",
            std::process::id(),
            if v1 { "v1" } else { "v2" }
        );
        let roots = (
            Path::new(FREEZER_V1).join(&name),
            Path::new(HYBRID_V2).join(&name),
        );
        for root in [&roots.0, &roots.1] {
            fs::create_dir(root).unwrap();
        }
        let dir = if v1 { &roots.0 } else { &roots.1 }.join("frozen");
        fs::create_dir(&dir).unwrap();
        let child = Command::new("sleep")
            .arg("300")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
        TestCgroup {
            roots,
            dir,
            child,
            v1,
        }
    }

    /// Where the doctor sees the frozen cgroup: under the namespace's own mount of its hierarchy.
    fn seen_as(&self) -> String {
        format!("{}/frozen", if self.v1 { FREEZER_V1 } else { HYBRID_V2 })
    }

    /// The doctor's cgroup-freezer report, taken in a cgroup namespace rooted at this tree: the
    /// shell joins the scratch cgroups, then unshares the cgroup and mount namespaces and mounts
    /// the freezer and cgroup2 hierarchies afresh (their roots are then the scratch cgroups).
    fn report(&self) -> Value {
        self.report_with(&[])
    }

    fn report_with(&self, extra: &[&str]) -> Value {
        let inside = "umount -R -l /sys/fs/cgroup; \
                      mount -t tmpfs cgroup /sys/fs/cgroup && \
                      mkdir /sys/fs/cgroup/freezer /sys/fs/cgroup/unified && \
                      mount -t cgroup -o freezer freezer /sys/fs/cgroup/freezer && \
                      mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified && \
                      exec \"$0\" --timeout 120 --format json --only cgroup-freezer \"$@\"";
        let join = "echo $$ > \"$1/cgroup.procs\" && echo $$ > \"$2/cgroup.procs\" && \
                    inside=$3 && shift 3 && \
                    exec unshare --cgroup --mount --propagation private sh -c \"$inside\" \"$0\" \"$@\"";
        let out = Command::new("sh")
            .args(["-c", join])
            .arg(doctor_path())
            .arg(&self.roots.0)
            .arg(&self.roots.1)
            .arg(inside)
            .args(extra)
            .output()
            .unwrap();
        json(&out)
    }

    fn freeze(&self) {
        if self.v1 {
            fs::write(self.dir.join("freezer.state"), "FROZEN").unwrap();
        } else {
            fs::write(self.dir.join("cgroup.freeze"), "1").unwrap();
        }
        let start = Instant::now();
        while !self.frozen() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the test cgroup did not freeze"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn thaw(&self) {
        let (file, thawed) = if self.v1 {
            ("freezer.state", "THAWED")
        } else {
            ("cgroup.freeze", "0")
        };
        let _ = fs::write(self.dir.join(file), thawed);
    }

    fn frozen(&self) -> bool {
        if self.v1 {
            fs::read_to_string(self.dir.join("freezer.state"))
                .unwrap_or_default()
                .trim()
                == "FROZEN"
        } else {
            fs::read_to_string(self.dir.join("cgroup.events"))
                .unwrap_or_default()
                .contains("frozen 1")
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        self.thaw();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for dir in [&self.dir, &self.roots.0, &self.roots.1] {
            for _ in 0..100 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

#[test]
fn cgroup_version_on_this_machine() {
    let out = doctor()
        .args(["--format", "json", "--only", "cgroup-version"])
        .output()
        .unwrap();
    let report = json(&out);
    let want = match sh("stat -f -c %T /sys/fs/cgroup").as_str() {
        "cgroup2fs" => "v2",
        "tmpfs" if sh("stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null") == "cgroup2fs" => {
            "hybrid"
        }
        "tmpfs" => "v1",
        other => panic!("unexpected /sys/fs/cgroup type {other}"),
    };
    assert!(
        summary(&report, "cgroup-version").starts_with(&format!("{want}:")),
        "{report}"
    );
    assert_eq!(
        status(&report, "cgroup-version"),
        if want == "v2" { "ok" } else { "warn" }
    );
}

#[test]
fn a_frozen_v1_cgroup_is_reported_with_its_process() {
    if !require_root() {
        return;
    }
    assert!(Path::new(FREEZER_V1).is_dir(), "no v1 freezer hierarchy");
    let cg = TestCgroup::new(true);
    let before = cg.report();
    assert_eq!(status(&before, "cgroup-freezer"), "ok", "{before}");
    cg.freeze();
    let report = cg.report();
    assert_eq!(status(&report, "cgroup-freezer"), "warn", "{report}");
    assert!(
        summary(&report, "cgroup-freezer").starts_with("1 cgroup left FROZEN"),
        "{report}"
    );
    let ev = check(&report, "cgroup-freezer")["evidence"].to_string();
    assert!(ev.contains(&cg.seen_as()), "{ev}");
    assert!(
        ev.contains(&format!("pid {} (sleep) state", cg.child.id())),
        "{ev}"
    );
    let fix = &check(&report, "cgroup-freezer")["fixes"][0]["steps"][0];
    assert_eq!(fix["path"], format!("{}/freezer.state", cg.seen_as()));
    cg.thaw();
    let after = cg.report();
    assert_eq!(status(&after, "cgroup-freezer"), "ok", "{after}");
}

#[test]
fn a_frozen_v2_cgroup_is_reported_with_its_process() {
    if !require_root() {
        return;
    }
    assert_eq!(
        sh(&format!("stat -f -c %T {HYBRID_V2}")),
        "cgroup2fs",
        "this machine's hybrid cgroup2 mount"
    );
    let cg = TestCgroup::new(false);
    let before = cg.report();
    assert_eq!(status(&before, "cgroup-freezer"), "ok", "{before}");
    cg.freeze();
    let report = cg.report();
    assert_eq!(status(&report, "cgroup-freezer"), "warn", "{report}");
    assert!(
        summary(&report, "cgroup-freezer").starts_with("1 cgroup left FROZEN"),
        "{report}"
    );
    let ev = check(&report, "cgroup-freezer")["evidence"].to_string();
    let shown = format!(
        "{{\"source\":\"{}\",\"excerpt\":\"FROZEN; 1 task\"}}",
        cg.seen_as()
    );
    assert!(ev.contains(&shown), "{ev}");
    assert!(
        ev.contains(&format!("pid {} (sleep)", cg.child.id())),
        "{ev}"
    );
    cg.thaw();
    let after = cg.report();
    assert_eq!(status(&after, "cgroup-freezer"), "ok", "{after}");
}

#[test]
fn the_active_probe_freezes_and_cleans_up() {
    if !require_root() {
        return;
    }
    // In the test's own cgroup trees, where nobody else's frozen cgroup can make it warn.
    let cg = TestCgroup::new(true);
    let report = cg.report_with(&["--active"]);
    assert_eq!(status(&report, "cgroup-freezer"), "ok", "{report}");
    assert!(
        summary(&report, "cgroup-freezer").contains("a test freeze took"),
        "{report}"
    );
    let ev = check(&report, "cgroup-freezer")["evidence"].to_string();
    assert!(ev.contains("froze in"), "{ev}");
    // Nothing left behind: no scratch cgroup, no sleeping child.
    let left = sh(&format!(
        "find {} {} -name 'container-doctor-probe-*'",
        cg.roots.0.display(),
        cg.roots.1.display()
    ));
    assert_eq!(left, "", "scratch cgroups left behind");
}

#[test]
fn the_active_probe_without_root_says_needs_root() {
    if !require_root() {
        return;
    }
    let out = crate::common::run_as_nobody(
        &[
            "--format",
            "json",
            "--only",
            "cgroup-freezer,criu-version,overlay-busy",
            "--active",
        ],
        &[],
    );
    let report = json(&out);
    assert_eq!(status(&report, "cgroup-freezer"), "unknown", "{report}");
    assert!(summary(&report, "cgroup-freezer").ends_with("the active probe needs root"));
    // Other processes' open files and mount namespaces are unreadable: holders, and the overlays
    // of other namespaces, cannot be known, and the check says so.
    assert_eq!(status(&report, "overlay-busy"), "unknown", "{report}");
    assert!(
        summary(&report, "overlay-busy").contains("needs root"),
        "{report}"
    );
    // criu check needs root too: the version still decides, the check is marked not run.
    if Path::new("/usr/sbin/criu").exists() {
        let ev = check(&report, "criu-version")["evidence"].to_string();
        assert!(ev.contains("not run: needs root"), "{ev}");
    }
}

#[test]
fn debians_criu_is_too_old_for_this_kernel() {
    assert!(
        Path::new("/usr/sbin/criu").exists(),
        "scripts/test installs Debian's criu"
    );
    let out = doctor()
        .args(["--format", "json", "--only", "criu-version"])
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(out.status.code(), Some(1));
    let version = sh("/usr/sbin/criu --version | sed -n 's/^Version: //p'");
    let s = summary(&report, "criu-version");
    assert!(s.starts_with(&format!("CRIU {version} ")), "{s}");
    let release = sh("uname -r");
    let (major, minor): (u32, u32) = {
        let mut n = release
            .split(['.', '-'])
            .map(|x| x.parse::<u32>().unwrap_or(0));
        (n.next().unwrap(), n.next().unwrap())
    };
    if (major, minor) >= (6, 13) {
        assert!(s.contains("cannot start on kernel"), "{s}");
        if require_root() {
            let ev = check(&report, "criu-version")["evidence"].to_string();
            assert!(ev.contains("Unexpected rt vDSO area bounds"), "{ev}");
        }
    }
    assert_eq!(
        check(&report, "criu-version")["fixes"][0]["id"],
        "upgrade-criu"
    );
    // Under --root the binary is not run; dpkg's database names the same version and verdict.
    let out = doctor()
        .args(["--format", "json", "--only", "criu-version", "--root", "/"])
        .output()
        .unwrap();
    let rooted = json(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(summary(&rooted, "criu-version"), s);
}

/// Runs the doctor with a stub `criu` first on PATH.
fn with_stub(script: &str) -> (std::process::Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let stub = dir.path().join("criu");
    fs::write(&stub, format!("#!/bin/sh\n{script}\n")).unwrap();
    fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    let out = doctor()
        .env("PATH", path)
        .args(["--format", "json", "--only", "criu-version"])
        .output()
        .unwrap();
    let v = json(&out);
    (out, v)
}

/// A stub script: `--version` prints VERSION, `check` prints CHECK_OUTPUT.
fn stub_for(version: &str, check_output: &str) -> String {
    assert!(!check_output.contains("CHECK_END"));
    format!(
        "case \"$1\" in --version) echo 'Version: {version}';; check) cat <<'CHECK_END'\n{check_output}CHECK_END\n;; *) exit 1;; esac"
    )
}

#[test]
fn criu_version_matrix_with_stubs() {
    let kernel_new = {
        let r = sh("uname -r");
        let mut n = r.split(['.', '-']).map(|x| x.parse::<u32>().unwrap_or(0));
        (n.next().unwrap(), n.next().unwrap()) >= (6, 13)
    };
    for version in ["3.17.1", "4.0"] {
        let (out, report) = with_stub(&stub_for(version, fixtures::CRIU_CHECK_LOOKS_GOOD_STALE));
        let s = summary(&report, "criu-version");
        assert!(s.starts_with(&format!("CRIU {version} ")), "{s}");
        // An old CRIU is an error only where it cannot work: on 6.13+ it cannot start.
        if kernel_new {
            assert_eq!(status(&report, "criu-version"), "error", "{report}");
            assert_eq!(out.status.code(), Some(1));
            assert!(s.contains("cannot start on kernel"), "{s}");
        } else {
            assert_ne!(status(&report, "criu-version"), "error", "{report}");
        }
    }
    let root = require_root();
    // 4.2: no known problem on any kernel this machine may have (4.1 cannot dump sockets on 6.16+).
    for (version, file, want) in [
        ("4.2", fixtures::CRIU_CHECK_LOOKS_GOOD_STALE, "ok"),
        ("4.2", fixtures::CRIU_CHECK_MISSING_FEATURES, "warn"),
        ("4.2", fixtures::CRIU_CHECK_NO_VERDICT, "error"),
        ("4.2", fixtures::CRIU_CHECK_GOOD_SUDO_NOISE, "ok"),
    ] {
        let (_, report) = with_stub(&stub_for(version, file));
        let want = if root { want } else { "unknown" };
        assert_eq!(
            status(&report, "criu-version"),
            want,
            "{version} {file:?}: {report}"
        );
        assert!(summary(&report, "criu-version").starts_with(&format!("CRIU {version}")));
    }
    let (_, report) = with_stub(
        "case \"$1\" in --version) echo 'Version: 4.2';; check) echo 'Does not look good.';; esac",
    );
    if root {
        assert_eq!(status(&report, "criu-version"), "error", "{report}");
        assert!(summary(&report, "criu-version").ends_with("does not look good"));
    }
}

#[test]
fn a_hanging_or_garbled_criu_is_unknown_not_a_hang() {
    let (_, report) = with_stub("sleep 60");
    assert_eq!(status(&report, "criu-version"), "unknown", "{report}");
    assert!(
        summary(&report, "criu-version").contains("timed out after 5 s"),
        "{report}"
    );

    let (_, report) = with_stub("head -c 3000 /dev/urandom; printf '\\033[2J'");
    assert_eq!(status(&report, "criu-version"), "unknown", "{report}");
    assert!(
        summary(&report, "criu-version").contains("printed no version"),
        "{report}"
    );

    // A version, then a check that hangs: the version stands, the check is a timeout.
    let (_, report) =
        with_stub("case \"$1\" in --version) echo 'Version: 4.2';; check) sleep 60;; esac");
    if require_root() {
        assert_eq!(status(&report, "criu-version"), "unknown", "{report}");
        assert!(
            check(&report, "criu-version")["evidence"]
                .to_string()
                .contains("timed out"),
            "{report}"
        );
    }
}

#[test]
fn criu_not_installed_is_skipped_unless_required() {
    if !require_root() {
        return;
    }
    // Hide every criu the doctor would find, in a private mount namespace.
    let script = "for p in /usr/sbin/criu /usr/local/sbin/criu /sbin/criu /usr/bin/criu /usr/local/bin/criu; do \
                    [ -e \"$p\" ] && mount --bind /dev/null \"$p\"; done; \
                  PATH=/usr/bin:/bin \"$0\" --timeout 120 --format json --only criu-version \"$@\"";
    let run = |extra: &[&str]| {
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", script])
            .arg(doctor_path())
            .args(extra)
            .output()
            .unwrap();
        let v = json(&out);
        (out, v)
    };
    let (out, report) = run(&[]);
    assert_eq!(status(&report, "criu-version"), "skipped", "{report}");
    assert_eq!(out.status.code(), Some(0));
    let (out, report) = run(&["--require", "criu"]);
    assert_eq!(status(&report, "criu-version"), "error", "{report}");
    assert_eq!(out.status.code(), Some(1));
}
