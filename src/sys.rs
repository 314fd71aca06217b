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

/// Unmounts `path` inside the mount namespace `nsfd` (an open `/proc/PID/ns/mnt` whose inode the
/// caller has checked) and nowhere else. setns(2) into a mount namespace is refused to a
/// multi-threaded process, and the doctor must stay where it is, so a forked child does it: it
/// enters the namespace, calls umount2 with UMOUNT_NOFOLLOW, and exits. It executes nothing (a
/// binary would be looked up in a namespace someone else controls).
/// Returns the errno of the step that failed, with the step's name.
pub fn unmount_in_namespace(
    nsfd: std::os::fd::BorrowedFd<'_>,
    path: &std::ffi::CStr,
    detach: bool,
) -> Result<(), (&'static str, Errno)> {
    let flags = libc::UMOUNT_NOFOLLOW | if detach { libc::MNT_DETACH } else { 0 };
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the 2-element array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(("pipe2", last_errno()));
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    let ns = nsfd.as_raw_fd();
    let path_ptr = path.as_ptr();
    // SAFETY: fork in a multi-threaded process. The child only makes async-signal-safe raw
    // syscalls (setns, umount2, write, _exit) on memory prepared before the fork (the C string,
    // the descriptors), never allocates, never unwinds, and always ends in _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = last_errno();
        // SAFETY: closing the two descriptors pipe2 gave us.
        unsafe {
            libc::close(read_end);
            libc::close(write_end);
        }
        return Err(("fork", e));
    }
    if pid == 0 {
        // SAFETY: in the child, see above; `report` writes 8 bytes from a local array.
        unsafe {
            let report = |stage: i32| {
                let errno = *libc::__errno_location();
                let msg = [stage, errno];
                libc::write(write_end, msg.as_ptr().cast(), 8);
                libc::_exit(1);
            };
            if libc::setns(ns, libc::CLONE_NEWNS) != 0 {
                report(1);
            }
            if libc::umount2(path_ptr, flags) != 0 {
                report(2);
            }
            libc::_exit(0);
        }
    }
    // SAFETY: the parent closes its copy of the write end, which it owns.
    unsafe { libc::close(write_end) };
    let mut status = 0;
    // SAFETY: waiting for our own child; `status` is a local.
    let waited = loop {
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 || last_errno() != Errno::INTR {
            break r;
        }
    };
    let mut msg = [0i32; 2];
    // SAFETY: reading at most 8 bytes into an 8-byte local array from the read end we own.
    let n = unsafe { libc::read(read_end, msg.as_mut_ptr().cast(), 8) };
    // SAFETY: closing the read end we own.
    unsafe { libc::close(read_end) };
    if waited < 0 {
        return Err(("waitpid", last_errno()));
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        return Ok(());
    }
    let stage = match (n, msg[0]) {
        (8, 1) => "setns",
        (8, 2) => "umount2",
        _ => "the child",
    };
    Err((
        stage,
        Errno::from_raw_os_error(if n == 8 { msg[1] } else { libc::EIO }),
    ))
}

fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
}

/// The set of signals that stop `--interval`: SIGTERM (`docker stop`, the kubelet) and SIGINT.
fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set it is given; sigaddset adds valid signal
    // numbers to that initialised set. Neither keeps the pointer.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        set
    }
}

/// Blocks SIGTERM and SIGINT in the calling thread, and so in every thread it starts afterwards,
/// so that they stay pending until [`wait_stop_signal`] takes them (a blocked signal is delivered
/// even to a PID 1 without handlers). Children started with `std::process::Command` get an empty
/// mask back, so commands the checks run still die on SIGTERM. Call it before any thread starts.
pub fn block_stop_signals() -> std::io::Result<()> {
    let set = stop_signals();
    // SAFETY: `set` is an initialised sigset_t; the old mask is not asked for (null).
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

/// Waits up to `timeout` for SIGTERM or SIGINT (blocked beforehand by [`block_stop_signals`]);
/// the signal's number when one came, None when the time ran out.
pub fn wait_stop_signal(timeout: std::time::Duration) -> Option<i32> {
    let set = stop_signals();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ts = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `set` and `ts` are initialised and outlive the call; the siginfo is not asked
        // for (null).
        let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
        if sig > 0 {
            return Some(sig);
        }
        // EAGAIN: the time ran out; EINTR (another signal's handler ran): wait for what is left.
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) || left.is_zero() {
            return None;
        }
    }
}

