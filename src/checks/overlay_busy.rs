//! `overlay-busy`: every overlay mount in every mount namespace, the container that owns it, and
//! every process that holds it, found in one pass. "umount: …/merged: target is busy" and
//! "Device … is still in use" break container tools' cleanup (Buildah's mkcw flakes); `fuser -m`
//! run mount by mount is slow and misses the commonest hidden holder: another mount namespace.

use std::collections::HashMap;

use super::{Check, Options};
use crate::facts::Facts;
use crate::facts::containerd::{self as containerd_facts, Task};
use crate::facts::engines::{self, Container, Engine};
use crate::host::HostError;
use crate::model::{FixPlan, MountNs, Outcome, Risk, Status, Step, Table};
use crate::parse::containerd;
use crate::parse::mountinfo::escape;
use crate::parse::overlay::Owner;

use super::overlay_scan::{self, How, Overlay, Scan};
use super::plural;

/// Lines of evidence for mounts that are fine (running containers); problems are always shown.
const OK_SHOWN: usize = 10;
/// Holders shown per mount.
const HOLDERS_SHOWN: usize = 8;

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

/// Who owns an overlay, as far as can be told.
enum Owned {
    /// An engine's container, with the state that engine (or conmon) gives.
    Container(Container),
    /// The engine itself uses it while it runs (containerd's temporary mounts): in use.
    Engine(String),
    /// A container's root whose engine no longer accounts for it: judged as a leak, said whose.
    Leftover(String),
    /// The engine that would know could not be asked: the owner is unknown.
    Unknown(String),
}

impl Owned {
    fn describe(&self) -> String {
        match self {
            Owned::Container(c) => {
                let id: String = c.id.chars().take(12).collect();
                let state = match (&c.state, c.engine) {
                    (Some(s), Engine::Buildah) if s == "storage" => {
                        "Buildah working container".to_string()
                    }
                    (Some(s), _) => s.clone(),
                    (None, _) => "state unknown".into(),
                };
                format!("{} container {} ({id}, {state})", c.engine.name(), c.name)
            }
            Owned::Engine(what) | Owned::Leftover(what) => what.clone(),
            Owned::Unknown(why) => format!("owner unknown: {why}"),
        }
    }
}

/// How each overlay was judged, counted for the summary.
#[derive(Default)]
struct Counts {
    live: usize,
    busy: usize,
    idle: usize,
    elsewhere: usize,
    engine_left: usize,
    unknown: usize,
}

