//! File-rewriting fixes keep what they touch (mode, owner, the backup's mode), write a symlink's
//! target and say so, refuse a file that changed since the check read it; the audit log refuses a
//! FIFO or a device without blocking; a multi-byte container id panics nothing.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::fixtures::APT_PARALLEL_DOCKERFILE;
use crate::common::{Tree, check, doctor, require_root, status};
use container_doctor::fix::{self, Audit, StepOutcome};
use container_doctor::model::{FixPlan, Risk, Step};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `fix dockerfile-cache-mounts --dockerfile NAME --yes` in `dir`, logging to `log`.
fn fix_dockerfile(dir: &Path, name: &str, log: &Path) -> Output {
    doctor()
        .current_dir(dir)
        .env("CONTAINER_DOCTOR_AUDIT_LOG", log)
        .args([
            "fix",
            "dockerfile-cache-mounts",
            "--dockerfile",
            name,
            "--yes",
        ])
        // A guard against a hang, not a timing assertion: a killed run fails the exit-code checks.
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let s = p.to_string_lossy();
            s.contains(".container-doctor-") && s.ends_with(".bak")
        })
        .collect()
}

#[test]
fn a_rewrite_keeps_mode_and_owner_and_so_does_the_backup() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    fs::write(&file, APT_PARALLEL_DOCKERFILE).unwrap();
    // Group-readable only, owned by someone else, with the setgid bit: all of it must survive.
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o2640)).unwrap();
    let out = fix_dockerfile(dir.path(), "Dockerfile", &dir.path().join("audit.log"));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let after = fs::metadata(&file).unwrap();
    assert_ne!(
        fs::read_to_string(&file).unwrap(),
        APT_PARALLEL_DOCKERFILE,
        "rewritten: {t}"
    );
    assert_eq!(after.mode() & 0o7777, 0o2640, "{t}");
    assert_eq!((after.uid(), after.gid()), (65534, 65534));
    let b = backups(dir.path());
    assert_eq!(b.len(), 1, "{b:?}");
    let bm = fs::metadata(&b[0]).unwrap();
    assert_eq!(bm.mode() & 0o7777, 0o2640);
    assert_eq!((bm.uid(), bm.gid()), (65534, 65534));
    assert_eq!(fs::read_to_string(&b[0]).unwrap(), APT_PARALLEL_DOCKERFILE);
    assert!(t.contains("mode 2640, owner 65534:65534 kept"), "{t}");
}