/// One memory area of a process that maps a file, as PROCMAP_QUERY answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileVma {
    pub start: u64,
    pub end: u64,
    /// The device and inode of the file the process sees (`file_user_inode`: an overlay file's
    /// own, not its layer's).
    pub dev: (u32, u32),
    pub inode: u64,
    /// Where in the file the area starts: areas split from one mapping share `start - offset`.
    pub offset: u64,
}

/// `struct procmap_query` of linux/fs.h (Linux 6.11).
#[repr(C)]
#[derive(Default)]
struct ProcmapQuery {
    size: u64,
    query_flags: u64,
    query_addr: u64,
    vma_start: u64,
    vma_end: u64,
    vma_flags: u64,
    vma_page_size: u64,
    vma_offset: u64,
    inode: u64,
    dev_major: u32,
    dev_minor: u32,
    vma_name_size: u32,
    build_id_size: u32,
    vma_name_addr: u64,
    build_id_addr: u64,
}

/// `_IOWR('f', 17, struct procmap_query)`.
const PROCMAP_QUERY: u64 =
    (3 << 30) | ((std::mem::size_of::<ProcmapQuery>() as u64) << 16) | (0x66 << 8) | 17;
const PROCMAP_QUERY_COVERING_OR_NEXT_VMA: u64 = 0x10;
const PROCMAP_QUERY_FILE_BACKED_VMA: u64 = 0x20;

/// The first file mapping at or above `addr` of the process whose /proc/PID/maps is open as
/// `maps`, and its path (as the kernel's d_path writes it) into `name` when one is given:
/// answers from the kernel's own tables, without rendering the whole maps file. `Ok(None)`:
/// no more mappings, or the process is gone. ENOTTY: a kernel before 6.11.
pub fn procmap_query(
    maps: &impl AsFd,
    addr: u64,
    name: Option<&mut Vec<u8>>,
) -> Result<Option<FileVma>, Errno> {
    let mut q = ProcmapQuery {
        size: std::mem::size_of::<ProcmapQuery>() as u64,
        query_flags: PROCMAP_QUERY_COVERING_OR_NEXT_VMA | PROCMAP_QUERY_FILE_BACKED_VMA,
        query_addr: addr,
        ..ProcmapQuery::default()
    };
    let mut buf = name;
    if let Some(b) = buf.as_deref_mut() {
        b.clear();
        b.resize(libc::PATH_MAX as usize + 64, 0);
        q.vma_name_addr = b.as_mut_ptr() as u64;
        q.vma_name_size = b.len() as u32;
    }
    // SAFETY: `q` is a properly sized, initialised `struct procmap_query` that outlives the
    // call; the only pointer in it is the name buffer, valid for `vma_name_size` bytes, and no
    // build id is asked for (size 0). The kernel writes only into `q` and that buffer.
    let rc = unsafe { libc::ioctl(maps.as_fd().as_raw_fd(), PROCMAP_QUERY as _, &mut q) };
    if rc != 0 {
        return match last_errno() {
            Errno::NOENT | Errno::SRCH => Ok(None),
            e => Err(e),
        };
    }
    if let Some(b) = buf {
        // The size written includes the terminating NUL; 0 when the mapping has no name.
        b.truncate((q.vma_name_size as usize).saturating_sub(1));
    }
    Ok(Some(FileVma {
        start: q.vma_start,
        end: q.vma_end,
        dev: (q.dev_major, q.dev_minor),
        inode: q.inode,
        offset: q.vma_offset,
    }))
}
