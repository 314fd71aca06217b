//! What `BINARY --version` printed, remembered across runs. Go binaries (dockerd, containerd,
//! podman) take 30–200 ms each just to start, and a `--check` in a CI loop would pay that every
//! time for an answer that cannot change while the file does not: an entry is used only while
//! the binary has the same device, inode, size, modification and change time (ctime cannot be
//! set from user space, so any replacement or rewrite misses). Only ELF files are remembered: a
//! script's output may depend on what it runs. Two cases where those fields do not follow the
//! answer are never remembered: a binary changed in the last seconds (a filesystem that keeps
//! whole seconds, or FAT's two, gives a rewrite within them the same times), and a symlink to a
//! binary of another name (a dispatcher such as snap's, which runs what the name picks).
//!
//! The file lives in `$CONTAINER_DOCTOR_CACHE_DIR` (`off`: nowhere), else
//! `$XDG_CACHE_HOME/container-doctor`, else `~/.cache/container-doctor` (those two only when they
//! are ours: not a user's home under `sudo -E`), and is trusted only when it and its directory
//! belong to us and nobody else may write them. Failing to read or write it only costs the run
//! its speed.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::HostError;
use super::command::{self, CommandOutput};

/// Entries kept: more than the tools any check asks, few enough that the file stays small.
const MAX_ENTRIES: usize = 32;
/// An output longer than this is not remembered (version banners are a few lines).
const MAX_OUTPUT: usize = 4096;
const FILE: &str = "versions.json";
/// How long ago a binary must have last changed to be remembered: the coarsest timestamps a
/// Linux filesystem keeps (FAT's), so any later rewrite gets a later ctime.
const SETTLED: Duration = Duration::from_secs(2);

/// A binary as the filesystem names it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Identity {
    fn of(meta: &fs::Metadata) -> Identity {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    path: String,
    identity: Identity,
    /// When it was run, seconds since the epoch.
    ran_at: u64,
    stdout: String,
    stderr: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Store {
    entries: Vec<Entry>,
}

/// `path --version`, from the cache when the binary is unchanged since it was run, else run now
/// (and remembered when it succeeded). The output says which in `remembered`.
pub fn run(path: &str, timeout: Duration) -> Result<CommandOutput, HostError> {
    let argv = [path.to_string(), "--version".to_string()];
    // A binary on a network or FUSE filesystem is not opened here, where a hung server would
    // hang the doctor itself: it is only run, in a child the timeout can abandon.
    if super::helper::on_remote_or_fuse(path) {
        return command::run(&argv, timeout);
    }
    let Some(identity) = elf_identity(Path::new(path)) else {
        return command::run(&argv, timeout);
    };
    let dir = cache_dir();
    let store = dir.as_deref().map(load).unwrap_or_default();
    if let Some(e) = store
        .entries
        .iter()
        .find(|e| e.path == path && e.identity == identity)
    {
        return Ok(CommandOutput {
            code: Some(0),
            stdout: e.stdout.clone(),
            stderr: e.stderr.clone(),
            remembered: Some(format!(
                "remembered from {}: the binary has the same inode, size, mtime and ctime",
                humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(e.ran_at))
            )),
            ..CommandOutput::default()
        });
    }
    let started = SystemTime::now();
    let out = command::run(&argv, timeout)?;
    // Stored only if the binary did not change while it ran, had settled before, and is what
    // answers.
    if let Some(dir) = dir
        && settled(&identity, started)
        && !dispatched(Path::new(path))
        && out.success()
        && !out.truncated
        && out.stdout.len() + out.stderr.len() <= MAX_OUTPUT
        && elf_identity(Path::new(path)) == Some(identity)
    {
        remember(
            &dir,
            Entry {
                path: path.to_string(),
                identity,
                ran_at: started
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                stdout: out.stdout.clone(),
                stderr: out.stderr.clone(),
            },
        );
    }
    Ok(out)
}

