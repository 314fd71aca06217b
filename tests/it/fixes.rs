//! Fixes for real, as root, in private namespaces: /tmp gets a tmpfs (refused while files there
//! are open), a busy overlay's holder is stopped and the mount removed while an unrelated process
//! lives, a frozen cgroup is thawed, a Dockerfile is rewritten with a backup, a mount point full of
//! shell syntax is unmounted without anything in its name running; and the refusals.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::{doctor_outside_tmp, doctor_path, in_private_mounts, require_root};
use serde_json::Value;

/// Runs `script` in a private mount namespace with the doctor as `$D` (a copy outside /tmp, which
/// the scripts mount over) and the audit log as `$LOG`.
fn in_namespace(script: &str, log: &Path) -> Output {
    let (_copy, doctor) = doctor_outside_tmp();
    in_private_mounts(script, |c| {
        c.env("D", doctor).env("CONTAINER_DOCTOR_AUDIT_LOG", log);
    })
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn tmpfs_on_tmp_in_a_private_namespace() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let before = sh("stat -f -c %T /tmp");
    let out = in_namespace(
        r#"
        # A file in /tmp held open: the mount is refused, then allowed with --force.
        f=$(mktemp /tmp/doctor-open.XXXXXX); sleep 600 < "$f" & holder=$!
        dev=$(stat -c %d /tmp)
        sleep 0.2
        "$D" fix tmp-tmpfs --plan tmp-mount-now --yes; echo "REFUSED_RC=$?"
        "$D" fix tmp-tmpfs --plan tmp-mount-now --yes --force; echo "FORCED_RC=$?"
        echo "NOW=$(stat -f -c %T /tmp)"
        # The file is on the /tmp below the fix's tmpfs: uncover it to remove it.
        kill -9 $holder
        [ "$(stat -c %d /tmp)" = "$dev" ] || umount -l /tmp
        rm "$f" && echo REMOVED
        "#,
        &log,
    );
    let t = text(&out);
    assert!(t.contains("REFUSED_RC=1"), "{t}");
    assert!(t.contains("are open by running processes"), "{t}");
    assert!(t.contains("FORCED_RC=0"), "{t}");
    assert!(
        t.contains("REMOVED"),
        "the held file is removed from the real /tmp: {t}"
    );
    assert!(t.contains("fixed: "), "{t}");
    assert!(
        t.contains("tmp-tmpfs now: ok: /tmp is tmpfs (tmpfs, its own mount)"),
        "{t}"
    );
    assert!(t.contains("NOW=tmpfs"), "{t}");
    assert_eq!(
        sh("stat -f -c %T /tmp"),
        before,
        "the host's /tmp is untouched"
    );
    // One audit line per action: the refused mount, then the forced one.
    let lines: Vec<Value> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        (lines[0]["result"].as_str(), lines[1]["result"].as_str()),
        (Some("failed"), Some("done"))
    );
    assert_eq!(lines[1]["plan"], "tmp-mount-now");
    let mode = fs::metadata(&log).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
}

