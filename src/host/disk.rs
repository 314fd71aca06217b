//! Disk facts: statvfs of a filesystem, and a bounded `du -s` of a directory tree.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{DirSize, DiskStat, HostError};

/// A walk stops after this many entries or this long, and says so.
const MAX_ENTRIES: u64 = 5_000_000;
const MAX_TIME: Duration = Duration::from_secs(5);

pub fn stat(path: &Path, shown: &str) -> Result<DiskStat, HostError> {
    let st = rustix::fs::statvfs(path).map_err(|e| HostError::from_io(shown, &e.into()))?;
    let frsize = st.f_frsize as i64;
    Ok(DiskStat {
        total: st.f_blocks as i64 * frsize,
        free: st.f_bfree as i64 * frsize,
        available: st.f_bavail as i64 * frsize,
    })
}

pub fn dir_size(path: &Path, shown: &str) -> Result<DirSize, HostError> {
    let top = std::fs::symlink_metadata(path).map_err(|e| HostError::from_io(shown, &e))?;
    let start = Instant::now();
    let mut size = DirSize {
        bytes: top.blocks() as i64 * 512,
        entries: 1,
        truncated: false,
    };
    let mut linked: HashSet<(u64, u64)> = HashSet::new();
    let mut stack = vec![path.to_path_buf()];
    // Stay on one filesystem, like `du -x`: mounts below (a running build's overlays) are not the cache's.
    let dev = top.dev();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if size.entries >= MAX_ENTRIES || start.elapsed() > MAX_TIME {
                size.truncated = true;
                return Ok(size);
            }
            let Ok(m) = entry.metadata() else { continue };
            if m.dev() != dev {
                continue;
            }
            size.entries += 1;
            if m.nlink() > 1 && !m.is_dir() && !linked.insert((m.dev(), m.ino())) {
                continue;
            }
            size.bytes += m.blocks() as i64 * 512;
            if m.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(size)
}
