//! The Host: the only door to the system. Checks ask it for files, listings, statfs, live
//! probes and command output; it serves them from a source and records everything it served,
//! so that a run can later be saved and replayed to the same verdicts.

mod command;
mod disk;
mod docker;
mod freezer_probe;
pub mod helper;
mod in_flight;
mod live;
mod own_mounts;
mod replay;
mod rooted;
#[cfg(test)]
mod scripted;
mod version_cache;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use in_flight::InFlight;

use serde::{Deserialize, Serialize};

pub use command::{CommandOutput, run as run_command};
pub use docker::DockerCall;
pub use freezer_probe::{FREEZE_TIMEOUT, FreezerProbe, FreezerVersion};
pub use live::Live;
pub use replay::Replay;
pub use rooted::Rooted;
#[cfg(test)]
pub use scripted::Script;

pub use crate::parse::libpod::Database as LibpodDb;
pub use crate::parse::proc_maps::Mapping;
pub use crate::sys::{PidfdProbe, SyscallOutcome};

/// Largest file the Host will serve; anything bigger is refused rather than read into memory.
pub const MAX_FILE_BYTES: usize = 16 << 20;
/// Where the Docker engine listens unless DOCKER_HOST says otherwise.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Default time limit for external commands.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a fact could not be had. Checks turn these into `unknown` with the message as reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum HostError {
    #[error("{0}: not found")]
    NotFound(String),
    #[error("{0}: permission denied (needs root)")]
    PermissionDenied(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}: larger than {max} bytes", max = MAX_FILE_BYTES)]
    TooLarge(String),
    #[error("{0}: timed out after {1} s")]
    Timeout(String, u64),
    #[error("{0}")]
    Io(String),
}

impl HostError {
    /// The text it carries (a path, a command): what a bundle's redaction rewrites.
    pub fn text_mut(&mut self) -> &mut String {
        match self {
            HostError::NotFound(s)
            | HostError::PermissionDenied(s)
            | HostError::Unsupported(s)
            | HostError::TooLarge(s)
            | HostError::Io(s)
            | HostError::Timeout(s, _) => s,
        }
    }

    pub(crate) fn from_io(what: &str, e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => HostError::NotFound(what.to_string()),
            std::io::ErrorKind::PermissionDenied => HostError::PermissionDenied(what.to_string()),
            _ => match e.raw_os_error() {
                // A process that exits while we read it: as good as not found.
                Some(libc::ESRCH) => HostError::NotFound(what.to_string()),
                _ => HostError::Io(format!("{what}: {e}")),
            },
        }
    }
}

/// Where the facts come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum SourceKind {
    Live,
    Root(PathBuf),
}

