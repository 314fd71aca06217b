//! Support bundles: what the doctor saw, packed into one tar.gz with secrets removed, that
//! `--from-bundle` replays elsewhere to the same verdicts.
//!
//! Layout: manifest.json (versions, time, host, command line, options, the other files' sha256),
//! report.json (the `--format json` report) and records.json (every request the Host served and
//! its answer). Reading one never writes anything to disk.

pub mod redact;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checks::{self, Options};
use crate::facts::Facts;
use crate::host::{Host, Record, Replay, SourceKind};
use crate::report::{FailOn, Report, json};
use crate::summary::HostSummary;

/// Bumped when a bundle holds what older doctors cannot read; bundles up to it are replayed.
/// 2: records may hold `connect` and `libpod_db` requests and command outputs marked
/// `remembered`, which a schema-1 doctor would fail to read instead of saying it is too old.
pub const SCHEMA_VERSION: u32 = 2;
/// The largest bundle accepted for replay, packed and unpacked.
const MAX_PACKED: u64 = 512 << 20;
const MAX_UNPACKED: u64 = 160 << 20;
/// What `CONTAINER_DOCTOR_TEST_UNREDACTED` plants after redaction: for the test of the final scan.
const TEST_HOOK: &str = "CONTAINER_DOCTOR_TEST_UNREDACTED";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub tool: String,
    pub version: String,
    pub created: String,
    pub host: HostSummary,
    pub command_line: Vec<String>,
    pub source: SourceKind,
    pub euid: u32,
    pub dockerfiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile_target: Option<String>,
    /// `--kernel-config PATH`: a replay grades the same file (recorded with the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_config: Option<String>,
    pub active: bool,
    pub require: Vec<String>,
    pub redacted: usize,
    /// Redactions by kind ("environment value", "GitHub token" …): never the values.
    #[serde(default)]
    pub redactions: BTreeMap<String, usize>,
    pub anonymized: bool,
    /// What `--include-dir` left out, and why (symlinks, special files, the caps).
    #[serde(default)]
    pub left_out: Vec<String>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

pub struct ExportOptions {
    pub output: Option<PathBuf>,
    /// `--root DIR`: package what was examined there, not this machine.
    pub root: Option<PathBuf>,
    pub include_dirs: Vec<PathBuf>,
    pub exclude: Vec<String>,
    pub anonymize: bool,
    pub max_bytes: u64,
}

