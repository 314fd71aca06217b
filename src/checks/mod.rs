//! The registry of checks, in display order, and the runner that times them and turns a
//! panicking check into `unknown` instead of taking the whole report down.

mod buildkit_disk;
mod buildkit_usage;
mod cgroup_freezer;
mod cgroup_version;
mod criu_matrix;
mod criu_version;
mod dockerfile_cache_mounts;
mod kernel_config;
mod kernel_version;
mod known_issues;
mod overlay_busy;
mod overlay_scan;
mod pidfd;
mod runtime_versions;
mod tmp_tmpfs;
mod zombies;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::facts::Facts;
pub(crate) use crate::facts::first_line;
use crate::host::Host;
use crate::model::{CheckResult, Outcome};

/// A check: a pure function of the Host.
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    /// The group it is shown in.
    pub area: &'static str,
    /// The explanation shown by `explain` and `-v`.
    pub explanation: &'static str,
    /// What running inside a container hides from this check; `None` when it sees there what it
    /// would see on the host.
    pub in_container: Option<&'static str>,
    /// The tool `--require TOOL` makes mandatory: its absence is then an error, not a skip.
    pub requires_tool: Option<&'static str>,
    /// Whether `--active` (the UI's `a`) runs a probe that briefly changes the system.
    pub active_probe: bool,
    pub run: fn(&Facts, &Options) -> Outcome,
}

/// What the user asked of this scan beyond which checks to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run probes that change the system briefly (`--active`: the freezer probe).
    pub active: bool,
    /// Tools whose absence is an error rather than a skip (`--require criu`).
    pub require: Vec<String>,
    /// Dockerfiles to examine (`--dockerfile PATH`).
    pub dockerfiles: Vec<String>,
    /// The stage their builds end in (`--target NAME`, as `docker build --target`); the last
    /// stage by default.
    pub dockerfile_target: Option<String>,
    /// A kernel configuration file to grade instead of the running kernel's
    /// (`--kernel-config PATH`, as check-config.sh takes one).
    pub kernel_config: Option<String>,
    /// How long the whole scan may take (`--timeout`); `None` is [`DEADLINE`].
    pub deadline: Option<Duration>,
}

/// How long a scan may take by default. Commands have their own 5 s limit, but a read can block
/// in the kernel where no timeout reaches (a hung FUSE or NFS server behind a file or a
/// process's cwd); a check still running then is reported unknown and left behind.
pub const DEADLINE: Duration = Duration::from_secs(8);

impl Options {
    pub fn requires(&self, tool: &str) -> bool {
        self.require.iter().any(|r| r == tool)
    }
}

/// The explanation of check `$id`, from assets/checks/ID.md.
macro_rules! explanation {
    ($id:literal) => {
        include_str!(concat!("../../assets/checks/", $id, ".md"))
    };
}
use explanation;

/// Every check, in the order reports show them. Ids are stable: CI users pin them. A new check
/// is one file that declares its `CHECK`, plus one line here.
pub const ALL: &[&Check] = &[
    &kernel_version::CHECK,
    &kernel_config::CHECK,
    &pidfd::CHECK,
    &zombies::CHECK,
    &tmp_tmpfs::CHECK,
    &cgroup_version::CHECK,
    &cgroup_freezer::CHECK,
    &criu_version::CHECK,
    &runtime_versions::CHECK,
    &overlay_busy::CHECK,
    &buildkit_usage::CHECK,
    &dockerfile_cache_mounts::CHECK,
];

pub fn find(id: &str) -> Option<&'static Check> {
    ALL.iter().copied().find(|c| c.id == id)
}

/// The tools `--require` accepts: those some check names.
pub fn requirable_tools() -> Vec<&'static str> {
    ALL.iter().filter_map(|c| c.requires_tool).collect()
}

/// Runs one check, timing it; a panic becomes `unknown` with the panic's message.
pub fn run_one(check: &Check, host: &Facts, opts: &Options) -> CheckResult {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| (check.run)(host, opts))).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Outcome::unknown(format!("the check failed internally: {msg}"))
    });
    result(check, outcome, start.elapsed())
}

