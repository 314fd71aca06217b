//! `cgroup-freezer`: is there a freezer, is any cgroup stuck FREEZING or left FROZEN, and (with
//! `--active`) does a freeze really complete here? runc pauses and CRIU checkpoints through the
//! freezer; a freeze that never completes hangs them until they time out (runc TestCheckpoint,
//! "Timeout reached", freezer.state stuck at FREEZING; CRIU 4.1 reworked its freeze loop).

use std::time::Duration;

use super::{Check, Options};
use crate::facts::Facts;
use crate::facts::engines::Conmon;
use crate::host::{FreezerVersion, Host, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step, Unit, Visual};
use crate::parse::cgroup::{self, FreezerState};
use crate::parse::mountinfo::escape;
use crate::parse::proc_stat;

use super::plural;

/// Bounds of the walk: a host with more cgroups than this is reported as partly walked.
const MAX_CGROUPS: usize = 20_000;
const MAX_DEPTH: usize = 64;
/// A freeze seen in progress is looked at again after this long before it counts as stuck.
const SETTLE: Duration = Duration::from_millis(100);
/// How many tasks of a cgroup are shown.
const TASKS_SHOWN: usize = 5;

/// A cgroup that someone froze (or tried to).
struct Frozen {
    version: FreezerVersion,
    path: String,
    state: FreezerState,
}

pub const CHECK: Check = Check {
    id: "cgroup-freezer",
    title: "cgroup freezer: available, stuck FREEZING, left FROZEN",
    area: "cgroups",
    explanation: super::explanation!("cgroup-freezer"),
    in_container: Some("walks only this container's cgroups"),
    requires_tool: None,
    active_probe: true,
    run,
};

fn run(host: &Facts, opts: &Options) -> Outcome {
    let layout = match host.cgroups() {
        Ok(l) => l,
        Err(reason) => return Outcome::unknown(reason),
    };
    let v1 = layout.freezer().map(|h| h.mount_point.clone());
    // cgroup.freeze exists from 5.2 on, in every non-root cgroup of a cgroup2 hierarchy.
    let kernel = host.kernel();
    if v1.is_none()
        && layout.unified.is_some()
        && let Err(why) = kernel
    {
        // Without the kernel's version, "no freezer" would be a guess.
        return Outcome::unknown(format!(
            "cgroup2 is mounted but the kernel version is unknown ({why}): cgroup.freeze needs 5.2"
        ));
    }
    let v2 = layout
        .unified
        .clone()
        .filter(|_| kernel.is_ok_and(|k| k.at_least(5, 2)));
    // A hierarchy named by the mount table but absent from what we can read (a --root tree
    // without /sys) says nothing about frozen cgroups.
    let missing: Vec<&String> = [&v1, &v2]
        .into_iter()
        .flatten()
        .filter(|root| !host.stat(root).is_ok_and(|m| m.is_dir))
        .collect();
    if !missing.is_empty() {
        return Outcome::unknown(format!(
            "the freezer hierarchy {} is in the mount table but cannot be read here (no /sys in this tree?)",
            missing
                .iter()
                .map(|m| escape(m))
                .collect::<Vec<_>>()
                .join(" and ")
        ));
    }

    let mut walk = Walk {
        host,
        found: Vec::new(),
        walked: 0,
        truncated: false,
    };
    for (version, root) in [(FreezerVersion::V1, &v1), (FreezerVersion::V2, &v2)] {
        if let Some(root) = root {
            walk.visit(version, root, root, 0);
        }
    }
    let Walk {
        mut found,
        walked,
        truncated,
        ..
    } = walk;
    // A freeze caught in flight is normal for milliseconds; stuck is what stays.
    if found.iter().any(|f| f.state == FreezerState::Freezing) {
        std::thread::sleep(SETTLE);
        for f in found
            .iter_mut()
            .filter(|f| f.state == FreezerState::Freezing)
        {
            if let Some(state) = state_of(host, f.version, &f.path) {
                f.state = state;
            }
        }
        found.retain(|f| f.state != FreezerState::Thawed);
    }

    let available = match (&v1, &v2) {
        (Some(a), Some(b)) => format!(
            "v1 at {} and v2 cgroup.freeze under {}",
            escape(a),
            escape(b)
        ),
        (Some(a), None) => format!("v1 at {}", escape(a)),
        (None, Some(b)) => format!("v2 cgroup.freeze under {}", escape(b)),
        (None, None) => String::new(),
    };
    let stuck = found
        .iter()
        .filter(|f| f.state == FreezerState::Freezing)
        .count();
    let frozen = found.len() - stuck;
    let mut out = if available.is_empty() {
        Outcome::new(
            Status::Warn,
            "no freezer: no v1 freezer hierarchy and no cgroup2 with cgroup.freeze (kernel ≥ 5.2); \
             runc cannot pause and CRIU cannot freeze a container consistently",
        )
    } else if stuck > 0 {
        Outcome::new(
            Status::Error,
            format!(
                "{stuck} cgroup{} stuck FREEZING{}: checkpoints and pauses there hang",
                plural(stuck),
                if frozen > 0 {
                    format!(", {frozen} left FROZEN")
                } else {
                    String::new()
                }
            ),
        )
    } else if frozen > 0 {
        Outcome::new(
            Status::Warn,
            format!(
                "{frozen} cgroup{} left FROZEN (a paused container, or a checkpoint that died)",
                plural(frozen)
            ),
        )
    } else {
        Outcome::new(
            Status::Ok,
            format!("freezer {available}; {walked} cgroups walked, none frozen"),
        )
    };
    if !available.is_empty() && !matches!(out.status, Status::Ok) {
        out = out.evidence("freezer", available.clone());
    }
    if truncated {
        out = out.evidence(
            "walk",
            format!("stopped after {walked} cgroups (limit {MAX_CGROUPS}, depth {MAX_DEPTH})"),
        );
    }
    // Stuck ones first: they are the errors.
    found.sort_by_key(|f| f.state != FreezerState::Freezing);
    let conmons = host.conmons();
    for f in &found {
        let blocked;
        (out, blocked) = describe(host, f, out);
        out = out.fix(thaw_plan(f, conmons, &blocked));
    }
    if opts.active {
        out = active_probe(host, v1.as_deref(), v2.as_deref(), out);
    }
    out
}