/// Collects, redacts, writes, reads back and scans; returns where the bundle went.
pub fn export(
    opts: &Options,
    ex: &ExportOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, String> {
    // The one Host that keeps what it served: that record is the bundle.
    let facts = std::sync::Arc::new(Facts::of(
        match &ex.root {
            Some(dir) => Host::new(Box::new(crate::host::Rooted::new(dir.clone())?)),
            None => Host::live(),
        }
        .recording(true),
    ));
    let host = facts.host().clone();
    progress("running the checks");
    let selected: Vec<&'static checks::Check> = checks::ALL.to_vec();
    let start = std::time::Instant::now();
    let results = checks::run(&selected, &facts, opts, |_| ());
    let summary = HostSummary::gather(&facts);
    let mut report = Report::new(
        summary.clone(),
        results,
        FailOn::Error,
        start.elapsed().as_secs_f64() * 1000.0,
    );
    progress("collecting processes, logs and included files");
    let left_out = collect_extras(&host, ex);

    let mut records = host.records();
    let mut tally = crate::secrets::Tally::default();
    for r in records.iter_mut() {
        tally.merge(&redact::record(r));
    }
    tally.merge(&report.redact());
    let mut report_json = json::render(&report);
    let mut summary = summary;
    if ex.anonymize {
        let users = users(&host);
        let hosts: Vec<String> = summary.hostname.iter().cloned().collect();
        let mut anon = redact::Anonymizer::new(&hosts, &users);
        records.iter_mut().for_each(|r| anon.record(r));
        report_json = anon.text(&report_json);
        summary.hostname = summary.hostname.as_ref().map(|h| anon.text(h));
    }
    if let Ok(planted) = std::env::var(TEST_HOOK) {
        records.push(Record {
            request: crate::host::Request::Read("/test/planted".into()),
            answer: Ok(crate::host::Answer::Bytes(planted.into_bytes())),
            duration_us: 0,
        });
    }
    let records_json = serde_json::to_string_pretty(&records).map_err(|e| e.to_string())?;
    let files: Vec<(&str, &str)> = vec![
        ("report.json", &report_json),
        ("records.json", &records_json),
    ];
    let total: u64 = files.iter().map(|(_, t)| t.len() as u64).sum();
    if total > ex.max_bytes {
        return Err(format!(
            "the bundle would hold {} MB, over the {} MB cap (--max-size); leave out directories with --exclude",
            total / 1_000_000,
            ex.max_bytes / 1_000_000
        ));
    }
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        tool: env!("CARGO_PKG_NAME").into(),
        version: env!("CARGO_PKG_VERSION").into(),
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        host: summary.clone(),
        command_line: {
            let argv: Vec<String> = std::env::args().collect();
            let (kept, n) = crate::secrets::redact_argv(&argv);
            tally.merge(&n);
            kept
        },
        source: host.kind(),
        euid: host.euid(),
        dockerfiles: opts.dockerfiles.clone(),
        dockerfile_target: opts.dockerfile_target.clone(),
        kernel_config: opts.kernel_config.clone(),
        active: opts.active,
        require: opts.require.clone(),
        redacted: tally.total(),
        redactions: tally.0.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        anonymized: ex.anonymize,
        left_out,
        files: files
            .iter()
            .map(|(name, text)| FileEntry {
                name: name.to_string(),
                sha256: hex(&Sha256::digest(text.as_bytes())),
                bytes: text.len() as u64,
            })
            .collect(),
    };
    let manifest_json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;

    let target = ex.output.clone().unwrap_or_else(|| default_name(&summary));
    if target.symlink_metadata().is_ok() {
        return Err(format!(
            "{}: already exists; not overwritten",
            target.display()
        ));
    }
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".container-doctor-bundle-{}.tmp",
        std::process::id()
    ));
    progress("writing the archive");
    let written = write_archive(
        &tmp,
        &[
            ("manifest.json", &manifest_json),
            ("report.json", &report_json),
            ("records.json", &records_json),
        ],
    );
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    progress("scanning the archive for secrets");
    let places = scan(&tmp);
    if !places.is_empty() {
        let _ = fs::remove_file(&tmp);
        return Err(format!(
            "refused: secret-looking content survived redaction, so the bundle was deleted:\n  {}",
            places.join("\n  ")
        ));
    }
    // A hard link never replaces an existing file and never follows a symlink at the target.
    let linked = fs::hard_link(&tmp, &target).map_err(|e| format!("{}: {e}", target.display()));
    let _ = fs::remove_file(&tmp);
    linked.map(|_| target)
}

fn default_name(summary: &HostSummary) -> PathBuf {
    PathBuf::from(format!("{}.tar.gz", name_stem(summary.hostname.as_deref())))
}

/// `container-doctor-HOST-TIME`: the host name reduced to safe characters, the time in UTC.
pub fn name_stem(host: Option<&str>) -> String {
    let host: String = host
        .unwrap_or("host")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    format!("container-doctor-{host}-{time}")
}

/// `--include-dir` bounds: files, bytes and time.
const INCLUDE_MAX_FILES: usize = 10_000;
const INCLUDE_MAX_BYTES: u64 = 64 << 20;
const INCLUDE_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// Process command lines and environments (redacted later), engine logs, and --include-dir files:
/// all read through the Host, so they land in its record like everything else. Returns what the
/// include walk left out.
fn collect_extras(host: &Host, ex: &ExportOptions) -> Vec<String> {
    for pid in host
        .list_dir("/proc")
        .unwrap_or_default()
        .iter()
        .filter(|n| n.parse::<u32>().is_ok())
    {
        let _ = host.read(&format!("/proc/{pid}/cmdline"));
        let _ = host.read(&format!("/proc/{pid}/environ"));
    }
    if host.is_live() {
        let journal = [
            "journalctl",
            "--no-pager",
            "-n",
            "300",
            "-u",
            "docker",
            "-u",
            "containerd",
            "-u",
            "buildkit",
        ];
        let _ = host.run(&journal, crate::host::DEFAULT_TIMEOUT);
    }
    let excluded: Vec<glob::Pattern> = ex
        .exclude
        .iter()
        .filter_map(|g| glob::Pattern::new(g).ok())
        .collect();
    let mut left_out = Vec::new();
    let mut budget = IncludeBudget {
        files: 0,
        bytes: 0,
        start: std::time::Instant::now(),
        stopped: None,
    };
    for dir in &ex.include_dirs {
        include_dir(host, dir, &excluded, &mut budget, &mut left_out);
    }
    if let Some(why) = budget.stopped {
        left_out.push(why);
    }
    left_out
}

