//! The active freezer probe: does a freeze actually reach FROZEN here, and how fast? Creates a
//! scratch cgroup, moves one sleeping child into it, freezes, times it, thaws, kills the child
//! and removes the cgroup, on every path out, including failures.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::HostError;

/// How long a freeze may take before the probe calls it stuck.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which freezer interface to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerVersion {
    /// `freezer.state` in the v1 freezer hierarchy.
    V1,
    /// `cgroup.freeze` / `cgroup.events` in a cgroup2 hierarchy.
    V2,
}

/// What the probe saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezerProbe {
    /// The scratch cgroup it made (and removed).
    pub cgroup: String,
    /// Microseconds from the freeze request to FROZEN; `None` when it never got there.
    pub frozen_after_us: Option<u64>,
    /// The last state read while waiting.
    pub last_state: String,
    /// Anything that could not be undone (the user must know).
    pub cleanup_problems: Vec<String>,
}

struct Scratch {
    version: FreezerVersion,
    dir: PathBuf,
    child: Option<Child>,
    cleaned: bool,
}

impl Scratch {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn set_frozen(&self, frozen: bool) -> std::io::Result<()> {
        match (self.version, frozen) {
            (FreezerVersion::V1, true) => fs::write(self.file("freezer.state"), "FROZEN"),
            (FreezerVersion::V1, false) => fs::write(self.file("freezer.state"), "THAWED"),
            (FreezerVersion::V2, true) => fs::write(self.file("cgroup.freeze"), "1"),
            (FreezerVersion::V2, false) => fs::write(self.file("cgroup.freeze"), "0"),
        }
    }

    /// The state as the kernel reports it, and whether it is FROZEN.
    fn state(&self) -> (String, bool) {
        match self.version {
            FreezerVersion::V1 => {
                let s = fs::read_to_string(self.file("freezer.state")).unwrap_or_default();
                let s = s.trim().to_string();
                let frozen = s == "FROZEN";
                (s, frozen)
            }
            FreezerVersion::V2 => {
                let s = fs::read_to_string(self.file("cgroup.events")).unwrap_or_default();
                let frozen = s.lines().any(|l| l.trim() == "frozen 1");
                (
                    if frozen { "frozen 1" } else { "frozen 0" }.to_string(),
                    frozen,
                )
            }
        }
    }
}

impl Scratch {
    /// Thaws, kills and reaps the child, removes the cgroup; says what could not be undone.
    /// Idempotent, so Drop can call it again after an early return.
    fn cleanup(&mut self) -> Vec<String> {
        if self.cleaned {
            return Vec::new();
        }
        self.cleaned = true;
        let mut problems = Vec::new();
        // A frozen v1 task cannot die until thawed: thaw first, then kill, reap, remove.
        if let Err(e) = self.set_frozen(false) {
            problems.push(format!("could not thaw {}: {e}", self.dir.display()));
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let removed = (0..50).any(|_| {
            let gone = fs::remove_dir(&self.dir).is_ok() || !self.dir.exists();
            if !gone {
                thread::sleep(Duration::from_millis(10));
            }
            gone
        });
        if !removed {
            problems.push(format!("could not remove {}", self.dir.display()));
        }
        problems
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.cleanup();
    }
}

pub fn run(version: FreezerVersion, dir: &str) -> Result<FreezerProbe, HostError> {
    let cgroup = PathBuf::from(dir).join(format!("container-doctor-probe-{}", std::process::id()));
    let shown = cgroup.display().to_string();
    fs::create_dir(&cgroup).map_err(|e| HostError::from_io(&format!("mkdir {shown}"), &e))?;
    let mut scratch = Scratch {
        version,
        dir: cgroup,
        child: None,
        cleaned: false,
    };
    let outcome = freeze(&mut scratch, &shown);
    let cleanup_problems = scratch.cleanup();
    let (frozen_after, last_state) = outcome.map_err(|e| match cleanup_problems.is_empty() {
        true => e,
        false => HostError::Io(format!("{e}; {}", cleanup_problems.join("; "))),
    })?;
    Ok(FreezerProbe {
        cgroup: shown,
        frozen_after_us: frozen_after.map(|d| d.as_micros() as u64),
        last_state,
        cleanup_problems,
    })
}

fn freeze(s: &mut Scratch, shown: &str) -> Result<(Option<Duration>, String), HostError> {
    let child = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| HostError::from_io("sleep (the probe's scratch process)", &e))?;
    let pid = child.id();
    s.child = Some(child);
    fs::write(s.file("cgroup.procs"), pid.to_string())
        .map_err(|e| HostError::from_io(&format!("{shown}/cgroup.procs"), &e))?;
    let start = Instant::now();
    s.set_frozen(true)
        .map_err(|e| HostError::from_io(&format!("freeze {shown}"), &e))?;
    let mut pause = Duration::from_micros(200);
    loop {
        let (state, frozen) = s.state();
        if frozen {
            return Ok((Some(start.elapsed()), state));
        }
        if start.elapsed() >= FREEZE_TIMEOUT {
            return Ok((None, state));
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