/// A depth-first walk of one or two cgroup trees, collecting frozen cgroups.
struct Walk<'a> {
    host: &'a Host,
    found: Vec<Frozen>,
    walked: usize,
    truncated: bool,
}

impl Walk<'_> {
    fn visit(&mut self, version: FreezerVersion, root: &str, dir: &str, depth: usize) {
        if self.walked >= MAX_CGROUPS || depth > MAX_DEPTH {
            self.truncated = true;
            return;
        }
        self.walked += 1;
        // The root cgroup cannot be frozen; only its descendants have freezer files.
        if dir != root
            && let Some(state) = state_of(self.host, version, dir)
            && state != FreezerState::Thawed
            && froze_itself(self.host, version, dir)
        {
            self.found.push(Frozen {
                version,
                path: dir.to_string(),
                state,
            });
        }
        // A cgroup that vanished mid-walk has no children to visit: nothing to report.
        for child in self.host.subdirs(dir).unwrap_or_default() {
            self.visit(version, root, &format!("{dir}/{child}"), depth + 1);
        }
    }
}

fn state_of(host: &Host, version: FreezerVersion, dir: &str) -> Option<FreezerState> {
    match version {
        FreezerVersion::V1 => {
            cgroup::parse_freezer_state(&host.read_text(&format!("{dir}/freezer.state")).ok()?)
        }
        FreezerVersion::V2 => {
            if host.read_text(&format!("{dir}/cgroup.freeze")).ok()?.trim() != "1" {
                return Some(FreezerState::Thawed);
            }
            let events =
                cgroup::parse_events(&host.read_text(&format!("{dir}/cgroup.events")).ok()?);
            Some(match events.frozen {
                Some(true) => FreezerState::Frozen,
                _ => FreezerState::Freezing,
            })
        }
    }
}

/// Whether this cgroup was frozen itself rather than through a frozen ancestor (v1 says so in
/// `freezer.self_freezing`; v2's `cgroup.freeze` is already per cgroup).
fn froze_itself(host: &Host, version: FreezerVersion, dir: &str) -> bool {
    match version {
        FreezerVersion::V1 => host
            .read_text(&format!("{dir}/freezer.self_freezing"))
            .map(|t| t.trim() != "0")
            .unwrap_or(true),
        FreezerVersion::V2 => true,
    }
}