struct IncludeBudget {
    files: usize,
    bytes: u64,
    start: std::time::Instant,
    stopped: Option<String>,
}

impl IncludeBudget {
    /// Time left for the walk; past it, the walk stops and says so.
    fn remaining(&mut self) -> Option<std::time::Duration> {
        let left = INCLUDE_MAX_TIME.checked_sub(self.start.elapsed());
        if left.is_none() && self.stopped.is_none() {
            self.stopped = Some(format!(
                "--include-dir: stopped after {} s; the rest was left out",
                INCLUDE_MAX_TIME.as_secs()
            ));
        }
        left.filter(|_| self.stopped.is_none())
    }
}

/// Walks one `--include-dir` without ever following a symlink (so it never leaves the directory
/// and never loops), skipping FIFOs, sockets and devices, within the budget. Directories on a
/// network or FUSE filesystem (or mounted inside the walk) are listed by a helper process the
/// doctor abandons when the budget's time runs out, so a hung server costs time, never a hang.
/// Files are read through the Host (non-blocking, capped) as this machine's files.
fn include_dir(
    host: &Host,
    dir: &Path,
    excluded: &[glob::Pattern],
    budget: &mut IncludeBudget,
    left_out: &mut Vec<String>,
) {
    use crate::host::helper::{self, Kind, Listing};
    use std::os::unix::ffi::OsStrExt;
    let shown = |p: &Path| redact::text(&crate::escape::escape_control(&p.to_string_lossy())).0;
    let Some(time) = budget.remaining() else {
        return;
    };
    let top = match helper::list(dir, time.min(helper::READ_TIMEOUT)) {
        Ok(l) if l.this.kind == Kind::Dir => l,
        Ok(_) => {
            left_out.push(format!(
                "{}: not a directory (symlinks are not followed)",
                shown(dir)
            ));
            return;
        }
        Err(e) => {
            left_out.push(format!("{}: {e}", shown(dir)));
            return;
        }
    };
    let mut seen: HashSet<(u64, u64)> = HashSet::from([(top.this.dev, top.this.ino)]);
    let mut stack: Vec<(PathBuf, Listing)> = vec![(dir.to_path_buf(), top)];
    while let Some((d, listing)) = stack.pop() {
        if listing.truncated {
            left_out.push(format!(
                "{}: too many entries; the rest was left out",
                shown(&d)
            ));
        }
        for e in listing.entries {
            let Some(time) = budget.remaining() else {
                return;
            };
            let path = d.join(std::ffi::OsStr::from_bytes(&e.name));
            if excluded.iter().any(|g| g.matches_path(&path)) {
                continue;
            }
            // A directory is listed when it is reached; a remote mount point even to learn
            // what it is.
            let (e, sub) = if matches!(e.kind, Kind::Dir | Kind::Remote) {
                match helper::list(&path, time.min(helper::READ_TIMEOUT)) {
                    Ok(l) => (l.this.clone(), Some(l)),
                    Err(err) => {
                        left_out.push(format!("{}: cannot be listed: {err}", shown(&path)));
                        continue;
                    }
                }
            } else {
                (e, None)
            };
            match (e.kind, sub) {
                (Kind::Symlink, _) => {
                    left_out.push(format!("{}: a symlink, not followed", shown(&path)));
                }
                (Kind::Dir, Some(sub)) => {
                    if seen.insert((e.dev, e.ino)) {
                        stack.push((path, sub));
                    } else {
                        left_out.push(format!("{}: already included (a loop)", shown(&path)));
                    }
                }
                (Kind::File, _) if budget.files >= INCLUDE_MAX_FILES => {
                    budget.stopped = Some(format!(
                        "--include-dir: {INCLUDE_MAX_FILES} files included; the rest was left out"
                    ));
                    return;
                }
                (Kind::File, _) if budget.bytes + e.len > INCLUDE_MAX_BYTES => {
                    left_out.push(format!(
                        "{}: {} bytes, over the {} MB left for included files",
                        shown(&path),
                        e.len,
                        INCLUDE_MAX_BYTES >> 20
                    ));
                }
                (Kind::File, _) => {
                    budget.files += 1;
                    budget.bytes += e.len;
                    let _ = host.read_included(&path.to_string_lossy());
                }
                _ => left_out.push(format!("{}: not a regular file", shown(&path))),
            }
        }
    }
}

