//! A filesystem server that stops answering (tests/it/common/hung_fuse.py, a real FUSE mount):
//! a process whose cwd is on it must not hang the scan, and a file on it that a check must read
//! costs the scan's deadline and is named in the report, never a hang.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::common::{
    Running, SCAN_TIMEOUT, Tree, assert_success, check, doctor_path, doctor_with_deadline,
    require_root, status, summary,
};
use rustix::process::{Pid, Signal, kill_process};
use serde_json::Value;

/// The FUSE server and a process parked in its mount; both go, and the mount with them, on drop.
struct Hung {
    server: Child,
    holder: Child,
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hung {
    fn start() -> Hung {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        Hung::start_on(mount, dir)
    }

    /// The hung mount on `mount`, an existing directory; `dir` holds the server's files.
    fn start_on(mount: PathBuf, dir: tempfile::TempDir) -> Hung {
        let ready = dir.path().join("ready");
        let server = fuse_server(&mount, &ready, &[]);
        let start = Instant::now();
        // Answered while the server still answers: chdir asks ACCESS and GETATTR.
        let holder = Command::new("sleep")
            .arg("600")
            .current_dir(&mount)
            .spawn()
            .unwrap();
        // From now on the server reads nothing more: once it says so.
        kill(server.id(), Signal::USR1);
        let hung = dir.path().join("ready.hung");
        while !hung.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "FUSE never stopped answering"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Hung {
            server,
            holder,
            mount,
            _dir: dir,
        }
    }
}

impl Drop for Hung {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        kill(self.server.id(), Signal::TERM);
        let _ = self.server.wait();
    }
}

/// The test FUSE server (tests/it/common/hung_fuse.py) on `mount`, once it answers.
fn fuse_server(mount: &Path, ready: &Path, args: &[&str]) -> Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/common/hung_fuse.py");
    let server = Command::new("python3")
        .arg(script)
        .arg(mount)
        .arg(ready)
        .args(args)
        .spawn()
        .expect("python3");
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "FUSE never came up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// Signals a child we spawned and have not reaped.
fn kill(pid: u32, sig: Signal) {
    let _ = kill_process(Pid::from_raw(pid as i32).expect("pid"), sig);
}

/// Processes reading `path` for a doctor (its helpers, by their hidden argument): a path as it
/// is, or inside a `--root` tree (the tree and the path in it).
fn helpers_reading(path: &str) -> Vec<u32> {
    let reads = |args: &[&str]| match args {
        [_, "__container-doctor-read-file", p, ..] => *p == path,
        [_, "__container-doctor-read-in-root", root, rel, ..] => {
            Path::new(root).join(rel) == Path::new(path)
        }
        _ => false,
    };
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let text = String::from_utf8_lossy(&c);
                reads(&text.split('\0').collect::<Vec<_>>())
            })
        })
        .collect()
}

/// The FUSE server still answering, with one symlink in its root: gone, and the mount with it,
/// on drop.
struct Answering {
    server: Child,
    _dir: tempfile::TempDir,
}

impl Answering {
    fn serve_link(mount: &Path, name: &str, target: &str) -> Answering {
        let dir = tempfile::tempdir().unwrap();
        let link = format!("{name}={target}");
        Answering {
            server: fuse_server(mount, &dir.path().join("ready"), &[&link]),
            _dir: dir,
        }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        kill(self.server.id(), Signal::TERM);
        let _ = self.server.wait();
    }
}

/// A scan with the arguments given, which name its `--timeout`; killed after 300 s, so that a
/// doctor that hangs fails the test instead of hanging it.
fn scan(args: &[&str]) -> (Output, Value) {
    let out = doctor_with_deadline()
        .args(["--check", "--format", "json"])
        .args(args)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (out, report)
}