/// The cgroup, its container, and its tasks; for tasks in D state, where they sleep in the kernel.
/// Returns the D-state tasks as "pid (comm) waiting in WCHAN": thawing does not wake them.
fn describe(host: &Host, f: &Frozen, mut out: Outcome) -> (Outcome, Vec<String>) {
    let mut blocked = Vec::new();
    let state = match f.state {
        FreezerState::Freezing => "FREEZING (stuck)",
        FreezerState::Frozen => "FROZEN",
        FreezerState::Thawed => "THAWED",
    };
    let container = cgroup::container_of(&f.path)
        .map(|(engine, id)| format!(", {engine} container {}", short(&id)))
        .unwrap_or_default();
    let pids: Vec<u32> = host
        .read_text(&format!("{}/cgroup.procs", f.path))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default();
    out = out.evidence(
        escape(&f.path),
        format!(
            "{state}{container}; {} task{}",
            pids.len(),
            plural(pids.len())
        ),
    );
    for pid in pids.iter().take(TASKS_SHOWN) {
        let Some(stat) = host
            .read_text(&format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| proc_stat::parse(&t))
        else {
            continue;
        };
        let mut line = format!("pid {pid} ({}) state {}", stat.comm, stat.state);
        if stat.state == 'D' {
            let mut wait = format!("pid {pid} ({})", stat.comm);
            if let Ok(wchan) = host.read_text(&format!("/proc/{pid}/wchan")) {
                line += &format!(", waiting in {}", wchan.trim());
                wait += &format!(" waiting in {}", wchan.trim());
            }
            match host.read_text(&format!("/proc/{pid}/stack")) {
                Ok(stack) => {
                    let frames: Vec<&str> = stack
                        .lines()
                        .take(3)
                        .filter_map(|l| l.split_whitespace().nth(1))
                        .collect();
                    if !frames.is_empty() {
                        line += &format!(", stack {}", frames.join(" < "));
                        wait += &format!(" ({})", frames.join(" < "));
                    }
                }
                Err(HostError::PermissionDenied(_)) => line += ", stack: needs root",
                Err(_) => {}
            }
            // Frozen tasks show D too (TASK_FROZEN): only in a cgroup stuck FREEZING is a D
            // task what the freeze waits for.
            if f.state == FreezerState::Freezing {
                blocked.push(wait);
            }
        }
        out = out.evidence(format!("/proc/{pid}/stat"), line);
    }
    if pids.len() > TASKS_SHOWN {
        out = out.evidence(
            escape(&f.path),
            format!("… and {} more tasks", pids.len() - TASKS_SHOWN),
        );
    }
    if !blocked.is_empty() {
        out = out.evidence(
            escape(&f.path),
            format!(
                "{} task{} in D state (uninterruptible, e.g. blocked on a hung FUSE or NFS server): \
                 thawing does not wake {}, the wait it is in must end first",
                blocked.len(),
                plural(blocked.len()),
                if blocked.len() == 1 { "it" } else { "them" }
            ),
        );
    }
    (out, blocked)
}

/// Thawing: through the engine for its own paused container (writing THAWED behind its back
/// leaves it saying Paused and `unpause` failing); else the control file. With tasks in D state
/// the plan says that thawing does not end their wait, and ends with that for a person to do.
fn thaw_plan(f: &Frozen, conmons: &[Conmon], blocked: &[String]) -> FixPlan {
    let (file, value) = match f.version {
        FreezerVersion::V1 => ("freezer.state", "THAWED"),
        FreezerVersion::V2 => ("cgroup.freeze", "0"),
    };
    let engine = cgroup::container_of(&f.path).and_then(|(engine, id)| match engine {
        "docker" => Some((
            vec!["docker".to_string(), "unpause".into(), id.clone()],
            format!("docker container {}", short(&id)),
        )),
        "podman" => {
            // Podman with its own storage: the root and runroot its conmon was started with.
            let mut argv = vec!["podman".to_string()];
            if let Some(m) = conmons.iter().find(|m| m.cid == id) {
                if let Some(r) = &m.storage_root {
                    argv.extend(["--root".into(), r.clone()]);
                }
                if let Some(r) = &m.runroot {
                    argv.extend(["--runroot".into(), r.clone()]);
                }
            }
            argv.extend(["unpause".into(), id.clone()]);
            Some((argv, format!("podman container {}", short(&id))))
        }
        _ => None,
    });
    let (id, title, mut steps) = match engine {
        Some((argv, what)) => (
            format!("unpause:{}", f.path),
            format!("Unpause {what} through its engine"),
            vec![Step::Exec { argv }],
        ),
        None => (
            // The cgroup's path tells the plans of several frozen cgroups apart.
            format!("thaw:{}", f.path),
            format!("Thaw {}", escape(&f.path)),
            vec![Step::WriteFile {
                path: format!("{}/{file}", f.path),
                content: value.into(),
                seen_sha256: None,
            }],
        ),
    };
    let title = if blocked.is_empty() {
        title
    } else {
        steps.push(Step::Manual {
            instruction: format!(
                "thawing does not end an uninterruptible wait: {} — end that wait (restart or abort \
                 the hung FUSE/NFS server, e.g. `echo 1 > /sys/fs/fuse/connections/N/abort`), \
                 then check again",
                blocked.join("; ")
            ),
        });
        format!(
            "{title} (does not fix the cause: {} task{} blocked in D state)",
            blocked.len(),
            plural(blocked.len())
        )
    };
    FixPlan {
        id,
        title,
        risk: Risk::Disruptive,
        needs_root: true,
        steps,
    }
}

