//! overlay-busy against a real containerd (issues #15, #16): Debian's containerd started by the
//! test with its own config, root, state and socket, an image imported from a busybox-static
//! rootfs, and tasks run with `ctr`. A running task's root is containerd's and in use; a task
//! whose `ctr task rm` failed because something held its root is a stopped task that only
//! `ctr task delete` releases; a task whose shim died while its root was held is a leftover
//! containerd lists no more; and a non-root scan against the 0660 root-owned socket says
//! "permission denied", never "leaked" (and so does its support bundle, replayed). Everything
//! runs in private mount and PID namespaces with /run hidden, so the scan sees only this
//! containerd, and nothing outlives the scene.

use std::process::Command;

use crate::common::{Tree, check, doctor_path, evidence_of, fixtures, require_root, status, value};
use serde_json::Value;

/// Builds an OCI image layout holding one layer, a busybox-static rootfs (sh, sleep, true), for
/// `ctr image import`: no registry is reachable.
const IMAGE: &str = r#"
mkdir -p "$base/img/rootfs/bin" "$base/oci/blobs/sha256"
cp /bin/busybox "$base/img/rootfs/bin/"
for a in sh sleep true; do ln -s busybox "$base/img/rootfs/bin/$a"; done
blob() { d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1"); mv "$1" "$base/oci/blobs/sha256/$d"; echo "$d $s"; }
tar -C "$base/img/rootfs" -cf "$base/layer.tar" .
read -r l ls <<< "$(blob "$base/layer.tar")"
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$l" > "$base/config.json"
read -r c cs <<< "$(blob "$base/config.json")"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' "$c" "$cs" "$l" "$ls" > "$base/manifest.json"
read -r m ms <<< "$(blob "$base/manifest.json")"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s"}}]}' "$m" "$ms" "$IMG" > "$base/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$base/oci/oci-layout"
tar -C "$base/oci" -cf "$base/image.tar" .
"#;

/// Starts containerd with everything under $base (CRI off: no Kubernetes here), waits for its
/// socket and imports the image. Overlays copied from the host's mount namespace are detached
/// first (they are not the test's) and /run is a fresh tmpfs (no other engine's socket, and the
/// shims' sockets and runc's state go with the namespace).
const CONTAINERD: &str = r#"
sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \([^ ]*\) .* - overlay .*/\1/p' /proc/self/mountinfo |
  sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g' |
  while IFS= read -r m; do umount -l "$(printf '%b' "$m")" 2>/dev/null || true; done
mount -t tmpfs -o mode=755 run /run
chmod 755 "$base"
cat > "$base/config.toml" <<EOF
version = 2
root = "$base/root"
state = "$base/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$base/containerd.sock"
[ttrpc]
  address = "$base/containerd.sock.ttrpc"
EOF
TMPDIR="$base" containerd --config "$base/config.toml" --log-level warn 2> "$base/containerd.log" &
for _ in $(seq 300); do [ -S "$base/containerd.sock" ] && break; sleep 0.1; done
C="ctr --address $base/containerd.sock"
$C image import "$base/image.tar" > /dev/null
T="$base/state/io.containerd.runtime.v2.task/default"
until_status() { for _ in $(seq 300); do $C task ls | grep -Eq "^$1 +[0-9]+ +$2" && return 0; sleep 0.1; done; return 1; }
"#;

/// `web` runs; `side` (grouped with web, as a Kubernetes pod's containers are: web's shim serves
/// it) is killed while a process has its cwd in its root, so `ctr task rm` fails; `lost`'s shim
/// is killed while its root is held, so containerd's cleanup cannot unmount it. Then the doctor
/// as root, as nobody, and the fix it offers for `side`.
const SCENE: &str = r#"
set -eu
base=$BASE
IMG=docker.io/library/doctor-bb:test
__IMAGE__
__CONTAINERD__
$C run -d --cgroup "/$TAG/web" "$IMG" web sleep 600
$C run -d --cgroup "/$TAG/side" --annotation io.containerd.runc.v2.group=web "$IMG" side sleep 600
$C run -d --cgroup "/$TAG/lost" "$IMG" lost sleep 600
(cd "$T/side/rootfs" && exec sleep 600) & side_holder=$!
(cd "$T/lost/rootfs" && exec sleep 600) & lost_holder=$!
until_status side RUNNING
$C task kill -s KILL side
until_status side STOPPED
$C task rm side 2> "$base/rm.err" && echo "RM=removed" || echo "RM=failed: $(cat "$base/rm.err")"
kill -9 "$(pgrep -f "^[^ ]*containerd-shim-runc-v2 -namespace default -id lost ")"
# containerd notices, runs the shim's `delete` (which retries the busy unmount for 2.5 s and gives
# up) and drops the task.
for _ in $(seq 300); do
  $C task ls | grep -q '^lost ' || pgrep -f "^[^ ]*containerd-shim-runc-v2 .*-id lost .*delete" > /dev/null || break
  sleep 0.1
done
echo "BASE=$base"
echo "SOCK=$base/containerd.sock"
echo "T=$T"
echo "SIDE_HOLDER=$side_holder"
echo "LOST_HOLDER=$lost_holder"
echo "TASKS=$($C task ls | tail -n +2 | tr -s ' ' | tr '\n' ';')"
echo "SOCK_MODE=$(stat -c '%a %U' "$base/containerd.sock")"
echo REPORT
"$1" --timeout 120 --format json --only overlay-busy || true
echo END
cp "$1" "$base/doctor"; chmod 755 "$base/doctor"
echo REPORT
setpriv --reuid=65534 --regid=65534 --clear-groups "$base/doctor" --timeout 120 --format json --only overlay-busy || true
echo END
# The same as nobody, into a support bundle, replayed: the refusal is recorded, not re-asked.
mkdir -m 777 "$base/out"
setpriv --reuid=65534 --regid=65534 --clear-groups "$base/doctor" --timeout 120 bundle -o "$base/out/nobody.tar.gz" > /dev/null 2>&1 || true
echo REPORT
"$1" --timeout 120 --from-bundle "$base/out/nobody.tar.gz" --format json --only overlay-busy || true
echo END
CONTAINER_DOCTOR_AUDIT_LOG="$base/audit.log" "$1" --timeout 120 fix overlay-busy --plan containerd-release-side --yes --force > "$base/fix.out" 2>&1; echo "FIX_RC=$?"
echo "SIDE_MOUNTED=$(grep -c "$T/side/rootfs" /proc/self/mountinfo || true)"
echo "AFTER=$($C task ls | tail -n +2 | tr -s ' ' | tr '\n' ';')"
kill -9 "$lost_holder" 2> /dev/null || true
for t in web side lost; do $C task kill -s KILL "$t" > /dev/null 2>&1 || true; done
for t in web side lost; do $C task rm -f "$t" > /dev/null 2>&1 || true; done
"#;

/// A unique cgroup parent for the scene's tasks, removed from every hierarchy afterwards:
/// runc's cgroups outlive the processes that the PID namespace's end kills.
struct Cgroups(String);

impl Drop for Cgroups {
    fn drop(&mut self) {
        let out = Command::new("find")
            .args([
                "/sys/fs/cgroup",
                "-maxdepth",
                "3",
                "-type",
                "d",
                "-name",
                &self.0,
            ])
            .output()
            .expect("find");
        for top in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = Command::new("find")
                .args([top, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
                .status();
        }
    }
}

/// Runs `scene` in private mount and PID namespaces with the doctor's path as $1 and a fresh
/// directory as $BASE; returns stdout (reports between `REPORT` and `END`, `KEY=VALUE` lines) and
/// what to show when it fails. Checks that the scene left nothing: no directory, no cgroup.
fn run_scene(scene: &str) -> (String, String) {
    let base = tempfile::Builder::new()
        .prefix("cd-containerd.")
        .tempdir()
        .expect("tempdir");
    let tag = base
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .replace('.', "-");
    let _cgroups = Cgroups(tag.clone());
    let script = scene
        .replace("__IMAGE__", IMAGE)
        .replace("__CONTAINERD__", CONTAINERD);
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--mount-proc",
            "bash",
            "-c",
            &script,
            "scene",
        ])
        .arg(doctor_path())
        .env("BASE", base.path())
        .env("TAG", &tag)
        .output()
        .expect("unshare");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned()
        + &std::fs::read_to_string(base.path().join("containerd.log")).unwrap_or_default()
        + &std::fs::read_to_string(base.path().join("fix.out")).unwrap_or_default();
    let dir = base.path().to_path_buf();
    drop(base);
    drop(_cgroups);
    assert!(!dir.exists(), "{} is left", dir.display());
    let left = Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "3", "-name", &tag])
        .output()
        .expect("find");
    assert!(
        left.stdout.is_empty(),
        "cgroups left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// The `n`th JSON report printed between `REPORT` and `END`.
fn report(stdout: &str, stderr: &str, n: usize) -> Value {
    let text = stdout
        .split("REPORT\n")
        .nth(n + 1)
        .and_then(|r| r.split("\nEND").next())
        .unwrap_or_else(|| panic!("no report {n}: {stdout}\n{stderr}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

fn fixes(report: &Value) -> Vec<Value> {
    check(report, "overlay-busy")["fixes"]
        .as_array()
        .unwrap()
        .clone()
}

/// The plans whose steps name `needle`.
fn plans_naming(report: &Value, needle: &str) -> Vec<Value> {
    fixes(report)
        .into_iter()
        .filter(|f| f["steps"].to_string().contains(needle))
        .collect()
}

#[test]
fn containerd_tasks_running_stopped_and_left_over_as_root_and_as_nobody() {
    if !require_root() {
        return;
    }
    let (stdout, stderr) = run_scene(SCENE);
    let base = value(&stdout, "BASE");
    let tasks = value(&stdout, "T");
    let sock = value(&stdout, "SOCK");
    let (web, side, lost) = (
        format!("{tasks}/web/rootfs"),
        format!("{tasks}/side/rootfs"),
        format!("{tasks}/lost/rootfs"),
    );
    // The scene is what it says: containerd could not unmount side's root, and forgot lost.
    assert!(
        value(&stdout, "RM").contains("device or resource busy"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(
        value(&stdout, "TASKS")
            .split(';')
            .filter(|t| !t.is_empty())
            .count(),
        2,
        "web running, side stopped, lost not listed: {stdout}"
    );
    assert!(
        value(&stdout, "TASKS").contains("side") && value(&stdout, "TASKS").contains("STOPPED")
    );
    assert_eq!(value(&stdout, "SOCK_MODE"), "660 root", "{stdout}");

    // As root.
    let r = report(&stdout, &stderr, 0);
    let ev = |point: &str| evidence_of(&r, point);
    assert!(
        ev(&web).iter().any(
            |l| l.starts_with("containerd container default/web (web, running)")
                && l.contains("init.pid")
        ),
        "{:?}\n{r:#}",
        ev(&web)
    );
    assert!(plans_naming(&r, &web).is_empty(), "{r:#}");
    assert!(
        !check(&r, "overlay-busy")["evidence"]
            .to_string()
            .contains("web (web, running) leaked"),
        "{r:#}"
    );
    // side: a stopped task that containerd still lists; ctr releases it once its holder is gone.
    let side_holder = value(&stdout, "SIDE_HOLDER");
    assert!(
        ev(&side).iter().any(|l| l
            .starts_with("containerd container default/side (side, stopped)")
            && l.contains("not running but its root is still mounted")),
        "{:?}\n{r:#}",
        ev(&side)
    );
    let plans = plans_naming(&r, "\"delete\"");
    assert_eq!(plans.len(), 1, "{r:#}");
    let plan = &plans[0];
    assert_eq!(plan["id"], "containerd-release-side", "{plan}");
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(
        steps[0]["pid"].to_string(),
        side_holder,
        "the holder is stopped first: {plan}"
    );
    let argv: Vec<&str> = steps.last().unwrap()["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        argv,
        [
            "ctr",
            "--address",
            sock,
            "--namespace",
            "default",
            "task",
            "delete",
            "side"
        ],
        "{plan}"
    );
    assert!(
        plans_naming(&r, &side).is_empty(),
        "no raw unmount of containerd's stopped task: {r:#}"
    );
    // lost: containerd lists no task for it: a leak, busy because of its holder.
    let lost_holder = value(&stdout, "LOST_HOLDER");
    assert!(
        ev(&lost).iter().any(|l| l.starts_with(
            "containerd task default/lost's root, no task: no containerd-shim serves it"
        ) && l.contains("leaked and busy")),
        "{:?}\n{r:#}",
        ev(&lost)
    );
    assert!(
        plans_naming(&r, &lost).iter().any(|p| p["id"]
            .as_str()
            .unwrap()
            .starts_with("stop-holders-and-unmount-")
            && p["steps"]
                .to_string()
                .contains(&format!("\"pid\":{lost_holder}"))),
        "{r:#}"
    );
    assert!(
        check(&r, "overlay-busy")["evidence"]
            .to_string()
            .contains(&format!(
                "root {base}/root, state {base}/state, socket {sock}"
            )),
        "how containerd was found: {r:#}"
    );
    assert_eq!(status(&r, "overlay-busy"), "warn", "{r:#}");

    // As nobody: the bundles are unreadable, the socket refuses. web is known running from its
    // shim's child in web's cgroup; side and lost are unknown, never leaked, nothing offered.
    let n = report(&stdout, &stderr, 1);
    let ev = |point: &str| evidence_of(&n, point);
    assert!(
        ev(&web).iter().any(
            |l| l.starts_with("containerd container default/web (web, running)")
                && l.contains("cgroup")
        ),
        "{:?}\n{n:#}",
        ev(&web)
    );
    for point in [&side, &lost] {
        assert!(
            ev(point).iter().any(|l| l.contains(&format!(
                "owner unknown: containerd could not be asked (permission denied on {sock})"
            ))),
            "{point}: {:?}\n{n:#}",
            ev(point)
        );
    }
    let all = check(&n, "overlay-busy")["evidence"].to_string();
    assert!(!all.contains("leaked"), "{all}");
    assert!(!all.contains("no task"), "{all}");
    assert_eq!(fixes(&n), Vec::<Value>::new(), "{n:#}");
    assert_eq!(status(&n, "overlay-busy"), "unknown", "{n:#}");
    // Replayed from nobody's bundle: the same verdicts, the same words.
    let replayed = report(&stdout, &stderr, 2);
    for point in [&web, &side, &lost] {
        assert_eq!(
            evidence_of(&replayed, point),
            evidence_of(&n, point),
            "{point}: {replayed:#}"
        );
    }
    assert_eq!(
        check(&replayed, "overlay-busy")["summary"],
        check(&n, "overlay-busy")["summary"]
    );

    // The offered plan, applied: the holder stopped, then ctr deletes the task and its shim
    // unmounts the root.
    assert_eq!(value(&stdout, "FIX_RC"), "0", "{stdout}\n{stderr}");
    assert_eq!(value(&stdout, "SIDE_MOUNTED"), "0", "{stdout}\n{stderr}");
    assert!(!value(&stdout, "AFTER").contains("side"), "{stdout}");
}

/// Under `--root` over a node's files there are no processes to read and no containerd to ask:
/// every task's root is containerd's, its state unknown, nothing leaked, nothing offered.
#[test]
fn node_mount_tables_without_processes_are_unknown_never_leaked() {
    let (k8s, k8s_ids) = fixtures::k8s_node_containerd();
    let (k3s, k3s_ids) = fixtures::k3s_node_containerd_v1();
    let (stargz, stargz_ids) = fixtures::stargz_node();
    let k8s_task = "/run/containerd/io.containerd.runtime.v2.task/k8s.io";
    let cases = [
        (
            "k8s",
            k8s,
            k8s_task,
            k8s_ids.to_vec(),
            "containerd does not answer: no socket at /run/containerd/containerd.sock",
        ),
        (
            "k3s",
            k3s,
            "/run/k3s/containerd/io.containerd.runtime.v1.linux/k8s.io",
            k3s_ids.to_vec(),
            "no containerd known for state directory /run/k3s/containerd",
        ),
        (
            "stargz",
            stargz,
            k8s_task,
            stargz_ids.to_vec(),
            "containerd does not answer: no socket at /run/containerd/containerd.sock",
        ),
    ];
    for (name, table, tasks, ids, why) in cases {
        let tree = Tree::new();
        tree.file("proc/1/mountinfo", table);
        if name == "k8s" {
            // The container's bundle, as CRI writes its config.json: the name comes from it.
            tree.file(
                &format!("{tasks}/{}/config.json", ids[1]),
                r#"{"ociVersion":"1.0.2-dev","annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"coredns","io.kubernetes.cri.sandbox-name":"coredns-5d78c9869d-x7k2p","io.kubernetes.cri.sandbox-namespace":"kube-system"}}"#,
            );
        }
        let (_, report) = tree.run_json(&["--only", "overlay-busy"]);
        assert_eq!(
            status(&report, "overlay-busy"),
            "unknown",
            "{name}: {report:#}"
        );
        let c = check(&report, "overlay-busy");
        assert_eq!(c["fixes"], serde_json::json!([]), "{name}: {report:#}");
        let ev = c["evidence"].to_string();
        assert!(!ev.contains("leaked"), "{name}: {ev}");
        for id in ids {
            let lines = evidence_of(&report, &format!("{tasks}/{id}/rootfs"));
            assert!(
                lines.iter().any(|l| l.contains(&format!(
                    "({}, state unknown): its engine's state is unknown",
                    &id[..12]
                )) && l.contains(why)
                    && l.ends_with("not judged, no stop or unmount is offered")
                    && !l.contains(", no container")),
                "{name}: {lines:?}"
            );
        }
        if name == "k8s" {
            assert!(
                ev.contains("containerd container k8s.io/kube-system/coredns-5d78c9869d-x7k2p/coredns (9f2e8d7c6b5a, state unknown)"),
                "{ev}"
            );
        }
    }
}

/// containerd's temporary mounts (mount.WithTempMount: image unpack, diff, a volume's copy) in
/// a `--root` tree whose processes are readable: containerd's own while a containerd with that
/// root runs, a leftover when none does. The layout of containerd 1.7+'s ROOT/tmpmounts.
#[test]
fn temporary_mounts_are_containerds_while_it_runs() {
    let snap = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots";
    let point = "/var/lib/containerd/tmpmounts/containerd-mount2863019152";
    let table = format!(
        "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
         90 1 0:90 / {point} ro,relatime - overlay overlay ro,lowerdir={snap}/12/fs:{snap}/11/fs\n"
    );
    let stat = |pid: u32, comm: &str| {
        format!(
            "{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {pid}00 0 0\n"
        )
    };
    for running in [true, false] {
        let tree = Tree::new();
        tree.file("proc/1/mountinfo", &table)
            .file("proc/1/stat", stat(1, "systemd"))
            .file("proc/1/cmdline", "/sbin/init\0")
            .mnt_ns(1, 4026531841);
        if running {
            tree.file("proc/26/stat", stat(26, "containerd"))
                .file("proc/26/cmdline", "/usr/bin/containerd\0")
                .file("proc/26/mountinfo", &table)
                .mnt_ns(26, 4026531841);
        }
        let (_, report) = tree.run_json(&["--only", "overlay-busy"]);
        let lines = evidence_of(&report, point);
        let c = check(&report, "overlay-busy");
        if running {
            assert_eq!(status(&report, "overlay-busy"), "ok", "{report:#}");
            assert!(
                lines[0].starts_with("containerd's temporary mount (image unpack, diff or volume copy) while containerd pid 26 runs; 0 holders"),
                "{lines:?}"
            );
            assert_eq!(c["fixes"], serde_json::json!([]));
        } else {
            assert_eq!(status(&report, "overlay-busy"), "warn", "{report:#}");
            assert!(
                lines[0].starts_with("containerd's temporary mount, and no containerd with its root runs; leaked: nothing holds it"),
                "{lines:?}"
            );
        }
    }
}
