//! Work that leaves the UI thread: scans, fixes (with progress), the look for what would block a
//! fix, and support bundles. Each reports back to the loop as messages.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread;

use super::{HostFactory, Msg};
use crate::checks::{self, Check, Options};
use crate::facts::Facts;
use crate::fix;
use crate::model::FixPlan;
use crate::summary::HostSummary;

/// Runs the checks on their own threads; each result, then the host summary, comes back.
pub fn scan(
    checks: &[&'static Check],
    opts: &Options,
    make_host: &Arc<HostFactory>,
    tx: &Sender<Msg>,
) {
    let (checks, opts, make_host, tx) = (
        checks.to_vec(),
        opts.clone(),
        Arc::clone(make_host),
        tx.clone(),
    );
    thread::spawn(move || {
        let host = Arc::new(Facts::of(make_host()));
        checks::run(&checks, &host, &opts, |r| {
            let _ = tx.send(Msg::Result(r.clone()));
        });
        let _ = tx.send(Msg::Host(HostSummary::gather(&host)));
    });
}

/// Looks for what would block the plan (files open under a mount target): it reads every
/// process's fds, too slow for the UI thread on a busy host.
pub fn preflight(check: &'static str, plan: FixPlan, tx: &Sender<Msg>) {
    let tx = tx.clone();
    thread::spawn(move || {
        let found = fix::blockers(&plan);
        let _ = tx.send(Msg::Preflight { check, plan, found });
    });
}

/// Applies a confirmed plan, reporting each step as it starts, then runs the check again. The
/// dialog already refused what must be refused; the executor's own refusal is the last word.
pub fn apply(check: &'static Check, plan: FixPlan, make_host: &Arc<HostFactory>, tx: &Sender<Msg>) {
    let (make_host, tx) = (Arc::clone(make_host), tx.clone());
    thread::spawn(move || {
        let host = make_host();
        if host.replayed_from().is_some() || !host.is_live() {
            let _ = tx.send(Msg::Applied(
                "Nothing was done: not the live machine.".into(),
            ));
            return;
        }
        if let Some(why) = fix::refusal(&plan, host.euid(), true, true, check.id) {
            let _ = tx.send(Msg::Applied(format!("Refused: {why}")));
            return;
        }
        let mut audit = match fix::Audit::open(fix::audit_path(host.euid())) {
            Ok(a) => a,
            Err(e) => {
                let _ = tx.send(Msg::Applied(format!("Nothing was done: {e}")));
                return;
            }
        };
        let progress = tx.clone();
        let applied =
            fix::apply_with_progress(check.id, &plan, false, &mut audit, &mut |i, what| {
                let _ = progress.send(Msg::Progress {
                    step: i,
                    what: what.to_string(),
                });
            });
        let after = checks::run_one(check, &Facts::of(make_host()), &Options::default());
        let steps: Vec<String> = applied
            .steps
            .iter()
            .map(|(what, o)| match o {
                fix::StepOutcome::Done(d) => format!("done: {what} ({d})"),
                fix::StepOutcome::LeftToYou(d) => format!("yours: {d}"),
                fix::StepOutcome::Failed(d) => format!("FAILED: {what} ({d})"),
            })
            .collect();
        let summary = format!("Now {}: {}", after.status.as_str(), after.summary);
        let _ = tx.send(Msg::Result(after));
        let _ = tx.send(Msg::Applied(format!(
            "{}\n\n{summary}\nLogged to {}",
            steps.join("\n"),
            audit.path().display()
        )));
    });
}

/// Writes a support bundle to `target` (absolute, a name no other export uses).
pub fn export(opts: &Options, target: PathBuf, tx: &Sender<Msg>) {
    let (tx, opts) = (tx.clone(), opts.clone());
    thread::spawn(move || {
        let ex = crate::bundle::ExportOptions {
            output: Some(target),
            root: None,
            include_dirs: Vec::new(),
            exclude: Vec::new(),
            anonymize: false,
            max_bytes: 100_000_000,
        };
        let text = match crate::bundle::export(&opts, &ex, &mut |_| {}) {
            Ok(p) => format!("Bundle written (secrets removed): {}", p.display()),
            Err(e) => format!("No bundle: {}", e.lines().next().unwrap_or("")),
        };
        let _ = tx.send(Msg::Exported(text));
    });
}

/// A path in `dir` (absolute: the notice shows it) that no earlier export took:
/// container-doctor-HOST-TIME[-N].tar.gz.
pub fn bundle_path(dir: &Path, host: Option<&str>) -> Result<PathBuf, String> {
    let stem = crate::bundle::name_stem(host);
    (0..100)
        .map(|n| {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            };
            dir.join(format!("{stem}{suffix}.tar.gz"))
        })
        .find(|p| p.symlink_metadata().is_err())
        .ok_or_else(|| "no free bundle name in the current directory".into())
}
