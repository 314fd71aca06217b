//! The steps themselves. File writes are atomic with a backup beside the file, except for kernel
//! control files (/proc, /sys), which are written in place. Signals go through a pidfd after the
//! pid's start time is checked, so a reused pid is never hit. Mounts are syscalls.

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
use similar::TextDiff;

use super::StepOutcome;
use crate::escape::{escape_control, escape_control_lines};
use crate::facts::{Facts, ns_inode};
use crate::files::Keep;
use crate::host::Host;
use crate::model::{MountNs, Step};
use crate::parse::mountinfo::escape;
use crate::parse::proc_stat;

/// How long an exec step may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(120);

/// What the user sees before a step runs: for file writes, the unified diff (of the symlink's
/// target when the path is a symlink, and then it says so).
pub fn preview(step: &Step) -> String {
    match step {
        Step::WriteFile { path, .. } | Step::AppendFile { path, .. } if !control_file(path) => {
            let (real, note) = match resolve(path) {
                Ok((real, Some(_))) => (
                    real.clone(),
                    format!(
                        "\n{} is a symlink: its target {} is what is rewritten (the link stays)",
                        escape(path),
                        escape(&real.to_string_lossy())
                    ),
                ),
                Ok((real, None)) => (real, String::new()),
                Err(e) => {
                    return format!(
                        "{}\n{}",
                        escape_control(&step.describe()),
                        escape_control(&e)
                    );
                }
            };
            let old = match crate::files::read_regular(&real, MAX_REWRITE) {
                Ok(Some((b, _))) => String::from_utf8_lossy(&b).into_owned(),
                Ok(None) => String::new(),
                Err(e) => {
                    return format!(
                        "{}\n{}",
                        escape_control(&step.describe()),
                        escape_control(&e)
                    );
                }
            };
            let new = new_content(step, &old);
            let diff = TextDiff::from_lines(&old, &new);
            let shown = escape(&real.to_string_lossy());
            format!(
                "{}{}\n{}",
                escape_control(&step.describe()),
                escape_control(&note),
                escape_control_lines(
                    &diff
                        .unified_diff()
                        .header(&shown, &format!("{shown} (new)"))
                        .to_string()
                )
            )
        }
        _ => escape_control(&step.describe()),
    }
}

/// The largest file a fix rewrites.
const MAX_REWRITE: u64 = 16 << 20;

/// Where a write to `path` lands: the path itself, or the file a symlink there points to
/// (resolved to the end, so the link stays a link) and the link's path.
fn resolve(path: &str) -> Result<(PathBuf, Option<PathBuf>), String> {
    let p = Path::new(path);
    match fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(p) {
            Ok(real) => Ok((real, Some(p.to_path_buf()))),
            Err(e) => Err(format!(
                "{} is a symlink whose target cannot be resolved ({e}); nothing written",
                escape(path)
            )),
        },
        _ => Ok((p.to_path_buf(), None)),
    }
}

fn control_file(path: &str) -> bool {
    path.starts_with("/proc/") || path.starts_with("/sys/")
}

fn new_content(step: &Step, old: &str) -> String {
    match step {
        Step::WriteFile { content, .. } => content.clone(),
        Step::AppendFile { content, .. } => {
            let sep = if old.is_empty() || old.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            format!("{old}{sep}{content}")
        }
        _ => String::new(),
    }
}

pub fn run(step: &Step, force: bool, undo: &mut Vec<String>) -> StepOutcome {
    match step {
        Step::Exec { argv } => match crate::host::run_command(argv, EXEC_TIMEOUT) {
            Ok(o) if o.success() => StepOutcome::Done("exit 0".into()),
            Ok(o) => StepOutcome::Failed(format!(
                "exit {}: {}",
                o.code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "by signal".into()),
                o.stderr.trim()
            )),
            Err(e) => StepOutcome::Failed(e.to_string()),
        },
        Step::WriteFile { path, .. } | Step::AppendFile { path, .. } => write(step, path, undo),
        Step::Signal {
            pid,
            start_ticks,
            comm,
            signal,
            then_kill_after_ms,
        } => stop(
            *pid,
            *start_ticks,
            comm,
            signal,
            Duration::from_millis(*then_kill_after_ms),
        ),
        Step::Mount {
            source,
            target,
            fstype,
            options,
        } => mount_step(source, target, fstype, options, force, undo),
        Step::Unmount {
            path,
            lazy,
            mount_id,
            namespace,
        } => unmount_step(path, *lazy, *mount_id, namespace.as_ref()),
        Step::Manual { instruction } => StepOutcome::LeftToYou(instruction.clone()),
    }
}

