//! The doctor on this machine, for real: statfs, syscalls, /proc, and private namespaces made with
//! unshare(1) for the cases the machine does not show by itself.

use std::process::Command;

use crate::common::{
    check, doctor, doctor_outside_tmp, doctor_path, require_root, status, summary,
};
use container_doctor::host::{Host, Request};
use serde_json::Value;

fn live_json(args: &[&str]) -> (std::process::Output, Value) {
    let out = doctor()
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).expect("JSON");
    (out, v)
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn check_on_this_machine_agrees_with_independent_tools() {
    let (out, report) = live_json(&["--check"]);
    // The exit code follows the report.
    let failed = report["failed"].as_bool().unwrap();
    assert_eq!(out.status.code(), Some(if failed { 1 } else { 0 }));
    assert_eq!(report["host"]["source"], "live");
    assert_eq!(report["host"]["kernel"], sh("uname -r"));
    if sh("readlink /proc/self/ns/pid") == "pid:[4026531836]" {
        assert!(
            report["host"]["container"].is_null(),
            "the initial PID namespace is no container"
        );
    }

    // /tmp: statfs as stat(1) sees it.
    let tmp_type = sh("stat -f -c %T /tmp");
    let want = if tmp_type == "tmpfs" { "ok" } else { "warn" };
    assert_eq!(
        status(&report, "tmp-tmpfs"),
        want,
        "{}",
        summary(&report, "tmp-tmpfs")
    );

    // Kernel: the same numbers uname gives.
    let release = sh("uname -r");
    let numbers: Vec<&str> = release.split(['.', '-']).take(3).collect();
    let prefix = format!("Linux {}.{}.{}", numbers[0], numbers[1], numbers[2]);
    assert!(
        summary(&report, "kernel-version").starts_with(&prefix),
        "{}",
        summary(&report, "kernel-version")
    );

    // pidfd: probed live, not inferred.
    let major_minor: (u32, u32) = (numbers[0].parse().unwrap(), numbers[1].parse().unwrap());
    if major_minor >= (5, 4) {
        assert_eq!(status(&report, "pidfd"), "ok");
        assert_eq!(
            summary(&report, "pidfd"),
            "pidfd_open, pidfd_send_signal and waitid(P_PIDFD) work"
        );
    }
    let ev = check(&report, "pidfd")["evidence"].to_string();
    assert!(ev.contains("syscall pidfd_open"), "{ev}");

    // PID 1 is named as ps(1) names it.
    let pid1 = sh("ps -o comm= -p 1");
    assert!(
        check(&report, "zombies")["evidence"]
            .to_string()
            .contains(&format!("PID 1 is {pid1}"))
    );
}

#[test]
fn tmp_on_tmpfs_in_a_private_mount_namespace() {
    if !require_root() {
        return;
    }
    let before = sh("stat -f -c %T /tmp");
    // The scripts mount over /tmp, where the checkout (and so the binary) may be.
    let (_copy, doctor) = doctor_outside_tmp();
    let run = |script: &str| {
        let out = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(&doctor)
            .env_remove("TMPDIR")
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        v
    };
    let report = run(
        "mount -t tmpfs doctor-test /tmp && exec \"$1\" --timeout 120 --only tmp-tmpfs --format json",
    );
    assert_eq!(status(&report, "tmp-tmpfs"), "ok", "{report}");
    assert_eq!(
        summary(&report, "tmp-tmpfs"),
        "/tmp is tmpfs (doctor-test, its own mount)"
    );

    // tmpfs /tmp, but TMPDIR on disk: tools use TMPDIR first.
    let report = run(
        "mount -t tmpfs doctor-test /tmp && TMPDIR=/var/tmp exec \"$1\" --timeout 120 --only tmp-tmpfs --format json",
    );
    assert_eq!(status(&report, "tmp-tmpfs"), "warn", "{report}");
    assert!(
        summary(&report, "tmp-tmpfs").contains("TMPDIR=/var/tmp"),
        "{report}"
    );

    // A disk filesystem over /tmp, with an odd name, in that namespace.
    let report = run(
        "mkdir -p '/var/tmp/doctor odd;$(x)' && mount --bind '/var/tmp/doctor odd;$(x)' /tmp && \
         exec \"$1\" --timeout 120 --only tmp-tmpfs --format json",
    );
    assert_eq!(status(&report, "tmp-tmpfs"), "warn", "{report}");
    assert!(
        summary(&report, "tmp-tmpfs").contains("its own mount"),
        "{report}"
    );

    // The host's /tmp is untouched, and the directory made for the bind mount goes.
    assert_eq!(sh("stat -f -c %T /tmp"), before);
    std::fs::remove_dir("/var/tmp/doctor odd;$(x)").unwrap();
}