fn run(host: &Facts, _: &Options) -> Outcome {
    let scan = match overlay_scan::scan(host) {
        Ok(s) => s,
        Err(reason) => return Outcome::unknown(reason),
    };
    let clashes = shared_dirs(&scan.overlays);
    if scan.overlays.is_empty() && scan.detached.is_empty() {
        // No overlay in any table read; namespaces not read may still have some.
        return match scan.holders_unknown() {
            Some(why)
                if scan.blind.is_some() || scan.unread_namespaces + scan.ns_unreadable > 0 =>
            {
                Outcome::unknown(format!(
                    "no overlay mounts in the mount table(s) read; other mount namespaces unknown: {why}"
                ))
            }
            _ => Outcome::new(Status::Ok, "no overlay mounts"),
        };
    }
    let (owners, attribution) = attribute(host, &scan);
    let unknown_holders = scan.holders_unknown();
    let mut out = Outcome::new(Status::Ok, String::new());
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Where each row's fixes start in `out.fixes`: a row's fixes are those added until the next.
    let mut fixes_from: Vec<usize> = Vec::new();
    let mut n = Counts::default();
    let mut ok_lines = 0;

    for o in &scan.overlays {
        let dev = o.dev();
        // What umount here depends on: the holders in the mount's own namespace.
        let unknown_holders = scan.holders_unknown_in(o.ns.or(scan.host_ns));
        let owned = owners.get(&o.mount.mount_point);
        let holds_all = scan.holds.get(&dev).map(Vec::as_slice).unwrap_or(&[]);
        // Only holders in the mount's own namespace make `umount` here fail; a process in another
        // namespace holds that namespace's copy.
        let (local, remote): (Vec<_>, Vec<_>) = holds_all.iter().cloned().partition(|h| {
            let ns = scan.procs.get(&h.pid).and_then(|p| p.ns);
            ns.is_none() || ns == o.ns.or(scan.host_ns)
        });
        let as_root = holds_all.iter().any(|h| h.how == How::Root);
        let other_ns: Vec<u64> = scan
            .mounted_in
            .get(&dev)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|ns| Some(*ns) != o.ns.or(scan.host_ns))
                    .collect()
            })
            .unwrap_or_default();
        let place = where_(o, &scan);
        fixes_from.push(out.fixes.len());
        rows.push(vec![
            place.clone(),
            o.owner.name().to_string(),
            owned.map(Owned::describe).unwrap_or_else(|| "—".into()),
            holders_cell(&scan, holds_all, &other_ns),
        ]);
        let who = owned.map(Owned::describe).unwrap_or_else(|| match o.owner {
            Owner::Containerd => "containerd, not a task's root".to_string(),
            _ => format!("{}, no container", o.owner.name()),
        });
        // A namespace's "/" is its root filesystem: in use for as long as the namespace lives.
        let ns_root = o.mount.mount_point == "/";
        let engine_in_use = match owned {
            Some(Owned::Container(c)) => c.in_use(),
            Some(Owned::Engine(_)) => true,
            _ => false,
        };
        if engine_in_use || ((as_root || ns_root) && !matches!(owned, Some(Owned::Container(_)))) {
            n.live += 1;
            if ok_lines < OK_SHOWN {
                ok_lines += 1;
                match owned {
                    Some(Owned::Container(c)) if engine_in_use => out.push(
                        place,
                        format!(
                            "{who} (from {}); {}",
                            c.source,
                            holders_count(holds_all.len(), &unknown_holders)
                        ),
                    ),
                    Some(Owned::Engine(_)) => out.push(
                        place,
                        format!(
                            "{who}; {}",
                            holders_count(holds_all.len(), &unknown_holders)
                        ),
                    ),
                    _ => {
                        out.push(
                            place,
                            format!("{}, in use as a root filesystem", o.owner.name()),
                        );
                        out = holders_evidence(&scan, holds_all, &other_ns, out);
                    }
                }
            }
            continue;
        }
        if let Some(Owned::Unknown(_)) = owned {
            n.unknown += 1;
            out.push(
                place,
                format!("{who}: not judged, no stop or unmount is offered"),
            );
            out = holders_evidence(&scan, holds_all, &other_ns, out);
            continue;
        }
        if let Some(Owned::Container(c)) = owned {
            if c.state.is_none() {
                n.unknown += 1;
                out.push(
                    place,
                    format!(
                        "{who}: its engine's state is unknown ({}); not judged, no stop or unmount is offered",
                        c.source
                    ),
                );
                out = holders_evidence(&scan, holds_all, &other_ns, out);
                continue;
            }
            // An engine's container that does not run, with its root still mounted: the engine's
            // own command releases it, so its records stay consistent.
            n.engine_left += 1;
            out.push(
                place,
                format!(
                    "{who} (from {}): not running but its root is still mounted",
                    c.source
                ),
            );
            out = holders_evidence(&scan, holds_all, &other_ns, out);
            if let Some(mut plan) = engine_plan(c) {
                // containerd unmounts the root itself and fails while something holds it
                // ("failed rootfs umount: … device or resource busy"): the holders go first.
                if c.engine == Engine::Containerd && !local.is_empty() && unknown_holders.is_none()
                {
                    let stop = signal_plan(String::new(), &scan, &local);
                    plan.title = format!(
                        "Stop the {} process{} holding it, then: {}",
                        stop.steps.len(),
                        if stop.steps.len() == 1 { "" } else { "es" },
                        plan.title
                    );
                    plan.risk = Risk::Destructive;
                    plan.steps = stop.steps.into_iter().chain(plan.steps).collect();
                }
                out = out.fix(plan);
            }
            continue;
        }
        // No container: a leak. What makes `umount` here fail is a local holder or a submount.
        let blockers = !local.is_empty() || !o.submounts.is_empty();
        if blockers {
            n.busy += 1;
            out.push(
                place,
                format!("{who}; leaked and busy: this is what makes umount say \"target is busy\""),
            );
            out = holders_evidence(&scan, &local, &[], out);
            for sub in &o.submounts {
                out.push(
                    format!("submount {}", escape(&sub.mount_point)),
                    format!(
                        "{} mounted inside it: umount fails until this is unmounted",
                        sub.fstype
                    ),
                );
            }
            if !remote.is_empty() || !other_ns.is_empty() {
                out = holders_evidence(&scan, &remote, &other_ns, out);
            }
            match &unknown_holders {
                Some(why) => out.push(
                    place_label(o),
                    format!("no stop or unmount is offered: not every holder is known ({why})"),
                ),
                None => {
                    if !local.is_empty() {
                        out = out.fix(stop_holders_plan(o, &scan, &local, &other_ns));
                    } else {
                        out = out.fix(unmount_plan(o, &scan, false));
                    }
                    out = out.fix(unmount_plan(o, &scan, true));
                }
            }
            continue;
        }
        if let Some(why) = &unknown_holders {
            n.unknown += 1;
            out.push(
                place,
                format!("{who}; holders unknown ({why}): not judged, no unmount is offered"),
            );
            if !remote.is_empty() || !other_ns.is_empty() {
                out = holders_evidence(&scan, &remote, &other_ns, out);
            }
            continue;
        }
        if !other_ns.is_empty() || !remote.is_empty() {
            // umount here succeeds; the layers stay in use through the other namespaces' copies.
            n.elsewhere += 1;
            out.push(
                place,
                format!(
                    "{who}; leaked, not busy here: still mounted in {} other mount namespace{}, which keep its layers in use",
                    other_ns.len(),
                    plural(other_ns.len())
                ),
            );
            out = holders_evidence(&scan, &remote, &other_ns, out);
            out = out.fix(unmount_plan(o, &scan, false));
            continue;
        }
        n.idle += 1;
        out.push(place, format!("{who}; leaked: nothing holds it"));
        out = out.fix(unmount_plan(o, &scan, false));
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
        n.busy += 1;
        let only_mapped = holds.iter().all(|h| matches!(h.how, How::Mmap(_)));
        out.push(
            format!("overlay {}:{}", dev.0, dev.1),
            format!(
                "detached (lazily unmounted, as `docker rm` does) but still held{}: its layers stay in use, and a new mount of its upper dir gets \"upperdir is in-use\"",
                if only_mapped { " by a memory mapping only (no open file)" } else { "" }
            ),
        );
        out = holders_evidence(&scan, holds, &[], out);
        if unknown_holders.is_none() {
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
    }
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
        n.busy as f64,
    );
    out.count(
        "overlay_leaked_mounts",
        "Overlay mounts without a running container.",
        (n.busy + n.idle + n.elsewhere + n.engine_left) as f64,
    );
    out.count(
        "overlay_unknown_mounts",
        "Overlay mounts whose holders or owner could not be known.",
        n.unknown as f64,
    );
    let mut parts = vec![format!("{} in use", n.live)];
    for (k, what) in [
        (n.busy, "leaked and busy"),
        (n.idle, "leaked and idle"),
        (
            n.elsewhere,
            "leaked here, still mounted in another namespace",
        ),
        (n.engine_left, "left mounted by their engine"),
        (n.unknown, "unknown (holders or owner unknown)"),
    ] {
        if k > 0 {
            parts.push(format!("{k} {what}"));
        }
    }
    out.summary = format!(
        "{total} overlay mount{}: {}",
        plural(total),
        parts.join(", ")
    );
    out.status = if !clashes.is_empty() {
        out.summary += "; two mounts share an upper or work dir (overlayfs: upperdir is in-use)";
        Status::Error
    } else if n.busy + n.idle + n.elsewhere + n.engine_left > 0 {
        Status::Warn
    } else if n.unknown > 0 {
        Status::Unknown
    } else {
        Status::Ok
    };
    for (source, note) in attribution {
        out.push(source, note);
    }
    if let Some(why) = &unknown_holders {
        out.push("holders", format!("not all known: {why}"));
        if out.status == Status::Unknown {
            out.summary = format!("holders unknown: {why} ({})", out.summary);
        }
    }
    out
}

