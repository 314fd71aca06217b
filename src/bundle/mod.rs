//! Support bundles: what the doctor saw, packed into one tar.gz with secrets removed, that
//! `--from-bundle` replays elsewhere to the same verdicts.
//!
//! Layout: manifest.json (versions, time, host, command line, options, the other files' sha256),
//! report.json (the `--format json` report) and records.json (every request the Host served and
//! its answer). Reading one never writes anything to disk.

pub mod redact;

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

/// Bumped when the layout changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;
/// The largest bundle accepted for replay, packed and unpacked.
const MAX_PACKED: u64 = 512 << 20;
const MAX_UNPACKED: u64 = 1 << 30;
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
    pub anonymized: bool,
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
    let facts = std::sync::Arc::new(Facts::of(Host::live()));
    let host = facts.host().clone();
    progress("running the checks");
    let selected: Vec<&'static checks::Check> = checks::ALL.to_vec();
    let start = std::time::Instant::now();
    let results = checks::run(&selected, &facts, opts, |_| ());
    let summary = HostSummary::gather(&facts);
    let report = Report::new(
        summary.clone(),
        results,
        FailOn::Error,
        start.elapsed().as_secs_f64() * 1000.0,
    );
    progress("collecting processes, logs and included files");
    collect_extras(&host, ex);

    let mut records = host.records();
    let mut redacted: usize = records.iter_mut().map(redact::record).sum();
    let (mut report_json, n) = redact::text(&json::render(&report));
    redacted += n;
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
        command_line: std::env::args().map(|a| redact::text(&a).0).collect(),
        source: host.kind(),
        euid: host.euid(),
        dockerfiles: opts.dockerfiles.clone(),
        dockerfile_target: opts.dockerfile_target.clone(),
        kernel_config: opts.kernel_config.clone(),
        active: opts.active,
        require: opts.require.clone(),
        redacted,
        anonymized: ex.anonymize,
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
    let host: String = summary
        .hostname
        .as_deref()
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
    PathBuf::from(format!("container-doctor-{host}-{time}.tar.gz"))
}

/// Process command lines and environments (redacted later), engine logs, and --include-dir files:
/// all read through the Host, so they land in its record like everything else.
fn collect_extras(host: &Host, ex: &ExportOptions) {
    for pid in host
        .list_dir("/proc")
        .unwrap_or_default()
        .iter()
        .filter(|n| n.parse::<u32>().is_ok())
    {
        let _ = host.read(&format!("/proc/{pid}/cmdline"));
        let _ = host.read(&format!("/proc/{pid}/environ"));
    }
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
    let excluded: Vec<glob::Pattern> = ex
        .exclude
        .iter()
        .filter_map(|g| glob::Pattern::new(g).ok())
        .collect();
    for dir in &ex.include_dirs {
        let mut stack = vec![dir.to_string_lossy().into_owned()];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for name in host.list_dir(&d).unwrap_or_default() {
                let path = format!("{}/{name}", d.trim_end_matches('/'));
                if excluded.iter().any(|g| g.matches(&path)) {
                    continue;
                }
                if host.stat(&path).is_ok_and(|m| m.is_dir) {
                    stack.push(path);
                } else if files < 10_000 {
                    files += 1;
                    let _ = host.read(&path);
                }
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

/// The places (entry and what it is, never the value) where secret-looking content remains.
fn scan(path: &Path) -> Vec<String> {
    let (manifest, records, report) = match read(path) {
        Ok(b) => b,
        Err(e) => return vec![format!("the archive cannot be read back: {e}")],
    };
    let mut places = Vec::new();
    let manifest_text = serde_json::to_string(&manifest).unwrap_or_default();
    for (name, text) in [
        ("manifest.json", manifest_text.as_str()),
        ("report.json", report.as_str()),
    ] {
        for kind in redact::findings(text) {
            places.push(format!("{name}: {kind}"));
        }
    }
    for r in &records {
        let text = match &r.answer {
            Ok(crate::host::Answer::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            Ok(other) => serde_json::to_string(other).unwrap_or_default(),
            Err(_) => continue,
        };
        for kind in redact::findings(&text) {
            places.push(format!(
                "records.json: {} ({kind})",
                serde_json::to_string(&r.request).unwrap_or_default()
            ));
        }
    }
    places
}

/// Reads a bundle into memory, refusing anything that is not exactly one: wrong entries, paths
/// that climb out (`../`), sizes past the caps, a newer schema, checksums that do not match.
pub fn read(path: &Path) -> Result<(Manifest, Vec<Record>, String), String> {
    let shown = path.display();
    let file = fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > MAX_PACKED {
        return Err(format!(
            "{shown}: {size} bytes, larger than a bundle can be"
        ));
    }
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut manifest = None;
    let mut report = None;
    let mut records = None;
    let mut unpacked = 0u64;
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
        let mut text = String::new();
        let limit = MAX_UNPACKED - unpacked;
        entry
            .take(limit + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("{shown}: {name}: {e}"))?;
        unpacked += text.len() as u64;
        if unpacked > MAX_UNPACKED {
            return Err(format!(
                "{shown}: larger than {} MB unpacked",
                MAX_UNPACKED >> 20
            ));
        }
        match name.as_str() {
            "manifest.json" => manifest = Some(text),
            "report.json" => report = Some(text),
            "records.json" => records = Some(text),
            other => return Err(format!("{shown}: unexpected entry {other:?}")),
        }
    }
    let (Some(manifest), Some(report), Some(records)) = (manifest, report, records) else {
        return Err(format!(
            "{shown}: not a container-doctor bundle (manifest, report or records missing)"
        ));
    };
    let version: serde_json::Value =
        serde_json::from_str(&manifest).map_err(|e| format!("{shown}: manifest: {e}"))?;
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
        serde_json::from_str(&manifest).map_err(|e| format!("{shown}: manifest: {e}"))?;
    for (name, text) in [("report.json", &report), ("records.json", &records)] {
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
    let records: Vec<Record> =
        serde_json::from_str(&records).map_err(|e| format!("{shown}: records: {e}"))?;
    Ok((manifest, records, report))
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
