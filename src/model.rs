//! What a check returns. Views, reports and fixes consume these types and nothing else.

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
    /// Replace a file's content (a cgroup control file, say). With `seen_sha256` (the sha256 of
    /// the bytes the check read), the write is refused if the file has changed since. The file
    /// keeps its mode and owner; a symlink's target is what is rewritten, and the preview says so.
    WriteFile {
        path: String,
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        seen_sha256: Option<String>,
    },
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
            Step::WriteFile { path, content, .. }
                if content.len() > 40 || content.contains('\n') =>
            {
                format!(
                    "rewrite {} ({} lines; the diff is shown before anything is written)",
                    esc(path),
                    content.lines().count()
                )
            }
            Step::WriteFile { path, content, .. } => format!("write {content:?} to {}", esc(path)),
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
    /// Numbers worth graphing (zombie count, cache bytes …), exported by `--format prometheus`;
    /// in JSON an object of `name{labels}` → value.
    #[serde(serialize_with = "metrics_map")]
    pub metrics: Vec<Metric>,
    /// Rows worth a table (overlay mounts and their holders), for views that draw one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
    /// Pictures that say it faster than text (a cache against its limit), for views that draw.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub visuals: Vec<Visual>,
    pub duration_ms: f64,
    /// The check's explanation (assets/checks/ID.md), for views that show or link it.
    #[serde(skip)]
    pub explanation: &'static str,
}

impl CheckResult {
    /// The first paragraph of the explanation, as one line: what the check does.
    pub fn gist(&self) -> String {
        self.explanation
            .split("\n\n")
            .map(str::trim)
            .find(|p| !p.is_empty() && !p.starts_with('#'))
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    /// Where the explanation is published: the file it is built from, in the repository named in
    /// Cargo.toml, so code-scanning views can link to it.
    pub fn help_uri(&self) -> String {
        format!(
            "{}/blob/main/assets/checks/{}.md",
            env!("CARGO_PKG_REPOSITORY"),
            self.id
        )
    }
}

/// The strings of a result that a report shows, for redaction: plain text, and file contents
/// beside the path they are written to.
pub struct Texts<'a> {
    pub plain: Vec<&'a mut String>,
    pub files: Vec<(String, &'a mut String)>,
}

impl CheckResult {
    /// Every string of the result but its id, title and area (the check's own constants) and the
    /// hashes that guard a rewrite.
    pub fn texts_mut<'a>(&'a mut self, out: &mut Texts<'a>) {
        let plain = &mut out.plain;
        plain.push(&mut self.summary);
        for e in &mut self.evidence {
            plain.extend([&mut e.source, &mut e.excerpt]);
            plain.extend(e.location.as_mut().map(|l| &mut l.file));
        }
        for f in &mut self.fixes {
            plain.extend([&mut f.id, &mut f.title]);
            for step in &mut f.steps {
                match step {
                    Step::Exec { argv } => plain.extend(argv.iter_mut()),
                    Step::WriteFile { path, content, .. } | Step::AppendFile { path, content } => {
                        out.files.push((path.clone(), content));
                        plain.push(path);
                    }
                    Step::Signal { comm, signal, .. } => plain.extend([comm, signal]),
                    Step::Mount {
                        source,
                        target,
                        fstype,
                        options,
                    } => plain.extend([source, target, fstype, options]),
                    Step::Unmount { path, .. } => plain.push(path),
                    Step::Manual { instruction } => plain.push(instruction),
                }
            }
        }
        for m in &mut self.metrics {
            plain.extend(m.labels.iter_mut().map(|(_, v)| v));
        }
        if let Some(t) = &mut self.table {
            plain.extend(t.columns.iter_mut());
            plain.extend(t.rows.iter_mut().flatten());
            plain.extend(t.row_fixes.iter_mut().flatten());
        }
        for v in &mut self.visuals {
            match v {
                Visual::Gauge { label, .. } => plain.push(label),
                Visual::Bars { title, bars, .. } => {
                    plain.push(title);
                    plain.extend(bars.iter_mut().map(|(name, _)| name));
                }
            }
        }
    }
}

/// A number a check measured, with what a dashboard needs to show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// Without the `container_doctor_` prefix: `overlay_mounts`.
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
    /// One sentence for Prometheus' `# HELP`.
    pub help: &'static str,
    pub unit: Unit,
    pub value: f64,
}

impl Metric {
    /// `name{label="value",…}` as the Prometheus text format writes it.
    pub fn key(&self) -> String {
        if self.labels.is_empty() {
            return self.name.to_string();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", prometheus_label(v)))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }

    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A label value escaped for the Prometheus text format.
pub fn prometheus_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn metrics_map<S: serde::Serializer>(metrics: &[Metric], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(metrics.len()))?;
    for m in metrics {
        map.serialize_entry(&m.key(), &m.value)?;
    }
    map.end()
}

/// What a number counts, so views can format it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Count,
    /// Bytes, shown in BuildKit's binary units.
    Bytes,
    Milliseconds,
}

/// A picture of part of a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Visual {
    /// `value` against `limit` (a cache against its GC limit); over the limit is bad.
    Gauge {
        label: String,
        value: f64,
        limit: f64,
        unit: Unit,
    },
    /// Values by category (cache bytes by record type).
    Bars {
        title: String,
        unit: Unit,
        bars: Vec<(String, f64)>,
    },
}

/// A table of findings: column names, rows of cells, and each row's own fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    /// Columns holding paths: views shorten them in the middle, where they are least telling.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path_columns: Vec<usize>,
    pub rows: Vec<Vec<String>>,
    /// For each row, the ids of the fixes (in `fixes`) that act on it; may be shorter than rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub row_fixes: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[&str]) -> Self {
        Table {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            path_columns: Vec::new(),
            rows: Vec::new(),
            row_fixes: Vec::new(),
        }
    }

    /// Adds a row and the ids of the fixes that act on it.
    pub fn row(&mut self, cells: Vec<String>, fixes: Vec<String>) {
        self.rows.push(cells);
        self.row_fixes.resize(self.rows.len() - 1, Vec::new());
        self.row_fixes.push(fixes);
    }

    /// The fix ids of row `i`.
    pub fn fixes_of(&self, i: usize) -> &[String] {
        self.row_fixes.get(i).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// What a check function produces; the runner adds id, title and duration.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub fixes: Vec<FixPlan>,
    pub metrics: Vec<Metric>,
    pub table: Option<Table>,
    pub visuals: Vec<Visual>,
}

impl Outcome {
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        Outcome {
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            fixes: Vec::new(),
            metrics: Vec::new(),
            table: None,
            visuals: Vec::new(),
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

    /// A count for dashboards and `--format prometheus`.
    pub fn count(&mut self, name: &'static str, help: &'static str, value: f64) {
        self.measure(name, &[], help, Unit::Count, value);
    }

    /// A number with labels and a unit.
    pub fn measure(
        &mut self,
        name: &'static str,
        labels: &[(&'static str, &str)],
        help: &'static str,
        unit: Unit,
        value: f64,
    ) {
        self.metrics.push(Metric {
            name,
            labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            help,
            unit,
            value,
        });
    }

    pub fn push_fix(&mut self, plan: FixPlan) {
        self.fixes.push(plan);
    }

    pub fn fix(mut self, plan: FixPlan) -> Self {
        self.fixes.push(plan);
        self
    }
}
