//! One pass over /proc for `overlay-busy`: every mount namespace and its overlay mounts, and every
//! process that holds an overlay, and how. Holders are matched by device (st_dev of cwd, root, exe
//! and open files), which works across mount namespaces, and mapped files by path, because
//! overlayfs maps the layer's file and /proc/PID/maps shows the layer's device.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::facts::Facts;
use crate::fsmagic;
use crate::host::{Host, HostError};
use crate::parse::mountinfo::{self, Mount, MountTable};
use crate::parse::overlay::{self, Layers, Owner};

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
    pub kernel_thread: bool,
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
    /// Mounts on top of it or inside it in its namespace, deepest first: each makes a plain
    /// `umount` of the overlay fail ("target is busy") until it is unmounted.
    pub submounts: Vec<Mount>,
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
    /// Which processes those are.
    pub unreadable_pids: Vec<u32>,
    /// Mount namespaces whose table no process would show us.
    pub unread_namespaces: usize,
    /// Why no holder at all could be looked for (no process table: a `--root` tree without
    /// /proc/PID, or not root); mount tables alone were judged.
    pub blind: Option<String>,
    /// Processes whose stat or mount namespace could not be read.
    pub procs_unreadable: usize,
    pub ns_unreadable: usize,
    /// Namespace inode → the start time of its oldest known process.
    oldest: HashMap<u64, u64>,
}