/// Adds `entry` to the file as it is now: the tools are asked on parallel threads, and each
/// must add to what the others wrote, not replace it.
fn remember(dir: &Path, entry: Entry) {
    static WRITING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = WRITING.lock();
    let mut store = load(dir);
    store.entries.retain(|e| e.path != entry.path);
    store.entries.insert(0, entry);
    store.entries.truncate(MAX_ENTRIES);
    save(dir, &store);
}

/// The identity of `path` when it is a regular ELF file.
fn elf_identity(path: &Path) -> Option<Identity> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: a FIFO put in the binary's place must not stop us here.
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    let mut magic = [0u8; 4];
    (meta.is_file() && f.read_exact(&mut magic).is_ok() && &magic == b"\x7fELF")
        .then(|| Identity::of(&meta))
}

/// Whether the binary's last change is at least [`SETTLED`] before `started`: a rewrite after
/// it is then stamped later, however coarse the filesystem's clock.
fn settled(identity: &Identity, started: SystemTime) -> bool {
    let Ok(now) = started.duration_since(UNIX_EPOCH) else {
        return false;
    };
    identity.ctime_ns + SETTLED.as_nanos() as i128 <= now.as_nanos() as i128
}

/// A symlink to a file of another name: possibly a dispatcher that runs what the name picks
/// (snap's /snap/bin/NAME -> /usr/bin/snap runs the current revision of NAME), so the ELF's
/// identity says nothing of what answers.
fn dispatched(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && fs::canonicalize(path).map_or(true, |t| t.file_name() != path.file_name())
}

/// Where the file lives; `CONTAINER_DOCTOR_CACHE_DIR` set to anything but an absolute path
/// (`off`) means nowhere: every tool is asked every time.
fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CONTAINER_DOCTOR_CACHE_DIR") {
        return Path::new(&d).is_absolute().then(|| d.into());
    }
    let var = |k: &str| std::env::var_os(k).filter(|v| Path::new(v).is_absolute());
    // Under `sudo -E` HOME and XDG_CACHE_HOME are still the user's: a directory made there
    // would be root's, and a ~/.cache made so one the user can no longer write.
    let ours = |d: &Path| {
        d.ancestors()
            .find_map(|a| fs::metadata(a).ok())
            .is_some_and(|m| m.uid() == crate::sys::euid())
    };
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache")))
        .filter(|d| ours(d))
        .map(|d| d.join("container-doctor"))
}

/// Ours and writable by nobody else: another user could otherwise dictate our verdicts.
fn trusted(meta: &fs::Metadata) -> bool {
    meta.uid() == crate::sys::euid() && meta.mode() & 0o022 == 0
}

fn load(dir: &Path) -> Store {
    let path = dir.join(FILE);
    let ok = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| trusted(&m));
    if !ok(dir) || !ok(&path) {
        return Store::default();
    }
    // The file opened is judged too: the directory may have been swapped since (its parent
    // need not be ours).
    crate::files::read_regular(&path, 1 << 20)
        .ok()
        .flatten()
        .filter(|(_, meta)| trusted(meta))
        .and_then(|(bytes, _)| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save(dir: &Path, store: &Store) {
    let made = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .is_ok();
    if !made || !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && trusted(&m)) {
        return;
    }
    if let Ok(text) = serde_json::to_string(store) {
        let keep = crate::files::Keep {
            mode: 0o600,
            uid: crate::sys::euid(),
            gid: rustix::process::getegid().as_raw(),
        };
        let _ = crate::files::write_atomic_keeping(&dir.join(FILE), text.as_bytes(), Some(keep));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_is_never_an_elf_identity() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("runc");
        fs::write(&script, "#!/bin/sh\necho runc version 1.1.5\n").unwrap();
        assert_eq!(elf_identity(&script), None);
        assert!(elf_identity(Path::new("/proc/self/exe")).is_some());
    }

    #[test]
    fn a_rewritten_binary_has_another_identity() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        fs::copy("/proc/self/exe", &bin).unwrap();
        let before = elf_identity(&bin).unwrap();
        let mut bytes = fs::read(&bin).unwrap();
        bytes.push(0);
        fs::write(&bin, &bytes).unwrap();
        assert_ne!(elf_identity(&bin), Some(before));
    }
}
