//! Stopping several processes at once: every holder of a mount gets its signal together and the
//! grace period runs once for all of them, so six holders take one grace period, not six.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use super::StepOutcome;
use super::steps::{signal_named, start_ticks};
use crate::model::Step;

/// A process to stop, as a Signal step names it.
struct Target<'a> {
    pid: u32,
    start: u64,
    comm: &'a str,
    signal: &'a str,
    grace: Duration,
}

/// Signals every Signal step in `steps` (others are ignored: the caller passes a run of Signal
/// steps), waits once for all of them, then SIGKILLs those still there. One outcome per step.
pub fn stop_together(steps: &[Step]) -> Vec<StepOutcome> {
    let targets: Vec<Target> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Signal {
                pid,
                start_ticks,
                comm,
                signal,
                then_kill_after_ms,
            } => Some(Target {
                pid: *pid,
                start: *start_ticks,
                comm,
                signal,
                grace: Duration::from_millis(*then_kill_after_ms),
            }),
            _ => None,
        })
        .collect();
    // First pass: open and check every pidfd, send the first signal.
    let mut outcomes: Vec<Option<StepOutcome>> = Vec::with_capacity(targets.len());
    let mut fds: Vec<Option<OwnedFd>> = Vec::with_capacity(targets.len());
    for t in &targets {
        match signal_one(t) {
            Ok(fd) => {
                outcomes.push(None);
                fds.push(Some(fd));
            }
            Err(done) => {
                outcomes.push(Some(done));
                fds.push(None);
            }
        }
    }
    let grace = targets.iter().map(|t| t.grace).max().unwrap_or_default();
    wait_all(&mut fds, &mut outcomes, &targets, grace, |t| {
        format!("pid {} ({}) exited after SIG{}", t.pid, t.comm, t.signal)
    });
    for (i, fd) in fds.iter().enumerate() {
        if let Some(fd) = fd
            && let Err(e) = pidfd_send_signal(fd, Signal::KILL)
        {
            let t = &targets[i];
            outcomes[i] = Some(StepOutcome::Failed(format!(
                "pid {} ({}): SIGKILL: {e}",
                t.pid, t.comm
            )));
        }
    }
    for (i, o) in outcomes.iter().enumerate() {
        if o.is_some() {
            fds[i] = None;
        }
    }
    wait_all(
        &mut fds,
        &mut outcomes,
        &targets,
        Duration::from_secs(5),
        |t| {
            format!(
                "pid {} ({}) killed after {} ms",
                t.pid,
                t.comm,
                t.grace.as_millis()
            )
        },
    );
    outcomes
        .into_iter()
        .zip(&targets)
        .map(|(o, t)| {
            o.unwrap_or_else(|| {
                StepOutcome::Failed(format!(
                    "pid {} ({}) did not exit even after SIGKILL (D state?)",
                    t.pid, t.comm
                ))
            })
        })
        .collect()
}

/// Opens a pidfd, proves it names the process that was shown, and sends the signal.
fn signal_one(t: &Target) -> Result<OwnedFd, StepOutcome> {
    let who = format!("pid {} ({})", t.pid, t.comm);
    let Some(sig) = signal_named(t.signal) else {
        return Err(StepOutcome::Failed(format!("unknown signal {}", t.signal)));
    };
    let Some(p) = Pid::from_raw(t.pid as i32) else {
        return Err(StepOutcome::Failed(format!("{who}: not a pid")));
    };
    let fd = match pidfd_open(p, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => {
            return Err(StepOutcome::Done(format!("{who} had already exited")));
        }
        Err(e) => return Err(StepOutcome::Failed(format!("{who}: pidfd_open: {e}"))),
    };
    // The pidfd pins the process; a reused pid has another start time.
    if start_ticks(t.pid) != Some(t.start) {
        return Err(StepOutcome::Failed(format!(
            "{who}: the pid now names another process; nothing sent"
        )));
    }
    pidfd_send_signal(&fd, sig)
        .map_err(|e| StepOutcome::Failed(format!("{who}: SIG{}: {e}", t.signal)))?;
    Ok(fd)
}

/// Polls the open pidfds until each has exited or `within` has passed; an exited one gets the
/// outcome `done` describes and its pidfd is dropped.
fn wait_all(
    fds: &mut [Option<OwnedFd>],
    outcomes: &mut [Option<StepOutcome>],
    targets: &[Target],
    within: Duration,
    done: impl Fn(&Target) -> String,
) {
    let deadline = Instant::now() + within;
    loop {
        let open: Vec<usize> = (0..fds.len()).filter(|&i| fds[i].is_some()).collect();
        if open.is_empty() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let ready: Vec<usize> = {
            let mut polled: Vec<PollFd> = open
                .iter()
                .filter_map(|&i| fds[i].as_ref())
                .map(|fd| PollFd::new(fd, PollFlags::IN))
                .collect();
            match poll(&mut polled, Some(&timeout)) {
                Ok(0) => return,
                Ok(_) => polled
                    .iter()
                    .zip(&open)
                    .filter(|(p, _)| !p.revents().is_empty())
                    .map(|(_, &i)| i)
                    .collect(),
                Err(rustix::io::Errno::INTR) if Instant::now() < deadline => continue,
                Err(_) => return,
            }
        };
        for i in ready {
            fds[i] = None;
            outcomes[i] = Some(StepOutcome::Done(done(&targets[i])));
        }
        if Instant::now() >= deadline {
            return;
        }
    }
}
