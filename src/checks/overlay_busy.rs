//! `overlay-busy`: every overlay mount in every mount namespace, the container that owns it, and
//! every process that holds it, found in one pass. "umount: …/merged: target is busy" and
//! "Device … is still in use" break container tools' cleanup (Buildah's mkcw flakes); `fuser -m`
//! run mount by mount is slow and misses the commonest hidden holder: another mount namespace.

use std::collections::HashMap;

use serde_json::Value;

use super::{Check, Options};
use crate::facts::Facts;
use crate::host::{DockerCall, Host, HostError};
use crate::model::{FixPlan, MountNs, Outcome, Risk, Status, Step, Table};
use crate::parse::docker;
use crate::parse::mountinfo::escape;
use crate::parse::overlay::Owner;

use super::overlay_scan::{self, How, Overlay, Scan};
use super::plural;

/// Lines of evidence for mounts that are fine (running containers); problems are always shown.
const OK_SHOWN: usize = 10;
/// Holders shown per mount.
const HOLDERS_SHOWN: usize = 8;

/// The container an overlay belongs to.
struct Owned {
    engine: &'static str,
    id: String,
    name: String,
    /// `running`, `exited`, …; empty when the store does not say.
    state: String,
}

impl Owned {
    fn describe(&self) -> String {
        // By characters: an id from the engine is not trusted to be ASCII.
        let id: String = self.id.chars().take(12).collect();
        let state = if self.state.is_empty() {
            "state unknown".into()
        } else {
            self.state.clone()
        };
        format!("{} container {} ({id}, {state})", self.engine, self.name)
    }
}

pub const CHECK: Check = Check {
    id: "overlay-busy",
    title: "Overlay mounts: owners, leaks and who holds them",
    area: "Mounts",
    explanation: super::explanation!("overlay-busy"),
    in_container: Some("sees only this container's mounts and processes"),
    requires_tool: None,
    active_probe: false,
    run,
};

