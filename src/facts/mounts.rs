//! The mount tables of every mount namespace: a leaked overlay often lives in a namespace the
//! doctor's own table does not show (a container's, a unit's PrivateTmp, an `unshare -m` shell).

use super::Facts;
use crate::parse::mountinfo::{self, MountTable};

/// One namespace's table, read through one of its processes.
#[derive(Debug, Clone)]
pub struct NsTable {
    /// The namespace inode; `None` for the one table of a tree without namespace links.
    pub ns: Option<u64>,
    /// The process whose mountinfo was read; `None` for the doctor's own namespace (its own
    /// /proc/self/mountinfo) and for a tree's one table.
    pub pid: Option<u32>,
    pub table: MountTable,
}

#[derive(Debug, Clone, Default)]
pub struct MountNamespaces {
    /// The examined system's namespace (PID 1's; live without access to PID 1, ours).
    pub host_ns: Option<u64>,
    /// The host's table first, then the others.
    pub tables: Vec<NsTable>,
    /// Namespaces with processes whose table no process would show us.
    pub unread: usize,
    /// Processes whose namespace is unknown: their tables may be missing from `tables`.
    pub unknown_processes: usize,
}

impl MountNamespaces {
    pub(super) fn read(facts: &Facts) -> Result<MountNamespaces, String> {
        let procs = facts.processes()?;
        let mut members: std::collections::BTreeMap<u64, Vec<u32>> = Default::default();
        for p in procs.iter() {
            if let Some(ns) = p.mnt_ns {
                members.entry(ns).or_default().push(p.pid);
            }
        }
        let host_ns = procs.get(1).and_then(|p| p.mnt_ns).or_else(|| {
            facts
                .read_link("/proc/self/ns/mnt")
                .ok()
                .and_then(|l| super::ns_inode(&l))
        });
        // Our own namespace's table is the one the fact layer reads anyway (the summary's cgroup
        // mode): not read and parsed twice (a thousand overlays cost milliseconds each time).
        // It is also whole, where a chrooted member would show only what is below its root.
        let own_ns = facts
            .is_live()
            .then(|| facts.read_link("/proc/self/ns/mnt").ok())
            .flatten()
            .and_then(|l| super::ns_inode(&l));
        let mut order: Vec<u64> = members.keys().copied().collect();
        order.sort_by_key(|ns| Some(*ns) != host_ns);
        let mut out = MountNamespaces {
            host_ns,
            unknown_processes: procs.completeness.ns_unreadable,
            ..MountNamespaces::default()
        };
        for ns in order {
            if Some(ns) == own_ns
                && let Ok(table) = facts.mount_table()
            {
                out.tables.push(NsTable {
                    ns: Some(ns),
                    pid: None,
                    table: table.clone(),
                });
                continue;
            }
            let read = members[&ns].iter().find_map(|&pid| {
                let text = facts.read_text(&format!("/proc/{pid}/mountinfo")).ok()?;
                let table = mountinfo::parse(&text);
                (!table.mounts.is_empty()).then_some((pid, table))
            });
            match read {
                Some((pid, table)) => out.tables.push(NsTable {
                    ns: Some(ns),
                    pid: Some(pid),
                    table,
                }),
                None => out.unread += 1,
            }
        }
        if out.tables.is_empty() {
            // No namespace links (a tree of files under --root): the system's own table stands
            // for the host.
            let table = facts
                .mount_table()
                .map_err(|e| format!("cannot read the mount table: {e}"))?;
            out.tables.push(NsTable {
                ns: None,
                pid: None,
                table: table.clone(),
            });
        }
        Ok(out)
    }

    /// Whether every namespace's table was read.
    pub fn complete(&self) -> bool {
        self.unread == 0 && self.unknown_processes == 0
    }
}
