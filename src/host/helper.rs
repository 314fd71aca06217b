//! Reads that can block in the kernel, done by a helper process the doctor can abandon.
//!
//! A read of a file on a hung FUSE or NFS server sleeps in the kernel (D state) and cannot be
//! interrupted; a thread stuck so keeps the whole process from exiting, deadline or not. So the
//! files that can be there (files the user names, such as `--dockerfile`; files on network or
//! FUSE filesystems) are read by a child: the doctor re-executes itself (`/proc/self/exe` with a
//! hidden first argument, before any thread exists), the child reads the file (non-blocking open,
//! regular files only, capped) and writes it to a pipe. The doctor waits on the pipe, which a
//! signal or exit always interrupts; past the timeout it kills the child and does not wait for it.
//!
//! Directories that can be there (an `--include-dir` on NFS, or with a FUSE mount inside) are
//! listed the same way: a child lstats them and answers with a [`Listing`].
//!
//! Only the binary turns this on ([`enable`]); the library used on its own reads in-process.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{HostError, MAX_FILE_BYTES};

/// The hidden first argument that makes the binary a reader.
pub const ARG: &str = "__container-doctor-read-file";
/// The hidden first argument that makes the binary a reader of a path inside a directory, its
/// links resolved inside it (a `--root` tree).
pub const IN_ROOT_ARG: &str = "__container-doctor-read-in-root";
/// The hidden first argument that makes the binary a directory lister.
pub const LIST_ARG: &str = "__container-doctor-list-dir";
/// The most entries one listing holds; past it the listing says it is truncated.
const MAX_ENTRIES: usize = 100_000;
/// How long a helper may take before its read counts as hung.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

static EXE: OnceLock<PathBuf> = OnceLock::new();

/// Called by the binary: reads that can block go through helpers from now on.
pub fn enable() {
    let exe = PathBuf::from("/proc/self/exe");
    // Without /proc (a bare chroot), there is no way to re-execute: reads stay in-process.
    if exe.exists() {
        let _ = EXE.set(exe);
    }
}

pub fn enabled() -> bool {
    EXE.get().is_some()
}

/// In the binary's `main`, first thing: if this process is a helper, read or list and answer.
pub fn serve() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    let mode = args.next()?;
    if ![ARG, IN_ROOT_ARG, LIST_ARG]
        .map(OsStr::new)
        .contains(&mode.as_os_str())
    {
        return None;
    }
    let path = PathBuf::from(args.next()?);
    let shown = path.to_string_lossy().into_owned();
    let answer = if mode == OsStr::new(ARG) {
        super::live::read_capped(&path, &shown)
    } else if mode == OsStr::new(IN_ROOT_ARG) {
        let rel = PathBuf::from(args.next()?);
        let shown = path.join(&rel).to_string_lossy().into_owned();
        super::live::read_capped_in_root(&path, &rel, &shown)
    } else {
        list_here(&path, &shown).and_then(|l| {
            serde_json::to_vec(&l).map_err(|e| HostError::Io(format!("{shown}: {e}")))
        })
    };
    let mut out = std::io::stdout().lock();
    let written = match answer {
        Ok(bytes) => out.write_all(b"\x00").and_then(|_| out.write_all(&bytes)),
        Err(e) => {
            let json = serde_json::to_vec(&e).unwrap_or_default();
            out.write_all(b"\x01").and_then(|_| out.write_all(&json))
        }
    };
    Some(if written.and_then(|_| out.flush()).is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Reads `path` (a path on this machine) in a helper when helpers are on, else in-process.
pub fn read(path: &Path, shown: &str) -> Result<Vec<u8>, HostError> {
    match EXE.get() {
        Some(exe) => in_child(exe, ARG, &[path], shown, READ_TIMEOUT),
        None => super::live::read_capped(path, shown),
    }
}

/// Reads `rel` inside `root` in a helper, its links resolved inside `root` (see
/// [`super::live::read_capped_in_root`]); in-process when helpers are off.
pub fn read_in_root(root: &Path, rel: &Path, shown: &str) -> Result<Vec<u8>, HostError> {
    match EXE.get() {
        Some(exe) => in_child(exe, IN_ROOT_ARG, &[root, rel], shown, READ_TIMEOUT),
        None => super::live::read_capped_in_root(root, rel, shown),
    }
}

/// Reads `path` in a helper only if it lies on a network or FUSE filesystem (by the mount
/// table, for a path made absolute without touching it).
pub fn read_if_remote(path: &Path, shown: &str) -> Result<Vec<u8>, HostError> {
    if enabled() && on_remote_or_fuse(&path.to_string_lossy()) {
        read(path, shown)
    } else {
        super::live::read_capped(path, shown)
    }
}

/// Runs a helper in `mode` on `paths` and returns its answer's bytes.
fn in_child(
    exe: &Path,
    mode: &str,
    paths: &[&Path],
    shown: &str,
    timeout: Duration,
) -> Result<Vec<u8>, HostError> {
    let what = if mode == LIST_ARG { "list" } else { "read" };
    let mut child = Command::new(exe)
        .arg(mode)
        .args(paths)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Never the doctor's own stderr: a helper stuck in the kernel would hold it open, and
        // whoever reads the doctor's output would wait for it.
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| HostError::Io(format!("{shown}: cannot start a reader: {e}")))?;
    let Some(mut stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err(HostError::Io(format!("{shown}: reader has no output")));
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let read = (&mut stdout)
            .take(MAX_FILE_BYTES as u64 + 2)
            .read_to_end(&mut buf);
        let _ = tx.send(read.map(|_| buf));
    });
    let answer = rx.recv_timeout(timeout);
    let Ok(Ok(buf)) = answer else {
        // Killed, never waited for: a reader in D state dies when its server lets go, and is
        // reaped by a thread that may wait as long as that takes without holding anyone up.
        let _ = child.kill();
        std::thread::spawn(move || child.wait());
        return Err(HostError::Timeout(
            format!("{what} {shown}"),
            timeout.as_secs(),
        ));
    };
    std::thread::spawn(move || child.wait());
    match buf.split_first() {
        Some((0, bytes)) if bytes.len() <= MAX_FILE_BYTES => Ok(bytes.to_vec()),
        Some((0, _)) => Err(HostError::TooLarge(shown.to_string())),
        Some((1, json)) => Err(serde_json::from_slice(json)
            .unwrap_or_else(|_| HostError::Io(format!("{shown}: the reader failed")))),
        _ => Err(HostError::Io(format!("{shown}: the reader failed"))),
    }
}

