//! The process table: one walk of /proc per scan, shared by every check that needs processes.

use std::collections::BTreeMap;
use std::fmt;

use crate::host::{Host, HostError};
use crate::parse::proc_stat;

/// One process, as /proc/PID/stat and its mount-namespace link show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// R, S, D, Z, T, t, X, I, …
    pub state: char,
    pub comm: String,
    /// Clock ticks after boot at which it started: with the pid, names one process for ever.
    pub start_ticks: u64,
    /// The inode of its mount namespace; `None` when the link could not be read.
    pub mnt_ns: Option<u64>,
    /// A kernel thread: no files, mappings or working directory of its own.
    pub kernel_thread: bool,
}

/// How much of the table could be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Completeness {
    /// Process directories listed under /proc.
    pub listed: usize,
    /// Processes that exited while we looked: normal, and not a gap.
    pub vanished: usize,
    /// Processes whose stat could not be read or parsed.
    pub unreadable: usize,
    /// Processes whose mount namespace could not be read (not root, or no ptrace rights).
    pub ns_unreadable: usize,
}

impl Completeness {
    /// Processes that exist and were read.
    pub fn read(&self) -> usize {
        self.listed - self.vanished - self.unreadable
    }
}

impl fmt::Display for Completeness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.listed - self.vanished;
        write!(f, "{n} process{}", if n == 1 { "" } else { "es" })?;
        if self.unreadable > 0 {
            write!(f, ", {} could not be read", self.unreadable)?;
        }
        if self.ns_unreadable > 0 {
            write!(
                f,
                ", {} without a readable mount namespace",
                self.ns_unreadable
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    pub procs: BTreeMap<u32, Process>,
    pub completeness: Completeness,
}

/// What reading one /proc/PID entry gave.
enum Seen {
    Read(Process),
    /// It exited between the listing and the read.
    Vanished,
    Unreadable,
}

fn read_one(host: &Host, pid: u32) -> Seen {
    let stat = match host.read_text(&format!("/proc/{pid}/stat")) {
        Ok(text) => proc_stat::parse(&text),
        Err(HostError::NotFound(_)) => return Seen::Vanished,
        Err(_) => None,
    };
    let Some(stat) = stat else {
        return Seen::Unreadable;
    };
    let mnt_ns = match host.read_link(&format!("/proc/{pid}/ns/mnt")) {
        Ok(link) => ns_inode(&link),
        Err(_) => None,
    };
    Seen::Read(Process {
        pid,
        ppid: stat.ppid,
        state: stat.state,
        comm: stat.comm,
        start_ticks: stat.start_ticks,
        mnt_ns,
        kernel_thread: stat.kernel_thread,
    })
}

impl ProcessTable {
    /// Walks /proc once. An empty /proc (no procfs in a `--root` tree) is an error: a table
    /// without processes says nothing about them.
    pub fn read(host: &Host) -> Result<ProcessTable, String> {
        let pids: Vec<u32> = match host.list_dir("/proc") {
            Ok(names) => names.iter().filter_map(|n| n.parse().ok()).collect(),
            Err(e) => return Err(format!("cannot list processes: {e}")),
        };
        if pids.is_empty() {
            return Err("no processes under /proc (is procfs mounted?)".into());
        }
        let mut t = ProcessTable {
            completeness: Completeness {
                listed: pids.len(),
                ..Completeness::default()
            },
            ..ProcessTable::default()
        };
        // Two reads per process, mostly kernel time: spread over a few threads.
        let parts = crate::parallel::map_parts(&pids, 64, |part| {
            part.iter()
                .map(|&pid| read_one(host, pid))
                .collect::<Vec<_>>()
        });
        for (pid, seen) in pids.iter().zip(parts.into_iter().flatten()) {
            match seen {
                Seen::Vanished => t.completeness.vanished += 1,
                Seen::Unreadable => t.completeness.unreadable += 1,
                Seen::Read(p) => {
                    // A zombie has no namespaces left (and holds nothing): not a gap.
                    if p.mnt_ns.is_none() && p.state != 'Z' {
                        t.completeness.ns_unreadable += 1;
                    }
                    t.procs.insert(*pid, p);
                }
            }
        }
        if t.procs.is_empty() {
            return Err(format!(
                "no readable /proc/PID/stat among {} process entries",
                t.completeness.listed
            ));
        }
        Ok(t)
    }

    pub fn get(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Process> {
        self.procs.values()
    }
}

/// The inode in a namespace link: `mnt:[4026531841]` → 4026531841.
pub fn ns_inode(link: &str) -> Option<u64> {
    link.split_once(":[")?.1.strip_suffix(']')?.parse().ok()
}
