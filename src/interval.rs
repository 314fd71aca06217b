//! `--check --interval SECONDS`: the doctor as a long-running process (a DaemonSet's container,
//! an image with no shell for a `while sleep` loop). Every interval it scans afresh and writes its
//! reports atomically; a write that fails is said on stderr and tried again at the next scan;
//! SIGTERM or SIGINT ends it cleanly between scans (a scan under way finishes and is written
//! first), with exit code 0.

use std::time::{Duration, Instant};

use crate::sys;

/// Prepares the process for [`run`]: blocks SIGTERM and SIGINT so they wait for the loop instead
/// of killing it mid-write. Call it first, before any thread starts (check threads inherit it).
pub fn prepare() -> Result<(), String> {
    sys::block_stop_signals().map_err(|e| format!("blocking SIGTERM and SIGINT: {e}"))
}

/// Runs `once` (one scan and its writes) every `every`, scans starting `every` apart (at once
/// again when a scan took longer), until SIGTERM or SIGINT; returns the signal's number. An error
/// from `once` goes to stderr, prefixed, and the loop goes on.
pub fn run(every: Duration, mut once: impl FnMut() -> Result<(), String>) -> i32 {
    loop {
        let start = Instant::now();
        if let Err(e) = once() {
            eprintln!(
                "container-doctor: {e} (trying again in {})",
                humantime::format_duration(round_ms(every))
            );
        }
        let next = every.saturating_sub(start.elapsed());
        if let Some(sig) = sys::wait_stop_signal(next) {
            return sig;
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