/// Filesystem types whose reads go to a server that may stop answering.
fn remote_or_fuse(fstype: &str) -> bool {
    fstype == "fuse"
        || fstype == "fuseblk"
        || fstype.starts_with("fuse.")
        || matches!(
            fstype,
            // An automount point not yet triggered: the first walk into it mounts (NFS, mostly).
            "autofs"
                | "nfs"
                | "nfs4"
                | "cifs"
                | "smb3"
                | "smbfs"
                | "9p"
                | "ceph"
                | "glusterfs"
                | "afs"
                | "lustre"
                | "gpfs"
                | "ncpfs"
                | "virtiofs"
                | "davfs"
        )
}

/// Whether `path` (on this machine) lies on a network or FUSE filesystem, by the
/// longest mount point that contains it in this process's mount table: no syscall touches the
/// path itself, so asking cannot hang.
pub fn on_remote_or_fuse(path: &str) -> bool {
    remote_mount_point(Path::new(path)).is_some()
}

/// Whether `path` lies on a network or FUSE filesystem mounted below `tree` (not on the one that
/// holds the tree itself): a live mount inside a tree examined with `--root`, whose server may
/// not answer.
pub fn on_remote_or_fuse_below(tree: &Path, path: &Path) -> bool {
    let tree = absolute(tree).to_string_lossy().into_owned();
    remote_mount_point(path)
        .is_some_and(|m| m != tree && crate::parse::mountinfo::is_within(&m, &tree))
}

/// The mount point of the network or FUSE filesystem `path` lies on, if it does.
fn remote_mount_point(path: &Path) -> Option<String> {
    let own = super::own_mounts::current()?;
    let m = own.table.containing(&absolute(path).to_string_lossy())?;
    remote_or_fuse(&m.fstype).then(|| m.mount_point.clone())
}

/// What lstat(2) says a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    /// A FIFO, socket or device.
    Special,
    /// A mount point of a network or FUSE filesystem, not looked at by whoever listed its
    /// parent: [`list`] it to learn what it is.
    Remote,
}

/// One path as lstat(2) saw it; `name` is its last component's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub name: Vec<u8>,
    pub kind: Kind,
    pub len: u64,
    pub dev: u64,
    pub ino: u64,
}

/// A path and, when it is a directory, its entries (sorted by name).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listing {
    pub this: Entry,
    pub entries: Vec<Entry>,
    /// More than [`MAX_ENTRIES`] entries: the rest are not listed.
    pub truncated: bool,
}

/// lstats `path` and, if a directory, its entries, never following a symlink. On a network or
/// FUSE filesystem this is done by a helper the doctor abandons after `timeout`; elsewhere
/// in-process, where an entry that is a remote mount point is left [`Kind::Remote`].
pub fn list(path: &Path, timeout: Duration) -> Result<Listing, HostError> {
    let shown = path.to_string_lossy();
    match EXE.get() {
        Some(exe) if on_remote_or_fuse(&path.to_string_lossy()) => {
            let bytes = in_child(exe, LIST_ARG, &[path], &shown, timeout)?;
            serde_json::from_slice(&bytes)
                .map_err(|_| HostError::Io(format!("{shown}: the lister failed")))
        }
        _ => list_here(path, &shown),
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    }
}

fn entry(path: &Path, name: &[u8]) -> Result<Entry, std::io::Error> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path)?;
    let t = m.file_type();
    let kind = if t.is_symlink() {
        Kind::Symlink
    } else if t.is_dir() {
        Kind::Dir
    } else if t.is_file() {
        Kind::File
    } else {
        Kind::Special
    };
    Ok(Entry {
        name: name.to_vec(),
        kind,
        len: m.len(),
        dev: m.dev(),
        ino: m.ino(),
    })
}

fn list_here(path: &Path, shown: &str) -> Result<Listing, HostError> {
    let name = path.file_name().map_or(&[][..], |n| n.as_bytes());
    let this = entry(path, name).map_err(|e| HostError::from_io(shown, &e))?;
    let mut listing = Listing {
        this,
        entries: Vec::new(),
        truncated: false,
    };
    if listing.this.kind != Kind::Dir {
        return Ok(listing);
    }
    let dir = std::fs::read_dir(path).map_err(|e| HostError::from_io(shown, &e))?;
    for e in dir.flatten() {
        if listing.entries.len() >= MAX_ENTRIES {
            listing.truncated = true;
            break;
        }
        let child = e.path();
        let name = e.file_name();
        // lstat of a mount point asks the filesystem mounted there: a hung server's.
        if enabled() && on_remote_or_fuse(&child.to_string_lossy()) {
            listing.entries.push(Entry {
                name: name.as_bytes().to_vec(),
                kind: Kind::Remote,
                len: 0,
                dev: 0,
                ino: 0,
            });
        } else if let Ok(en) = entry(&child, name.as_bytes()) {
            listing.entries.push(en);
        }
    }
    listing.entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listing)
}
