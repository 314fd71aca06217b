//! Files written whole or not at all (temporary file + rename): reports for textfile collectors
//! and CI artifact steps, and the files fixes rewrite.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The sha256 of `bytes`, in hex: how a fix plan names the content its check saw.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The mode (permission bits, setuid/setgid/sticky included) and owner a rewritten file keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Keep {
    pub fn of(meta: &fs::Metadata) -> Keep {
        Keep {
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        }
    }
}

/// Reads a regular file without ever blocking on a FIFO or device and without following a
/// symlink at the last component: `None` when it does not exist.
pub fn read_regular(path: &Path, max: u64) -> Result<Option<(Vec<u8>, fs::Metadata)>, String> {
    let shown = path.display();
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("{shown}: larger than {max} bytes"));
    }
    Ok(Some((bytes, meta)))
}

/// Writes `text` to `path` atomically: readers see the old file or the new one, never a part.
/// The temporary name does not end in `.prom`, so a textfile collector never reads it.
/// A missing directory is created (CI steps name a fresh one: `--output-dir doctor`).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    write_atomic_keeping(path, text.as_bytes(), None)
}

/// As [`write_atomic`]; with `keep`, the new file has that mode and owner before it takes the
/// old one's place, so there is no moment when it is readable by more people than before.
pub fn write_atomic_keeping(path: &Path, bytes: &[u8], keep: Option<Keep>) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?
        .to_string_lossy();
    let tmp: PathBuf = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut open = fs::OpenOptions::new();
        open.write(true).create_new(true);
        if keep.is_some() {
            open.mode(0o600);
        }
        let mut f = open
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        if let Some(k) = keep {
            std::os::unix::fs::fchown(&f, Some(k.uid), Some(k.gid))
                .map_err(|e| format!("{}: chown: {e}", tmp.display()))?;
            // After chown, which clears setuid/setgid bits.
            f.set_permissions(fs::Permissions::from_mode(k.mode))
                .map_err(|e| format!("{}: chmod: {e}", tmp.display()))?;
        }
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