/// Rewrites a file atomically: refused if it changed since the check read it (the plan carries
/// the sha256 of what the check saw); the new file keeps the old one's mode and owner; the backup
/// beside it has them too; a symlink's target is rewritten and the link stays.
fn write(step: &Step, path: &str, undo: &mut Vec<String>) -> StepOutcome {
    if control_file(path) {
        let content = new_content(step, "");
        return match fs::write(path, &content) {
            Ok(()) => StepOutcome::Done(format!("wrote {content:?} to {path}")),
            Err(e) => StepOutcome::Failed(format!("{path}: {e}")),
        };
    }
    let (real, link) = match resolve(path) {
        Ok(r) => r,
        Err(e) => return StepOutcome::Failed(e),
    };
    let shown = escape(&real.to_string_lossy());
    let through = match &link {
        Some(l) => format!(" through the symlink {}", escape(&l.to_string_lossy())),
        None => String::new(),
    };
    let old = match crate::files::read_regular(&real, MAX_REWRITE) {
        Ok(o) => o,
        Err(e) => return StepOutcome::Failed(format!("{e}; nothing written")),
    };
    if let Step::WriteFile {
        seen_sha256: Some(want),
        ..
    } = step
    {
        let now = old.as_ref().map(|(b, _)| crate::files::sha256_hex(b));
        if now.as_deref() != Some(want.as_str()) {
            return StepOutcome::Failed(format!(
                "{shown} has changed since the check read it; nothing written (run the fix again to see the new diff)"
            ));
        }
    }
    let old_text = match &old {
        Some((b, _)) => match std::str::from_utf8(b) {
            Ok(t) => t,
            Err(_) => {
                return StepOutcome::Failed(format!("{shown} is not UTF-8 text; nothing written"));
            }
        },
        None => "",
    };
    let new = new_content(step, old_text);
    let keep = old.as_ref().map(|(_, m)| Keep::of(m));
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let backup = format!("{}.container-doctor-{stamp}.bak", real.to_string_lossy());
    if let (Some((bytes, _)), Some(k)) = (&old, keep)
        && let Err(e) = make_backup(Path::new(&backup), bytes, k)
    {
        let _ = fs::remove_file(&backup);
        return StepOutcome::Failed(format!("backup {}: {e}; nothing written", escape(&backup)));
    }
    let written = match keep {
        Some(k) => crate::files::write_atomic_keeping(&real, new.as_bytes(), Some(k)),
        None => crate::files::write_atomic(&real, &new).and_then(|_| {
            fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())
        }),
    };
    let real_s = real.to_string_lossy();
    match (written, old.is_some()) {
        (Ok(()), true) => {
            undo.push(format!(
                "cp -p {} {}",
                shlex_quote(&backup),
                shlex_quote(&real_s)
            ));
            StepOutcome::Done(format!(
                "wrote {shown}{through} (mode {:o}, owner {}:{} kept; backup {})",
                keep.map(|k| k.mode).unwrap_or(0),
                keep.map(|k| k.uid).unwrap_or(0),
                keep.map(|k| k.gid).unwrap_or(0),
                escape(&backup)
            ))
        }
        (Ok(()), false) => {
            undo.push(format!("rm {}", shlex_quote(&real_s)));
            StepOutcome::Done(format!("created {shown}{through}"))
        }
        (Err(e), _) => StepOutcome::Failed(e),
    }
}

/// The backup: a new file (never an existing one, never through a symlink) with the original's
/// bytes, mode and owner.
fn make_backup(path: &Path, bytes: &[u8], keep: Keep) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    std::os::unix::fs::fchown(&f, Some(keep.uid), Some(keep.gid))?;
    f.set_permissions(fs::Permissions::from_mode(keep.mode))?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn shlex_quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| format!("{s:?}"))
}

/// The start time of `pid` now, through the live Host like every other read of the system.
pub(super) fn start_ticks(pid: u32) -> Option<u64> {
    let text = Host::live().read_text(&format!("/proc/{pid}/stat")).ok()?;
    proc_stat::parse(&text).map(|s| s.start_ticks)
}

pub(super) fn signal_named(name: &str) -> Option<Signal> {
    match name {
        "TERM" => Some(Signal::TERM),
        "KILL" => Some(Signal::KILL),
        "INT" => Some(Signal::INT),
        "HUP" => Some(Signal::HUP),
        _ => None,
    }
}

