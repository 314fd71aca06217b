//! overlay-busy for real, in a private mount namespace: overlays made by the test and held by a
//! cwd, an open file, a mapped file, a chroot and another mount namespace, plus a free one, under
//! mount points with spaces, tabs, newlines, backslashes, `$(…)` and `;`. The holders found are
//! compared with what `fuser -m` finds for each mount.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{
    Tree, check, doctor_path, fixtures, in_private_mounts, realdata_text, require_root, status,
    summary,
};
use container_doctor::parse::mountinfo::escape;
use serde_json::Value;

/// Builds the scene inside the namespace, runs the doctor and fuser there, and prints
/// the doctor's JSON, then one line per mount: `index<TAB>fuser pids`.
const SCENE: &str = r#"
set -eu
doctor=$1
base=$(mktemp -d "$SCRATCH"/cd-ovl.XXXXXX)
mount -t tmpfs doctor-scene "$base"
pids=""
# The scene's mounts live in this namespace only; the directory under /tmp is removed on the way out.
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  cd / && umount -R -l "$base" 2>/dev/null; rmdir "$base" || true
}
trap cleanup EXIT
names="cwd
fd
mmap
chroot
other-ns
free"
mk() {
  d="$base/$n"
  mkdir -p "$d/l" "$d/u" "$d/w"
  echo data > "$d/l/file"
  cp /bin/busybox "$d/l/busybox"
  # Mount points that break naive tools: space, tab, newline, backslash, $(…), ;
  m=$(printf '%s/m %s\t$(touch %s/pwned);x\n\\y' "$d" "$n" "$base")
  mkdir -p "$m"
  mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$m"
  eval "m_$i=\"\$m\""
}
i=0
for n in cwd fd mmap chroot other-ns; do mk; i=$((i+1)); done
# A namespace that keeps only the other-ns mount: it copies them all, then drops the rest.
unshare --mount --propagation private sh -c 'shift; for m in "$@"; do umount "$m"; done; exec sleep 600' \
  - "$m_0" "$m_1" "$m_2" "$m_3" & pids="$pids $!"
n=free; mk
(cd "$m_0" && exec sleep 600) & pids="$pids $!"
sleep 600 < "$m_1/file" & pids="$pids $!"
python3 -c 'import mmap,sys,time; f=open(sys.argv[1],"rb"); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); f.close(); time.sleep(600)' "$m_2/file" & mapper=$!; pids="$pids $mapper"
chroot "$m_3" /busybox sleep 600 & pids="$pids $!"
# Every holder in place before the scan: python takes a while to map its file on a busy machine.
for _ in $(seq 200); do grep -q '/file' "/proc/$mapper/maps" 2>/dev/null && break; sleep 0.05; done
sleep 0.3
"$doctor" --timeout 120 --format json --only overlay-busy || true
i=0
for n in $names; do
  eval "m=\"\$m_$i\""
  printf '%s\t%s\n' "$i" "$(fuser -m "$m" 2>/dev/null | tr -s ' ' | sed 's/^ //')"
  i=$((i+1))
done
[ ! -e "$base/pwned" ] || echo "INJECTED"
"#;

/// The mount points, as the scene names them.
fn mount_point(base_hint: &str, name: &str) -> String {
    format!("{base_hint}/{name}/m {name}\t$(touch {base_hint}/pwned);x\n\\y")
}

/// Evidence grouped by mount: the lines after each mount's own line, until the next mount.
fn holders_by_mount(report: &Value) -> BTreeMap<String, BTreeSet<(u32, String)>> {
    let mut by: BTreeMap<String, BTreeSet<(u32, String)>> = BTreeMap::new();
    let mut current = String::new();
    for e in check(report, "overlay-busy")["evidence"]
        .as_array()
        .unwrap()
    {
        let source = e["source"].as_str().unwrap();
        let excerpt = e["excerpt"].as_str().unwrap();
        if let Some(pid) = source
            .strip_prefix("/proc/")
            .and_then(|p| p.parse::<u32>().ok())
        {
            let how = excerpt.split("holds it: ").nth(1).unwrap_or("").to_string();
            by.entry(current.clone()).or_default().insert((pid, how));
        } else if source.starts_with("mount namespace") {
            by.entry(current.clone())
                .or_default()
                .insert((0, "other namespace".into()));
        } else if source.starts_with('/') {
            current = source
                .split(" (only in mount namespace")
                .next()
                .unwrap()
                .to_string();
            by.entry(current.clone()).or_default();
        }
    }
    by
}

