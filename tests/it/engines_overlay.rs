//! overlay-busy against what engines and the kernel really do (issue #16): a submount is the
//! blocker, not a process mapping a file on it; a detached overlay held only by a mapping is
//! found; Podman and Buildah containers are known with their state, and only their own commands
//! release them; an engine socket that refuses us leaves the owner unknown. Every scene runs in
//! private mount + PID namespaces (`unshare -m -p -f --mount-proc`), so the scan sees only the
//! test's processes, and nothing outside is touched.

use std::io::Read;
use std::process::Command;

use crate::common::{check, doctor_path, evidence_of, require_root, scratch, status, value};
use serde_json::Value;

/// Runs `script` in private mount and PID namespaces with the doctor's path as $1; returns
/// stdout, which holds one JSON report after a line `REPORT` and `KEY=VALUE` lines elsewhere.
fn in_namespaces(script: &str, env: &[(&str, &str)]) -> (String, String) {
    let scratch = scratch();
    let mut cmd = Command::new("unshare");
    cmd.env("MAPPER", MAPPER).env("SCRATCH", scratch.path());
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--mount-proc",
        "bash",
        "-c",
        script,
        "scene",
    ])
    .arg(doctor_path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("unshare");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Maps a file and closes it, keeping no descriptor: Python's own `mmap` keeps a duplicate, so
/// libc's mmap is called directly. Prints MAPPED when in place.
const MAPPER: &str = r#"
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.open(sys.argv[1], os.O_RDONLY)
addr = libc.mmap(None, 4096, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
assert addr not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
os.close(fd)
print("MAPPED", flush=True)
time.sleep(600)
"#;

/// The JSON report printed between `REPORT` and `END`.
fn report(stdout: &str, stderr: &str) -> Value {
    report_after(stdout, stderr, "REPORT")
}

/// The JSON report printed between the line `marker` and `END`.
fn report_after(stdout: &str, stderr: &str, marker: &str) -> Value {
    let marker = format!("{marker}\n");
    let start = stdout
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker}: {stdout}\n{stderr}"))
        + marker.len();
    let end = stdout[start..]
        .find("\nEND")
        .map(|e| start + e)
        .unwrap_or(stdout.len());
    serde_json::from_str(&stdout[start..end]).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

/// The plans whose steps name `needle` (a path, an id or a pid).
fn plans_naming(report: &Value, needle: &str) -> Vec<Value> {
    check(report, "overlay-busy")["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["steps"].to_string().contains(needle))
        .cloned()
        .collect()
}

const SUBMOUNT_SCENE: &str = r#"
set -eu
base=$(mktemp -d "$SCRATCH"/cd-sub.XXXXXX)
mount -t tmpfs scene "$base"
mkdir -p "$base/l/sub" "$base/u" "$base/w" "$base/m"
mount -t overlay overlay -o "lowerdir=$base/l,upperdir=$base/u,workdir=$base/w" "$base/m"
mount -t tmpfs sub "$base/m/sub"
echo data > "$base/m/sub/file"
python3 -c "$MAPPER" "$base/m/sub/file" > "$base/py.out" & mapper=$!
for _ in $(seq 400); do grep -q MAPPED "$base/py.out" 2>/dev/null && break; sleep 0.05; done
echo "MOUNT=$base/m"
echo "MAPPER=$mapper"
umount "$base/m" 2>/dev/null && echo "UMOUNT=ok" || echo "UMOUNT=busy"
echo REPORT
"$1" --timeout 120 --format json --only overlay-busy || true
echo END
kill -9 $mapper
"#;

#[test]
fn a_submount_is_the_blocker_and_a_mapping_on_it_holds_nothing() {
    if !require_root() {
        return;
    }
    let (stdout, stderr) = in_namespaces(SUBMOUNT_SCENE, &[]);
    // The scene itself proves why: umount of the overlay fails because of the submount.
    assert_eq!(value(&stdout, "UMOUNT"), "busy", "{stdout}");
    let r = report(&stdout, &stderr);
    let mount = value(&stdout, "MOUNT");
    let mapper = value(&stdout, "MAPPER");
    let lines = evidence_of(&r, mount);
    assert!(
        lines.iter().any(|l| l.contains("leaked and busy")),
        "{lines:?}\n{r:#}"
    );
    assert!(
        !evidence_of(&r, &format!("submount {mount}/sub")).is_empty(),
        "the submount is named: {r:#}"
    );
    assert!(
        evidence_of(&r, &format!("/proc/{mapper}")).is_empty(),
        "a process mapping a file on the submount does not hold the overlay: {r:#}"
    );
    assert!(
        plans_naming(&r, &format!("\"pid\":{mapper}")).is_empty(),
        "nothing offers to stop it: {r:#}"
    );
    // The plan unmounts the submount first, then the overlay.
    let plans = plans_naming(&r, &format!("{mount}/sub"));
    let plan = plans
        .iter()
        .find(|p| p["id"].as_str().unwrap().starts_with("unmount-"))
        .unwrap_or_else(|| panic!("no unmount plan naming the submount: {r:#}"));
    let paths: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        vec![format!("{mount}/sub").as_str(), mount],
        "{plan}"
    );
}

const DETACHED_SCENE: &str = r#"
set -eu
base=$(mktemp -d "$SCRATCH"/cd-det.XXXXXX)
mount -t tmpfs scene "$base"
mkdir -p "$base/l" "$base/u" "$base/w" "$base/m" "$base/m2"
echo data > "$base/u/file"
mount -t overlay overlay -o "lowerdir=$base/l,upperdir=$base/u,workdir=$base/w" "$base/m"
dev=$(grep " $base/m " /proc/self/mountinfo | cut -d' ' -f3)
python3 -c "$MAPPER" "$base/m/file" > "$base/py.out" & mapper=$!
for _ in $(seq 400); do grep -q MAPPED "$base/py.out" 2>/dev/null && break; sleep 0.05; done
umount -l "$base/m"
echo "DEV=$dev"
echo "MAPPER=$mapper"
ls -l /proc/$mapper/fd | grep -c "$base" || true
echo REPORT
"$1" --timeout 120 --format json --only overlay-busy || true
echo END
kill -9 $mapper
"#;

#[test]
fn a_detached_overlay_held_only_by_a_mapping_is_found() {
    if !require_root() {
        return;
    }
    let (stdout, stderr) = in_namespaces(DETACHED_SCENE, &[]);
    let r = report(&stdout, &stderr);
    let dev = value(&stdout, "DEV");
    let mapper = value(&stdout, "MAPPER");
    let lines = evidence_of(&r, &format!("overlay {dev}"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("detached") && l.contains("by a memory mapping only")),
        "{lines:?}\n{r:#}"
    );
    let holder = evidence_of(&r, &format!("/proc/{mapper}"));
    assert!(
        holder.iter().any(|l| l.contains("mapped file /file")),
        "{holder:?}\n{r:#}"
    );
    assert_eq!(status(&r, "overlay-busy"), "warn", "{r:#}");
}

/// Podman and Buildah with their own storage (graph root, runroot, storage.conf) in the scene's
/// directory: a running container, a Buildah working container mounted with `buildah mount`, and
/// a stopped Podman container mounted with `podman mount`.
const ENGINES_SCENE: &str = r#"
set -eu
base=$(mktemp -d "$SCRATCH"/cd-eng.XXXXXX)
mount -t tmpfs scene "$base"
mkdir -p "$base/rootfs/bin" "$base/containers/storage" "$base/run" "$base/tmp"
cp /bin/busybox "$base/rootfs/bin/"
for a in sh sleep true; do ln -s busybox "$base/rootfs/bin/$a"; done
printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' "$base/run" "$base/containers/storage" > "$base/storage.conf"
export CONTAINERS_STORAGE_CONF="$base/storage.conf"
P="podman --root $base/containers/storage --runroot $base/run --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --tmpdir $base/tmp"
B="buildah --root $base/containers/storage --runroot $base/run --storage-driver overlay"
tar -C "$base/rootfs" -c . | $P import - localhost/doctor-bb:test > /dev/null
run=$($P run -d --name doctor-run --net none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/doctor-bb:test sleep 600)
stopped=$($P create --name doctor-stopped --net none localhost/doctor-bb:test true)
stopped_mnt=$($P mount "$stopped")
wc=$($B from --name doctor-wc localhost/doctor-bb:test)
wc_id=$($B inspect --format '{{.ContainerID}}' "$wc")
wc_mnt=$($B mount "$wc")
run_mnt=$($P inspect --format '{{.GraphDriver.Data.MergedDir}}' "$run")
echo "ROOT=$base/containers/storage"
echo "RUN_ID=$run"
echo "RUN_MNT=$run_mnt"
echo "STOPPED_ID=$stopped"
echo "STOPPED_MNT=$stopped_mnt"
echo "WC_ID=$wc_id"
echo "WC_MNT=$wc_mnt"
echo REPORT
"$1" --timeout 120 --format json --only overlay-busy || true
echo END
echo "STATE=$($P inspect --format '{{.State.Status}}' "$run")"
$P rm -f -t 0 "$run" "$stopped" > /dev/null 2>&1 || true
$B rm "$wc" > /dev/null 2>&1 || true
"#;

#[test]
fn podman_and_buildah_containers_are_known_with_their_state() {
    if !require_root() {
        return;
    }
    let (stdout, stderr) = in_namespaces(ENGINES_SCENE, &[]);
    let r = report(&stdout, &stderr);
    let root = value(&stdout, "ROOT");
    let run_id = value(&stdout, "RUN_ID");
    let run_mnt = value(&stdout, "RUN_MNT");
    let stopped_id = value(&stdout, "STOPPED_ID");
    let stopped_mnt = value(&stdout, "STOPPED_MNT");
    let wc_mnt = value(&stdout, "WC_MNT");

    // The running container: Podman's, running, and nothing offered against it.
    let run = evidence_of(&r, run_mnt);
    assert!(
        run.iter().any(|l| l.starts_with(&format!(
            "podman container doctor-run ({}, running)",
            &run_id[..12]
        ))),
        "{run:?}\n{r:#}"
    );
    assert!(plans_naming(&r, run_mnt).is_empty(), "{r:#}");
    assert!(plans_naming(&r, run_id).is_empty(), "{r:#}");
    // The scan left it running.
    assert_eq!(value(&stdout, "STATE"), "running", "{stdout}");

    // Buildah's working container: Buildah's, not leaked, nothing offered.
    let wc = evidence_of(&r, wc_mnt);
    assert!(
        wc.iter()
            .any(|l| l.starts_with("buildah container doctor-wc (")
                && l.contains("Buildah working container")),
        "{wc:?}\n{r:#}"
    );
    assert!(plans_naming(&r, wc_mnt).is_empty(), "{r:#}");

    // The stopped but mounted Podman container: released by podman itself, through argv.
    let stopped = evidence_of(&r, stopped_mnt);
    assert!(
        stopped.iter().any(|l| l.contains("doctor-stopped")
            && l.contains("not running but its root is still mounted")),
        "{stopped:?}\n{r:#}"
    );
    let plans = plans_naming(&r, stopped_id);
    assert_eq!(plans.len(), 1, "{r:#}");
    let argv: Vec<&str> = plans[0]["steps"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[0], "podman");
    assert_eq!(&argv[1..3], &["--root", root]);
    assert_eq!(&argv[argv.len() - 2..], &["umount", stopped_id]);
    assert!(
        plans_naming(&r, stopped_mnt).is_empty(),
        "no raw unmount: {r:#}"
    );
    // Nothing of the engines is called leaked and busy, and no process is to be stopped.
    let ev = check(&r, "overlay-busy")["evidence"].to_string();
    assert!(!ev.contains("doctor-run ( leaked"), "{ev}");
    for f in check(&r, "overlay-busy")["fixes"].as_array().unwrap() {
        assert!(
            !f["id"].as_str().unwrap().starts_with("stop-holders") || !f.to_string().contains(root),
            "{f}"
        );
    }
}

/// One Podman container through its life, with its own storage on a tmpfs in the scene's mount
/// namespace ($BASE): running, paused, then stopped and mounted again with `podman mount` (after
/// conmon and its cleanup are gone, so nothing unmounts it behind the test). The doctor runs with
/// no podman on its PATH, and writes a bundle to $OUT while the container runs. $TREE gets what a
/// `--root` scan needs: a mount table with the container's overlay, containers/storage's records
/// and libpod's database, copied while it runs. The container's environment holds $SECRET, which
/// libpod's database keeps in its config and no bundle may.
const PODMAN_DB_SCENE: &str = r#"
set -eu
base=$BASE
mount -t tmpfs scene "$base"
mkdir -p "$base/rootfs/bin" "$base/containers/storage" "$base/run" "$base/tmp"
cp /bin/busybox "$base/rootfs/bin/"
for a in sh sleep; do ln -s busybox "$base/rootfs/bin/$a"; done
printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' "$base/run" "$base/containers/storage" > "$base/storage.conf"
export CONTAINERS_STORAGE_CONF="$base/storage.conf"
P="podman --root $base/containers/storage --runroot $base/run --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --tmpdir $base/tmp"
cleanup() { $P rm -f -t 0 -a > /dev/null 2>&1 || true; $P rmi -a -f > /dev/null 2>&1 || true; umount "$base/containers/storage/overlay" 2>/dev/null || true; }
trap cleanup EXIT
tar -C "$base/rootfs" -c . | $P import - localhost/doctor-bb:test > /dev/null
id=$($P run -d --name doctor-db --net none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 -e "DOCTOR_DB_SECRET=$SECRET" localhost/doctor-bb:test sleep 600)
mnt=$($P inspect --format '{{.GraphDriver.Data.MergedDir}}' "$id")
storage=$base/containers/storage
echo "ID=$id"
echo "MNT=$mnt"
echo "ROOT=$storage"
echo "RUNROOT=$base/run"
mkdir -p "$TREE/proc/1" "$TREE$storage/overlay-containers" "$TREE$storage/libpod"
{ echo "1 0 8:1 / / rw - ext4 /dev/root rw"; grep -F " $mnt " /proc/self/mountinfo; } > "$TREE/proc/1/mountinfo"
cp "$storage/overlay-containers/containers.json" "$TREE$storage/overlay-containers/"
cp "$storage/libpod/bolt_state.db" "$TREE$storage/libpod/"
scan() { echo "REPORT $1"; PATH=/nonexistent "$DOCTOR" --timeout 120 --format json --only overlay-busy || true; echo END; }
DOCTOR=$1
scan running
# In a session of its own: whatever becomes of it, the scene goes on and says so.
setsid -w env PATH=/nonexistent "$DOCTOR" --timeout 120 --only overlay-busy bundle -o "$OUT/podman.tar.gz" > "$OUT/bundle.log" 2>&1 || echo "BUNDLE_RC=$?"
$P pause "$id" > /dev/null
scan paused
$P unpause "$id" > /dev/null
$P stop -t 0 "$id" > /dev/null
for _ in $(seq 400); do pgrep -f -- "$id" > /dev/null || break; sleep 0.05; done
$P mount "$id" > /dev/null
echo "STATE=$($P inspect --format '{{.State.Status}}' "$id")"
scan exited
"#;

/// The evidence line for the container's mount in one phase's report.
fn podman_line(r: &Value, mnt: &str, id: &str, state: &str, db: &str) -> String {
    let lines = evidence_of(r, mnt);
    let expected = format!(
        "podman container doctor-db ({}, {state}) (from libpod database {db})",
        &id[..12]
    );
    lines
        .iter()
        .find(|l| l.starts_with(&expected))
        .unwrap_or_else(|| panic!("no {expected:?} in {lines:?}\n{r:#}"))
        .clone()
}

#[test]
fn podman_states_come_from_libpods_database_without_podman() {
    if !require_root() {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let tree = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let secret = "pdb-7f3a9c-kept-out-of-bundles";
    let (stdout, stderr) = in_namespaces(
        PODMAN_DB_SCENE,
        &[
            ("BASE", base.path().to_str().unwrap()),
            ("TREE", tree.path().to_str().unwrap()),
            ("OUT", out.path().to_str().unwrap()),
            ("SECRET", secret),
        ],
    );
    let id = value(&stdout, "ID");
    let mnt = value(&stdout, "MNT");
    let root = value(&stdout, "ROOT");
    let runroot = value(&stdout, "RUNROOT");
    let db = format!("{root}/libpod/bolt_state.db");

    // Running and paused: the database says so, with no podman to ask; nothing is offered.
    for state in ["running", "paused"] {
        let r = report_after(&stdout, &stderr, &format!("REPORT {state}"));
        podman_line(&r, mnt, id, state, &db);
        assert!(plans_naming(&r, id).is_empty(), "{r:#}");
        assert!(plans_naming(&r, mnt).is_empty(), "{r:#}");
    }

    // Stopped (podman agrees) and mounted again: released by podman, with the storage's own
    // root and the run root from its database (no conmon is left to name it).
    assert_eq!(value(&stdout, "STATE"), "exited", "{stdout}");
    let r = report_after(&stdout, &stderr, "REPORT exited");
    let line = podman_line(&r, mnt, id, "exited", &db);
    assert!(
        line.ends_with("not running but its root is still mounted"),
        "{line}"
    );
    let plans = plans_naming(&r, id);
    assert_eq!(plans.len(), 1, "{r:#}");
    assert_eq!(
        plans[0]["steps"][0]["argv"],
        serde_json::json!(["podman", "--root", root, "--runroot", runroot, "umount", id]),
        "{r:#}"
    );

    // The bundle made while it ran: replayed elsewhere, the same answer; it holds the database's
    // summary, not the file, and so not the environment in the container's config.
    if let Some(rc) = stdout.lines().find_map(|l| l.strip_prefix("BUNDLE_RC=")) {
        let log = std::fs::read_to_string(out.path().join("bundle.log")).unwrap_or_default();
        panic!("the bundle failed ({rc}): {log}");
    }
    let bundle = out.path().join("podman.tar.gz");
    let (_, records, _) = container_doctor::bundle::read(&bundle).unwrap();
    let requests: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(&r.request).unwrap())
        .collect();
    assert!(
        requests.contains(&serde_json::json!({"op": "libpod_db", "arg": db}).to_string()),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("\"read\"") && r.contains("bolt_state.db"))
    );
    let mut archive = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&bundle).unwrap())
        .read_to_end(&mut archive)
        .unwrap();
    let records = serde_json::to_string(&records).unwrap();
    assert!(
        !String::from_utf8_lossy(&archive).contains(secret) && !records.contains(secret),
        "the container's environment is in the bundle"
    );
    let replayed = crate::common::doctor()
        .arg("--from-bundle")
        .arg(&bundle)
        .args(["--format", "json", "--only", "overlay-busy"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&replayed.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&replayed.stderr)));
    podman_line(&r, mnt, id, "running", &db);

    // The tree copied while it ran, under --root: no process, no podman, the same answer.
    let out = crate::common::doctor()
        .env("PATH", "/nonexistent")
        .arg("--root")
        .arg(tree.path())
        .args(["--format", "json", "--only", "overlay-busy"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    podman_line(&r, mnt, id, "running", &db);
    assert!(plans_naming(&r, id).is_empty(), "{r:#}");
}

const REFUSING_SOCKET_SCENE: &str = r#"
set -eu
base=$(mktemp -d "$SCRATCH"/cd-sock.XXXXXX)
mount -t tmpfs -o mode=755 scene "$base"
d="$base/var/lib/docker/overlay2/abc"
mkdir -p "$d/diff" "$d/work" "$d/merged" "$base/l"
mount -t overlay overlay -o "lowerdir=$base/l,upperdir=$d/diff,workdir=$d/work" "$d/merged"
python3 -c 'import socket,sys,os,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1],0o600); s.listen(); print("LISTENING", flush=True); time.sleep(600)' "$base/docker.sock" > "$base/sock.out" & srv=$!
for _ in $(seq 200); do grep -q LISTENING "$base/sock.out" 2>/dev/null && break; sleep 0.05; done
cp "$1" "$base/doctor"; chmod 755 "$base/doctor"
echo "MERGED=$d/merged"
echo REPORT
HOME="$base" DOCKER_HOST="unix://$base/docker.sock" setpriv --reuid=65534 --regid=65534 --clear-groups "$base/doctor" --format json --only overlay-busy,buildkit-usage || true
echo END
kill -9 $srv
"#;

#[test]
fn a_socket_that_refuses_us_leaves_the_owner_unknown() {
    if !require_root() {
        return;
    }
    let (stdout, stderr) = in_namespaces(REFUSING_SOCKET_SCENE, &[]);
    let r = report(&stdout, &stderr);
    let merged = value(&stdout, "MERGED");
    assert_eq!(status(&r, "overlay-busy"), "unknown", "{r:#}");
    let lines = evidence_of(&r, merged);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("owner unknown") && l.contains("permission denied")),
        "{lines:?}\n{r:#}"
    );
    let ev = check(&r, "overlay-busy")["evidence"].to_string();
    assert!(!ev.contains("no container"), "{ev}");
    assert!(!ev.contains("leaked"), "{ev}");
    assert_eq!(check(&r, "overlay-busy")["fixes"], serde_json::json!([]));
    // buildkit-usage: permission is not absence.
    assert_eq!(status(&r, "buildkit-usage"), "unknown", "{r:#}");
    let s = check(&r, "buildkit-usage")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(s.contains("permission denied on"), "{s}");
    assert!(s.contains("docker.sock"), "{s}");
}