fn result(check: &Check, outcome: Outcome, took: Duration) -> CheckResult {
    CheckResult {
        id: check.id,
        title: check.title,
        area: check.area,
        status: outcome.status,
        summary: outcome.summary,
        evidence: outcome.evidence,
        fixes: outcome.fixes,
        metrics: outcome.metrics,
        table: outcome.table,
        visuals: outcome.visuals,
        duration_ms: took.as_secs_f64() * 1000.0,
        explanation: check.explanation,
    }
}

/// Runs the given checks, each on its own thread named `check:ID` (a slow `criu check` does not
/// hold up the rest), hands each result to `on_result` as it comes, and returns them in the
/// order given. At the deadline, checks still running are reported unknown with the request
/// they were waiting on; their threads are left behind, as a thread blocked in the kernel cannot
/// be stopped (they end with the process).
pub fn run(
    checks: &[&'static Check],
    host: &Arc<Facts>,
    opts: &Options,
    mut on_result: impl FnMut(&CheckResult),
) -> Vec<CheckResult> {
    let limit = opts.deadline.unwrap_or(DEADLINE);
    let deadline = Instant::now() + limit;
    let (tx, rx) = mpsc::channel();
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    for (i, &check) in checks.iter().enumerate() {
        let (tx, shared, job_opts) = (tx.clone(), Arc::clone(host), opts.clone());
        let spawned = std::thread::Builder::new()
            .name(thread_name(check))
            .spawn(move || {
                let _ = tx.send((i, run_one(check, &shared, &job_opts)));
            });
        if spawned.is_err() {
            // No thread to be had: run it here.
            let r = run_one(check, host, opts);
            on_result(&r);
            results[i] = Some(r);
        }
    }
    drop(tx);
    while results.iter().any(Option::is_none) {
        let Ok((i, r)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            break;
        };
        on_result(&r);
        results[i] = Some(r);
    }
    checks
        .iter()
        .zip(results)
        .map(|(check, r)| {
            r.unwrap_or_else(|| {
                let r = result(check, timed_out(check, host, limit), limit);
                on_result(&r);
                r
            })
        })
        .collect()
}

fn thread_name(check: &Check) -> String {
    format!("check:{}", check.id)
}

/// Whether this thread runs a check: a panic here is caught and turned into `unknown`.
pub fn is_check_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("check:"))
}

/// The verdict on a check that outlived the deadline: what it was waiting for, and how long.
fn timed_out(check: &Check, host: &Host, limit: Duration) -> Outcome {
    let limit = if limit.subsec_millis() == 0 {
        format!("{} s", limit.as_secs())
    } else {
        format!("{:.1} s", limit.as_secs_f64())
    };
    let within = format!("did not finish within {limit}");
    match host.waiting_on(&thread_name(check)) {
        Some((request, waited)) => Outcome::unknown(format!(
            "{within}: no answer to {request} after {:.1} s",
            waited.as_secs_f64()
        ))
        .evidence(
            request.to_string(),
            format!("still waiting when the scan's {limit} ran out"),
        ),
        // Waiting on nothing of its own: perhaps on a fact the host summary is still reading
        // (the summary is gathered beside the checks, and they share what it reads).
        None => match host.waiting_on(SUMMARY_THREAD) {
            Some((request, waited)) => Outcome::unknown(format!(
                "{within}, waiting on no request of its own; the host summary, which reads facts the checks share, has had no answer to {request} for {:.1} s",
                waited.as_secs_f64()
            ))
            .evidence(
                request.to_string(),
                format!("still waiting when the scan's {limit} ran out"),
            ),
            None => Outcome::unknown(within),
        },
    }
}

/// The name of the thread that gathers the host summary beside the checks.
pub const SUMMARY_THREAD: &str = "summary";

/// "s" for counts other than one.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