impl Scan {
    /// Why "nothing holds it" cannot be said: no holders were looked for, or some processes or
    /// namespaces could not be read. With counts.
    pub fn holders_unknown(&self) -> Option<String> {
        if let Some(b) = &self.blind {
            return Some(b.clone());
        }
        let mut parts = Vec::new();
        if self.unreadable + self.procs_unreadable > 0 {
            parts.push(format!(
                "{} process{} could not be read",
                self.unreadable + self.procs_unreadable,
                if self.unreadable + self.procs_unreadable == 1 {
                    ""
                } else {
                    "es"
                }
            ));
        }
        if self.ns_unreadable > 0 {
            parts.push(format!(
                "{} process{} without a readable mount namespace",
                self.ns_unreadable,
                if self.ns_unreadable == 1 { "" } else { "es" }
            ));
        }
        if self.unread_namespaces > 0 {
            parts.push(format!(
                "{} mount namespace{} unreadable",
                self.unread_namespaces,
                if self.unread_namespaces == 1 { "" } else { "s" }
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl Scan {
    /// Why "nothing holds it here" cannot be said of a mount in namespace `ns`: only processes
    /// of that namespace (or of one not known) make its `umount` fail, so an unreadable process
    /// elsewhere (this VM's protected PID 1, say) does not blind the judgement of a mount in a
    /// private namespace.
    pub fn holders_unknown_in(&self, ns: Option<u64>) -> Option<String> {
        if let Some(b) = &self.blind {
            return Some(b.clone());
        }
        // A process whose namespace is unknown can be in `ns` only if it is no older than the
        // namespace's oldest known process: an older one joined it only through setns(), which
        // container tools do with new processes, not with old ones.
        let oldest = ns.and_then(|n| self.oldest.get(&n)).copied();
        let here = self
            .unreadable_pids
            .iter()
            .filter_map(|pid| self.procs.get(pid))
            .filter(|p| match p.ns {
                Some(n) => Some(n) == ns,
                None => oldest.is_none_or(|o| p.start_ticks >= o),
            })
            .count()
            + self.procs_unreadable;
        (here > 0).then(|| {
            format!(
                "{here} process{} that may be in its mount namespace could not be read",
                if here == 1 { "" } else { "es" }
            )
        })
    }
}

/// One pass: the processes and mount tables come from the fact layer, the holders are read here.
/// Without a process table (a `--root` tree of files, or a non-root run) the mount tables are
/// still read and judged; holders are then unknown, and `blind` says why.
pub fn scan(facts: &Facts) -> Result<Scan, String> {
    let mut s = Scan::default();
    if facts.is_live() && facts.euid() != 0 {
        s.blind =
            Some("needs root: other processes' open files, cwd and mappings are unreadable".into());
    }
    let tables: Vec<(Option<u64>, &MountTable)> = match facts.processes() {
        Ok(procs) => {
            for p in procs.iter() {
                s.procs.insert(
                    p.pid,
                    Proc {
                        pid: p.pid,
                        comm: p.comm.clone(),
                        start_ticks: p.start_ticks,
                        ns: p.mnt_ns,
                        kernel_thread: p.kernel_thread,
                    },
                );
                if let Some(ns) = p.mnt_ns {
                    s.namespaces.entry(ns).or_default().push(p.pid);
                    let oldest = s.oldest.entry(ns).or_insert(p.start_ticks);
                    *oldest = (*oldest).min(p.start_ticks);
                }
            }
            s.procs_unreadable = procs.completeness.unreadable;
            s.ns_unreadable = procs.completeness.ns_unreadable;
            let spaces = facts.namespaces()?;
            s.host_ns = spaces.host_ns;
            s.unread_namespaces = spaces.unread;
            spaces.tables.iter().map(|t| (t.ns, &t.table)).collect()
        }
        Err(why) => {
            let table = facts
                .mount_table()
                .map_err(|e| format!("cannot read the mount table: {e}"))?;
            s.blind.get_or_insert_with(|| why.to_string());
            vec![(None, table)]
        }
    };
    let mut seen: HashSet<Dev> = HashSet::new();
    for (ns, table) in &tables {
        let ns = *ns;
        let children = children(table);
        s.listed
            .extend(table.mounts.iter().map(|m| (m.major, m.minor)));
        for m in table.mounts.iter().filter(|m| overlay::is_overlay(m)) {
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
                    mount: m.clone(),
                    layers,
                    owner,
                    submounts: submounts(&children, m),
                });
            }
        }
    }
    if s.blind.is_none() {
        find_holders(facts, &mut s, &tables);
    }
    Ok(s)
}

/// The mounts below `m` in its table (children, grandchildren, …), deepest first: the order in
/// which they must be unmounted before `m` can be.
fn submounts(children: &HashMap<u32, Vec<&Mount>>, m: &Mount) -> Vec<Mount> {
    let mut found: Vec<(usize, Mount)> = Vec::new();
    let mut frontier = vec![(m.id, 0usize)];
    while let Some((id, depth)) = frontier.pop() {
        for child in children.get(&id).into_iter().flatten() {
            if child.id == id
                || child.id == m.id
                || found.iter().any(|(_, f)| f.id == child.id)
                || found.len() > 1000
            {
                continue;
            }
            found.push((depth + 1, (*child).clone()));
            frontier.push((child.id, depth + 1));
        }
    }
    found.sort_by_key(|(d, _)| std::cmp::Reverse(*d));
    found.into_iter().map(|(_, m)| m).collect()
}

/// The mounts of a table by their parent's id: each overlay's submounts without a pass over
/// the whole table (a thousand overlays would make that a million comparisons).
fn children(table: &MountTable) -> HashMap<u32, Vec<&Mount>> {
    let mut by_parent: HashMap<u32, Vec<&Mount>> = HashMap::new();
    for m in &table.mounts {
        by_parent.entry(m.parent).or_default().push(m);
    }
    by_parent
}

/// What the holder scan shares between its workers: read-only views of the mount tables.
struct Places<'a> {
    host: &'a Host,
    mounted: HashSet<Dev>,
    listed: &'a HashSet<Dev>,
    /// Every mount point per namespace (the last mount at a point wins, as the kernel shows it),
    /// to place mapped files by path: a file on a submount of an overlay is not the overlay's.
    points: HashMap<Option<u64>, HashMap<String, Dev>>,
    host_ns: Option<u64>,
}

/// What one worker found: holds per process in pid order, who could not be read, and the
/// devices it judged to be detached overlays.
#[derive(Default)]
struct Found {
    holds: Vec<(u32, Vec<(Dev, How)>)>,
    denied: Vec<u32>,
    detached: HashSet<Dev>,
}

/// Reads every process's cwd, root, exe, fds and maps, on a few threads: the reads are
/// independent and mostly kernel time.
fn find_holders(host: &Host, s: &mut Scan, tables: &[(Option<u64>, &MountTable)]) {
    let mut points: HashMap<Option<u64>, HashMap<String, Dev>> = HashMap::new();
    for (ns, table) in tables {
        let map = points.entry(*ns).or_default();
        for m in &table.mounts {
            map.insert(m.mount_point.clone(), (m.major, m.minor));
        }
    }
    let places = Places {
        host,
        mounted: s.overlays.iter().map(Overlay::dev).collect(),
        listed: &s.listed,
        points,
        host_ns: s.host_ns,
    };
    // Kernel threads share the kernel's own root and working directory and have no files or
    // mappings: never a holder to stop, and listing them for a root on an overlay (a live
    // image) would only bury the processes that are.
    let procs: Vec<&Proc> = s.procs.values().filter(|p| !p.kernel_thread).collect();
    let found = crate::parallel::map_parts(&procs, 32, |part| places.read_all(part));
    let mut detached: HashSet<Dev> = HashSet::new();
    for f in found {
        s.unreadable += f.denied.len();
        s.unreadable_pids.extend(f.denied);
        detached.extend(f.detached);
        for (pid, holds) in f.holds {
            for (dev, how) in holds {
                let list = s.holds.entry(dev).or_default();
                if !list.iter().any(|h| h.pid == pid && h.how == how) {
                    list.push(Hold { pid, how });
                }
            }
        }
    }
    s.detached = detached.into_iter().collect();
    s.detached.sort();
}

impl Places<'_> {
    fn read_all(&self, procs: &[&Proc]) -> Found {
        let mut found = Found::default();
        // Devices already judged not to be overlays (pipes, sockets, other filesystems).
        let mut not_overlay: HashSet<Dev> = HashSet::new();
        for p in procs {
            let (holds, denied) = self.read(p, &mut not_overlay, &mut found.detached);
            if denied {
                found.denied.push(p.pid);
            }
            if !holds.is_empty() {
                found.holds.push((p.pid, holds));
            }
        }
        found
    }

