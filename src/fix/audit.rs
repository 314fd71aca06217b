//! The audit log: one JSON line per action, appended to a file that is created safely
//! (never through a symlink, mode 0600) and is a regular file: a FIFO or a device in its
//! place is refused at once, never waited on.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use serde_json::json;

use super::StepOutcome;

/// Root: /var/log/container-doctor.log; others: $XDG_STATE_HOME (or ~/.local/state)/container-doctor/audit.log.
/// `CONTAINER_DOCTOR_AUDIT_LOG` overrides both.
pub fn default_path(euid: u32) -> PathBuf {
    if let Some(p) = std::env::var_os("CONTAINER_DOCTOR_AUDIT_LOG") {
        return PathBuf::from(p);
    }
    if euid == 0 {
        return PathBuf::from("/var/log/container-doctor.log");
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    state.join("container-doctor/audit.log")
}

pub struct Audit {
    path: PathBuf,
    file: File,
}

impl Audit {
    pub fn open(path: PathBuf) -> Result<Audit, String> {
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Never through a symlink; never waiting on a FIFO (O_NONBLOCK: with no reader the open
        // fails at once, with one it succeeds and fstat refuses it); only a regular file.
        let refused = || {
            format!(
                "audit log {}: not a regular file (a FIFO, device or socket is refused)",
                path.display()
            )
        };
        if let Ok(m) = std::fs::symlink_metadata(&path)
            && !m.file_type().is_file()
        {
            return Err(if m.file_type().is_symlink() {
                format!("audit log {}: a symlink, never followed", path.display())
            } else {
                refused()
            });
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENXIO) => refused(),
                _ => format!("audit log {}: {e}", path.display()),
            })?;
        let meta = file
            .metadata()
            .map_err(|e| format!("audit log {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(refused());
        }
        Ok(Audit { path, file })
    }

    pub fn path(&self) -> &PathBuf {
        &self.path
    }

    /// Records that the plan was stopped by the user (quit, or a signal to the doctor) while
    /// `step` ran: the steps after it were never started.
    pub fn interrupted(&mut self, check: &str, plan: &str, step: &str) {
        self.line(json!({
            "time": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            "uid": crate::sys::euid(),
            "check": check,
            "plan": plan,
            "step": step,
            "result": "interrupted",
            "detail": "the doctor was stopped while this step ran; later steps were not run",
            "undo": [],
        }));
    }

    /// Appends one line; a failure to log is reported on stderr, never silently dropped.
    pub fn record(
        &mut self,
        check: &str,
        plan: &str,
        step: &str,
        outcome: &StepOutcome,
        undo: &[String],
    ) {
        let (result, detail) = match outcome {
            StepOutcome::Done(d) => ("done", d.as_str()),
            StepOutcome::LeftToYou(d) => ("left to the user", d.as_str()),
            StepOutcome::Failed(d) => ("failed", d.as_str()),
        };
        let line = json!({
            "time": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            "uid": crate::sys::euid(),
            "check": check,
            "plan": plan,
            "step": step,
            "result": result,
            "detail": detail,
            "undo": undo,
        });
        self.line(line);
    }

    fn line(&mut self, line: serde_json::Value) {
        if let Err(e) = writeln!(self.file, "{line}") {
            eprintln!(
                "container-doctor: cannot write the audit log {}: {e}",
                self.path.display()
            );
        }
    }
}