#[test]
fn a_hung_fuse_server_costs_at_most_the_deadline() {
    if !require_root() {
        return;
    }
    let hung = Hung::start();
    // Independent proof that the mount is hung: stat(1) of it does not come back.
    // Independent proof that the mount is hung: stat(1) of it does not come back. Should the
    // server have read the request as it stopped (a race under load), not even SIGKILL ends that
    // wait, so the probe is not waited for here: it ends when the server goes, at the end.
    let mut probe = Command::new("stat")
        .arg("-f")
        .arg(&hung.mount)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    if let Some(status) = probe.try_wait().unwrap() {
        let out = probe.wait_with_output().unwrap();
        panic!(
            "statfs of the hung mount returned: {status}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Unread by the server, its request still ends with a fatal signal; it is reaped at the end.
    let _ = probe.kill();

    // A holder's cwd on it: stat from the attribute cache, no statfs of listed mounts.
    let (out, report) = scan(&["--timeout", SCAN_TIMEOUT]);
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", hung.holder.id())).unwrap();
    assert_eq!(
        cwd, hung.mount,
        "the holder sat on the hung mount during the scan"
    );
    let failed = report["failed"].as_bool().unwrap();
    assert_eq!(out.status.code(), Some(if failed { 1 } else { 0 }));
    for c in report["checks"].as_array().unwrap() {
        assert!(
            !c["summary"].as_str().unwrap().contains("did not finish"),
            "{c}"
        );
    }

    // A Dockerfile on it: that check runs out of time and says on what; the others answer.
    let dockerfile = hung.mount.join("Dockerfile");
    let path = dockerfile.to_str().unwrap();
    let (out, report) = scan(&["--dockerfile", path, "--timeout", "3"]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "unknown");
    let said = summary(&report, "dockerfile-cache-mounts");
    assert!(
        said.starts_with(&format!(
            "did not finish within 3 s: no answer to read {path} after "
        )),
        "{said}"
    );
    assert_eq!(
        check(&report, "dockerfile-cache-mounts")["evidence"][0]["source"],
        format!("read {path}")
    );
    assert_eq!(status(&report, "kernel-version"), "ok");
    let failed = report["failed"].as_bool().unwrap();
    assert_eq!(out.status.code(), Some(if failed { 1 } else { 0 }));
    // The read that hangs is the doctor's helper's, a process of its own, still stuck in the
    // kernel now and abandoned, not a thread of the doctor that would keep it alive.
    let helpers = helpers_reading(path);
    assert!(
        !helpers.is_empty(),
        "no helper process was reading {path}: the read was not done in a child"
    );
    // The server goes, the connection is aborted, the probe's statfs fails and it exits.
    drop(hung);
    let _ = probe.kill();
    let _ = probe.wait();
}

/// `bundle --include-dir` over a directory with the hung mount inside: the walk lists it in a
/// helper it abandons when the walk's 30 s are up, takes the files beside it, and says what it
/// left out; the doctor exits (the test's own limit is 300 s).
#[test]
fn an_include_dir_with_a_hung_mount_inside_costs_its_time_cap_never_a_hang() {
    if !require_root() {
        return;
    }
    let hung = Hung::start();
    let inc = hung.mount.parent().unwrap().to_path_buf();
    fs::write(inc.join("app.log"), "beside the mount\n").unwrap();
    let work = tempfile::tempdir().unwrap();
    let bundle_path = work.path().join("hung.tar.gz");
    let out = doctor_with_deadline()
        .args(["--timeout", SCAN_TIMEOUT, "bundle", "-o"])
        .arg(&bundle_path)
        .arg("--include-dir")
        .arg(&inc)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert_success(&out);
    let (manifest, records, _) = container_doctor::bundle::read(&bundle_path).unwrap();
    let inc_s = inc.to_string_lossy();
    let mnt = hung.mount.to_string_lossy().into_owned();
    let read: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.request {
            container_doctor::host::Request::ReadLocal(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    assert!(read.contains(&format!("{inc_s}/app.log")), "{read:?}");
    assert!(read.iter().all(|p| !p.starts_with(&mnt)), "{read:?}");
    let left = manifest.left_out.join("\n");
    assert!(
        left.contains(&format!(
            "{mnt}: cannot be listed: list {mnt}: timed out after "
        )),
        "{left}"
    );
    // "timed out" comes only from a helper the walk gave up on (it was killed then: a request
    // the server never took ends with a fatal signal); an lstat of the mount in the doctor itself
    // would have blocked the walk until this test's 300 s.
    drop(hung);
}

/// `--interval` keeps one process across scans: a FUSE mount that appears after the first scan
/// is still read by a helper, never by a thread of the doctor that would hang with it (the
/// doctor's own mount table is read again when the kernel says it changed).
#[test]
fn a_fuse_mount_made_between_interval_scans_is_read_by_a_helper() {
    if !require_root() {
        return;
    }
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.1.0-25-amd64\n");
    let config = tree.path().join("etc/buildkit");
    fs::create_dir_all(&config).unwrap();
    let out = tree.path().join("report.json");
    let doctor = Command::new(doctor_path())
        .arg("--root")
        .arg(tree.path())
        .args(["--only", "buildkit-usage", "--format", "json"])
        .args(["--interval", "0.5", "--timeout", "3", "--output"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _doctor = Running(doctor);
    let start = Instant::now();
    while !out.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no first scan");
        std::thread::sleep(Duration::from_millis(20));
    }
    let hung = Hung::start_on(config.clone(), tempfile::tempdir().unwrap());
    let toml = config.join("buildkitd.toml");
    let toml = toml.to_str().unwrap();
    let start = Instant::now();
    while helpers_reading(toml).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no helper read {toml}: the scan after the mount read it in-process"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(hung);
}

/// Under `--root`, a symlink on a FUSE mount inside the tree names the tree's file, as the
/// examined system sees it, never the reader's: the helper that reads past the mount resolves
/// links inside the tree (openat2 RESOLVE_IN_ROOT).
#[test]
fn a_link_on_a_fuse_mount_inside_the_tree_names_the_trees_file() {
    if !require_root() {
        return;
    }
    let target = "/etc/container-doctor-test-only-buildkitd.toml";
    assert!(
        !Path::new(target).exists(),
        "{target} on this machine would make the test say nothing"
    );
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.1.0-25-amd64\n");
    tree.file(
        target.trim_start_matches('/'),
        "[worker.oci]\n  gc = true\n  [[worker.oci.gcpolicy]]\n    keepBytes = 7777\n",
    );
    let config = tree.path().join("etc/buildkit");
    fs::create_dir_all(&config).unwrap();
    let _fuse = Answering::serve_link(&config, "buildkitd.toml", target);
    let out = Command::new(doctor_path())
        .arg("--root")
        .arg(tree.path())
        .args([
            "--only",
            "buildkit-usage",
            "--format",
            "json",
            "--timeout",
            SCAN_TIMEOUT,
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let evidence = check(&report, "buildkit-usage")["evidence"].to_string();
    assert!(
        evidence.contains("worker.oci: 1 rule(s)"),
        "the link was not read as the tree's file: {evidence}"
    );
}