#[test]
fn a_busy_overlay_is_freed_and_bystanders_survive() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let out = in_namespace(
        r#"
        base=$(mktemp -d "$SCRATCH"/doctor-fix.XXXXXX); mount -t tmpfs fixscene "$base"
        trap 'cd / && umount -R -l "$base"; rmdir "$base"' EXIT
        mkdir -p "$base/l" "$base/u" "$base/w"
        # A mount point full of shell syntax: nothing in it may run.
        m="$base/m \$(touch pwned-a);\`touch pwned-b\`
nl"
        mkdir -p "$m"
        mount -t overlay overlay -o "lowerdir=$base/l,upperdir=$base/u,workdir=$base/w" "$m"
        (cd "$m" && exec sleep 600) & holder=$!
        sleep 600 & bystander=$!
        sleep 0.3
        cd "$base"
        id=$(awk '$5 ~ /\/doctor-fix\./ && $0 ~ / - overlay / {print $1}' /proc/self/mountinfo | head -1)
        echo "MOUNT_ID=$id"
        "$D" fix overlay-busy --plan "stop-holders-and-unmount-$id" --yes; echo "NOFORCE_RC=$?"
        "$D" fix overlay-busy --plan "stop-holders-and-unmount-$id" --yes --force; echo "RC=$?"
        sleep 0.2
        kill -0 $holder 2>/dev/null && echo HOLDER_ALIVE || echo HOLDER_GONE
        kill -0 $bystander 2>/dev/null && echo BYSTANDER_ALIVE || echo BYSTANDER_GONE
        awk -v b="$base/m" 'index($5, b) == 1' /proc/self/mountinfo | wc -l | sed 's/^/STILL_MOUNTED=/'
        ls -A "$base" | tr '\n' ' ' | sed 's/^/FILES=/'; echo
        if [ -e "$base/pwned-a" ] || [ -e "$base/pwned-b" ]; then echo INJECTED; fi
        kill -9 $bystander
        "#,
        &log,
    );
    let t = text(&out);
    assert!(
        t.contains("NOFORCE_RC=2") && t.contains("destructive: it needs --yes --force"),
        "{t}"
    );
    assert!(t.contains("RC=0"), "{t}");
    assert!(t.contains("exited after SIGTERM"), "{t}");
    assert!(
        t.contains("HOLDER_GONE") && t.contains("BYSTANDER_ALIVE"),
        "{t}"
    );
    assert!(t.contains("STILL_MOUNTED=0"), "{t}");
    assert!(
        !t.contains("INJECTED"),
        "a mount point's name was executed: {t}"
    );
    let files = t.lines().find(|l| l.starts_with("FILES=")).unwrap();
    assert!(
        files.contains("m $(touch pwned-a)"),
        "the odd directory is still there, unmounted: {files}"
    );
    let lines = fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(lines, 2, "one signal, one unmount");
}

#[test]
fn a_frozen_cgroup_is_thawed_and_runs_again() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let cg = format!("/sys/fs/cgroup/freezer/doctor-fix-{}", std::process::id());
    fs::create_dir(&cg).unwrap();
    let mut child = Command::new("sleep").arg("300").spawn().unwrap();
    fs::write(format!("{cg}/cgroup.procs"), child.id().to_string()).unwrap();
    fs::write(format!("{cg}/freezer.state"), "FROZEN").unwrap();
    while fs::read_to_string(format!("{cg}/freezer.state"))
        .unwrap()
        .trim()
        != "FROZEN"
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = Command::new(doctor_path())
        .args(["--timeout", crate::common::SCAN_TIMEOUT])
        .env("CONTAINER_DOCTOR_AUDIT_LOG", &log)
        .args([
            "fix",
            "cgroup-freezer",
            "--plan",
            &format!("thaw:{cg}"),
            "--yes",
        ])
        .output()
        .unwrap();
    let state = fs::read_to_string(format!("{cg}/freezer.state")).unwrap();
    let stat = fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let _ = fs::write(format!("{cg}/freezer.state"), "THAWED");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = fs::remove_dir(&cg);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(state.trim(), "THAWED");
    assert!(
        stat.contains(") S "),
        "the task runs (sleeps) again: {stat}"
    );
    assert!(
        !Path::new(&format!("{cg}/freezer.state.container-doctor")).exists(),
        "control files get no backup"
    );
}

#[test]
fn a_dockerfile_is_rewritten_with_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    let original = crate::common::fixtures::APT_PARALLEL_DOCKERFILE.to_string();
    fs::write(&file, &original).unwrap();
    let log = dir.path().join("audit.log");
    let out = Command::new(doctor_path())
        .args(["--timeout", crate::common::SCAN_TIMEOUT])
        .env("CONTAINER_DOCTOR_AUDIT_LOG", &log)
        .current_dir(dir.path())
        .args([
            "fix",
            "dockerfile-cache-mounts",
            "--dockerfile",
            "Dockerfile",
            "--yes",
        ])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(
        t.contains(
            "+RUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update && apt-get install -y make"
        ),
        "diff shown: {t}"
    );
    let rewritten = fs::read_to_string(&file).unwrap();
    let changed: Vec<(&str, &str)> = original
        .lines()
        .zip(rewritten.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(original.lines().count(), rewritten.lines().count());
    let backup = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy().contains(".container-doctor-")
                && p.to_string_lossy().ends_with(".bak")
        })
        .expect("a backup beside the file");
    assert_eq!(fs::read_to_string(backup).unwrap(), original);
    let df = container_doctor::parse::dockerfile::parse(&rewritten);
    assert!(df.problems.is_empty() && df.stages.len() == 4, "{df:?}");
    assert!(t.contains("fixed:"), "{t}");
}