fn run(host: &Facts, _: &Options) -> Outcome {
    let scan = match overlay_scan::scan(host) {
        Ok(s) => s,
        Err(reason) => return Outcome::unknown(reason),
    };
    if scan.overlays.is_empty() && scan.detached.is_empty() {
        return Outcome::new(Status::Ok, "no overlay mounts");
    }
    let (owners, attribution) = attribute(host, &scan);
    let mut out = Outcome::new(Status::Ok, String::new());
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Where each row's fixes start in `out.fixes`: a row's fixes are those added until the next.
    let mut fixes_from: Vec<usize> = Vec::new();
    let mut live = 0;
    let mut busy = 0;
    let mut idle = 0;
    let mut unsure = 0;
    let mut ok_lines = 0;

    for o in &scan.overlays {
        let dev = o.dev();
        let owned = owners.get(&o.mount.mount_point);
        let holds = scan.holds.get(&dev).map(Vec::as_slice).unwrap_or(&[]);
        let as_root = holds.iter().any(|h| h.how == How::Root);
        let running =
            owned.is_some_and(|c| matches!(c.state.as_str(), "running" | "paused" | "restarting"));
        let other_ns: Vec<u64> = scan
            .mounted_in
            .get(&dev)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|ns| Some(*ns) != scan.host_ns && Some(*ns) != o.ns)
                    .collect()
            })
            .unwrap_or_default();
        let place = where_(o, &scan);
        let who = owned
            .map(Owned::describe)
            .unwrap_or_else(|| format!("{}, no container", o.owner.name()));
        fixes_from.push(out.fixes.len());
        rows.push(vec![
            place.clone(),
            o.owner.name().to_string(),
            owned.map(Owned::describe).unwrap_or_else(|| "—".into()),
            holders_cell(&scan, holds, &other_ns),
        ]);
        // A namespace's "/" is its root filesystem: in use for as long as the namespace lives.
        let ns_root = o.mount.mount_point == "/";
        if running || ((as_root || ns_root) && owned.is_none()) {
            live += 1;
            if ok_lines < OK_SHOWN {
                ok_lines += 1;
                if running {
                    out.push(
                        place,
                        format!("{who}; {} holder{}", holds.len(), plural(holds.len())),
                    );
                } else {
                    // No container to vouch for it: show who uses it.
                    out.push(
                        place,
                        format!("{}, in use as a root filesystem", o.owner.name()),
                    );
                    out = holders_evidence(&scan, holds, &other_ns, out);
                }
            }
            continue;
        }
        if holds.is_empty() && other_ns.is_empty() {
            // A process we could not read may hold it: idle is only said when all were read.
            // A plain unmount stays safe either way: the kernel refuses it while busy.
            if scan.unreadable > 0 {
                unsure += 1;
                out.push(
                    place,
                    format!(
                        "{who}; leaked; no holder among the processes that could be read ({} could not)",
                        scan.unreadable
                    ),
                );
            } else {
                idle += 1;
                out.push(place, format!("{who}; leaked: nothing holds it"));
            }
            out = out.fix(unmount_plan(o, &scan, false));
            continue;
        }
        busy += 1;
        out.push(
            place,
            format!("{who}; leaked and busy: this is what makes umount say \"target is busy\""),
        );
        out = holders_evidence(&scan, holds, &other_ns, out);
        out = out
            .fix(stop_holders_plan(o, &scan, holds, &other_ns))
            .fix(unmount_plan(o, &scan, true));
    }
    for dev in &scan.detached {
        let holds = scan.holds.get(dev).map(Vec::as_slice).unwrap_or(&[]);
        fixes_from.push(out.fixes.len());
        rows.push(vec![
            format!("overlay {}:{} (detached)", dev.0, dev.1),
            "unknown".into(),
            "—".into(),
            holders_cell(&scan, holds, &[]),
        ]);

        busy += 1;
        let holds = scan.holds.get(dev).map(Vec::as_slice).unwrap_or(&[]);
        out.push(
            format!("overlay {}:{}", dev.0, dev.1),
            "detached (lazily unmounted, as `docker rm` does) but still held: its layers stay in use".to_string(),
        );
        out = holders_evidence(&scan, holds, &[], out);
        let mut plan = signal_plan(
            format!(
                "Stop the processes holding the detached overlay {}:{}",
                dev.0, dev.1
            ),
            &scan,
            holds,
        );
        plan.id = format!("stop-holders-{}-{}", dev.0, dev.1);
        out = out.fix(plan);
    }
    let clashes = shared_dirs(&scan.overlays);
    for (kind, dir, points) in &clashes {
        out.push(
            format!("{kind} {}", escape(dir)),
            format!("used by {} mounts: {}", points.len(), points.join(", ")),
        );
    }

    let mut table = Table::new(&["mount point", "owner", "container", "holders"]);
    table.path_columns = vec![0];
    fixes_from.push(out.fixes.len());
    for (i, cells) in rows.into_iter().enumerate() {
        let ids = out.fixes[fixes_from[i]..fixes_from[i + 1]]
            .iter()
            .map(|f| f.id.clone())
            .collect();
        table.row(cells, ids);
    }
    out.table = Some(table);
    let total = scan.overlays.len() + scan.detached.len();
    out.count(
        "overlay_mounts",
        "Overlay mounts, in every mount namespace.",
        total as f64,
    );
    out.count(
        "overlay_busy_mounts",
        "Leaked overlay mounts that something still holds.",
        busy as f64,
    );
    out.count(
        "overlay_leaked_mounts",
        "Overlay mounts without a running container.",
        (busy + idle + unsure) as f64,
    );
    let mut parts = vec![format!("{live} in use")];
    if busy > 0 {
        parts.push(format!("{busy} leaked and busy"));
    }
    if idle > 0 {
        parts.push(format!("{idle} leaked and idle"));
    }
    if unsure > 0 {
        parts.push(format!("{unsure} leaked, holders unknown"));
    }
    out.summary = format!(
        "{total} overlay mount{}: {}",
        plural(total),
        parts.join(", ")
    );
    out.status = if !clashes.is_empty() {
        out.summary += "; two mounts share an upper or work dir (overlayfs: upperdir is in-use)";
        Status::Error
    } else if busy + idle + unsure > 0 {
        Status::Warn
    } else {
        Status::Ok
    };
    if let Some(note) = attribution {
        out.push("container attribution", note);
    }
    if host.is_live() && host.euid() != 0 {
        out.status = Status::Unknown;
        out.summary = format!(
            "needs root: other processes' open files are unreadable ({})",
            out.summary
        );
    } else if scan.unreadable > 0 {
        out.push(
            "/proc",
            format!(
                "{} process(es) could not be fully read (PID 1 may be protected)",
                scan.unreadable
            ),
        );
    }
    out
}

