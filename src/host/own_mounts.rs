//! The doctor's own mount table, kept between reads. Every read of a file outside /proc and /sys
//! first asks whether the file is on a network or FUSE filesystem, and a host with thousands of
//! overlays costs the kernel milliseconds to render its table each time; /proc/self/mountinfo
//! signals POLLPRI after any mount or unmount in its namespace, so the table is rendered again
//! only then. A TUI or `--interval` run so sees a FUSE mount that appeared after its first scan.
//! The file, kept open, stays with the mount namespace the doctor started in: it never moves.

use std::fs::File;
use std::io::{Read, Seek};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::parse::mountinfo::{self, MountTable};

/// The table's text as the kernel rendered it, and the table.
#[derive(Clone)]
pub struct OwnMounts {
    pub text: Arc<Vec<u8>>,
    pub table: Arc<MountTable>,
}

struct Kept {
    file: File,
    now: OwnMounts,
    /// When the kernel began rendering `now`.
    rendered: Instant,
}

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

/// The table as it is now; `None` when /proc/self/mountinfo cannot be read.
pub fn current() -> Option<OwnMounts> {
    get(None)
}

/// The table as rendered at or after `since` (when a scan began), whatever the poll says, and
/// kept for the reads after it: a scan's own reading. Some changes alter the text without the
/// signal (a directory above a mount point renamed, a change of propagation, a filesystem turned
/// read-only after an error); a rendering made during the scan already shows those before it.
pub fn fresh(since: Instant) -> Option<OwnMounts> {
    get(Some(since))
}

fn get(since: Option<Instant>) -> Option<OwnMounts> {
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(k) = kept.as_mut() {
        let recent = since.is_none_or(|s| k.rendered >= s);
        match changed(&k.file) {
            Some(false) if recent => return Some(k.now.clone()),
            Some(_) => {
                let rendered = Instant::now();
                if let Some(now) = read(&mut k.file) {
                    k.now = now.clone();
                    k.rendered = rendered;
                    return Some(now);
                }
            }
            None => {}
        }
    }
    // First use, or the kept file failed: open it again (its poll state starts from now).
    *kept = None;
    let rendered = Instant::now();
    let mut file = File::open("/proc/self/mountinfo").ok()?;
    let now = read(&mut file)?;
    *kept = Some(Kept {
        file,
        now: now.clone(),
        rendered,
    });
    Some(now)
}

/// Whether the namespace's mounts changed since the last poll (which this one consumes); `None`
/// when the file can no longer be polled.
fn changed(file: &File) -> Option<bool> {
    let mut fds = [PollFd::new(file, PollFlags::PRI)];
    poll(&mut fds, Some(&Timespec::default())).ok()?;
    let events = fds[0].revents();
    if events.intersects(PollFlags::NVAL | PollFlags::HUP) {
        return None;
    }
    Some(events.intersects(PollFlags::PRI | PollFlags::ERR))
}

/// The whole table from its start. A change after the poll that led here is seen by the next.
fn read(file: &mut File) -> Option<OwnMounts> {
    file.rewind().ok()?;
    let mut text = Vec::with_capacity(64 * 1024);
    file.read_to_end(&mut text).ok()?;
    let table = mountinfo::parse(&String::from_utf8_lossy(&text));
    Some(OwnMounts {
        text: Arc::new(text),
        table: Arc::new(table),
    })
}