#[test]
fn a_symlinks_target_is_rewritten_and_the_plan_says_so() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    let target = dir.path().join("real/Dockerfile.ci");
    fs::write(&target, APT_PARALLEL_DOCKERFILE).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("real/Dockerfile.ci", dir.path().join("Dockerfile")).unwrap();
    let out = fix_dockerfile(dir.path(), "Dockerfile", &dir.path().join("audit.log"));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let real = fs::canonicalize(&target).unwrap();
    // Shown before anything runs, in the preview.
    let said = format!(
        "Dockerfile is a symlink: its target {} is what is rewritten (the link stays)",
        real.display()
    );
    let (preview, applied) = t.split_once("done:").unwrap();
    assert!(preview.contains(&said), "{t}");
    assert!(applied.contains("through the symlink Dockerfile"), "{t}");
    // The link is still a link to the same file; the file changed and kept its mode.
    let link = fs::symlink_metadata(dir.path().join("Dockerfile")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(
        fs::read_link(dir.path().join("Dockerfile")).unwrap(),
        Path::new("real/Dockerfile.ci")
    );
    let now = fs::read_to_string(&target).unwrap();
    assert!(now.contains("sharing=locked"), "{now}");
    assert_eq!(fs::metadata(&target).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(backups(&dir.path().join("real")).len(), 1);
    assert!(
        backups(dir.path()).is_empty(),
        "the backup is beside the target"
    );
}

fn sha(bytes: &[u8]) -> String {
    container_doctor::files::sha256_hex(bytes)
}

fn apply_write(path: &Path, seen: Option<String>, log: &Path) -> Vec<StepOutcome> {
    let plan = FixPlan {
        id: "test-rewrite".into(),
        title: "test".into(),
        risk: Risk::Safe,
        needs_root: false,
        steps: vec![Step::WriteFile {
            path: path.to_string_lossy().into_owned(),
            content: "FROM scratch\n".into(),
            seen_sha256: seen,
        }],
    };
    let mut audit = Audit::open(log.to_path_buf()).unwrap();
    fix::apply("dockerfile-cache-mounts", &plan, false, &mut audit)
        .steps
        .into_iter()
        .map(|(_, o)| o)
        .collect()
}

#[test]
fn a_file_changed_since_the_check_read_it_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    let log = dir.path().join("audit.log");
    let seen = "FROM debian\nRUN true\n";
    // Someone edits the file between the check and the fix.
    fs::write(&file, "FROM debian\nRUN make\n").unwrap();
    let out = apply_write(&file, Some(sha(seen.as_bytes())), &log);
    match &out[..] {
        [StepOutcome::Failed(why)] => assert!(
            why.contains("has changed since the check read it; nothing written"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "FROM debian\nRUN make\n"
    );
    assert!(backups(dir.path()).is_empty());
    // Deleted since: refused as well, not created.
    fs::remove_file(&file).unwrap();
    let out = apply_write(&file, Some(sha(seen.as_bytes())), &log);
    assert!(matches!(&out[..], [StepOutcome::Failed(_)]), "{out:?}");
    assert!(!file.exists());
    // Unchanged: written.
    fs::write(&file, seen).unwrap();
    let out = apply_write(&file, Some(sha(seen.as_bytes())), &log);
    assert!(matches!(&out[..], [StepOutcome::Done(_)]), "{out:?}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "FROM scratch\n");
    // The audit log has all three, the two refusals as failed.
    let results: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["result"].to_string())
        .collect();
    assert_eq!(results, ["\"failed\"", "\"failed\"", "\"done\""]);
}

#[test]
fn the_plan_carries_the_hash_of_what_the_check_read() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Dockerfile"), APT_PARALLEL_DOCKERFILE).unwrap();
    let out = doctor()
        .current_dir(dir.path())
        .args([
            "--check",
            "--only",
            "dockerfile-cache-mounts",
            "--dockerfile",
            "Dockerfile",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = &check(&report, "dockerfile-cache-mounts")["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "cache-mount-sharing-locked")
        .unwrap()["steps"][0];
    assert_eq!(
        step["seen_sha256"].as_str(),
        Some(sha(APT_PARALLEL_DOCKERFILE.as_bytes()).as_str())
    );
}

#[test]
fn the_audit_log_refuses_a_fifo_a_device_and_a_symlink_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    fs::write(&file, APT_PARALLEL_DOCKERFILE).unwrap();
    let fifo = dir.path().join("audit.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let link = dir.path().join("audit.link");
    std::os::unix::fs::symlink(dir.path().join("elsewhere.log"), &link).unwrap();
    let refused = |log: &Path, why: &str| {
        let out = fix_dockerfile(dir.path(), "Dockerfile", log);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {t}", log.display());
        assert!(t.contains(why), "{}: {t}", log.display());
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            APT_PARALLEL_DOCKERFILE,
            "nothing applied without an audit log"
        );
    };
    // A FIFO with no reader (a blocking open would wait for one for ever).
    refused(&fifo, "not a regular file");
    // A FIFO with a reader (a blocking write would wait once the pipe is full): opened
    // read-write here so that this test itself never blocks.
    let reader = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    refused(&fifo, "not a regular file");
    drop(reader);
    refused(Path::new("/dev/null"), "not a regular file");
    refused(&link, "a symlink, never followed");
    assert!(!dir.path().join("elsewhere.log").exists());
    // A regular file: the fix goes ahead and is logged.
    let log = dir.path().join("audit.log");
    let out = fix_dockerfile(dir.path(), "Dockerfile", &log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(fs::read_to_string(&log).unwrap().contains("\"done\""));
}

/// Frozen cgroups of containers whose ids are not ASCII: 64 bytes that are not 64 characters,
/// a 12-byte cut that would fall inside a character, and names with combining marks.
#[test]
fn multi_byte_container_ids_panic_nothing() {
    let ids = [
        "é".repeat(32),                           // 64 bytes, 32 characters
        format!("abcdefghijk{}", "€".repeat(20)), // byte 12 is inside '€'
        "コンテナ-ïd-🐳".to_string(),
    ];
    for id in &ids {
        let tree = Tree::new();
        let cg = format!("sys/fs/cgroup/freezer/docker/{id}");
        tree.file(
            "proc/1/mountinfo",
            "30 1 0:26 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer\n",
        )
        .file("proc/sys/kernel/osrelease", "5.10.0-28-cloud-amd64\n")
        .file("sys/fs/cgroup/freezer/freezer.self_freezing", "0\n")
        .file(&format!("{cg}/freezer.state"), "FROZEN\n")
        .file(&format!("{cg}/freezer.self_freezing"), "1\n")
        .file(&format!("{cg}/cgroup.procs"), "");
        let scoped = format!("sys/fs/cgroup/freezer/system.slice/docker-{id}.scope");
        tree.file(&format!("{scoped}/freezer.state"), "FROZEN\n")
            .file(&format!("{scoped}/freezer.self_freezing"), "1\n")
            .file(&format!("{scoped}/cgroup.procs"), "");
        let (out, report) = tree.run_json(&["--only", "cgroup-freezer", "-v"]);
        assert_eq!(out.status.code(), Some(0), "{id}: {}", text(&out));
        assert_eq!(status(&report, "cgroup-freezer"), "warn", "{report}");
        let ev = check(&report, "cgroup-freezer")["evidence"].to_string();
        assert!(ev.contains(&format!("docker container {id}")), "{ev}");
        for format in ["text", "github", "sarif", "junit", "prometheus"] {
            let out = doctor()
                .arg("--root")
                .arg(tree.path())
                .args([
                    "--check",
                    "-v",
                    "--only",
                    "cgroup-freezer",
                    "--format",
                    format,
                ])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{format}: {}", text(&out));
        }
    }
}