#[test]
fn zombies_left_to_a_pid_1_that_does_not_reap() {
    if !require_root() {
        return;
    }
    // In a new PID namespace `timeout` is PID 1: it waits for its own child only, so the two
    // orphaned `sleep 0` become zombies whose parent is PID 1, as under a container without --init.
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "timeout", "20", "sh", "-c"])
        .arg("(sleep 0 &); (sleep 0 &); sleep 0.5; exec \"$0\" --timeout 120 --only zombies --format json --fail-on warn")
        .arg(doctor_path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(status(&report, "zombies"), "warn", "{report}");
    assert_eq!(
        summary(&report, "zombies"),
        "2 zombies left to PID 1 (timeout), not reaped after 300 ms"
    );
    assert!(
        check(&report, "zombies")["evidence"]
            .to_string()
            .contains("(sleep) zombie")
    );
    assert_eq!(check(&report, "zombies")["fixes"][0]["id"], "use-an-init");
    assert_eq!(out.status.code(), Some(1), "--fail-on warn");
    // A new PID namespace is a container; which engine depends on marker files this machine has.
    assert!(report["host"]["container"].is_string(), "{report}");
}

#[test]
fn zombies_left_to_a_containers_init_seen_from_outside() {
    if !require_root() {
        return;
    }
    // Two nested PID namespaces: the doctor is PID 1 of the outer one (so it sees nothing of the
    // machine), and the inner one's PID 1 orphans two children and then never reaps (exec sleep).
    // Seen from outside, the zombies' parent is not pid 1 but a container's init (NSpid "N 1").
    let out = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "timeout",
            "20",
            "sh",
            "-c",
        ])
        .arg(
            "unshare --pid --fork sh -c '(sleep 0 &); (sleep 0 &); exec sleep 10' & sleep 0.5; \
             \"$0\" --timeout 120 --only zombies --format json; kill %1",
        )
        .arg(doctor_path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(status(&report, "zombies"), "warn", "{report}");
    // One or two, depending on whether the subshells were reaped before the exec.
    let said = summary(&report, "zombies");
    assert!(
        said.contains(" left to the container init sleep (pid ")
            && said.ends_with("not reaped after 300 ms"),
        "{said}"
    );
}

#[test]
fn a_zombie_reaped_within_the_pause_is_not_reported() {
    if !require_root() {
        return;
    }
    // PID 1 (a shell) reaps within milliseconds: a zombie the doctor catches in its first look is
    // gone at the second, however long the child ran before it exited.
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg("sleep 1 & \"$0\" --timeout 120 --only zombies --format json; wait")
        .arg(doctor_path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status(&report, "zombies"), "ok", "{report}");
}

#[test]
fn no_zombies_when_pid_1_reaps() {
    if !require_root() {
        return;
    }
    // A shell as PID 1 reaps its orphans while it waits for the doctor.
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg("(sleep 0 &); sleep 0.3; \"$0\" --timeout 120 --only zombies --format json")
        .arg(doctor_path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status(&report, "zombies"), "ok", "{report}");
    assert!(summary(&report, "zombies").starts_with("no zombie processes; PID 1 is sh"));
}

#[test]
fn the_host_records_everything_it_served_only_when_asked() {
    // A scan keeps nothing of what it read: its memory does not grow with the machine.
    let host = Host::live();
    let _ = host.read_text("/proc/version");
    let _ = host.mapped_files("/proc/self/maps");
    assert!(!host.is_recording());
    assert!(host.records().is_empty());
    // A bundle's Host keeps everything.
    let host = Host::live().recording(true);
    let _ = host.read_text("/proc/version");
    let _ = host.read_text("/nonexistent");
    let _ = host.statfs_magic("/tmp");
    let _ = host.probe_pidfd();
    let r = host.records();
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].request, Request::Read("/proc/version".into()));
    assert!(r[0].answer.is_ok());
    assert!(r[1].answer.is_err());
    assert_eq!(r[3].request, Request::ProbePidfd);
}

