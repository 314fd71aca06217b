//! The registry of checks, in display order, and the runner that times them and turns a
//! panicking check into `unknown` instead of taking the whole report down.

mod buildkit_usage;
mod cgroup_freezer;
mod cgroup_layout;
mod cgroup_version;
mod criu_version;
mod dockerfile_cache_mounts;
mod kernel_version;
mod overlay_busy;
mod overlay_scan;
mod pidfd;
mod tmp_tmpfs;
mod zombies;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::host::{Host, HostError};
use crate::model::{CheckResult, Outcome};
use crate::parse::kernel::{self, KernelRelease};
use crate::parse::mountinfo::{self, MountTable};

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
    pub run: fn(&Host, &Options) -> Outcome,
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

macro_rules! explanation {
    ($id:literal) => {
        include_str!(concat!("../../assets/checks/", $id, ".md"))
    };
}

/// Every check, in the order reports show them. Ids are stable: CI users pin them.
pub const ALL: &[Check] = &[
    Check {
        id: "kernel-version",
        title: "Kernel version and the features it implies",
        area: "Kernel",
        explanation: explanation!("kernel-version"),
        in_container: None,
        run: kernel_version::run,
    },
    Check {
        id: "pidfd",
        title: "pidfd support (race-free process handles)",
        area: "Kernel",
        explanation: explanation!("pidfd"),
        in_container: Some(
            "answers for this container's seccomp profile, which may block calls the host allows",
        ),
        run: pidfd::run,
    },
    Check {
        id: "zombies",
        title: "Zombie processes and whether PID 1 reaps them",
        area: "Processes",
        explanation: explanation!("zombies"),
        in_container: Some(
            "sees the processes of this container's PID namespace, whose PID 1 is the container's init unless it runs with --pid host",
        ),
        run: zombies::run,
    },
    Check {
        id: "tmp-tmpfs",
        title: "/tmp on tmpfs",
        area: "Filesystems",
        explanation: explanation!("tmp-tmpfs"),
        in_container: Some("judges this container's /tmp, not the host's"),
        run: tmp_tmpfs::run,
    },
    Check {
        id: "cgroup-version",
        title: "cgroup v1, hybrid or v2",
        area: "cgroups",
        explanation: explanation!("cgroup-version"),
        in_container: Some(
            "sees only the cgroup mounts the engine gave this container: a hybrid host can look like v1",
        ),
        run: cgroup_version::run,
    },
    Check {
        id: "cgroup-freezer",
        title: "cgroup freezer: available, stuck FREEZING, left FROZEN",
        area: "cgroups",
        explanation: explanation!("cgroup-freezer"),
        in_container: Some("walks only this container's cgroups"),
        run: cgroup_freezer::run,
    },
    Check {
        id: "criu-version",
        title: "CRIU version and criu check",
        area: "Checkpoint/restore",
        explanation: explanation!("criu-version"),
        in_container: Some("looks for criu in this container's image, not on the host"),
        run: criu_version::run,
    },
    Check {
        id: "overlay-busy",
        title: "Overlay mounts: owners, leaks and who holds them",
        area: "Mounts",
        explanation: explanation!("overlay-busy"),
        in_container: Some("sees only this container's mounts and processes"),
        run: overlay_busy::run,
    },
    Check {
        id: "buildkit-usage",
        title: "BuildKit cache usage against its GC policy",
        area: "BuildKit",
        explanation: explanation!("buildkit-usage"),
        in_container: Some(
            "reaches an engine only through a socket mounted into the container, and reads only this container's files",
        ),
        run: buildkit_usage::run,
    },
    Check {
        id: "dockerfile-cache-mounts",
        title: "Dockerfile cache mounts shared by parallel stages",
        area: "BuildKit",
        explanation: explanation!("dockerfile-cache-mounts"),
        in_container: None,
        run: dockerfile_cache_mounts::run,
    },
];

impl Check {
    /// The first paragraph of the explanation, as one line: what the check does.
    pub fn gist(&self) -> String {
        self.explanation
            .split("\n\n")
            .map(str::trim)
            .find(|p| !p.is_empty() && !p.starts_with('#'))
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    /// Where the explanation is published: the file it is built from, in the repository named in
    /// Cargo.toml, so code-scanning views can link to it.
    pub fn help_uri(&self) -> String {
        format!(
            "{}/blob/main/assets/checks/{}.md",
            env!("CARGO_PKG_REPOSITORY"),
            self.id
        )
    }
}

pub fn find(id: &str) -> Option<&'static Check> {
    ALL.iter().find(|c| c.id == id)
}

/// Runs one check, timing it; a panic becomes `unknown` with the panic's message.
pub fn run_one(check: &Check, host: &Host, opts: &Options) -> CheckResult {
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
        duration_ms: took.as_secs_f64() * 1000.0,
    }
}

/// Runs the given checks, each on its own thread named `check:ID` (a slow `criu check` does not
/// hold up the rest), hands each result to `on_result` as it comes, and returns them in the
/// order given. At the deadline, checks still running are reported unknown with the request
/// they were waiting on; their threads are left behind, as a thread blocked in the kernel cannot
/// be stopped (they end with the process).
pub fn run(
    checks: &[&'static Check],
    host: &Arc<Host>,
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
        None => Outcome::unknown(within),
    }
}

/// The kernel release of the examined host, from /proc/sys/kernel/osrelease, else /proc/version.
/// The error is the reason, ready for an `unknown`.
pub(crate) fn kernel_release(host: &Host) -> Result<KernelRelease, String> {
    let osrelease = host.read_text("/proc/sys/kernel/osrelease");
    if let Some(k) = osrelease.as_deref().ok().and_then(kernel::parse_release) {
        return Ok(k);
    }
    match host.read_text("/proc/version") {
        Ok(v) => kernel::find_release(&v).ok_or_else(|| {
            format!(
                "cannot parse a kernel release in /proc/version: {:?}",
                first_line(&v, 80)
            )
        }),
        Err(e) => Err(match osrelease {
            Err(first) => format!("{first}; {e}"),
            Ok(t) => format!("cannot parse kernel release {:?}; {e}", first_line(&t, 80)),
        }),
    }
}

/// The mount table the examined host sees: our own live, PID 1's under `--root`.
pub(crate) fn mount_table(host: &Host) -> Result<MountTable, HostError> {
    let paths: &[&str] = if host.is_live() {
        &["/proc/self/mountinfo"]
    } else {
        &["/proc/1/mountinfo", "/proc/self/mountinfo"]
    };
    let mut first = None;
    for p in paths {
        match host.read_text(p) {
            Ok(t) => return Ok(mountinfo::parse(&t)),
            // Only a missing file sends us on to the next; any other failure is the answer.
            Err(HostError::NotFound(_)) => {
                first.get_or_insert(HostError::NotFound(p.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    Err(first.unwrap_or_else(|| HostError::NotFound("mountinfo".into())))
}

/// The first line of `text`, cut to `max` characters, for evidence excerpts.
pub(crate) fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim_end();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

/// "s" for counts other than one.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