fn holders_count(n: usize, unknown: &Option<String>) -> String {
    match unknown {
        Some(_) => "holders unknown".into(),
        None => format!("{n} holder{}", plural(n)),
    }
}

fn place_label(o: &Overlay) -> String {
    escape(&o.mount.mount_point)
}

/// The engine's own command for its container's leftover mount, run through argv.
fn engine_plan(c: &Container) -> Option<FixPlan> {
    let id: String = c.id.chars().take(12).collect();
    let (argv, risk, title) = match c.engine {
        Engine::Podman => {
            let mut argv = vec!["podman".to_string()];
            argv.extend(c.storage_args());
            argv.extend(["umount".into(), c.id.clone()]);
            (
                argv,
                Risk::Disruptive,
                format!("Unmount podman container {} ({id}) with podman", c.name),
            )
        }
        Engine::Buildah => {
            let mut argv = vec!["buildah".to_string()];
            argv.extend(c.storage_args());
            argv.extend(["umount".into(), c.id.clone()]);
            (
                argv,
                Risk::Disruptive,
                format!(
                    "Unmount Buildah working container {} ({id}) with buildah",
                    c.name
                ),
            )
        }
        Engine::Docker => (
            vec!["docker".into(), "rm".into(), c.id.clone()],
            Risk::Destructive,
            format!(
                "Remove the stopped docker container {} ({id}); docker releases its mount",
                c.name
            ),
        ),
        Engine::Containerd => {
            // Only a stopped task is containerd's to release; deleting it unmounts its root.
            let (Some("stopped"), Some(ns), Some(address)) =
                (c.state.as_deref(), &c.namespace, &c.address)
            else {
                return None;
            };
            (
                [
                    "ctr",
                    "--address",
                    address,
                    "--namespace",
                    ns,
                    "task",
                    "delete",
                    &c.id,
                ]
                .map(String::from)
                .to_vec(),
                Risk::Disruptive,
                format!(
                    "Delete the stopped containerd task {} ({id}) with ctr: its shim unmounts the root",
                    c.name
                ),
            )
        }
        Engine::CriO | Engine::Storage => return None,
    };
    Some(FixPlan {
        id: format!("{}-release-{id}", c.engine.name()),
        title,
        risk,
        needs_root: true,
        steps: vec![Step::Exec { argv }],
    })
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

/// Mount point → owner, from the Docker engine, from containers/storage's own records with the
/// state from conmon or `podman ps`, and from containerd's bundles, shims and `ctr`. An engine
/// that refuses us (not root, not in its group) or does not answer leaves its overlays' owner
/// unknown: "no container" would be a guess. Also the evidence of how owners were found.
fn attribute(facts: &Facts, scan: &Scan) -> (HashMap<String, Owned>, Vec<(String, String)>) {
    let mut owners = HashMap::new();
    let mut notes = Vec::new();
    let mut note = None;
    if scan.overlays.iter().any(|o| o.owner == Owner::Docker) {
        match facts.docker_containers() {
            Ok(list) => {
                for d in list {
                    if let Some(dir) = &d.merged {
                        owners.insert(dir.clone(), Owned::Container(d.container.clone()));
                    }
                }
            }
            // No engine at all: its overlays are judged as anyone's (leaked when unheld).
            Err(HostError::NotFound(_)) => {
                note = Some("no Docker engine answering: docker overlays have no container".into())
            }
            Err(e) => {
                let why = format!("the Docker engine could not be asked ({e})");
                note = Some(format!("Docker containers unknown: {e}"));
                for o in scan.overlays.iter().filter(|o| o.owner == Owner::Docker) {
                    owners.insert(o.mount.mount_point.clone(), Owned::Unknown(why.clone()));
                }
            }
        }
    }
    let conmons = facts.conmons();
    let mut podman_states = HashMap::new();
    for o in scan
        .overlays
        .iter()
        .filter(|o| matches!(o.owner, Owner::ContainersStorage { .. }))
    {
        let Some((root, layer)) = storage_layer(o) else {
            continue;
        };
        if let Some(c) =
            engines::storage_container(facts, conmons, &mut podman_states, &root, &layer)
        {
            owners.insert(o.mount.mount_point.clone(), Owned::Container(c));
        }
    }
    if let Some(n) = note {
        notes.push(("container attribution".to_string(), n));
    }
    attribute_containerd(facts, scan, &mut owners, &mut notes);
    (owners, notes)
}

/// containerd's overlays: a task's root (its bundle's `rootfs`) gets the task's state; a
/// temporary mount is containerd's own while a containerd with that root runs.
fn attribute_containerd(
    facts: &Facts,
    scan: &Scan,
    owners: &mut HashMap<String, Owned>,
    notes: &mut Vec<(String, String)>,
) {
    let mut overlays = scan
        .overlays
        .iter()
        .filter(|o| o.owner == Owner::Containerd)
        .peekable();
    if overlays.peek().is_none() {
        return;
    }
    let cz = facts.containerd();
    let mut listings = containerd_facts::Listings::new();
    let mut shown: Vec<String> = Vec::new();
    for o in overlays {
        let point = &o.mount.mount_point;
        if let Some(b) = containerd::bundle(point) {
            if let Some(d) = cz.daemon_of(&b)
                && !shown.contains(&d.located)
            {
                shown.push(d.located.clone());
            }
            let owned = match containerd_facts::task(facts, cz, &b, &mut listings) {
                Task::Known(c) => Owned::Container(c),
                Task::Gone(why) => Owned::Leftover(format!(
                    "containerd task {}/{}'s root, no task: {why}",
                    b.namespace, b.id
                )),
                Task::Refused(why) => {
                    Owned::Unknown(format!("containerd could not be asked ({why})"))
                }
            };
            owners.insert(point.clone(), owned);
        } else if containerd::temp_mount(point) {
            let dirs: Vec<&str> = o
                .layers
                .upper
                .iter()
                .chain(&o.layers.lower)
                .map(String::as_str)
                .collect();
            let owned = match (cz.running_daemon_with(&dirs), facts.processes()) {
                (Some(d), _) => Owned::Engine(format!(
                    "containerd's temporary mount (image unpack, diff or volume copy) while containerd pid {} runs",
                    d.pid.unwrap_or_default()
                )),
                (None, Err(why)) => Owned::Unknown(format!(
                    "containerd's temporary mount; whether containerd runs is unknown ({why})"
                )),
                (None, Ok(_)) => Owned::Leftover(
                    "containerd's temporary mount, and no containerd with its root runs".into(),
                ),
            };
            owners.insert(point.clone(), owned);
        }
    }
    notes.extend(shown.into_iter().map(|l| ("containerd".to_string(), l)));
}

/// containers/storage keeps `overlay-containers/containers.json` next to `overlay/`; a
/// container's `layer` is the overlay directory its root is mounted from.
fn storage_layer(o: &Overlay) -> Option<(String, String)> {
    let upper = o.layers.upper.as_deref()?;
    let (root, rest) = upper.split_once("/overlay/")?;
    let layer = rest.split('/').next()?;
    Some((root.to_string(), layer.to_string()))
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
    plan.steps.extend(submount_steps(o, scan));
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
    // A lazy unmount detaches the whole tree; a plain one needs the submounts gone first.
    let mut steps: Vec<Step> = if lazy {
        Vec::new()
    } else {
        submount_steps(o, scan)
    };
    steps.push(Step::Unmount {
        path: o.mount.mount_point.clone(),
        lazy,
        mount_id: Some(o.mount.id),
        namespace: namespace_of(o, scan),
    });
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
        } else if o.submounts.is_empty() {
            format!("Unmount {point}")
        } else {
            format!(
                "Unmount the {} mount{} inside {point}, then {point}",
                o.submounts.len(),
                plural(o.submounts.len())
            )
        },
        risk: Risk::Disruptive,
        needs_root: true,
        steps,
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

/// Unmounts of the mounts inside an overlay, deepest first, in the overlay's namespace.
fn submount_steps(o: &Overlay, scan: &Scan) -> Vec<Step> {
    o.submounts
        .iter()
        .map(|m| Step::Unmount {
            path: m.mount_point.clone(),
            lazy: false,
            mount_id: Some(m.id),
            namespace: namespace_of(o, scan),
        })
        .collect()
}
