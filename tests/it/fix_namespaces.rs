//! A fix changes a mount only in the namespace where it lives. The attack: an unprivileged user
//! (`nobody`, in a user + mount namespace of its own) mounts an overlay on a path that is also a
//! mount point in the doctor's namespace; root runs `fix overlay-busy --yes --force`. The doctor's
//! mount must stay; the plan names the other namespace and unmounts the overlay there only.

use std::process::Command;

use crate::common::{doctor_path, require_root};
use serde_json::Value;

const SCENE: &str = r#"
set -eu
base=$(mktemp -d "$SCRATCH"/cd-nsattack.XXXXXX)
mount -t tmpfs cd-nsattack "$base"
chmod 755 "$base"
mkdir -p "$base/target" "$base/l" "$base/u" "$base/w"
mount -t tmpfs doctors-own-mount "$base/target"
echo doctors > "$base/target/marker"
echo lower > "$base/l/file"
chown 65534:65534 "$base/l" "$base/u" "$base/w"
# nobody, in a user and mount namespace of its own: an overlay on the very same path.
setpriv --reuid=65534 --regid=65534 --clear-groups \
  unshare -Urm sh -c 'mount -t overlay overlay -o "lowerdir=$1/l,upperdir=$1/u,workdir=$1/w" "$1/target" && exec sleep 600' - "$base" &
attacker=$!
for _ in $(seq 200); do grep -q ' overlay ' "/proc/$attacker/mountinfo" 2>/dev/null && break; sleep 0.05; done
grep -q ' overlay ' "/proc/$attacker/mountinfo" || { echo "NO_OVERLAY (unprivileged overlay mounts unavailable?)"; exit 1; }
echo "ATTACKER_NS=$(readlink /proc/$attacker/ns/mnt)"
echo "DOCTOR_NS=$(readlink /proc/self/ns/mnt)"
"$D" --timeout 120 --format json --only overlay-busy > "$base/report.json" || true
plan=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["checks"]:
    for f in c["fixes"]:
        for s in f["steps"]:
            if s.get("kind") == "unmount" and s.get("path") == sys.argv[2] + "/target":
                print(f["id"]); print(json.dumps(s), file=sys.stderr); sys.exit(0)
' "$base/report.json" "$base" 2>"$base/step.json")
echo "PLAN=$plan"
echo "STEP=$(cat "$base/step.json")"
"$D" --timeout 120 fix overlay-busy --plan "$plan" --yes --force; echo "FIX_RC=$?"
echo "DOCTORS_MARKER=$(cat "$base/target/marker" 2>/dev/null || echo missing)"
echo "DOCTORS_MOUNT=$(awk -v p="$base/target" '$5 == p {print $9}' /proc/self/mountinfo | tr '\n' ' ')"
echo "ATTACKERS_MOUNTS=$(awk -v p="$base/target" '$5 == p {print $9}' /proc/$attacker/mountinfo | tr '\n' ' ')"
kill -9 $attacker
"#;

fn line<'a>(t: &'a str, key: &str) -> &'a str {
    t.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in:\n{t}"))
}

#[test]
fn an_unprivileged_users_overlay_never_unmounts_the_doctors_mount() {
    if !require_root() {
        return;
    }
    let scratch = crate::common::scratch();
    let out = Command::new("unshare")
        .env("SCRATCH", scratch.path())
        .args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--mount-proc",
            "bash",
            "-c",
            SCENE,
        ])
        .env("D", doctor_path())
        .env(
            "CONTAINER_DOCTOR_AUDIT_LOG",
            tempfile::tempdir().unwrap().path().join("audit.log"),
        )
        .output()
        .unwrap();
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{t}");
    let attacker_ns = line(&t, "ATTACKER_NS=");
    assert_ne!(attacker_ns, line(&t, "DOCTOR_NS="), "{t}");
    // The plan names the attacker's namespace and the process it enters through.
    let step: Value = serde_json::from_str(line(&t, "STEP=")).unwrap();
    let inode = step["namespace"]["inode"]
        .as_u64()
        .expect("namespace in the plan");
    assert_eq!(attacker_ns, format!("mnt:[{inode}]"), "{t}");
    assert!(step["mount_id"].as_u64().is_some(), "{t}");
    assert!(
        t.contains(&format!("in mount namespace mnt:[{inode}]")),
        "the preview says where: {t}"
    );
    // The doctor's own mount is untouched; the overlay went in its own namespace only.
    assert_eq!(line(&t, "DOCTORS_MARKER="), "doctors", "{t}");
    assert_eq!(
        line(&t, "DOCTORS_MOUNT=").trim(),
        "doctors-own-mount",
        "{t}"
    );
    assert_eq!(
        line(&t, "ATTACKERS_MOUNTS=").trim(),
        "doctors-own-mount",
        "{t}"
    );
    assert_eq!(line(&t, "FIX_RC="), "0", "{t}");
}