/// Login names of people (uid ≥ 1000) from /etc/passwd, for --anonymize.
fn users(host: &Host) -> Vec<String> {
    host.read_text("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let uid: u32 = f.get(2)?.parse().ok()?;
            (1000..65534).contains(&uid).then(|| f[0].to_string())
        })
        .collect()
}

fn write_archive(path: &Path, entries: &[(&str, &str)]) -> Result<(), String> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    for (name, text) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, name, text.as_bytes())
            .map_err(|e| format!("{name}: {e}"))?;
    }
    let gz = tar.into_inner().map_err(|e| e.to_string())?;
    let mut file = gz.finish().map_err(|e| e.to_string())?;
    file.flush()
        .and_then(|_| file.sync_all())
        .map_err(|e| e.to_string())
}

/// The places (entry and what it is, never the value) where secret-looking content remains:
/// every entry's name, every string of every JSON document decoded, every record's request and
/// answer, and the raw text of each entry through the detectors that need no context.
fn scan(path: &Path) -> Vec<String> {
    let raw = match read_entries(path) {
        Ok(e) => e,
        Err(e) => return vec![format!("the archive cannot be read back: {e}")],
    };
    let mut places = Vec::new();
    for (name, text) in &raw {
        for kind in crate::secrets::findings(name) {
            places.push(format!("entry name ({kind})"));
        }
        for kind in crate::secrets::findings_strict(text) {
            places.push(format!("{name}: {kind}"));
        }
        if name == "records.json" {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => {
                for kind in json_findings(&v) {
                    places.push(format!("{name}: {kind}"));
                }
            }
            Err(_) => places.push(format!("{name}: not JSON")),
        }
    }
    let records = raw
        .iter()
        .find(|(n, _)| n == "records.json")
        .map(|(_, t)| parse_records(t));
    match records {
        Some(Ok(records)) => {
            // A record still holds a secret when redacting it again would change it: the scan
            // and the redaction use the same rules by construction.
            for r in &records {
                let mut again = r.clone();
                let kinds = redact::record(&mut again);
                for kind in kinds.0.keys() {
                    let request = serde_json::to_string(&again.request).unwrap_or_default();
                    places.push(format!("records.json: {request} ({kind})"));
                }
            }
        }
        Some(Err(e)) => places.push(format!("records.json: {e}")),
        None => places.push("records.json missing".into()),
    }
    places
}

/// Findings in every key and string of a JSON document, decoded.
fn json_findings(v: &serde_json::Value) -> Vec<&'static str> {
    use serde_json::Value;
    match v {
        Value::String(s) => crate::secrets::findings(s),
        Value::Array(a) => a.iter().flat_map(json_findings).collect(),
        Value::Object(o) => o
            .iter()
            .flat_map(|(k, v)| {
                let mut f = crate::secrets::findings(k);
                f.extend(json_findings(v));
                f
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Caps on what a bundle may hold, enforced while streaming, before anything is allocated for it.
const MAX_MANIFEST: u64 = 1 << 20;
const MAX_REPORT: u64 = 32 << 20;
const MAX_RECORDS_JSON: u64 = 64 << 20;
const MAX_RECORDS: usize = 200_000;

/// Opens a bundle for reading: a regular file only, opened without blocking (a FIFO or a device
/// is refused, never waited on).
fn open_bundle(path: &Path) -> Result<fs::File, String> {
    let shown = path.display();
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("{shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown}: not a regular file (a FIFO, device or directory is not a bundle)"
        ));
    }
    if meta.len() > MAX_PACKED {
        return Err(format!(
            "{shown}: {} bytes, larger than a bundle can be",
            meta.len()
        ));
    }
    Ok(file)
}

/// Keeps the last 1024 bytes that went through: a tar archive ends with two zero blocks.
struct Tail<R> {
    inner: R,
    tail: Vec<u8>,
    total: u64,
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.total > MAX_UNPACKED {
            return Err(std::io::Error::other(format!(
                "larger than {} MB unpacked",
                MAX_UNPACKED >> 20
            )));
        }
        self.tail.extend_from_slice(&buf[..n]);
        if self.tail.len() > 1024 {
            let cut = self.tail.len() - 1024;
            self.tail.drain(..cut);
        }
        Ok(n)
    }
}