/// A provider of facts. Paths are absolute paths on the examined host.
pub trait Source: Send + Sync {
    fn kind(&self) -> SourceKind;
    fn read(&self, path: &str) -> Result<Vec<u8>, HostError>;
    fn list_dir(&self, path: &str) -> Result<Vec<String>, HostError>;
    fn read_link(&self, path: &str) -> Result<String, HostError>;
    /// A file named by the user (a Dockerfile): always this machine's path, even under `--root`.
    fn read_local(&self, path: &str) -> Result<Vec<u8>, HostError>;
    /// Names of the subdirectories of `path` (not following symlinks).
    fn subdirs(&self, path: &str) -> Result<Vec<String>, HostError>;
    fn stat(&self, path: &str) -> Result<Meta, HostError>;
    /// Every entry of a directory with what stat(2) says of it through its link: a process's
    /// open files in one request, where a listing and a stat per file would be many.
    fn stat_entries(&self, path: &str) -> Result<Vec<Entry>, HostError> {
        stat_each(self, path)
    }
    fn statfs_magic(&self, path: &str) -> Result<u64, HostError>;
    /// Size and free space of the filesystem holding `path`.
    fn disk_stat(&self, path: &str) -> Result<DiskStat, HostError>;
    /// What `du -s` would say of a directory tree (bounded in entries and time).
    fn dir_size(&self, path: &str) -> Result<DirSize, HostError>;
    fn env(&self, name: &str) -> Result<Option<String>, HostError>;
    fn run(&self, argv: &[String], timeout: Duration) -> Result<CommandOutput, HostError>;
    /// `path --version`: a source may answer from what an unchanged binary printed before.
    fn run_version(&self, path: &str, timeout: Duration) -> Result<CommandOutput, HostError> {
        self.run(&[path.to_string(), "--version".to_string()], timeout)
    }
    /// One Docker Engine API call, answered with the API's JSON.
    fn docker(&self, call: &DockerCall) -> Result<serde_json::Value, HostError>;
    /// Connects to a unix socket and hangs up: whether an engine we do not speak to (containerd,
    /// buildkitd) answers there, refuses us (EACCES) or is not there, in the OS's own words.
    fn connect(&self, socket: &str) -> Result<(), HostError>;
    fn probe_pidfd(&self) -> Result<PidfdProbe, HostError>;
    /// Freezes a scratch cgroup under `dir` holding one sleeping process, then removes it all.
    fn probe_freezer(&self, version: FreezerVersion, dir: &str) -> Result<FreezerProbe, HostError>;
    /// A regular file found by walking a directory the user named (`--include-dir`): read in a
    /// helper only where its filesystem may hang (one process per file would cost thousands).
    fn read_included(&self, path: &str) -> Result<Vec<u8>, HostError> {
        self.read_local(path)
    }
    /// The distinct file mappings of a /proc/PID/maps file, read line by line (a maps file can be
    /// tens of megabytes; only this summary is kept, and recorded).
    fn mapped_files(&self, path: &str) -> Result<Vec<Mapping>, HostError> {
        self.read(path)
            .map(|b| crate::parse::proc_maps::mappings(&String::from_utf8_lossy(&b)))
    }
    /// What libpod's BoltDB file says of its containers: only this summary is kept, never the
    /// file, which holds every container's environment and command line.
    fn libpod_db(&self, path: &str) -> Result<LibpodDb, HostError>;
    /// Today's date, `YYYY-MM-DD` (UTC), from the clock: the examined tree's date is ours.
    fn today(&self) -> Result<Day, HostError> {
        Ok(Day::by_the_clock())
    }
    /// The effective uid the doctor runs with (decides what it may read).
    fn euid(&self) -> u32;
    /// The bundle this source replays, if it replays one.
    fn replayed_from(&self) -> Option<String> {
        None
    }
}

/// [`Source::stat_entries`] as a listing and a stat of each entry.
fn stat_each(source: &(impl Source + ?Sized), path: &str) -> Result<Vec<Entry>, HostError> {
    Ok(source
        .list_dir(path)?
        .into_iter()
        .map(|name| {
            let meta = source.stat(&format!("{path}/{name}"));
            Entry { name, meta }
        })
        .collect())
}

/// What was asked of the Host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", content = "arg", rename_all = "snake_case")]
pub enum Request {
    Read(String),
    ReadLocal(String),
    /// The files mapped in a /proc/PID/maps (its distinct paths, not the whole file).
    MappedFiles(String),
    /// libpod's BoltDB file, summarized (its containers' ids, names and states).
    LibpodDb(String),
    ListDir(String),
    ReadLink(String),
    Subdirs(String),
    Stat(String),
    /// A directory's entries, each with its stat (a process's fd directory).
    StatEntries(String),
    Statfs(String),
    DiskStat(String),
    DirSize(String),
    Env(String),
    Run(Vec<String>),
    Docker(DockerCall),
    Connect(String),
    ProbePidfd,
    ProbeFreezer(FreezerVersion, String),
    /// Today's date (UTC): rows of the known-issues table that begin on a date (an end of life).
    Today,
}