    /// One process's holds, and whether some of its links could not be read.
    fn read(
        &self,
        p: &Proc,
        not_overlay: &mut HashSet<Dev>,
        detached: &mut HashSet<Dev>,
    ) -> (Vec<(Dev, How)>, bool) {
        let host = self.host;
        let base = format!("/proc/{}", p.pid);
        let mut holds: Vec<(Dev, How)> = Vec::new();
        let mut denied = false;
        let mut is_overlay = |dev: Dev, path: &str| -> bool {
            if self.mounted.contains(&dev) || detached.contains(&dev) {
                return true;
            }
            // Overlays have anonymous devices; only those mounted nowhere can be a detached one.
            if dev.0 != 0 || not_overlay.contains(&dev) || self.listed.contains(&dev) {
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
        match host.stat_entries(&format!("{base}/fd")) {
            Ok(fds) => {
                for fd in fds {
                    let Ok(m) = fd.meta else { continue };
                    let path = format!("{base}/fd/{}", fd.name);
                    if is_overlay(m.dev, &path) {
                        let shown = host
                            .read_link(&path)
                            .unwrap_or_else(|_| format!("fd {}", fd.name));
                        holds.push((m.dev, How::Fd(shown)));
                    }
                }
            }
            Err(HostError::PermissionDenied(_)) => denied = true,
            Err(_) => {}
        }
        let no_points = HashMap::new();
        let own = self.points.get(&p.ns).unwrap_or(&no_points);
        let host_points = self.points.get(&self.host_ns).unwrap_or(&no_points);
        match host.mapped_files(&format!("{base}/maps")) {
            Ok(maps) => {
                for m in maps {
                    // Kernels that show the overlay's own device name it directly; a device
                    // mounted nowhere is a detached overlay when statfs of the mapping says so.
                    if self.mounted.contains(&m.dev) {
                        holds.push((m.dev, How::Mmap(m.path)));
                        continue;
                    }
                    if m.dev.0 == 0 && !self.listed.contains(&m.dev) {
                        let entry = format!("{base}/map_files/{}", m.range);
                        if is_overlay(m.dev, &entry) {
                            holds.push((m.dev, How::Mmap(m.path)));
                        }
                        continue;
                    }
                    // Older kernels show the layer's device: place the file by path, on the
                    // deepest mount at or above it, and count it only if that is an overlay.
                    let place = match (deepest(own, &m.path), deepest(host_points, &m.path)) {
                        (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
                        (a, b) => a.or(b),
                    };
                    if let Some((_, dev)) = place
                        && self.mounted.contains(&dev)
                    {
                        holds.push((dev, How::Mmap(m.path)));
                    }
                }
            }
            Err(HostError::PermissionDenied(_)) => denied = true,
            Err(_) => {}
        }
        (holds, denied)
    }
}

/// The deepest mount point in `points` that is `path` or one of its parents, by whole
/// components, with its length: a walk up the path, not a scan of every mount.
fn deepest(points: &HashMap<String, Dev>, path: &str) -> Option<(usize, Dev)> {
    if points.is_empty() {
        return None;
    }
    let mut p = path;
    loop {
        if let Some(dev) = points.get(p) {
            return Some((p.len(), *dev));
        }
        match p.rfind('/') {
            Some(0) if p.len() > 1 => p = "/",
            Some(i) if i > 0 => p = &p[..i],
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Answer, Meta, Request, Script};

    /// /proc/PID/stat with the given flags (field 9).
    fn stat(pid: u32, comm: &str, ppid: u32, flags: u64) -> String {
        format!(
            "{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 {flags} 0 0 0 0 0 0 0 0 20 0 1 0 14 0 0\n"
        )
    }

    fn on(dev: (u32, u32), is_dir: bool) -> Result<Answer, HostError> {
        Ok(Answer::Meta(Meta {
            is_dir,
            is_file: !is_dir,
            mode: 0o755,
            size: 0,
            dev,
        }))
    }

    #[test]
    fn kernel_threads_are_not_holders() {
        // A live image whose root is an overlay: kthreadd's root and cwd are on it, as are the
        // shell's; only the shell is a holder.
        let table = "20 1 0:30 / / rw,relatime - overlay overlay rw,lowerdir=/run/live/rootfs,upperdir=/run/live/cow/upper,workdir=/run/live/cow/work\n";
        let mut script = Script::new();
        for (pid, comm, ppid, flags) in [(2, "kthreadd", 0, 2129984), (700, "bash", 1, 4194560)] {
            script = script
                .file(&format!("/proc/{pid}/stat"), &stat(pid, comm, ppid, flags))
                .file(&format!("/proc/{pid}/mountinfo"), table)
                .link(&format!("/proc/{pid}/ns/mnt"), "mnt:[4026531841]");
            for link in ["cwd", "root"] {
                script = script.answer(
                    Request::Stat(format!("/proc/{pid}/{link}")),
                    on((0, 30), true),
                );
            }
        }
        let s = scan(&Facts::of(script.file("/proc/1/mountinfo", table).host())).unwrap();
        let holders: Vec<u32> = s.holds[&(0, 30)].iter().map(|h| h.pid).collect();
        assert_eq!(holders, vec![700, 700]);
        assert!(s.procs[&2].kernel_thread);
    }
}