/// Signals one process through a pidfd and waits for it to exit; SIGKILL after `grace`.
fn stop(pid: u32, expected_start: u64, comm: &str, signal: &str, grace: Duration) -> StepOutcome {
    let who = format!("pid {pid} ({comm})");
    let Some(sig) = signal_named(signal) else {
        return StepOutcome::Failed(format!("unknown signal {signal}"));
    };
    let Some(p) = Pid::from_raw(pid as i32) else {
        return StepOutcome::Failed(format!("{who}: not a pid"));
    };
    let fd = match pidfd_open(p, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => {
            return StepOutcome::Done(format!("{who} had already exited"));
        }
        Err(e) => return StepOutcome::Failed(format!("{who}: pidfd_open: {e}")),
    };
    // The pidfd now pins the process; if the pid was reused before we opened it, the start time differs.
    if start_ticks(pid) != Some(expected_start) {
        return StepOutcome::Failed(format!(
            "{who}: the pid now names another process; nothing sent"
        ));
    }
    if let Err(e) = pidfd_send_signal(&fd, sig) {
        return StepOutcome::Failed(format!("{who}: SIG{signal}: {e}"));
    }
    if exited(&fd, grace) {
        return StepOutcome::Done(format!("{who} exited after SIG{signal}"));
    }
    if let Err(e) = pidfd_send_signal(&fd, Signal::KILL) {
        return StepOutcome::Failed(format!("{who}: SIGKILL: {e}"));
    }
    if exited(&fd, Duration::from_secs(5)) {
        StepOutcome::Done(format!("{who} killed after {} ms", grace.as_millis()))
    } else {
        StepOutcome::Failed(format!("{who} did not exit even after SIGKILL (D state?)"))
    }
}

/// A pidfd is readable once its process has exited (a zombie counts as gone).
fn exited(fd: &impl AsFd, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(n) if n > 0 => return true,
            Ok(_) => return false,
            Err(rustix::io::Errno::INTR) if Instant::now() < deadline => continue,
            Err(_) => return false,
        }
    }
}

/// Files under `dir` that other processes of our mount namespace hold open: what a mount over
/// `dir` would hide from them. Not our own (the report we write, the audit log, /proc/self), and
/// not those of other mount namespaces, which a mount in ours does not touch.
pub(super) fn open_files_under(dir: &str) -> Vec<String> {
    let facts = Facts::of(Host::live());
    let Ok(procs) = facts.processes() else {
        return Vec::new();
    };
    let own = std::process::id();
    let our_ns = facts
        .read_link("/proc/self/ns/mnt")
        .ok()
        .and_then(|l| ns_inode(&l));
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    let mut found = Vec::new();
    for p in procs.iter().filter(|p| p.pid != own && p.mnt_ns == our_ns) {
        let Ok(fds) = facts.list_dir(&format!("/proc/{}/fd", p.pid)) else {
            continue;
        };
        for fd in fds {
            if let Ok(target) = facts.read_link(&format!("/proc/{}/fd/{fd}", p.pid))
                && target.starts_with(&prefix)
            {
                found.push(format!("{target} (pid {})", p.pid));
            }
        }
    }
    found
}