/// As a person would say it: what a check was waiting for when it ran out of time.
impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Read(p) | Request::ReadLocal(p) | Request::MappedFiles(p) => {
                write!(f, "read {p}")
            }
            Request::LibpodDb(p) => write!(f, "read libpod's database {p}"),
            Request::ListDir(p) => write!(f, "list {p}"),
            Request::ReadLink(p) => write!(f, "readlink {p}"),
            Request::Subdirs(p) => write!(f, "list the directories in {p}"),
            Request::Stat(p) => write!(f, "stat {p}"),
            Request::StatEntries(p) => write!(f, "stat each entry of {p}"),
            Request::Statfs(p) => write!(f, "statfs {p}"),
            Request::DiskStat(p) => write!(f, "statvfs {p}"),
            Request::DirSize(p) => write!(f, "disk usage of {p}"),
            Request::Env(n) => write!(f, "${n}"),
            Request::Run(argv) => write!(f, "run `{}`", argv.join(" ")),
            Request::Docker(c) => write!(f, "Docker Engine API GET {}", c.path()),
            Request::Connect(s) => write!(f, "connect to {s}"),
            Request::ProbePidfd => write!(f, "pidfd probe"),
            Request::ProbeFreezer(_, d) => write!(f, "freezer probe in {d}"),
            Request::Today => write!(f, "today's date"),
        }
    }
}

/// A date, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(pub String);

impl Day {
    pub fn by_the_clock() -> Day {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        Day(now.chars().take(10).collect())
    }

    /// Whether it is written `YYYY-MM-DD`.
    pub fn is_date(&self) -> bool {
        let b = self.0.as_bytes();
        b.len() == 10
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            })
    }
}

/// What the Host answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Answer {
    Bytes(#[serde(with = "b64")] Vec<u8>),
    Date(Day),
    Names(Vec<String>),
    Link(String),
    Meta(Meta),
    Entries(Vec<Entry>),
    Magic(u64),
    DiskStat(DiskStat),
    DirSize(DirSize),
    Env(Option<String>),
    Output(CommandOutput),
    Json(serde_json::Value),
    Pidfd(PidfdProbe),
    Freezer(FreezerProbe),
    Mappings(Vec<Mapping>),
    /// A socket accepted the connection.
    Connected,
    LibpodDb(LibpodDb),
}

/// One entry of a directory, and its stat through the entry (an fd's file, not its link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub meta: Result<Meta, HostError>,
}

/// statvfs(2) of a filesystem, in bytes (free counts blocks reserved for root, as BuildKit does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskStat {
    pub total: i64,
    pub free: i64,
    pub available: i64,
}

/// The disk usage of a directory tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirSize {
    /// Allocated bytes (st_blocks × 512), hard links counted once, as du does.
    pub bytes: i64,
    /// The files' own sizes (st_size, directories not counted, hard links once): what Docker's
    /// graphdriver reports for a layer (moby pkg/directory `Size`), where `bytes` is what
    /// containerd's snapshotters report (continuity `fs.DiskUsage`). Absent in older bundles.
    #[serde(default)]
    pub apparent: i64,
    pub entries: u64,
    /// Stopped at the entry or time limit: `bytes` is a lower bound.
    pub truncated: bool,
}

/// What stat(2) says of a path (following symlinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub is_dir: bool,
    pub is_file: bool,
    /// Permission bits.
    pub mode: u32,
    pub size: u64,
    /// The device of the filesystem holding it (major, minor), as mountinfo numbers them.
    pub dev: (u32, u32),
}

impl Meta {
    pub fn is_executable_file(&self) -> bool {
        self.is_file && self.mode & 0o111 != 0
    }
}

/// One served request: the raw material of a support bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub request: Request,
    pub answer: Result<Answer, HostError>,
    pub duration_us: u64,
}

/// The Host the checks see: a source plus the record of everything served.
pub struct Host {
    source: Box<dyn Source>,
    /// Whether what is served is kept: only while a bundle is being made, so a live scan's
    /// memory does not grow with everything it read.
    recording: bool,
    log: Mutex<Vec<Record>>,
    /// Requests being served now, by the thread that asked (named threads only): what a check
    /// is still waiting for when its deadline passes.
    in_flight: InFlight,
}

impl Host {
    pub fn new(source: Box<dyn Source>) -> Self {
        Host {
            source,
            recording: false,
            log: Mutex::new(Vec::new()),
            in_flight: InFlight::new(),
        }
    }

    /// The request the named thread has been waiting on, and for how long.
    pub fn waiting_on(&self, thread: &str) -> Option<(Request, Duration)> {
        self.in_flight.waiting_on(thread)
    }

