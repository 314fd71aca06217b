//! The one runner for external programs: argv only, `LC_ALL=C`, no stdin, output capped,
//! a hard timeout that kills the whole process group.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::HostError;

/// Bytes kept of each of stdout and stderr; the rest is read and dropped.
pub const OUTPUT_CAP: usize = 1 << 20;

/// What a finished command left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// Exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Whether either stream was longer than [`OUTPUT_CAP`].
    pub truncated: bool,
    /// Not run now: when and why an earlier run's output still holds (a `--version` of an
    /// unchanged binary, see `version_cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remembered: Option<String>,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// How evidence names where this output came from: the command, and whether it was
    /// remembered rather than run now.
    pub fn source(&self, command: &str) -> String {
        match &self.remembered {
            Some(note) => format!("{command} ({note})"),
            None => command.to_string(),
        }
    }
}

/// Runs `argv` to completion or until `timeout`, whichever comes first.
pub fn run(argv: &[String], timeout: Duration) -> Result<CommandOutput, HostError> {
    let shown = argv.join(" ");
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| HostError::Io("empty command".into()))?;
    let mut child = Command::new(prog)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout can kill whatever it spawned too.
        .process_group(0)
        .spawn()
        .map_err(|e| HostError::from_io(&shown, &e))?;

    let deadline = Instant::now() + timeout;
    let out = child.stdout.take().map(capture);
    let err = child.stderr.take().map(capture);
    let status = wait(&mut child, deadline);
    if status.is_none() {
        crate::sys::kill_group(child.id());
        let _ = child.kill();
        let _ = child.wait();
    }
    // A grandchild may still hold the pipes open; wait for them no longer than the deadline.
    let (stdout, t1) = collect(out, deadline, child.id());
    let (stderr, t2) = collect(err, deadline, child.id());
    let status = status.ok_or_else(|| HostError::Timeout(shown, timeout.as_secs().max(1)))?;
    Ok(CommandOutput {
        code: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        truncated: t1 || t2,
        remembered: None,
    })
}

fn wait(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            _ => return None,
        }
    }
}

type Captured = (Vec<u8>, bool);

fn collect(rx: Option<Receiver<Captured>>, deadline: Instant, pgid: u32) -> Captured {
    let Some(rx) = rx else {
        return Captured::default();
    };
    let left = deadline.saturating_duration_since(Instant::now());
    rx.recv_timeout(left).unwrap_or_else(|_| {
        crate::sys::kill_group(pgid);
        rx.recv_timeout(Duration::from_millis(100))
            .unwrap_or_default()
    })
}

/// Reads a stream to its end on a thread, keeping the first [`OUTPUT_CAP`] bytes.
fn capture(mut stream: impl Read + Send + 'static) -> Receiver<Captured> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut truncated = false;
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    truncated |= n > room;
                }
            }
        }
        let _ = tx.send((kept, truncated));
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn captures_output_and_exit_code_in_the_c_locale() {
        let out = run(
            &argv(&["sh", "-c", "echo $LC_ALL; echo err >&2; exit 3"]),
            DEFAULT,
        )
        .unwrap();
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(3), "C\n", "err\n")
        );
        assert!(!out.success() && !out.truncated);
    }

    #[test]
    fn a_hanging_command_and_its_children_are_killed_at_the_timeout() {
        let start = Instant::now();
        let err = run(
            &argv(&["sh", "-c", "sleep 30 & sleep 30"]),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(err, HostError::Timeout(..)), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_grandchild_holding_the_pipe_does_not_hang_the_run() {
        let err = run(
            &argv(&["sh", "-c", "sleep 30 &"]),
            Duration::from_millis(300),
        );
        // The shell exits at once; its child keeps stdout open until killed at the deadline.
        assert!(err.is_ok(), "{err:?}");
    }

    #[test]
    fn output_is_capped() {
        let out = run(&argv(&["head", "-c", "3000000", "/dev/zero"]), DEFAULT).unwrap();
        assert_eq!(out.stdout.len(), OUTPUT_CAP);
        assert!(out.truncated);
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let err = run(&argv(&["/nonexistent/criu", "--version"]), DEFAULT).unwrap_err();
        assert!(matches!(err, HostError::NotFound(_)), "{err:?}");
        assert!(run(&[], DEFAULT).is_err());
    }

    const DEFAULT: Duration = super::super::DEFAULT_TIMEOUT;
}
