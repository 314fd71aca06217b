#![allow(unsafe_code)] // the one module for syscalls no crate wraps; each block has a SAFETY comment
//! The one module with `unsafe`: syscalls that no crate wraps the way we need.

use std::os::fd::{AsFd, AsRawFd};

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, getpid, pidfd_open, waitid};
use serde::{Deserialize, Serialize};

/// The outcome of one syscall in the pidfd probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SyscallOutcome {
    Works,
    Failed {
        errno: i32,
        name: String,
    },
    /// Not attempted because an earlier step failed.
    NotTried,
}

impl SyscallOutcome {
    fn from_errno(e: Errno) -> Self {
        SyscallOutcome::Failed {
            errno: e.raw_os_error(),
            name: errno_name(e),
        }
    }
}

/// What the live pidfd probe saw, syscall by syscall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidfdProbe {
    pub pidfd_open: SyscallOutcome,
    pub pidfd_send_signal: SyscallOutcome,
    pub waitid_p_pidfd: SyscallOutcome,
}

/// Probes pidfd support on ourselves: nothing is signalled but signal 0, nothing is waited for.
pub fn probe_pidfd() -> PidfdProbe {
    let fd = match pidfd_open(getpid(), PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            return PidfdProbe {
                pidfd_open: SyscallOutcome::from_errno(e),
                pidfd_send_signal: SyscallOutcome::NotTried,
                waitid_p_pidfd: SyscallOutcome::NotTried,
            };
        }
    };
    // rustix's Signal cannot be 0 (the "does it exist" probe), so this one goes through libc.
    // SAFETY: pidfd_send_signal(2) with a valid pidfd we own, signal 0, a NULL siginfo and
    // flags 0 reads no memory and only checks that the process exists and may be signalled.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    let send = if rc == 0 {
        SyscallOutcome::Works
    } else {
        SyscallOutcome::from_errno(
            Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL),
        )
    };
    // We are not our own child: a kernel that knows P_PIDFD answers ECHILD, one that does not
    // (before 5.4) answers EINVAL for the unknown id type.
    let wait = match waitid(
        WaitId::PidFd(fd.as_fd()),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    ) {
        Ok(_) | Err(Errno::CHILD) => SyscallOutcome::Works,
        Err(e) => SyscallOutcome::from_errno(e),
    };
    PidfdProbe {
        pidfd_open: SyscallOutcome::Works,
        pidfd_send_signal: send,
        waitid_p_pidfd: wait,
    }
}

/// The filesystem magic of the filesystem holding `path` (statfs f_type).
pub fn statfs_magic(path: &str) -> std::io::Result<u64> {
    let st = rustix::fs::statfs(path)?;
    // f_type is signed on some targets; the magics are 32-bit values.
    Ok(st.f_type as u64 & 0xffff_ffff)
}

/// Our effective uid.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Clock ticks per second, for /proc/PID/stat start times.
pub fn clock_ticks() -> u64 {
    rustix::param::clock_ticks_per_second()
}

/// Kills a whole process group (used to stop a timed-out command and its children).
pub fn kill_group(pgid: u32) {
    if let Some(pid) = Pid::from_raw(pgid as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

fn errno_name(e: Errno) -> String {
    let name = match e {
        Errno::NOSYS => "ENOSYS",
        Errno::PERM => "EPERM",
        Errno::ACCESS => "EACCES",
        Errno::INVAL => "EINVAL",
        Errno::SRCH => "ESRCH",
        Errno::CHILD => "ECHILD",
        Errno::BADF => "EBADF",
        _ => return format!("errno {}", e.raw_os_error()),
    };
    name.to_string()
}
