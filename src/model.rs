//! What a check returns. Views, reports and fixes consume these types and nothing else.

use std::collections::BTreeMap;

use serde::Serialize;

/// The verdict of one check, ordered by severity so `max()` gives the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Skipped,
    Ok,
    Unknown,
    Warn,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::Ok => "ok",
            Status::Unknown => "unknown",
            Status::Warn => "warn",
            Status::Error => "error",
        }
    }

    /// The one-character mark used by the text report.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Error => "✗",
            Status::Unknown => "?",
            Status::Skipped => "-",
        }
    }
}

/// One fact that decided a verdict: where it came from and the excerpt that mattered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// A path (`/proc/version`), an argv (`criu --version`), or a probe (`syscall pidfd_open`).
    pub source: String,
    pub excerpt: String,
    /// A line in a user's file this finding is about (a Dockerfile), for code-scanning views.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A line of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl Evidence {
    pub fn new(source: impl Into<String>, excerpt: impl Into<String>) -> Self {
        Evidence {
            source: source.into(),
            excerpt: excerpt.into(),
            location: None,
        }
    }
}

/// How much a fix can disturb: what the user must confirm before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Safe,
    Disruptive,
    Destructive,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Safe => "safe",
            Risk::Disruptive => "disruptive",
            Risk::Destructive => "destructive",
        }
    }
}

/// One step of a fix plan. Plans are data: nothing here runs anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Execute this argv directly (never through a shell).
    Exec { argv: Vec<String> },
    /// Replace a file's content (a cgroup control file, say).
    WriteFile { path: String, content: String },
    /// Append these lines to a file (shown to the user as a diff before it happens).
    AppendFile { path: String, content: String },
    /// Send a signal to one process, through a pidfd; `start_ticks` (its start time) proves the
    /// pid still names the process that was shown. With `then_kill_after_ms`, SIGKILL follows if
    /// it has not exited by then.
    Signal {
        pid: u32,
        start_ticks: u64,
        comm: String,
        signal: String,
        then_kill_after_ms: u64,
    },
    /// mount(2) a filesystem: `mount -t fstype -o options source target`, as a syscall.
    Mount {
        source: String,
        target: String,
        fstype: String,
        options: String,
    },
    /// umount2(2); `lazy` is MNT_DETACH. With `mount_id`, only that mount is unmounted (its
    /// mount point's real bytes come from mountinfo, so a non-UTF-8 path is unmounted exactly);
    /// with `namespace`, it is unmounted inside that mount namespace and nowhere else.
    Unmount {
        path: String,
        lazy: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        mount_id: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<MountNs>,
    },
    /// Something only a person can do (reboot, edit a boot loader entry); shown, never run.
    Manual { instruction: String },
}

impl Step {
    /// Exactly what the step does, in one line: argv quoted, paths escaped.
    pub fn describe(&self) -> String {
        let esc = crate::parse::mountinfo::escape;
        match self {
            Step::Exec { argv } => format!(
                "exec {}",
                argv.iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Step::WriteFile { path, content } if content.len() > 40 || content.contains('\n') => {
                format!(
                    "rewrite {} ({} lines; the diff is shown before anything is written)",
                    esc(path),
                    content.lines().count()
                )
            }
            Step::WriteFile { path, content } => format!("write {content:?} to {}", esc(path)),
            Step::AppendFile { path, content } => {
                format!("append to {}: {}", esc(path), content.trim_end())
            }
            Step::Signal {
                pid,
                comm,
                signal,
                then_kill_after_ms,
                ..
            } => {
                format!(
                    "SIG{signal} to pid {pid} ({comm}) through a pidfd, SIGKILL after {then_kill_after_ms} ms"
                )
            }
            Step::Mount {
                source,
                target,
                fstype,
                options,
            } => {
                format!(
                    "mount -t {fstype} -o {options} {source} {} (syscall)",
                    esc(target)
                )
            }
            Step::Unmount {
                path,
                lazy,
                namespace,
                ..
            } => {
                let place = match namespace {
                    Some(ns) => format!(
                        " in mount namespace mnt:[{}], entered through pid {}",
                        ns.inode, ns.pid
                    ),
                    None => String::new(),
                };
                format!(
                    "umount2({}{}) (syscall){place}",
                    esc(path),
                    if *lazy { ", MNT_DETACH" } else { "" }
                )
            }
            Step::Manual { instruction } => format!("by hand: {instruction}"),
        }
    }
}

/// A mount namespace, named by its inode (`mnt:[4026532254]`), and a process in it (with its start
/// time, so a reused pid is never taken for it) through which the fix enters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MountNs {
    pub inode: u64,
    pub pid: u32,
    pub start_ticks: u64,
}

/// A fix described as data; applying it is the job of the fix executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixPlan {
    pub id: String,
    pub title: String,
    pub risk: Risk,
    pub needs_root: bool,
    pub steps: Vec<Step>,
}

/// The outcome of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub title: &'static str,
    pub area: &'static str,
    pub status: Status,
    /// One line; for `unknown` it carries the reason.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub fixes: Vec<FixPlan>,
    /// Numbers worth graphing (zombie count, cache bytes …), exported by `--format prometheus`.
    pub metrics: BTreeMap<String, f64>,
    /// Rows worth a table (overlay mounts and their holders), for views that draw one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
    pub duration_ms: f64,
}

/// A small table of findings: column names and rows of cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// What a check function produces; the runner adds id, title and duration.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub fixes: Vec<FixPlan>,
    pub metrics: BTreeMap<String, f64>,
    pub table: Option<Table>,
}

impl Outcome {
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        Outcome {
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            fixes: Vec::new(),
            metrics: BTreeMap::new(),
            table: None,
        }
    }

    /// `unknown`, which always says why.
    pub fn unknown(reason: impl Into<String>) -> Self {
        Outcome::new(Status::Unknown, reason)
    }

    pub fn evidence(mut self, source: impl Into<String>, excerpt: impl Into<String>) -> Self {
        self.evidence.push(Evidence::new(source, excerpt));
        self
    }

    /// Adds evidence in place, for code that builds an outcome step by step.
    pub fn push(&mut self, source: impl Into<String>, excerpt: impl Into<String>) {
        self.evidence.push(Evidence::new(source, excerpt));
    }

    /// Adds evidence about a line of a file.
    pub fn push_at(&mut self, file: &str, line: usize, excerpt: impl Into<String>) {
        self.evidence.push(Evidence {
            source: format!("{file}:{line}"),
            excerpt: excerpt.into(),
            location: Some(Location {
                file: file.to_string(),
                line,
            }),
        });
    }

    /// A number for `--format prometheus`: `name` may carry labels (`cache_bytes{builder="docker"}`).
    pub fn metric(&mut self, name: impl Into<String>, value: f64) {
        self.metrics.insert(name.into(), value);
    }

    pub fn push_fix(&mut self, plan: FixPlan) {
        self.fixes.push(plan);
    }

    pub fn fix(mut self, plan: FixPlan) -> Self {
        self.fixes.push(plan);
        self
    }
}
