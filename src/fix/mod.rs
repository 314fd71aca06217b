//! Applying fix plans: each step is an argv exec, a file write (atomic, with a backup; shown as a
//! diff first), a signal through a pidfd, or a mount/unmount syscall. Steps run in order; a failed
//! step stops the rest. Every action is appended to the audit log. Never a shell.

mod audit;
pub mod command;
mod signals;
mod steps;
mod verify;

use crate::model::{FixPlan, Risk, Step};

pub use audit::{Audit, default_path as audit_path};
pub use steps::preview;

/// How one step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    Done(String),
    /// A step only a person can do: shown, never run.
    LeftToYou(String),
    Failed(String),
}

/// What applying a plan did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub steps: Vec<(String, StepOutcome)>,
    /// How to undo what was done, where that is known (backups written, mounts made).
    pub undo: Vec<String>,
}

impl Applied {
    pub fn failed(&self) -> bool {
        self.steps
            .iter()
            .any(|(_, o)| matches!(o, StepOutcome::Failed(_)))
    }
}

/// Why a plan is refused before anything runs.
pub fn refusal(
    plan: &FixPlan,
    euid: u32,
    yes: bool,
    force: bool,
    check_id: &str,
) -> Option<String> {
    if plan.needs_root && euid != 0 {
        return Some(format!(
            "this fix needs root; run: sudo container-doctor fix {check_id} --plan {}",
            plan.id
        ));
    }
    if plan.risk == Risk::Destructive && !(yes && force) {
        return Some("this fix is destructive: it needs --yes --force".into());
    }
    None
}

/// Whether the plan is only instructions for a person.
pub fn manual_only(plan: &FixPlan) -> bool {
    plan.steps.iter().all(|s| matches!(s, Step::Manual { .. }))
}

/// Runs the plan's steps in order, stopping at the first failure, logging each one.
/// `force` lets a mount go over a directory whose files are open.
pub fn apply(check_id: &str, plan: &FixPlan, force: bool, audit: &mut Audit) -> Applied {
    apply_with_progress(check_id, plan, force, audit, &mut |_, _| {})
}

/// As [`apply`], telling `progress` the index and description of each step as it starts (the UI
/// shows it). A run of Signal steps (the holders of one mount) is signalled together.
pub fn apply_with_progress(
    check_id: &str,
    plan: &FixPlan,
    force: bool,
    audit: &mut Audit,
    progress: &mut dyn FnMut(usize, &str),
) -> Applied {
    let mut applied = Applied {
        steps: Vec::new(),
        undo: Vec::new(),
    };
    let mut stopped = false;
    let mut i = 0;
    while i < plan.steps.len() {
        let step = &plan.steps[i];
        let what = crate::escape::escape_control(&step.describe());
        if stopped {
            applied.steps.push((
                what,
                StepOutcome::Failed("not run: an earlier step failed".into()),
            ));
            i += 1;
            continue;
        }
        let run = plan.steps[i..]
            .iter()
            .take_while(|s| matches!(s, Step::Signal { .. }))
            .count();
        if run > 1 {
            progress(i, &format!("signalling {run} processes together"));
            let group = &plan.steps[i..i + run];
            for (s, outcome) in group.iter().zip(signals::stop_together(group)) {
                let what = crate::escape::escape_control(&s.describe());
                audit.record(check_id, &plan.id, &what, &outcome, &[]);
                stopped |= matches!(outcome, StepOutcome::Failed(_));
                applied.steps.push((what, outcome));
            }
            i += run;
            continue;
        }
        progress(i, &what);
        let known = applied.undo.len();
        let outcome = match steps::run(step, force, &mut applied.undo) {
            StepOutcome::Done(d) => StepOutcome::Done(crate::escape::escape_control(&d)),
            StepOutcome::LeftToYou(d) => StepOutcome::LeftToYou(crate::escape::escape_control(&d)),
            StepOutcome::Failed(d) => StepOutcome::Failed(crate::escape::escape_control(&d)),
        };
        audit.record(check_id, &plan.id, &what, &outcome, &applied.undo[known..]);
        stopped = matches!(outcome, StepOutcome::Failed(_));
        applied.steps.push((what, outcome));
        i += 1;
    }
    applied
}

/// What would make the plan fail before anything runs, found now: files open under a directory
/// a mount step would cover (they would keep using the old directory).
pub fn blockers(plan: &FixPlan) -> Option<String> {
    plan.steps.iter().find_map(|s| match s {
        Step::Mount { target, .. } => {
            let open = steps::open_files_under(target);
            (!open.is_empty()).then(|| {
                format!(
                    "{} file(s) under {} are open by running processes ({}{}): mounting over \
                     it would hide them; stop those processes first",
                    open.len(),
                    crate::parse::mountinfo::escape(target),
                    open.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                    if open.len() > 3 { ", …" } else { "" }
                )
            })
        }
        _ => None,
    })
}