fn where_(o: &Overlay, scan: &Scan) -> String {
    let point = escape(&o.mount.mount_point);
    match o.ns {
        Some(ns) if Some(ns) != scan.host_ns => {
            format!("{point} (only in mount namespace mnt:[{ns}])")
        }
        _ => point,
    }
}

/// Holders in one cell: "1234 sleep (cwd), 99 sh (open file …); mnt:[4026532254]".
fn holders_cell(scan: &Scan, holds: &[overlay_scan::Hold], other_ns: &[u64]) -> String {
    let mut parts: Vec<String> = holds
        .iter()
        .map(|h| {
            let comm = scan
                .procs
                .get(&h.pid)
                .map(|p| p.comm.as_str())
                .unwrap_or("?");
            format!("{} {comm} ({})", h.pid, h.how.describe())
        })
        .collect();
    parts.extend(other_ns.iter().map(|ns| format!("mnt:[{ns}]")));
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn holders_evidence(
    scan: &Scan,
    holds: &[overlay_scan::Hold],
    other_ns: &[u64],
    mut out: Outcome,
) -> Outcome {
    for h in holds.iter().take(HOLDERS_SHOWN) {
        let comm = scan
            .procs
            .get(&h.pid)
            .map(|p| p.comm.as_str())
            .unwrap_or("?");
        out.push(
            format!("/proc/{}", h.pid),
            format!("pid {} ({comm}) holds it: {}", h.pid, h.how.describe()),
        );
    }
    if holds.len() > HOLDERS_SHOWN {
        out.push(
            "/proc",
            format!("… and {} more holders", holds.len() - HOLDERS_SHOWN),
        );
    }
    for ns in other_ns {
        let pids = scan.namespaces.get(ns).cloned().unwrap_or_default();
        let names: Vec<String> = pids
            .iter()
            .take(4)
            .map(|p| {
                format!(
                    "{p} ({})",
                    scan.procs.get(p).map(|x| x.comm.as_str()).unwrap_or("?")
                )
            })
            .collect();
        out.push(
            format!("mount namespace mnt:[{ns}]"),
            format!("also has it mounted: pids {}", names.join(", ")),
        );
    }
    out
}

/// Mount point → container, from the Docker engine and from containers/storage's own records.
fn attribute(host: &Host, scan: &Scan) -> (HashMap<String, Owned>, Option<String>) {
    let mut owners = HashMap::new();
    let mut note = None;
    if scan.overlays.iter().any(|o| o.owner == Owner::Docker) {
        match docker_merged_dirs(host) {
            Ok(m) => owners.extend(m),
            Err(e) => note = Some(format!("Docker containers unknown: {e}")),
        }
    }
    for o in scan
        .overlays
        .iter()
        .filter(|o| matches!(o.owner, Owner::ContainersStorage { .. }))
    {
        if let Some(c) = storage_container(host, o) {
            owners.insert(o.mount.mount_point.clone(), c);
        }
    }
    (owners, note)
}

fn docker_merged_dirs(host: &Host) -> Result<HashMap<String, Owned>, HostError> {
    let list = host.docker(DockerCall::Containers)?;
    let mut map = HashMap::new();
    for c in docker::containers(&list) {
        let inspect = match host.docker(DockerCall::Inspect(c.id.clone())) {
            Ok(v) => v,
            // Removed between the list and the inspect: nothing mounted for it any more.
            Err(_) => continue,
        };
        if let Some(dir) = docker::merged_dir(&inspect) {
            map.insert(
                dir,
                Owned {
                    engine: "docker",
                    id: c.id,
                    name: c.name,
                    state: c.state,
                },
            );
        }
    }
    Ok(map)
}

/// containers/storage keeps `overlay-containers/containers.json` next to `overlay/`; a container's
/// `layer` is the overlay directory its root is mounted from.
fn storage_container(host: &Host, o: &Overlay) -> Option<Owned> {
    let upper = o.layers.upper.as_deref()?;
    let (root, rest) = upper.split_once("/overlay/")?;
    let layer = rest.split('/').next()?;
    let text = host
        .read_text(&format!("{root}/overlay-containers/containers.json"))
        .ok()?;
    let list: Value = serde_json::from_str(&text).ok()?;
    let c = list
        .as_array()?
        .iter()
        .find(|c| c.get("layer").and_then(Value::as_str) == Some(layer))?;
    Some(Owned {
        engine: "containers/storage",
        id: c.get("id")?.as_str()?.to_string(),
        name: c
            .pointer("/names/0")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        state: String::new(),
    })
}

/// Upper and work directories used by more than one mount: overlayfs refuses the second mount
/// ("upperdir is in-use by another mount") unless forced, and data corrupts when it is.
fn shared_dirs(overlays: &[Overlay]) -> Vec<(&'static str, String, Vec<String>)> {
    let mut by_dir: HashMap<(&'static str, &str), Vec<String>> = HashMap::new();
    for o in overlays {
        for (kind, dir) in [("upperdir", &o.layers.upper), ("workdir", &o.layers.work)] {
            if let Some(d) = dir {
                by_dir
                    .entry((kind, d.as_str()))
                    .or_default()
                    .push(escape(&o.mount.mount_point));
            }
        }
    }
    let mut clashes: Vec<_> = by_dir
        .into_iter()
        .filter(|(_, points)| points.len() > 1)
        .map(|((kind, dir), points)| (kind, dir.to_string(), points))
        .collect();
    clashes.sort();
    clashes
}

fn signal_plan(title: String, scan: &Scan, holds: &[overlay_scan::Hold]) -> FixPlan {
    let mut pids: Vec<u32> = holds.iter().map(|h| h.pid).collect();
    pids.sort();
    pids.dedup();
    let mut steps = Vec::new();
    for pid in pids {
        let Some(p) = scan.procs.get(&pid) else {
            continue;
        };
        steps.push(Step::Signal {
            pid,
            start_ticks: p.start_ticks,
            comm: p.comm.clone(),
            signal: "TERM".into(),
            then_kill_after_ms: 5000,
        });
    }
    FixPlan {
        id: "stop-holders".into(),
        title,
        risk: Risk::Destructive,
        needs_root: true,
        steps,
    }
}

fn stop_holders_plan(
    o: &Overlay,
    scan: &Scan,
    holds: &[overlay_scan::Hold],
    other_ns: &[u64],
) -> FixPlan {
    let point = escape(&o.mount.mount_point);
    let mut plan = signal_plan(
        format!("Stop the processes holding {point}, then unmount it"),
        scan,
        holds,
    );
    plan.id = format!("stop-holders-and-unmount-{}", o.mount.id);
    for ns in other_ns {
        plan.steps.push(Step::Manual {
            instruction: format!(
                "mount namespace mnt:[{ns}] also has this overlay mounted; it is released when that \
                 namespace's processes exit — leave it, or stop them yourself"
            ),
        });
    }
    plan.steps.push(Step::Unmount {
        path: o.mount.mount_point.clone(),
        lazy: false,
        mount_id: Some(o.mount.id),
        namespace: namespace_of(o, scan),
    });
    plan
}

fn unmount_plan(o: &Overlay, scan: &Scan, lazy: bool) -> FixPlan {
    let point = escape(&o.mount.mount_point);
    FixPlan {
        // The mount id tells the plans of several mounts apart.
        id: format!(
            "{}-{}",
            if lazy { "lazy-unmount" } else { "unmount" },
            o.mount.id
        ),
        title: if lazy {
            format!(
                "Detach {point} now (lazy unmount): holders keep the layers busy until they let go"
            )
        } else {
            format!("Unmount {point}")
        },
        risk: Risk::Disruptive,
        needs_root: true,
        steps: vec![Step::Unmount {
            path: o.mount.mount_point.clone(),
            lazy,
            mount_id: Some(o.mount.id),
            namespace: namespace_of(o, scan),
        }],
    }
}

/// The namespace an overlay was seen in, and a process of it to enter it through.
fn namespace_of(o: &Overlay, scan: &Scan) -> Option<MountNs> {
    let inode = o.ns?;
    let p = scan
        .namespaces
        .get(&inode)?
        .iter()
        .find_map(|pid| scan.procs.get(pid))?;
    Some(MountNs {
        inode,
        pid: p.pid,
        start_ticks: p.start_ticks,
    })
}
