//! cgroup-freezer fixes that tell the truth (issue #16): a task blocked on a hung FUSE server
//! (D state) is named, and the thaw plan says thawing does not end its wait; a paused Podman
//! container is unpaused through podman, with its own storage, never by writing THAWED.
//! The walk covers the whole freezer tree; only the test's own cgroups are asserted on.

use std::process::Command;

use crate::common::{check, doctor_path, require_root, value};
use serde_json::Value;

fn run_scene(script: &str) -> (String, Value) {
    let out = Command::new("bash")
        .args(["-c", script, "scene"])
        .arg(doctor_path())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/common/hung_fuse.py"
        ))
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = stdout
        .find("REPORT\n")
        .unwrap_or_else(|| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
        + 7;
    let end = stdout[start..].find("\nEND").map(|e| start + e).unwrap();
    let report =
        serde_json::from_str(&stdout[start..end]).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (stdout, report)
}

fn plans_for<'a>(report: &'a Value, needle: &str) -> Vec<&'a Value> {
    check(report, "cgroup-freezer")["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap().contains(needle))
        .collect()
}

const D_STATE_SCENE: &str = r#"
set -u
dir=$(mktemp -d /tmp/cd-dfuse.XXXXXX)
mkdir "$dir/mnt"
python3 "$2" "$dir/mnt" "$dir/ready" & server=$!
for _ in $(seq 200); do [ -e "$dir/ready" ] && break; sleep 0.05; done
cg=/sys/fs/cgroup/freezer/cd-dstate-$$
mkdir "$cg"
kill -USR1 $server
for _ in $(seq 200); do [ -e "$dir/ready.hung" ] && break; sleep 0.05; done
# A task of the cgroup asks the hung server and waits for its answer (interruptibly at first).
sh -c 'echo $$ > "$0/cgroup.procs"; exec stat "$1/mnt/x"' "$cg" "$dir" & task=$!
for _ in $(seq 200); do grep -q fuse "/proc/$task/wchan" 2>/dev/null && break; sleep 0.05; done
echo "CGROUP=$cg"
echo "TASK=$task"
# Freezing interrupts the wait; FUSE then waits killably for an answer that never comes, in D
# state, so the freeze never completes.
echo FROZEN > "$cg/freezer.state"
for _ in $(seq 100); do [ "$(awk '{print $3}' /proc/$task/stat)" = D ] && break; sleep 0.05; done
echo "TASK_STATE=$(awk '{print $3}' /proc/$task/stat)"
echo "FREEZER_STATE=$(cat "$cg/freezer.state")"
echo REPORT
"$1" --timeout 120 --format json --only cgroup-freezer
echo END
echo THAWED > "$cg/freezer.state"
kill -TERM $server; wait $server 2>/dev/null
kill -9 $task 2>/dev/null; wait $task 2>/dev/null
for _ in $(seq 100); do rmdir "$cg" 2>/dev/null && break; sleep 0.05; done
umount -l "$dir/mnt" 2>/dev/null; rm -rf "$dir"
"#;

#[test]
fn the_thaw_plan_says_it_does_not_end_a_hung_fuse_wait() {
    if !require_root() {
        return;
    }
    let (stdout, report) = run_scene(D_STATE_SCENE);
    assert_eq!(value(&stdout, "TASK_STATE"), "D", "{stdout}");
    assert_eq!(value(&stdout, "FREEZER_STATE"), "FREEZING", "{stdout}");
    let cg = value(&stdout, "CGROUP");
    let task = value(&stdout, "TASK");
    let ev = check(&report, "cgroup-freezer")["evidence"].to_string();
    assert!(ev.contains(&format!("pid {task} (stat) state D")), "{ev}");
    assert!(ev.contains("thawing does not wake it"), "{ev}");
    let plans = plans_for(&report, cg);
    assert_eq!(plans.len(), 1, "{report:#}");
    let plan = plans[0];
    assert!(
        plan["title"]
            .as_str()
            .unwrap()
            .contains("does not fix the cause: 1 task blocked in D state"),
        "{plan}"
    );
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps[0]["path"], format!("{cg}/freezer.state"), "{plan}");
    let manual = steps.last().unwrap();
    assert_eq!(manual["kind"], "manual", "{plan}");
    assert!(
        manual["instruction"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {task} (stat) waiting in")),
        "{plan}"
    );
}

const PAUSED_PODMAN_SCENE: &str = r#"
set -eu
base=$(mktemp -d /tmp/cd-pause.XXXXXX)
mkdir -p "$base/rootfs/bin" "$base/containers/storage" "$base/run" "$base/tmp"
cp /bin/busybox "$base/rootfs/bin/"
for a in sh sleep; do ln -s busybox "$base/rootfs/bin/$a"; done
printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' "$base/run" "$base/containers/storage" > "$base/storage.conf"
export CONTAINERS_STORAGE_CONF="$base/storage.conf"
P="podman --root $base/containers/storage --runroot $base/run --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --tmpdir $base/tmp"
cleanup() { $P rm -f -t 0 doctor-paused > /dev/null 2>&1 || true; $P rmi -a -f > /dev/null 2>&1 || true; umount "$base/containers/storage/overlay" 2>/dev/null || true; rm -rf "$base"; }
trap cleanup EXIT
tar -C "$base/rootfs" -c . | $P import - localhost/doctor-bb:test > /dev/null
id=$($P run -d --name doctor-paused --net none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/doctor-bb:test sleep 600)
$P pause "$id" > /dev/null
echo "ID=$id"
echo "ROOT=$base/containers/storage"
echo REPORT
"$1" --timeout 120 --format json --only cgroup-freezer || true
echo END
# What a fix through podman would do: the engine's own unpause works and podman agrees.
$P unpause "$id" > /dev/null
echo "STATE=$($P inspect --format '{{.State.Status}}' "$id")"
"#;

#[test]
fn a_paused_podman_container_is_unpaused_through_podman() {
    if !require_root() {
        return;
    }
    let (stdout, report) = run_scene(PAUSED_PODMAN_SCENE);
    let id = value(&stdout, "ID");
    let root = value(&stdout, "ROOT");
    let plans = plans_for(&report, id);
    assert_eq!(plans.len(), 1, "{report:#}");
    let plan = plans[0];
    assert!(
        plan["id"].as_str().unwrap().starts_with("unpause:"),
        "{plan}"
    );
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{plan}");
    let argv: Vec<&str> = steps[0]["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("an exec, not a write of THAWED: {plan}"))
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[0], "podman");
    assert_eq!(&argv[1..3], &["--root", root]);
    assert_eq!(&argv[argv.len() - 2..], &["unpause", id]);
    assert_eq!(value(&stdout, "STATE"), "running");
}