#[test]
fn refusals_and_dry_runs_change_nothing() {
    if !require_root() {
        return;
    }
    // Not root: refused up front with the command to run under sudo.
    let out = crate::common::run_as_nobody(
        &["fix", "tmp-tmpfs", "--plan", "tmp-mount-now", "--yes"],
        &[(
            "CONTAINER_DOCTOR_AUDIT_LOG",
            "/nonexistent/never-written.log",
        )],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("needs root; run: sudo container-doctor fix tmp-tmpfs --plan tmp-mount-now")
    );

    // --dry-run: the mount table and the files are the same before and after.
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let out = Command::new(doctor_path())
        .args(["--timeout", crate::common::SCAN_TIMEOUT])
        .args(["fix", "tmp-tmpfs", "--plan", "tmp-mount-now", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("--dry-run: nothing was changed"));
    assert_eq!(fs::read_to_string("/proc/self/mountinfo").unwrap(), before);

    // No terminal and no --yes: nobody to ask, so nothing happens.
    let out = Command::new(doctor_path())
        .args(["--timeout", crate::common::SCAN_TIMEOUT])
        .args(["fix", "tmp-tmpfs", "--plan", "tmp-mount-now"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("pass --yes"));
    assert_eq!(fs::read_to_string("/proc/self/mountinfo").unwrap(), before);

    // Manual plans are shown, never run; unknown plans are named.
    let out = Command::new(doctor_path())
        .args(["--timeout", crate::common::SCAN_TIMEOUT])
        .args(["fix", "tmp-tmpfs", "--plan", "tmpdir-on-tmpfs", "--yes"])
        .output()
        .unwrap();
    assert!(text(&out).contains("never runs them"), "{}", text(&out));
    let out = Command::new(doctor_path())
        .args(["--timeout", crate::common::SCAN_TIMEOUT])
        .args(["fix", "tmp-tmpfs", "--plan", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("has no fix nope"));
    let out = Command::new(doctor_path())
        .args(["--timeout", crate::common::SCAN_TIMEOUT])
        .args(["--root", "/", "fix", "tmp-tmpfs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_fix_is_judged_by_its_own_target() {
    if !require_root() {
        return;
    }
    // Two leaked, idle overlays: unmounting one succeeds (exit 0) though the check still warns
    // about the other; the doctor's own output file under /tmp does not block the tmpfs fix.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let out = in_namespace(
        r#"
        base=$(mktemp -d /var/tmp/doctor-target.XXXXXX); mount -t tmpfs scene "$base"
        trap 'cd / && umount -R -l "$base" 2>/dev/null; rmdir "$base"' EXIT
        for n in a b; do
          mkdir -p "$base/$n/l" "$base/$n/u" "$base/$n/w" "$base/$n/m"
          mount -t overlay overlay -o "lowerdir=$base/$n/l,upperdir=$base/$n/u,workdir=$base/$n/w" "$base/$n/m"
        done
        id=$(awk -v m="$base/a/m" '$5 == m {print $1}' /proc/self/mountinfo)
        "$D" fix overlay-busy --plan "unmount-$id" --yes; echo "RC=$?"
        awk -v m="$base/a/m" '$5 == m' /proc/self/mountinfo | wc -l | sed 's/^/A_MOUNTED=/'
        awk -v m="$base/b/m" '$5 == m' /proc/self/mountinfo | wc -l | sed 's/^/B_MOUNTED=/'
        # The tmpfs fix, its output into /tmp itself: our own open file is no blocker.
        mkdir -p /tmp/doctor-own-output.$$
        "$D" fix tmp-tmpfs --plan tmp-mount-now --yes > /tmp/doctor-own-output.$$/log 2>&1; echo "TMP_RC=$?"
        echo "NOW=$(stat -f -c %T /tmp)"
        umount -l /tmp; rm -r /tmp/doctor-own-output.$$
        "#,
        &log,
    );
    let t = text(&out);
    assert!(
        t.contains("A_MOUNTED=0") && t.contains("B_MOUNTED=1"),
        "{t}"
    );
    assert!(t.contains("RC=0"), "{t}");
    assert!(t.contains("done: ") && t.contains("/a/m unmounted"), "{t}");
    assert!(t.contains("fixed: Unmount"), "{t}");
    assert!(t.contains("overlay-busy now: warn"), "{t}");
    assert!(t.contains("TMP_RC=0") && t.contains("NOW=tmpfs"), "{t}");
}