/// The three entries of a bundle as text, each within its cap, checked for what a bundle must
/// be: no other entry, no duplicate, no path out, a whole gzip stream (CRC) and a whole tar.
fn read_entries(path: &Path) -> Result<Vec<(String, String)>, String> {
    let shown = path.display();
    let file = open_bundle(path)?;
    let mut tail = Tail {
        inner: GzDecoder::new(file),
        tail: Vec::new(),
        total: 0,
    };
    let mut out: Vec<(String, String)> = Vec::new();
    {
        let mut archive = tar::Archive::new(&mut tail);
        let entries = archive
            .entries()
            .map_err(|e| format!("{shown}: not a bundle (tar.gz): {e}"))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{shown}: corrupt or not a tar.gz: {e}"))?;
            let name = entry
                .path()
                .map_err(|e| format!("{shown}: {e}"))?
                .to_string_lossy()
                .into_owned();
            if name.contains("..") || name.starts_with('/') {
                return Err(format!("{shown}: entry {name:?} points outside the bundle"));
            }
            let cap = match name.as_str() {
                "manifest.json" => MAX_MANIFEST,
                "report.json" => MAX_REPORT,
                "records.json" => MAX_RECORDS_JSON,
                other => return Err(format!("{shown}: unexpected entry {other:?}")),
            };
            if out.iter().any(|(n, _)| *n == name) {
                return Err(format!("{shown}: entry {name:?} appears twice"));
            }
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(format!("{shown}: entry {name:?} is not a regular file"));
            }
            let declared = entry.size();
            if declared > cap {
                return Err(format!(
                    "{shown}: {name} is {declared} bytes, over its {} MB cap",
                    cap >> 20
                ));
            }
            let mut bytes = Vec::with_capacity(declared as usize);
            entry
                .take(cap + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("{shown}: {name}: {e}"))?;
            let text =
                String::from_utf8(bytes).map_err(|_| format!("{shown}: {name}: not UTF-8"))?;
            out.push((name, text));
        }
    }
    // The rest of the stream: padding to the end, then the gzip trailer (CRC and length).
    std::io::copy(&mut tail, &mut std::io::sink())
        .map_err(|e| format!("{shown}: corrupt or truncated: {e}"))?;
    if tail.tail.len() < 1024 || tail.tail.iter().any(|b| *b != 0) {
        return Err(format!("{shown}: truncated: the tar archive does not end"));
    }
    Ok(out)
}

/// records.json, refusing more records than a bundle can hold before allocating them.
fn parse_records(text: &str) -> Result<Vec<Record>, String> {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    struct Capped;
    impl<'de> Visitor<'de> for Capped {
        type Value = Vec<Record>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_RECORDS} records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Record>, A::Error> {
            let mut out = Vec::new();
            while let Some(r) = seq.next_element::<Record>()? {
                if out.len() >= MAX_RECORDS {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_RECORDS} records"
                    )));
                }
                out.push(r);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let records = (&mut de)
        .deserialize_seq(Capped)
        .map_err(|e| format!("records: {e}"))?;
    de.end().map_err(|e| format!("records: {e}"))?;
    Ok(records)
}

/// Reads a bundle into memory, refusing anything that is not exactly one: wrong or duplicate
/// entries, paths that climb out (`../`), sizes and counts past the caps (checked while
/// streaming), a broken gzip or tar, a newer schema, checksums that do not match the manifest.
pub fn read(path: &Path) -> Result<(Manifest, Vec<Record>, String), String> {
    let shown = path.display();
    let entries = read_entries(path)?;
    let get = |n: &str| {
        entries
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, t)| t.as_str())
    };
    let (Some(manifest), Some(report), Some(records)) = (
        get("manifest.json"),
        get("report.json"),
        get("records.json"),
    ) else {
        return Err(format!(
            "{shown}: not a container-doctor bundle (manifest, report or records missing)"
        ));
    };
    let version: serde_json::Value =
        serde_json::from_str(manifest).map_err(|e| format!("{shown}: manifest: {e}"))?;
    let schema = version
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if schema > SCHEMA_VERSION as u64 {
        return Err(format!(
            "{shown}: made by a newer container-doctor (bundle schema {schema}; this one reads up to {SCHEMA_VERSION})"
        ));
    }
    let manifest: Manifest =
        serde_json::from_str(manifest).map_err(|e| format!("{shown}: manifest: {e}"))?;
    for (name, text) in [("report.json", report), ("records.json", records)] {
        let want = manifest
            .files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.sha256.as_str());
        if want != Some(hex(&Sha256::digest(text.as_bytes())).as_str()) {
            return Err(format!(
                "{shown}: {name} does not match its checksum: corrupt"
            ));
        }
    }
    let records = parse_records(records).map_err(|e| format!("{shown}: {e}"))?;
    Ok((manifest, records, report.to_string()))
}