    pub fn live() -> Self {
        Host::new(Box::new(Live::new()))
    }

    /// Keeps a record of everything served from now on (for a support bundle), or not (the
    /// default: a scan, the UI, a fix).
    pub fn recording(mut self, on: bool) -> Self {
        self.recording = on;
        self
    }

    pub fn is_recording(&self) -> bool {
        self.recording
    }

    pub fn kind(&self) -> SourceKind {
        self.source.kind()
    }

    pub fn is_live(&self) -> bool {
        self.kind() == SourceKind::Live
    }

    pub fn euid(&self) -> u32 {
        self.source.euid()
    }

    /// The bundle being replayed: nothing may be changed, and the UI says where facts come from.
    pub fn replayed_from(&self) -> Option<String> {
        self.source.replayed_from()
    }

    /// Reads a whole file (capped at [`MAX_FILE_BYTES`]).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, HostError> {
        self.serve(Request::Read(path.into()), || self.source.read(path))
    }

    pub fn read_local(&self, path: &str) -> Result<Vec<u8>, HostError> {
        self.serve(Request::ReadLocal(path.into()), || {
            self.source.read_local(path)
        })
    }

    /// A file of an `--include-dir` walk (recorded as a local read).
    pub fn read_included(&self, path: &str) -> Result<Vec<u8>, HostError> {
        self.serve(Request::ReadLocal(path.into()), || {
            self.source.read_included(path)
        })
    }

    /// Reads a file as text; invalid UTF-8 is replaced, never fatal.
    pub fn read_text(&self, path: &str) -> Result<String, HostError> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Names in a directory, sorted.
    pub fn list_dir(&self, path: &str) -> Result<Vec<String>, HostError> {
        self.serve(Request::ListDir(path.into()), || {
            self.source.list_dir(path).map(|mut names| {
                names.sort();
                names
            })
        })
    }

    /// The target of a symlink, such as `/proc/self/ns/pid` → `pid:[4026531836]`.
    pub fn read_link(&self, path: &str) -> Result<String, HostError> {
        self.serve(Request::ReadLink(path.into()), || {
            self.source.read_link(path)
        })
    }

    pub fn subdirs(&self, path: &str) -> Result<Vec<String>, HostError> {
        self.serve(Request::Subdirs(path.into()), || {
            self.source.subdirs(path).map(|mut names| {
                names.sort();
                names
            })
        })
    }

    pub fn stat(&self, path: &str) -> Result<Meta, HostError> {
        self.serve(Request::Stat(path.into()), || self.source.stat(path))
    }

    /// Every entry of a directory, in name order, each with its stat (following links).
    pub fn stat_entries(&self, path: &str) -> Result<Vec<Entry>, HostError> {
        self.serve(Request::StatEntries(path.into()), || {
            self.source.stat_entries(path).map(|mut entries| {
                entries.sort_by(|a, b| a.name.cmp(&b.name));
                entries
            })
        })
    }

    pub fn statfs_magic(&self, path: &str) -> Result<u64, HostError> {
        self.serve(Request::Statfs(path.into()), || {
            self.source.statfs_magic(path)
        })
    }

    pub fn disk_stat(&self, path: &str) -> Result<DiskStat, HostError> {
        self.serve(Request::DiskStat(path.into()), || {
            self.source.disk_stat(path)
        })
    }

    pub fn dir_size(&self, path: &str) -> Result<DirSize, HostError> {
        self.serve(Request::DirSize(path.into()), || self.source.dir_size(path))
    }

    pub fn env(&self, name: &str) -> Result<Option<String>, HostError> {
        self.serve(Request::Env(name.into()), || self.source.env(name))
    }

    /// Runs argv (never through a shell) with a timeout and capped output.
    pub fn run(&self, argv: &[&str], timeout: Duration) -> Result<CommandOutput, HostError> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        self.serve(Request::Run(argv.clone()), || {
            self.source.run(&argv, timeout)
        })
    }

    /// `path --version`, served (and recorded) as that command; live, an unchanged binary's
    /// earlier answer may stand in for running it (`CommandOutput::remembered` says so).
    pub fn run_version(&self, path: &str, timeout: Duration) -> Result<CommandOutput, HostError> {
        let argv = vec![path.to_string(), "--version".to_string()];
        self.serve(Request::Run(argv), || {
            self.source.run_version(path, timeout)
        })
    }

    pub fn docker(&self, call: DockerCall) -> Result<serde_json::Value, HostError> {
        self.serve(Request::Docker(call.clone()), || self.source.docker(&call))
    }

    /// Connects to the unix socket `socket` and hangs up at once: Ok when something listens and
    /// lets us in; `PermissionDenied` when it refuses us; `NotFound` when nothing is there.
    pub fn connect(&self, socket: &str) -> Result<(), HostError> {
        self.serve(Request::Connect(socket.into()), || {
            self.source.connect(socket)
        })
    }

    /// The containers libpod's BoltDB file at `path` knows, with their recorded states.
    pub fn libpod_db(&self, path: &str) -> Result<LibpodDb, HostError> {
        self.serve(Request::LibpodDb(path.into()), || {
            self.source.libpod_db(path)
        })
    }

    /// The distinct files a process has mapped (/proc/PID/maps, summarized while it is read).
    pub fn mapped_files(&self, path: &str) -> Result<Vec<Mapping>, HostError> {
        self.serve(Request::MappedFiles(path.into()), || {
            self.source.mapped_files(path)
        })
    }

    /// Today's date, `YYYY-MM-DD`; a replayed bundle answers with the day it was made.
    pub fn today(&self) -> Result<String, HostError> {
        self.serve(Request::Today, || self.source.today())
            .map(|d| d.0)
    }

    pub fn probe_pidfd(&self) -> Result<PidfdProbe, HostError> {
        self.serve(Request::ProbePidfd, || self.source.probe_pidfd())
    }

    pub fn probe_freezer(
        &self,
        version: FreezerVersion,
        dir: &str,
    ) -> Result<FreezerProbe, HostError> {
        self.serve(Request::ProbeFreezer(version, dir.into()), || {
            self.source.probe_freezer(version, dir)
        })
    }

    /// Everything served so far, in order (nothing unless [`Host::recording`] is on).
    pub fn records(&self) -> Vec<Record> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn serve<T: Clone + Into<Answer>>(
        &self,
        request: Request,
        f: impl FnOnce() -> Result<T, HostError>,
    ) -> Result<T, HostError> {
        let start = Instant::now();
        // The request waits in this thread's slot while it is served, and comes back for the
        // record.
        let waiting = self.in_flight.enter(request, start);
        let answer = f();
        let request = waiting.finish();
        if self.recording
            && let Some(request) = request
        {
            let record = Record {
                request,
                answer: answer.clone().map(Into::into),
                duration_us: start.elapsed().as_micros() as u64,
            };
            if let Ok(mut log) = self.log.lock() {
                log.push(record);
            }
        }
        answer
    }
}

macro_rules! answer_from {
    ($($t:ty => $v:ident),* $(,)?) => {
        $(impl From<$t> for Answer {
            fn from(x: $t) -> Self {
                Answer::$v(x)
            }
        })*
    };
}
impl From<()> for Answer {
    fn from(_: ()) -> Self {
        Answer::Connected
    }
}

answer_from!(Vec<u8> => Bytes, Vec<String> => Names, String => Link, u64 => Magic, DiskStat => DiskStat, DirSize => DirSize, Option<String> => Env,
    CommandOutput => Output, serde_json::Value => Json, PidfdProbe => Pidfd, Meta => Meta, FreezerProbe => Freezer, Vec<Mapping> => Mappings, Vec<Entry> => Entries, LibpodDb => LibpodDb, Day => Date);

/// File contents travel in a bundle's JSON as text when they are UTF-8 (so the unpacked bundle can
/// be read and searched), as base64 otherwise.
mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Repr {
        Text(String),
        Base64(String),
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(t) => Repr::Text(t.to_string()),
            Err(_) => Repr::Base64(STANDARD.encode(bytes)),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(t.into_bytes()),
            Repr::Base64(b) => STANDARD.decode(b).map_err(serde::de::Error::custom),
        }
    }
}
