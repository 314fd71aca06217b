//! Disk facts: statvfs of a filesystem, and a bounded `du -s` of a directory tree.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
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

/// Walks the tree with a few threads sharing one queue of directories: a BuildKit state directory
/// holds many small snapshot directories, and stat calls on them overlap well.
pub fn dir_size(path: &Path, shown: &str) -> Result<DirSize, HostError> {
    let top = std::fs::symlink_metadata(path).map_err(|e| HostError::from_io(shown, &e))?;
    let walk = Walk {
        // Stay on one filesystem, like `du -x`: mounts below (a running build's overlays) are not the cache's.
        dev: top.dev(),
        deadline: Instant::now() + MAX_TIME,
        state: Mutex::new(WalkState {
            queue: vec![path.to_path_buf()],
            busy: 0,
            linked: HashSet::new(),
            size: DirSize {
                bytes: top.blocks() as i64 * 512,
                apparent: if top.is_dir() { 0 } else { top.len() as i64 },
                entries: 1,
                truncated: false,
            },
        }),
        wake: Condvar::new(),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| walk.work());
        }
        walk.work();
    });
    let state = walk.state.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(state.size)
}

struct Walk {
    dev: u64,
    deadline: Instant,
    state: Mutex<WalkState>,
    wake: Condvar,
}

struct WalkState {
    /// Directories not yet read.
    queue: Vec<PathBuf>,
    /// Threads reading a directory now: the walk is over when none is and the queue is empty.
    busy: usize,
    /// Hard-linked files already counted, as du counts them once.
    linked: HashSet<(u64, u64)>,
    size: DirSize,
}

impl Walk {
    fn work(&self) {
        loop {
            let dir = {
                let Ok(mut st) = self.state.lock() else {
                    return;
                };
                loop {
                    if st.size.truncated {
                        return;
                    }
                    if let Some(dir) = st.queue.pop() {
                        st.busy += 1;
                        break dir;
                    }
                    if st.busy == 0 {
                        return;
                    }
                    st = match self.wake.wait(st) {
                        Ok(st) => st,
                        Err(_) => return,
                    };
                }
            };
            let listing = self.read(&dir);
            let Ok(mut st) = self.state.lock() else {
                return;
            };
            st.busy -= 1;
            st.size.entries += listing.entries;
            st.size.bytes += listing.bytes;
            st.size.apparent += listing.apparent;
            for (key, blocks, len) in listing.linked {
                if st.linked.insert(key) {
                    st.size.bytes += blocks;
                    st.size.apparent += len;
                }
            }
            if st.size.entries >= MAX_ENTRIES || Instant::now() > self.deadline {
                st.size.truncated = true;
            }
            st.queue.extend(listing.dirs);
            self.wake.notify_all();
        }
    }

    /// One directory, read without the lock.
    fn read(&self, dir: &Path) -> Listing {
        let mut l = Listing::default();
        let Ok(list) = std::fs::read_dir(dir) else {
            return l;
        };
        for entry in list.flatten() {
            let Ok(m) = entry.metadata() else { continue };
            if m.dev() != self.dev {
                continue;
            }
            l.entries += 1;
            let blocks = m.blocks() as i64 * 512;
            if m.is_dir() {
                l.bytes += blocks;
                l.dirs.push(entry.path());
            } else if m.nlink() > 1 {
                l.linked.push(((m.dev(), m.ino()), blocks, m.len() as i64));
            } else {
                l.bytes += blocks;
                l.apparent += m.len() as i64;
            }
        }
        l
    }
}

/// What one directory holds: its subdirectories, the bytes of the rest (allocated, and the
/// files' own sizes), how many entries, and the hard-linked files, to be counted once across the
/// tree.
#[derive(Default)]
struct Listing {
    dirs: Vec<PathBuf>,
    bytes: i64,
    apparent: i64,
    entries: u64,
    linked: Vec<((u64, u64), i64, i64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sparse file is large by its size and small by its blocks; a hard link counts once by
    /// both measures (as `du` and moby's `directory.Size` count them).
    #[test]
    fn allocated_and_apparent_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let sparse = std::fs::File::create(dir.path().join("sparse")).unwrap();
        sparse.set_len(64 << 20).unwrap();
        std::fs::write(dir.path().join("data"), vec![7u8; 1 << 20]).unwrap();
        std::fs::hard_link(dir.path().join("data"), dir.path().join("link")).unwrap();
        let s = dir_size(dir.path(), "t").unwrap();
        assert_eq!(s.apparent, (64 << 20) + (1 << 20));
        assert!(
            s.bytes >= 1 << 20 && s.bytes < 2 << 20,
            "allocated: {}",
            s.bytes
        );
        assert_eq!(s.entries, 4);
        assert!(!s.truncated);
    }
}
