//! `zombies`: processes that exited but were never reaped. Zombies left to a PID 1 that does not
//! reap (a container started without `--init`, or a host whose PID 1 is some agent) keep their
//! pids: `kill -0` loops keep seeing those processes alive and wait for ever.
//!
//! A zombie's age cannot be read (its start time is when it was born, not when it died), so a
//! parent is said not to reap only on evidence: the same zombies seen again after a pause.

use std::time::Duration;

use super::{Check, Options, plural};
use crate::facts::{Facts, Process};
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::proc_stat;

/// How long to wait before looking again: an init reaps within milliseconds.
const RESAMPLE: Duration = Duration::from_millis(300);
/// How many zombies are listed as evidence.
const SHOWN: usize = 5;

pub const CHECK: Check = Check {
    id: "zombies",
    title: "Zombie processes and whether PID 1 reaps them",
    area: "Processes",
    explanation: super::explanation!("zombies"),
    in_container: Some(
        "sees the processes of this container's PID namespace, whose PID 1 is the container's init unless it runs with --pid host",
    ),
    requires_tool: None,
    active_probe: false,
    run,
};

fn run(host: &Facts, _: &Options) -> Outcome {
    let procs = match host.processes() {
        Ok(p) => p,
        Err(why) => return Outcome::unknown(why.to_string()).evidence("/proc", "is procfs mounted, and readable?"),
    };
    let pid1 = procs
        .get(1)
        .map(|p| p.comm.clone())
        .unwrap_or_else(|| "unknown".into());
    let first: Vec<&Process> = procs.iter().filter(|p| p.state == 'Z').collect();
    let zombies = if first.is_empty() {
        Vec::new()
    } else {
        still_zombies(host, &first)
    };
    // Zombies whose parent is an init of some PID namespace: PID 1 here, or a container's.
    let orphans: Vec<(&Process, String)> = zombies
        .iter()
        .filter_map(|z| reaper(host, z, &pid1).map(|who| (*z, who)))
        .collect();

    let mut out = if !orphans.is_empty() {
        let mut who: Vec<&str> = orphans.iter().map(|(_, w)| w.as_str()).collect();
        who.dedup();
        Outcome::new(
            Status::Warn,
            format!(
                "{} zombie{} left to {}, not reaped after {} ms",
                orphans.len(),
                plural(orphans.len()),
                who.join(" and "),
                RESAMPLE.as_millis()
            ),
        )
        .fix(init_fix())
    } else if zombies.is_empty() {
        let gone = if first.is_empty() {
            String::new()
        } else {
            format!(" ({} reaped while we looked)", first.len())
        };
        Outcome::new(
            Status::Ok,
            format!("no zombie processes{gone}; PID 1 is {pid1}"),
        )
    } else {
        Outcome::new(
            Status::Ok,
            format!(
                "{} zombie{} waiting for {} parent{} (not inits), PID 1 is {pid1}",
                zombies.len(),
                plural(zombies.len()),
                if zombies.len() == 1 { "its" } else { "their" },
                plural(zombies.len())
            ),
        )
    };
    out.count("zombies", "Zombie processes, seen twice.", zombies.len() as f64);
    out.count(
        "zombies_left_to_pid1",
        "Zombie processes left to an init (PID 1 of some PID namespace) that did not reap them.",
        orphans.len() as f64,
    );
    for z in zombies.iter().take(SHOWN) {
        let parent = procs.get(z.ppid).map(|p| p.comm.as_str()).unwrap_or("?");
        out.push(
            format!("/proc/{}/stat", z.pid),
            format!(
                "pid {} ({}) zombie, still there after {} ms; parent {} ({parent})",
                z.pid,
                z.comm,
                RESAMPLE.as_millis(),
                z.ppid
            ),
        );
    }
    if zombies.len() > SHOWN {
        out.push("/proc", format!("… and {} more", zombies.len() - SHOWN));
    }
    out.push("/proc/1/stat", format!("PID 1 is {pid1}"));
    let c = &procs.completeness;
    if c.unreadable > 0 {
        out.push("/proc", c.to_string());
    }
    out
}

/// The zombies of `first` that are zombies still (same pid, same start) after [`RESAMPLE`].
fn still_zombies<'a>(host: &Facts, first: &[&'a Process]) -> Vec<&'a Process> {
    // A replayed bundle answers the second look with what was recorded: no need to wait.
    if host.replayed_from().is_none() {
        std::thread::sleep(RESAMPLE);
    }
    first
        .iter()
        .copied()
        .filter(|z| {
            host.read_text(&format!("/proc/{}/stat", z.pid))
                .ok()
                .and_then(|t| proc_stat::parse(&t))
                .is_some_and(|s| s.state == 'Z' && s.start_ticks == z.start_ticks)
        })
        .collect()
}

/// Who should have reaped zombie `z`, when that is an init: "PID 1 (name)", or for a
/// container's init (PID 1 in its own PID namespace, NSpid) "the container init NAME (pid N)".
fn reaper(host: &Facts, z: &Process, pid1: &str) -> Option<String> {
    if z.ppid == 1 {
        return Some(format!("PID 1 ({pid1})"));
    }
    let status = host.read_text(&format!("/proc/{}/status", z.ppid)).ok()?;
    let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    let inner = nspid.split_whitespace().last()?;
    let name = status
        .lines()
        .find_map(|l| l.strip_prefix("Name:"))
        .map(str::trim)
        .unwrap_or("?");
    (inner == "1" && nspid.split_whitespace().count() > 1)
        .then(|| format!("the container init {name} (pid {})", z.ppid))
}

fn init_fix() -> FixPlan {
    FixPlan {
        id: "use-an-init".into(),
        title: "Run an init as PID 1".into(),
        risk: Risk::Safe,
        needs_root: false,
        steps: vec![Step::Manual {
            instruction: "Start containers with an init that reaps orphans: `docker run --init`, \
                          `podman run --init`, or tini / dumb-init / catatonit as the entrypoint. \
                          Zombies already left to PID 1 disappear only when PID 1 reaps or exits."
                .into(),
        }],
    }
}