/// `bundle --list FILE`: what a bundle holds, so it can be checked before it is attached
/// anywhere: every entry with its size and checksum, what the records are, every redaction count.
pub fn list(path: &Path) -> Result<String, String> {
    use std::fmt::Write;
    let (manifest, records, _) = read(path)?;
    let esc = crate::escape::escape_control;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} (bundle schema {}, {} {}, made {})",
        esc(&path.display().to_string()),
        manifest.schema_version,
        esc(&manifest.tool),
        esc(&manifest.version),
        esc(&manifest.created)
    );
    let _ = writeln!(
        out,
        "command line: {}",
        esc(&manifest.command_line.join(" "))
    );
    let _ = writeln!(
        out,
        "anonymized: {}",
        if manifest.anonymized { "yes" } else { "no" }
    );
    let _ = writeln!(
        out,
        "
entries:"
    );
    let _ = writeln!(out, "  manifest.json");
    for f in &manifest.files {
        let _ = writeln!(
            out,
            "  {:14} {:>10} bytes  sha256 {} (verified)",
            esc(&f.name),
            f.bytes,
            esc(&f.sha256)
        );
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        let kind = serde_json::to_value(&r.request)
            .ok()
            .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
            .unwrap_or_else(|| "?".into());
        *kinds.entry(kind).or_default() += 1;
    }
    let _ = writeln!(
        out,
        "
records: {}",
        records.len()
    );
    for (k, n) in &kinds {
        let _ = writeln!(out, "  {k:12} {n}");
    }
    let _ = writeln!(
        out,
        "
redactions: {}",
        manifest.redacted
    );
    for (k, n) in &manifest.redactions {
        let _ = writeln!(out, "  {:52} {n}", esc(k));
    }
    if !manifest.left_out.is_empty() {
        let _ = writeln!(
            out,
            "
left out:"
        );
        for l in &manifest.left_out {
            let _ = writeln!(out, "  {}", esc(l));
        }
    }
    let _ = writeln!(
        out,
        "
every record, by request:"
    );
    for r in &records {
        let what = match &r.answer {
            Ok(a) => match a {
                crate::host::Answer::Bytes(b) => format!("{} bytes", b.len()),
                crate::host::Answer::Output(o) => {
                    format!("output, {} + {} bytes", o.stdout.len(), o.stderr.len())
                }
                _ => "answer".to_string(),
            },
            Err(_) => "error".into(),
        };
        let _ = writeln!(out, "  {}  ({what})", esc(&r.request.to_string()));
    }
    Ok(out)
}

/// A bundle read into memory, ready to replay as many times as the UI re-scans.
pub struct Loaded {
    path: String,
    source: SourceKind,
    euid: u32,
    records: Vec<Record>,
    /// The options it was made with, so the same checks see the same inputs.
    pub options: Options,
}

impl Loaded {
    pub fn open(path: &Path) -> Result<Loaded, String> {
        let (manifest, records, _) = read(path)?;
        Ok(Loaded {
            path: path.display().to_string(),
            options: Options {
                active: manifest.active,
                require: manifest.require.clone(),
                dockerfiles: manifest.dockerfiles.clone(),
                dockerfile_target: manifest.dockerfile_target.clone(),
                kernel_config: manifest.kernel_config.clone(),
                deadline: None,
            },
            source: manifest.source,
            euid: manifest.euid,
            records,
        })
    }

    pub fn host(&self) -> Host {
        Host::new(Box::new(Replay::new(
            self.path.clone(),
            self.source.clone(),
            self.euid,
            self.records.clone(),
        )))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