#[test]
fn text_report_colors_only_when_asked_and_never_with_no_color() {
    let plain = doctor().output().unwrap();
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(!text.contains('\u{1b}'), "no TTY, no colors");
    for id in container_doctor::checks::ALL.iter().map(|c| c.id) {
        assert!(text.contains(id), "{text}");
    }
    assert!(text.contains(&format!("{} checks:", container_doctor::checks::ALL.len())));
    let colored = doctor().args(["--color", "always"]).output().unwrap();
    assert!(String::from_utf8_lossy(&colored.stdout).contains("\u{1b}["));
    let no_color = doctor()
        .args(["--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&no_color.stdout).contains('\u{1b}'));
    let verbose = doctor()
        .args(["-v", "--only", "tmp-tmpfs"])
        .output()
        .unwrap();
    let verbose = String::from_utf8_lossy(&verbose.stdout);
    assert!(verbose.contains("statfs /tmp:"), "{verbose}");
}

#[test]
fn list_checks_and_explain() {
    let out = doctor().arg("--list-checks").output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<&str> = list
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "kernel-version",
            "kernel-config",
            "pidfd",
            "zombies",
            "tmp-tmpfs",
            "cgroup-version",
            "cgroup-freezer",
            "criu-version",
            "runtime-versions",
            "overlay-busy",
            "buildkit-usage",
            "dockerfile-cache-mounts"
        ]
    );
    for id in ids {
        let out = doctor().args(["explain", id]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let md = String::from_utf8_lossy(&out.stdout);
        assert!(md.starts_with(&format!("# {id} — ")), "{md}");
        for section in ["## Why it matters", "## How to fix"] {
            assert!(md.contains(section), "{id}: {section}");
        }
    }
}

/// Live mapped files come from the kernel's PROCMAP_QUERY (6.11+) where it answers: they must be
/// what the maps text says of files on anonymous devices (tmpfs here, overlays in a scan; files on
/// block devices are never overlays and are not named), and each range must name its
/// /proc/PID/map_files entry, which maps pads but map_files does not.
#[test]
fn mapped_files_from_the_kernels_query_agree_with_the_maps_text() {
    let dir = tempfile::tempdir_in("/dev/shm").expect("/dev/shm (tmpfs)");
    let names = ["plain", "with space", "new\nline", "deleted"];
    for n in names {
        std::fs::write(dir.path().join(n), "x".repeat(8192)).unwrap();
    }
    let script = r#"
import mmap, os, sys, time
maps = []
for p in sys.argv[2:]:
    with open(os.path.join(sys.argv[1], p), "rb") as f:
        maps.append(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ))
os.unlink(os.path.join(sys.argv[1], "deleted"))
print("ready", flush=True)
time.sleep(60)
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir.path())
        .args(names)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    let pid = child.id();
    let maps = format!("/proc/{pid}/maps");
    let host = Host::live();
    let queried = host.mapped_files(&maps).unwrap();
    let text = std::fs::read_to_string(&maps).unwrap();
    let from_text: Vec<_> = container_doctor::parse::proc_maps::mappings(&text)
        .into_iter()
        .filter(|m| m.dev.0 == 0)
        .collect();
    for m in &queried {
        let entry = format!("/proc/{pid}/map_files/{}", m.range);
        assert!(std::fs::read_link(&entry).is_ok(), "{entry} for {m:?}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut ours: Vec<&str> = queried
        .iter()
        .filter(|m| m.path.starts_with(dir.path().to_str().unwrap()))
        .map(|m| m.path.rsplit('/').next().unwrap())
        .collect();
    ours.sort();
    assert_eq!(
        ours,
        ["deleted", "new\nline", "plain", "with space"],
        "{queried:?}"
    );
    assert_eq!(queried, from_text, "{text}");
}

#[test]
fn a_process_that_is_gone_reads_as_not_found() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let host = Host::live();
    let err = host.read_text(&format!("/proc/{pid}/stat")).unwrap_err();
    assert!(
        matches!(err, container_doctor::host::HostError::NotFound(_)),
        "{err:?}"
    );
}

#[test]
fn unreadable_files_say_needs_root() {
    if !require_root() {
        return;
    }
    let tree = crate::common::Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.1.0\n")
        .file("proc/version", "Linux version 6.1.0\n");
    for f in ["proc/sys/kernel/osrelease", "proc/version"] {
        std::fs::set_permissions(
            tree.path().join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
    }
    std::fs::set_permissions(
        tree.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let root = tree.path().to_string_lossy().into_owned();
    let out = crate::common::run_as_nobody(
        &[
            "--root",
            &root,
            "--format",
            "json",
            "--only",
            "kernel-version",
        ],
        &[],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(status(&report, "kernel-version"), "unknown");
    assert!(
        summary(&report, "kernel-version").contains("permission denied (needs root)"),
        "{report}"
    );
    assert_eq!(report["host"]["root"], false);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_whole_check_as_an_unprivileged_user() {
    if !require_root() {
        return;
    }
    let out = crate::common::run_as_nobody(&["--check", "--format", "json"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let failed = report["failed"].as_bool().unwrap();
    assert_eq!(out.status.code(), Some(if failed { 1 } else { 0 }));
    assert_eq!(report["host"]["root"], false);
    // What needs other processes' files says so instead of guessing.
    let overlay = summary(&report, "overlay-busy");
    assert!(
        status(&report, "overlay-busy") == "unknown" && overlay.contains("needs root"),
        "{overlay}"
    );
    // criu check needs root: its verdict is never claimed.
    assert!(
        !check(&report, "criu-version")["evidence"]
            .to_string()
            .contains("Looks good")
    );
}
