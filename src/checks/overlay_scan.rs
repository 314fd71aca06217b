//! One pass over /proc for `overlay-busy`: every mount namespace and its overlay mounts, and every
//! process that holds an overlay, and how. Holders are matched by device (st_dev of cwd, root, exe
//! and open files), which works across mount namespaces, and mapped files by path, because
//! overlayfs maps the layer's file and /proc/PID/maps shows the layer's device.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::fsmagic;
use crate::host::{Host, HostError};
use crate::parse::mountinfo::{self, Mount};
use crate::parse::overlay::{self, Layers, Owner};
use crate::parse::{proc_maps, proc_stat};

/// A device number as mountinfo and stat give it.
pub type Dev = (u32, u32);

/// How a process holds an overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    Cwd,
    /// Its root directory (a container's processes, or a chroot).
    Root,
    Exe,
    /// An open file, with the path it shows.
    Fd(String),
    /// A memory-mapped file.
    Mmap(String),
}

impl How {
    pub fn describe(&self) -> String {
        match self {
            How::Cwd => "cwd".into(),
            How::Root => "root (chroot or container)".into(),
            How::Exe => "executable".into(),
            How::Fd(p) => format!("open file {}", mountinfo::escape(p)),
            How::Mmap(p) => format!("mapped file {}", mountinfo::escape(p)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub comm: String,
    /// Start time in clock ticks after boot: with the pid, names one process for ever.
    pub start_ticks: u64,
    pub ns: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Hold {
    pub pid: u32,
    pub how: How,
}

/// An overlay mount as some namespace sees it.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub ns: Option<u64>,
    pub mount: Mount,
    pub layers: Layers,
    pub owner: Owner,
}

impl Overlay {
    pub fn dev(&self) -> Dev {
        (self.mount.major, self.mount.minor)
    }
}

#[derive(Debug, Default)]
pub struct Scan {
    pub procs: BTreeMap<u32, Proc>,
    /// Namespace inode → its processes. The host's comes first in `namespace_order`.
    pub namespaces: BTreeMap<u64, Vec<u32>>,
    pub host_ns: Option<u64>,
    /// The host namespace's overlays, then overlays mounted only in other namespaces.
    pub overlays: Vec<Overlay>,
    /// Which namespaces have each overlay device mounted.
    pub mounted_in: HashMap<Dev, Vec<u64>>,
    pub holds: HashMap<Dev, Vec<Hold>>,
    /// Overlays held by processes but mounted nowhere (lazily unmounted, e.g. by `docker rm`).
    pub detached: Vec<Dev>,
    /// Every device some mount table lists. Only a device outside all of them can be a detached
    /// overlay and is statfs'd: a hung FUSE or NFS server is never asked.
    pub listed: HashSet<Dev>,
    /// Processes whose fds or links could not be read (not root, or PID 1 protected).
    pub unreadable: usize,
}

fn ns_inode(link: &str) -> Option<u64> {
    link.strip_prefix("mnt:[")?.strip_suffix(']')?.parse().ok()
}

pub fn scan(host: &Host) -> Result<Scan, String> {
    let mut s = Scan::default();
    let pids: Vec<u32> = host
        .list_dir("/proc")
        .map_err(|e| format!("cannot list processes: {e}"))?
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    for pid in pids {
        let Some(stat) = host
            .read_text(&format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| proc_stat::parse(&t))
        else {
            continue; // gone, or not a process: nothing it could hold
        };
        let ns = host
            .read_link(&format!("/proc/{pid}/ns/mnt"))
            .ok()
            .and_then(|l| ns_inode(&l));
        if let Some(ns) = ns {
            s.namespaces.entry(ns).or_default().push(pid);
        }
        s.procs.insert(
            pid,
            Proc {
                pid,
                comm: stat.comm,
                start_ticks: stat.start_ticks,
                ns,
            },
        );
    }
    s.host_ns = s.procs.get(&1).and_then(|p| p.ns).or_else(|| {
        host.read_link("/proc/self/ns/mnt")
            .ok()
            .and_then(|l| ns_inode(&l))
    });
    read_mount_tables(host, &mut s)?;
    find_holders(host, &mut s);
    Ok(s)
}

/// Reads one mount table per namespace (the host's first); without namespace links (a tree of
/// files under `--root`), PID 1's table stands for the host.
fn read_mount_tables(host: &Host, s: &mut Scan) -> Result<(), String> {
    let mut order: Vec<u64> = s.namespaces.keys().copied().collect();
    order.sort_by_key(|ns| Some(*ns) != s.host_ns);
    let mut tables: Vec<(Option<u64>, Vec<Mount>)> = Vec::new();
    for ns in order {
        let table = s.namespaces[&ns]
            .iter()
            .find_map(|pid| host.read_text(&format!("/proc/{pid}/mountinfo")).ok());
        if let Some(t) = table {
            tables.push((Some(ns), mountinfo::parse(&t).mounts));
        }
    }
    if tables.is_empty() {
        let t =
            super::mount_table(host).map_err(|e| format!("cannot read the mount table: {e}"))?;
        tables.push((None, t.mounts));
    }
    let mut seen: HashSet<Dev> = HashSet::new();
    for (ns, mounts) in tables {
        s.listed.extend(mounts.iter().map(|m| (m.major, m.minor)));
        for m in mounts.into_iter().filter(overlay::is_overlay) {
            let dev = (m.major, m.minor);
            if let Some(ns) = ns {
                let list = s.mounted_in.entry(dev).or_default();
                if !list.contains(&ns) {
                    list.push(ns);
                }
            }
            // One entry per superblock: the host's view if it has one, else the first namespace's.
            if seen.insert(dev) {
                let layers = overlay::layers(&m.super_options);
                let owner = overlay::owner(&m.mount_point, &layers);
                s.overlays.push(Overlay {
                    ns,
                    mount: m,
                    layers,
                    owner,
                });
            }
        }
    }
    Ok(())
}

fn find_holders(host: &Host, s: &mut Scan) {
    let mounted: HashSet<Dev> = s.overlays.iter().map(Overlay::dev).collect();
    // Mount points per namespace, to place mapped files by path.
    let mut points: HashMap<Option<u64>, Vec<(String, Dev)>> = HashMap::new();
    for o in &s.overlays {
        points
            .entry(o.ns)
            .or_default()
            .push((o.mount.mount_point.clone(), o.dev()));
    }
    let host_points = points.get(&s.host_ns).cloned().unwrap_or_default();
    // Devices already judged not to be overlays (pipes, sockets, other filesystems).
    let mut not_overlay: HashSet<Dev> = HashSet::new();
    let mut detached: HashSet<Dev> = HashSet::new();

    let procs: Vec<Proc> = s.procs.values().cloned().collect();
    for p in procs {
        let base = format!("/proc/{}", p.pid);
        let mut holds: Vec<(Dev, How)> = Vec::new();
        let mut denied = false;
        let mut is_overlay = |dev: Dev, path: &str| -> bool {
            if mounted.contains(&dev) || detached.contains(&dev) {
                return true;
            }
            // Overlays have anonymous devices; only those mounted nowhere can be a detached one.
            if dev.0 != 0 || not_overlay.contains(&dev) || s.listed.contains(&dev) {
                return false;
            }
            if host.statfs_magic(path).is_ok_and(|m| m == fsmagic::OVERLAY) {
                detached.insert(dev);
                true
            } else {
                not_overlay.insert(dev);
                false
            }
        };
        for (link, how) in [("cwd", How::Cwd), ("root", How::Root), ("exe", How::Exe)] {
            let path = format!("{base}/{link}");
            match host.stat(&path) {
                Ok(m) if is_overlay(m.dev, &path) => holds.push((m.dev, how)),
                Err(HostError::PermissionDenied(_)) => denied = true,
                _ => {}
            }
        }
        match host.list_dir(&format!("{base}/fd")) {
            Ok(fds) => {
                for fd in fds {
                    let path = format!("{base}/fd/{fd}");
                    if let Ok(m) = host.stat(&path)
                        && is_overlay(m.dev, &path)
                    {
                        let shown = host.read_link(&path).unwrap_or_else(|_| format!("fd {fd}"));
                        holds.push((m.dev, How::Fd(shown)));
                    }
                }
            }
            Err(HostError::PermissionDenied(_)) => denied = true,
            Err(_) => {}
        }
        if let Ok(maps) = host.read_text(&format!("{base}/maps")) {
            let own = points.get(&p.ns).map(Vec::as_slice).unwrap_or(&[]);
            for file in proc_maps::mapped_files(&maps) {
                let place = own
                    .iter()
                    .chain(host_points.iter())
                    .filter(|(point, _)| mountinfo::is_within(&file, point))
                    .max_by_key(|(point, _)| point.len());
                if let Some((_, dev)) = place {
                    holds.push((*dev, How::Mmap(file)));
                }
            }
        }
        if denied {
            s.unreadable += 1;
        }
        for (dev, how) in holds {
            let list = s.holds.entry(dev).or_default();
            if !list.iter().any(|h| h.pid == p.pid && h.how == how) {
                list.push(Hold { pid: p.pid, how });
            }
        }
    }
    s.detached = detached.into_iter().collect();
    s.detached.sort();
}