fn active_probe(host: &Host, v1: Option<&str>, v2: Option<&str>, mut out: Outcome) -> Outcome {
    if host.is_live() && host.euid() != 0 {
        if out.status == Status::Ok {
            out.status = Status::Unknown;
            out.summary = format!("{}; the active probe needs root", out.summary);
        }
        return out.evidence("active probe", "needs root");
    }
    let mut timings = Vec::new();
    for (version, name, dir) in [
        (FreezerVersion::V1, "v1", v1),
        (FreezerVersion::V2, "v2", v2),
    ] {
        let Some(dir) = dir else { continue };
        let recorded = if host.replayed_from().is_some() {
            ", recorded"
        } else {
            ""
        };
        let label = format!("active probe ({name}{recorded})");
        match host.probe_freezer(version, dir) {
            Ok(p) => {
                match p.frozen_after_us {
                    Some(us) => {
                        let ms = us as f64 / 1000.0;
                        out.push(label.clone(), format!("{} froze in {ms:.1} ms", p.cgroup));
                        out.measure(
                            "freezer_probe_ms",
                            &[("version", name)],
                            "Milliseconds a test cgroup took to freeze (--active).",
                            Unit::Milliseconds,
                            ms,
                        );
                        timings.push((name, ms));
                    }
                    None => {
                        out.status = Status::Error;
                        out.summary = format!(
                            "a test cgroup did not freeze within {} s (state {}): checkpoints here will hang",
                            crate::host::FREEZE_TIMEOUT.as_secs(),
                            p.last_state
                        );
                        out.push(label.clone(), format!("{} never reached FROZEN", p.cgroup));
                    }
                }
                for problem in &p.cleanup_problems {
                    out.push(label.clone(), format!("left behind: {problem}"));
                }
            }
            Err(e) => {
                if out.status == Status::Ok {
                    out.status = Status::Unknown;
                    out.summary = format!("{}; the active probe failed", out.summary);
                }
                out.push(label, e.to_string());
            }
        }
    }
    if !timings.is_empty() {
        if out.status == Status::Ok {
            let took: Vec<String> = timings
                .iter()
                .map(|(name, ms)| format!("{ms:.1} ms ({name})"))
                .collect();
            out.summary = format!("{}; a test freeze took {}", out.summary, took.join(", "));
        }
        out.visuals.push(Visual::Bars {
            title: "test freeze".into(),
            unit: Unit::Milliseconds,
            bars: timings
                .iter()
                .map(|(name, ms)| (format!("{name} freeze"), *ms))
                .collect(),
        });
    }
    out
}

fn short(id: &str) -> &str {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Answer, Meta, Request, Script};

    const V1_FREEZER: &str =
        "31 1 0:27 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer\n";
    const V2: &str = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";

    fn run(script: Script) -> Outcome {
        (CHECK.run)(&Facts::of(script.host()), &Options::default())
    }

    fn dir(script: Script, path: &str) -> Script {
        script.answer(
            Request::Stat(path.into()),
            Ok(Answer::Meta(Meta {
                is_dir: true,
                is_file: false,
                mode: 0o755,
                size: 0,
                dev: (0, 27),
            })),
        )
    }

    #[test]
    fn a_hierarchy_that_is_not_there_is_unknown() {
        // A --root tree with a mount table but no /sys.
        let o = run(Script::new().file("/proc/1/mountinfo", V1_FREEZER));
        assert_eq!(o.status, Status::Unknown, "{}", o.summary);
        assert!(
            o.summary.contains("/sys/fs/cgroup/freezer"),
            "{}",
            o.summary
        );
        assert!(!o.summary.contains("walked"), "{}", o.summary);
        // The same tree with the hierarchy present is walked.
        let o = run(dir(
            Script::new().file("/proc/1/mountinfo", V1_FREEZER),
            "/sys/fs/cgroup/freezer",
        ));
        assert_eq!(o.status, Status::Ok, "{}", o.summary);
    }

    #[test]
    fn an_unknown_kernel_is_not_no_freezer() {
        let o = run(dir(
            Script::new().file("/proc/1/mountinfo", V2),
            "/sys/fs/cgroup",
        ));
        assert_eq!(o.status, Status::Unknown, "{}", o.summary);
        assert!(
            o.summary.contains("kernel version is unknown"),
            "{}",
            o.summary
        );
        let o = run(dir(
            Script::new()
                .file("/proc/1/mountinfo", V2)
                .file("/proc/sys/kernel/osrelease", "4.19.0-26-amd64\n"),
            "/sys/fs/cgroup",
        ));
        assert_eq!(o.status, Status::Warn, "{}", o.summary);
        assert!(o.summary.starts_with("no freezer"), "{}", o.summary);
    }
}