#[test]
fn holders_in_a_private_namespace_match_fuser_plus_what_fuser_cannot_see() {
    if !require_root() {
        return;
    }
    let out = in_private_mounts(SCENE, |c| {
        c.arg(doctor_path());
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains("INJECTED"),
        "a mount point's name was executed"
    );
    let json_end = stdout.rfind("\n}").expect("a JSON report") + 2;
    let report: Value = serde_json::from_str(&stdout[..json_end]).unwrap();
    let fuser: Vec<BTreeSet<u32>> = stdout[json_end..]
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split('\t')
                .nth(1)
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .collect();
    assert_eq!(fuser.len(), 6);

    let by = holders_by_mount(&report);
    // Find the scene's base directory from any reported mount point.
    let base = by
        .keys()
        .find_map(|k| k.find("/cwd/m\\040").map(|i| k[..i].to_string()))
        .unwrap_or_else(|| panic!("the scene's mounts are not reported: {report:#}"));
    let names = ["cwd", "fd", "mmap", "chroot", "other-ns", "free"];
    let mut ours: Vec<BTreeSet<(u32, String)>> = Vec::new();
    for name in names {
        let shown = escape(&mount_point(&base, name));
        ours.push(
            by.get(&shown)
                .cloned()
                .unwrap_or_else(|| panic!("{name}: {shown:?} not reported in {by:#?}")),
        );
    }
    let pids = |s: &BTreeSet<(u32, String)>| {
        s.iter()
            .map(|h| h.0)
            .filter(|p| *p != 0)
            .collect::<BTreeSet<u32>>()
    };
    let hows = |s: &BTreeSet<(u32, String)>| s.iter().map(|h| h.1.clone()).collect::<Vec<String>>();

    // cwd, open file, chroot: the same processes fuser finds, with the way they hold it.
    assert_eq!(pids(&ours[0]), fuser[0], "cwd");
    assert!(hows(&ours[0]).iter().any(|h| h == "cwd"), "{:?}", ours[0]);
    assert_eq!(pids(&ours[1]), fuser[1], "open fd");
    assert!(
        hows(&ours[1])
            .iter()
            .any(|h| h.starts_with("open file ") && h.ends_with("/file")),
        "{:?}",
        ours[1]
    );
    assert_eq!(pids(&ours[3]), fuser[3], "chroot");
    assert!(
        hows(&ours[3]).iter().any(|h| h.starts_with("root")),
        "{:?}",
        ours[3]
    );
    // mmap: fuser finds it or not depending on its version; we must, and nothing else.
    assert!(
        fuser[2].is_subset(&pids(&ours[2])),
        "mmap: fuser {:?} ours {:?}",
        fuser[2],
        ours[2]
    );
    assert_eq!(pids(&ours[2]).len(), 1, "{:?}", ours[2]);
    assert!(
        hows(&ours[2]).iter().any(|h| h.starts_with("mapped file ")),
        "{:?}",
        ours[2]
    );
    // Another namespace: invisible to fuser, named by us; its copy does not make umount here
    // fail, so it is "still mounted elsewhere", not busy, and a plain unmount is what is offered.
    assert!(fuser[4].is_empty(), "fuser saw {:?}", fuser[4]);
    assert!(
        hows(&ours[4]).iter().any(|h| h == "other namespace"),
        "{:?}",
        ours[4]
    );
    // The free one: nobody.
    assert!(fuser[5].is_empty() && ours[5].is_empty(), "{:?}", ours[5]);

    assert_eq!(status(&report, "overlay-busy"), "warn", "{report:#}");
    let ev = check(&report, "overlay-busy")["evidence"].to_string();
    // Where some process cannot be read (a sandbox's PID 1 can be protected even from root),
    // "nothing holds it" would be a guess.
    let fixes = check(&report, "overlay-busy")["fixes"].as_array().unwrap();
    let free = mount_point(&base, "free");
    let other = mount_point(&base, "other-ns");
    let plans_for = |path: &str| -> Vec<String> {
        fixes
            .iter()
            .filter(|f| {
                f["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["path"] == path)
            })
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    // The scene's namespace is younger than every process this VM may hide from root (its
    // PID 1): those cannot be in it, so its mounts are judged, whether or not PID 1 is readable.
    assert!(ev.contains("leaked: nothing holds it"), "{ev}");
    assert!(
        ev.contains("leaked, not busy here: still mounted in 1 other mount namespace"),
        "{ev}"
    );
    assert!(
        plans_for(&free).iter().any(|id| id.starts_with("unmount-")),
        "the free mount's unmount plan carries the raw path: {fixes:#?}"
    );
    // Nothing to stop for a copy in another namespace: unmounting here is all that is offered.
    let other_plans = plans_for(&other);
    assert!(
        !other_plans.is_empty() && other_plans.iter().all(|id| id.starts_with("unmount-")),
        "{other_plans:?}"
    );
}

/// overlay-busy over container mount tables (name, mountinfo, the owner named) and tables
/// without overlays (name, mountinfo).
fn container_roots_in_use(with: Vec<(String, String, &str)>, without: Vec<(String, String)>) {
    for (file, text, owner) in with {
        let tree = Tree::new();
        tree.file("proc/1/mountinfo", text);
        let (_, report) = tree.run_json(&["--only", "overlay-busy"]);
        // Judged from the mount table alone: a namespace's "/" is its root filesystem.
        assert_eq!(status(&report, "overlay-busy"), "ok", "{file}: {report}");
        assert_eq!(
            check(&report, "overlay-busy")["summary"],
            "1 overlay mount: 1 in use",
            "{file}"
        );
        let ev = check(&report, "overlay-busy")["evidence"].to_string();
        assert!(
            ev.contains(&format!("{owner}, in use as a root filesystem")),
            "{file}: {ev}"
        );
    }
    // Mount tables without overlays: no overlay finding, but no "ok" either: the tree has no
    // processes, so other mount namespaces (where containers' overlays live) were not read.
    for (file, text) in without {
        let tree = Tree::new();
        tree.file("proc/1/mountinfo", text);
        let (_, report) = tree.run_json(&["--only", "overlay-busy"]);
        assert_eq!(
            status(&report, "overlay-busy"),
            "unknown",
            "{file}: {report}"
        );
        let s = summary(&report, "overlay-busy");
        assert!(
            s.starts_with("no overlay mounts in the mount table(s) read; other mount namespaces unknown: no readable /proc/PID/stat"),
            "{file}: {s}"
        );
    }
}

#[test]
fn container_roots_in_fixture_mount_tables_are_in_use_not_leaked() {
    container_roots_in_use(
        vec![
            ("docker".into(), fixtures::docker_container_v1(), "docker"),
            (
                "podman".into(),
                fixtures::podman_rootless_container_v1(),
                "containers/storage (rootless)",
            ),
        ],
        vec![
            ("host_v1_tmpfs".into(), fixtures::host_v1_tmpfs()),
            ("host_v2_xfs".into(), fixtures::host_v2_xfs()),
            ("garbled".into(), fixtures::garbled()),
        ],
    );
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn container_roots_in_real_mount_tables_are_in_use_not_leaked() {
    let real = |file: &str| {
        (
            file.to_string(),
            realdata_text(&format!("mountinfo/{file}")),
        )
    };
    let with = [
        ("pre-commit_docker_cgroupv1_container.mountinfo", "docker"),
        (
            "pre-commit_podman_rootless_cgroupv1_container.mountinfo",
            "containers/storage (rootless)",
        ),
    ];
    container_roots_in_use(
        with.into_iter()
            .map(|(file, owner)| {
                let (f, t) = real(file);
                (f, t, owner)
            })
            .collect(),
        [
            "util-linux_column_mountinfo.txt",
            "jenkins_rhel_host_cgroupv2.mountinfo",
            "systemd_garbled.mountinfo",
        ]
        .into_iter()
        .map(real)
        .collect(),
    );
}

#[test]
fn shared_upper_dirs_are_an_error() {
    let tree = Tree::new();
    tree.file(
        "proc/1/mountinfo",
        "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
         40 1 0:40 / /a rw - overlay overlay rw,lowerdir=/l,upperdir=/shared/u,workdir=/w1\n\
         41 1 0:41 / /b rw - overlay overlay rw,lowerdir=/l,upperdir=/shared/u,workdir=/w2\n",
    );
    // No processes in the tree: holders are unknown, but the clash is in the mount table itself.
    let (out, report) = tree.run_json(&["--only", "overlay-busy"]);
    assert_eq!(status(&report, "overlay-busy"), "error", "{report}");
    assert_eq!(out.status.code(), Some(1));
    let c = check(&report, "overlay-busy");
    assert!(
        c["evidence"]
            .to_string()
            .contains("used by 2 mounts: /a, /b")
    );
    assert_eq!(
        c["fixes"],
        serde_json::json!([]),
        "holders unknown: nothing to stop or unmount"
    );
}

#[test]
fn containers_storage_and_fuse_overlayfs_mounts_are_attributed() {
    let layer = "72504ef163fda63838930450553b7306412ccad139a007626732b3dc43af5200";
    let storage = "/var/lib/containers/storage";
    let tree = Tree::new();
    tree.file(
        "proc/1/mountinfo",
        format!(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             50 1 0:50 / {storage}/overlay/{layer}/merged rw,nodev - overlay overlay rw,lowerdir={storage}/overlay/l/ZWAU3VY3ZHABQJRBUAFPBX7R5D,upperdir={storage}/overlay/{layer}/diff,workdir={storage}/overlay/{layer}/work\n\
             51 1 0:51 / /home/u/.local/share/containers/storage/overlay/abc/merged rw - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=1000\n"
        ),
    )
    .file(
        &format!("{storage}/overlay-containers/containers.json"),
        format!("[{{\"id\":\"4f1c2a9e8b7d\",\"names\":[\"builder-1\"],\"layer\":\"{layer}\"}}]"),
    );
    // A tree without processes: the owners are named from containers/storage's records, but
    // neither the container's state (no conmon, no `podman ps` under --root) nor the holders are
    // known, so both are unknown and nothing is offered.
    let (_, report) = tree.run_json(&["--only", "overlay-busy"]);
    assert_eq!(status(&report, "overlay-busy"), "unknown", "{report}");
    let c = check(&report, "overlay-busy");
    let ev = c["evidence"].to_string();
    assert!(
        ev.contains("containers/storage container builder-1 (4f1c2a9e8b7d, state unknown): its engine's state is unknown"),
        "{ev}"
    );
    assert!(
        ev.contains("containers/storage (rootless), no container; holders unknown"),
        "{ev}"
    );
    assert!(
        summary(&report, "overlay-busy").contains("2 overlay mounts: 0 in use, 2 unknown"),
        "{report}"
    );
    assert_eq!(c["fixes"], serde_json::json!([]));
}

#[test]
fn churn_does_not_hide_stable_holders() {
    if !require_root() {
        return;
    }
    // While 1000 short-lived processes come and go and overlays are mounted and unmounted, every
    // scan reports the stable holder, and nothing errs or panics.
    let script = r#"
        set -u
        base=$(mktemp -d "$SCRATCH"/cd-churn.XXXXXX); mount -t tmpfs churn "$base"
        trap 'cd / && umount -R -l "$base"; rmdir "$base"' EXIT
        mkdir -p "$base/l" "$base/u" "$base/w" "$base/m"
        mount -t overlay overlay -o "lowerdir=$base/l,upperdir=$base/u,workdir=$base/w" "$base/m"
        (cd "$base/m" && exec sleep 600) & stable=$!
        ( for i in $(seq 1000); do sleep 0.00$((i % 5)) & if [ $((i % 50)) = 0 ]; then wait; fi; done; wait ) & procs=$!
        ( for i in $(seq 60); do d="$base/c$i"; mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
            mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" && umount "$d/m"; done ) & mounts=$!
        for n in 1 2 3 4 5; do
          "$1" --timeout 120 --format json --only overlay-busy > "$base/r$n.json" 2> "$base/e$n.txt"
          grep -q "pid $stable (sleep) holds it: cwd" "$base/r$n.json" && echo "SCAN$n=found" || echo "SCAN$n=missing"
          grep -q panicked "$base/e$n.txt" && echo "SCAN$n=panicked"
          python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$base/r$n.json" || echo "SCAN$n=badjson"
        done
        wait $procs $mounts
        kill -9 $stable
    "#;
    let out = in_private_mounts(script, |c| {
        c.arg(doctor_path());
    });
    let t = String::from_utf8_lossy(&out.stdout);
    for n in 1..=5 {
        assert!(
            t.contains(&format!("SCAN{n}=found")),
            "{t}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        !t.contains("panicked") && !t.contains("badjson") && !t.contains("missing"),
        "{t}"
    );
}

#[test]
fn interval_scans_see_a_mount_moved_by_a_rename_above_it() {
    if !require_root() {
        return;
    }
    // Renaming a directory above a mount point changes the mount table's text without the
    // kernel's change signal: each `--interval` scan must still read the table as it is then.
    let script = r#"
        set -u
        base=$(mktemp -d "$SCRATCH"/cd-rename.XXXXXX); mount -t tmpfs rename "$base"
        d="$base/before"; mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
        mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m"
        "$1" --interval 0.5 --timeout 60 --format json --only overlay-busy --output "$base/r.json" \
          > /dev/null 2> "$base/err.txt" & doctor=$!
        trap 'kill $doctor; wait $doctor; cat "$base/err.txt" >&2; cd / && umount -R -l "$base"; rmdir "$base"' EXIT
        for _ in $(seq 1200); do [ -s "$base/r.json" ] && break; sleep 0.05; done
        grep -q "$base/before/m" "$base/r.json" && echo FIRST=before
        mv "$base/before" "$base/after"
        for _ in $(seq 1200); do
          grep -q "$base/after/m" "$base/r.json" 2>/dev/null && { echo LATER=after; break; }
          sleep 0.05
        done
    "#;
    let out = in_private_mounts(script, |c| {
        c.arg(doctor_path());
    });
    let t = String::from_utf8_lossy(&out.stdout);
    let why = format!("{t}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(t.contains("FIRST=before"), "{why}");
    assert!(
        t.contains("LATER=after"),
        "no scan after the rename saw the mount at its new path: {why}"
    );
}