fn mount_step(
    source: &str,
    target: &str,
    fstype: &str,
    options: &str,
    force: bool,
    undo: &mut Vec<String>,
) -> StepOutcome {
    let open = open_files_under(target);
    if !open.is_empty() && !force {
        return StepOutcome::Failed(format!(
            "{} file(s) under {} are open by running processes ({}…): a mount would hide them from \
             new lookups while those processes keep using them; stop them, or rerun with --force",
            open.len(),
            escape(target),
            open.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut flags = MountFlags::empty();
    let mut data = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "nosuid" => flags |= MountFlags::NOSUID,
            "nodev" => flags |= MountFlags::NODEV,
            "noexec" => flags |= MountFlags::NOEXEC,
            "ro" => flags |= MountFlags::RDONLY,
            other => data.push(other),
        }
    }
    let Ok(data) = std::ffi::CString::new(data.join(",")) else {
        return StepOutcome::Failed("mount options hold a NUL byte".into());
    };
    match mount(source, target, fstype, flags, Some(data.as_c_str())) {
        Ok(()) => {
            undo.push(format!("umount {}", shlex_quote(target)));
            StepOutcome::Done(format!("mounted {fstype} on {}", escape(target)))
        }
        Err(e) => StepOutcome::Failed(format!("mount {fstype} on {}: {e}", escape(target))),
    }
}

/// The inode of a `mnt:[N]` namespace link.
/// The mount point of mount `id` in a mountinfo table, as its real bytes (`\040` and the other
/// octal escapes decoded): a path that is not UTF-8 is unmounted as it is, not as it was shown.
fn mount_point_bytes(mountinfo: &[u8], id: u32) -> Option<Vec<u8>> {
    let want = id.to_string();
    let line = mountinfo
        .split(|b| *b == b'\n')
        .find(|l| l.split(|b| *b == b' ').next() == Some(want.as_bytes()))?;
    let field = line.split(|b| *b == b' ').nth(4)?;
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\'
            && i + 3 < field.len()
            && field[i + 1..i + 4]
                .iter()
                .all(|c| (b'0'..=b'7').contains(c))
        {
            let v = field[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            out.push(v as u8);
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Unmounts only in the namespace where the mount lives: the doctor's own namespace directly;
/// another one by entering it (a child process, through the namespace of a process pinned by a
/// pidfd whose start time matches, after checking the namespace's inode is the one the plan
/// names); a plan naming no namespace only in the doctor's own. With a mount id, the mount must
/// still be there with the same mount point, and it is unmounted by its real bytes.
fn unmount_step(
    path: &str,
    lazy: bool,
    mount_id: Option<u32>,
    ns: Option<&MountNs>,
) -> StepOutcome {
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let shown = escape(path);
    let own = fs::read_link("/proc/self/ns/mnt")
        .ok()
        .and_then(|l| ns_inode(&l.to_string_lossy()));
    let foreign = ns.filter(|n| Some(n.inode) != own);
    // Where to read the mount table from, and (for another namespace) the way in.
    let (table, entry) = match foreign {
        None => ("/proc/self/mountinfo".to_string(), None),
        Some(n) => {
            let who = format!("mount namespace mnt:[{}]", n.inode);
            let Some(p) = Pid::from_raw(n.pid as i32) else {
                return StepOutcome::Failed(format!("{who}: no process to enter it through"));
            };
            let pidfd = match pidfd_open(p, PidfdFlags::empty()) {
                Ok(fd) => fd,
                Err(e) => {
                    return StepOutcome::Failed(format!(
                        "{who}: pid {} is gone ({e}); nothing unmounted",
                        n.pid
                    ));
                }
            };
            if start_ticks(n.pid) != Some(n.start_ticks) {
                return StepOutcome::Failed(format!(
                    "{who}: pid {} now names another process; nothing unmounted",
                    n.pid
                ));
            }
            let nsfd = match fs::File::open(format!("/proc/{}/ns/mnt", n.pid)) {
                Ok(f) => f,
                Err(e) => return StepOutcome::Failed(format!("{who}: {e}; nothing unmounted")),
            };
            if nsfd.metadata().map(|m| m.ino()).ok() != Some(n.inode) {
                return StepOutcome::Failed(format!(
                    "{who}: pid {} has moved to another mount namespace; nothing unmounted",
                    n.pid
                ));
            }
            // The pidfd pinned the process while its namespace was opened and checked.
            drop(pidfd);
            (format!("/proc/{}/mountinfo", n.pid), Some((nsfd, who)))
        }
    };
    let bytes: Vec<u8> = match mount_id {
        Some(id) => {
            let Ok(t) = fs::read(&table) else {
                return StepOutcome::Failed(format!("{table}: unreadable; nothing unmounted"));
            };
            match mount_point_bytes(&t, id) {
                Some(b) if String::from_utf8_lossy(&b) == path => b,
                Some(_) => {
                    return StepOutcome::Failed(format!(
                        "mount {id} is now somewhere other than {shown}; nothing unmounted"
                    ));
                }
                None => {
                    return StepOutcome::Done(format!(
                        "mount {id} ({shown}) is no longer mounted there"
                    ));
                }
            }
        }
        None => path.as_bytes().to_vec(),
    };
    let Ok(c) = std::ffi::CString::new(bytes) else {
        return StepOutcome::Failed("the mount point holds a NUL byte".into());
    };
    match entry {
        Some((nsfd, who)) => match crate::sys::unmount_in_namespace(nsfd.as_fd(), &c, lazy) {
            Ok(()) => StepOutcome::Done(format!("unmounted {shown} in {who}")),
            Err((stage, e)) => StepOutcome::Failed(format!("{who}: {stage} {shown}: {e}")),
        },
        None => {
            let flags = if lazy {
                UnmountFlags::DETACH | UnmountFlags::NOFOLLOW
            } else {
                UnmountFlags::NOFOLLOW
            };
            let p = std::path::Path::new(std::ffi::OsStr::from_bytes(c.as_bytes()));
            match unmount(p, flags) {
                Ok(()) => StepOutcome::Done(format!("unmounted {shown}")),
                Err(e) => StepOutcome::Failed(format!("umount {shown}: {e}")),
            }
        }
    }
}
