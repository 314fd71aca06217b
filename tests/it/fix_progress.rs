//! The fix executor as the UI drives it: progress per step, and the holders of one mount
//! signalled together (each sees the others still alive when its signal arrives).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use container_doctor::fix::{self, StepOutcome};
use container_doctor::model::{FixPlan, Risk, Step};
use container_doctor::parse::proc_stat;

/// A holder that ignores SIGTERM and, when it arrives, writes how many of the pids listed in
/// `pids` are still alive (not zombies).
const HOLDER: &str = r#"
import os, signal, sys, time
log, pids, ready = sys.argv[1:4]
def alive(p):
    try:
        return open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
def on_term(*_):
    n = sum(alive(p) for p in open(pids).read().split())
    with open(log, "a") as f:
        f.write(f"{n}\n")
signal.signal(signal.SIGTERM, on_term)
with open(ready, "a") as f:
    f.write("ready\n")
while True:
    time.sleep(1)
"#;

fn start_ticks(pid: u32) -> u64 {
    proc_stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap())
        .unwrap()
        .start_ticks
}

#[test]
fn holders_are_signalled_together_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (log, pids, ready) = (
        dir.path().join("log"),
        dir.path().join("pids"),
        dir.path().join("ready"),
    );
    let mut children: Vec<Child> = (0..3)
        .map(|_| {
            Command::new("python3")
                .args(["-c", HOLDER])
                .args([&log, &pids, &ready])
                .spawn()
                .unwrap()
        })
        .collect();
    let ids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    std::fs::write(
        &pids,
        ids.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    )
    .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(&ready).map_or(0, |t| t.lines().count()) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "holders never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let plan = FixPlan {
        id: "stop-holders-test".into(),
        title: "Stop the test holders".into(),
        risk: Risk::Destructive,
        needs_root: false,
        steps: ids
            .iter()
            .map(|&pid| Step::Signal {
                pid,
                start_ticks: start_ticks(pid),
                comm: "python3".into(),
                signal: "TERM".into(),
                then_kill_after_ms: 1500,
            })
            .collect(),
    };
    let mut audit = fix::Audit::open(dir.path().join("audit.log")).unwrap();
    let mut progress = Vec::new();
    let applied =
        fix::apply_with_progress("overlay-busy", &plan, false, &mut audit, &mut |i, w| {
            progress.push((i, w.to_string()))
        });
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!(
        progress,
        vec![(0, "signalling 3 processes together".to_string())]
    );
    assert_eq!(applied.steps.len(), 3);
    for (what, outcome) in &applied.steps {
        assert!(
            matches!(outcome, StepOutcome::Done(d) if d.contains("killed after 1500 ms")),
            "{what}: {outcome:?}"
        );
    }
    // Every holder got SIGTERM while all three were alive: none waited for another's grace.
    let seen = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        vec!["3", "3", "3"],
        "{seen}"
    );
    let audit_lines = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert_eq!(audit_lines.lines().count(), 3);
}
