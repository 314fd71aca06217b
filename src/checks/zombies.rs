//! `zombies`: processes that exited but were never reaped. Zombies whose parent is PID 1 mean
//! PID 1 is not an init (a container started without `--init`, or a host whose PID 1 is some
//! agent): `kill -0` loops keep seeing those processes alive and wait for ever.

use std::collections::HashMap;

use crate::host::{Host, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::proc_stat::{self, ProcStat};

use super::plural;

/// Zombies of other parents younger than this are the normal gap between exit and wait().
const STALE_SECS: f64 = 60.0;
/// How many zombies are listed as evidence.
const SHOWN: usize = 5;
/// Programs known to reap orphans when they run as PID 1.
const INITS: &[&str] = &[
    "systemd",
    "init",
    "tini",
    "docker-init",
    "dumb-init",
    "catatonit",
    "s6-svscan",
    "runit",
    "openrc-init",
    "busybox",
    "upstart",
    "launchd",
    "containerd-shim",
];

struct Zombie {
    stat: ProcStat,
    age: Option<f64>,
}

pub fn run(host: &Host, _: &super::Options) -> Outcome {
    let pids: Vec<u32> = match host.list_dir("/proc") {
        Ok(names) => names.iter().filter_map(|n| n.parse().ok()).collect(),
        Err(e) => return Outcome::unknown(format!("cannot list processes: {e}")),
    };
    if pids.is_empty() {
        return Outcome::unknown("no processes under /proc (is procfs mounted?)");
    }
    let uptime = host
        .read_text("/proc/uptime")
        .ok()
        .and_then(|t| proc_stat::uptime_seconds(&t));
    let ticks = crate::sys::clock_ticks().max(1) as f64;

    let total = pids.len();
    let mut comms: HashMap<u32, String> = HashMap::new();
    let mut zombies = Vec::new();
    let mut unreadable = 0usize;
    for pid in pids {
        match host.read_text(&format!("/proc/{pid}/stat")) {
            Ok(text) => match proc_stat::parse(&text) {
                Some(stat) => {
                    comms.insert(stat.pid, stat.comm.clone());
                    if stat.state == 'Z' {
                        let age = uptime.map(|u| (u - stat.start_ticks as f64 / ticks).max(0.0));
                        zombies.push(Zombie { stat, age });
                    }
                }
                None => unreadable += 1,
            },
            // Exited while we looked: normal.
            Err(HostError::NotFound(_)) => {}
            Err(_) => unreadable += 1,
        }
    }
    if comms.is_empty() {
        return Outcome::unknown(format!(
            "no readable /proc/PID/stat among {total} process entries"
        ))
        .evidence("/proc", "is procfs mounted, and readable?");
    }
    let pid1 = comms.get(&1).cloned();
    let pid1_name = pid1.clone().unwrap_or_else(|| "unknown".into());
    let pid1_is_init = pid1.as_deref().is_some_and(|c| INITS.contains(&c));

    zombies.sort_by(|a, b| b.age.unwrap_or(0.0).total_cmp(&a.age.unwrap_or(0.0)));
    let (orphans, others): (Vec<&Zombie>, Vec<&Zombie>) =
        zombies.iter().partition(|z| z.stat.ppid == 1);
    let stale: Vec<&Zombie> = others
        .iter()
        .copied()
        .filter(|z| z.age.is_some_and(|a| a >= STALE_SECS))
        .collect();

    let mut out = if !orphans.is_empty() {
        Outcome::new(
            Status::Warn,
            format!(
                "{} zombie{} left to PID 1 ({pid1_name}), which does not reap them",
                orphans.len(),
                plural(orphans.len())
            ),
        )
        .fix(init_fix())
    } else if !stale.is_empty() {
        Outcome::new(
            Status::Warn,
            format!(
                "{} zombie{} unreaped for over {STALE_SECS:.0} s by their parent{}",
                stale.len(),
                plural(stale.len()),
                plural(stale.len())
            ),
        )
    } else if zombies.is_empty() {
        let note = if pid1_is_init || pid1.is_none() {
            String::new()
        } else {
            " — not a known init, so orphans would not be reaped".into()
        };
        Outcome::new(
            Status::Ok,
            format!("no zombie processes; PID 1 is {pid1_name}{note}"),
        )
    } else {
        Outcome::new(
            Status::Ok,
            format!(
                "{} short-lived zombie{} waiting for their parents",
                zombies.len(),
                plural(zombies.len())
            ),
        )
    };

    out.metric("zombies", zombies.len() as f64);
    out.metric("zombies_left_to_pid1", orphans.len() as f64);
    for z in orphans.iter().chain(stale.iter()).take(SHOWN) {
        let parent = comms.get(&z.stat.ppid).map(String::as_str).unwrap_or("?");
        let age = z
            .age
            .map(|a| format!(" for {}", human_age(a)))
            .unwrap_or_default();
        out = out.evidence(
            format!("/proc/{}/stat", z.stat.pid),
            format!(
                "pid {} ({}) zombie{age}, parent {} ({parent})",
                z.stat.pid, z.stat.comm, z.stat.ppid
            ),
        );
    }
    let listed = orphans.len() + stale.len();
    if listed > SHOWN {
        out = out.evidence("/proc", format!("… and {} more", listed - SHOWN));
    }
    out = out.evidence("/proc/1/stat", format!("PID 1 is {pid1_name}"));
    if unreadable > 0 {
        out = out.evidence(
            "/proc",
            format!("{unreadable} process(es) could not be read"),
        );
    }
    out
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

fn human_age(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}
