//! Applying fix plans: each step is an argv exec, a file write (atomic, with a backup; shown as a
//! diff first), a signal through a pidfd, or a mount/unmount syscall. Steps run in order; a failed
//! step stops the rest. Every action is appended to the audit log. Never a shell.

mod audit;
pub mod command;
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
    let mut applied = Applied {
        steps: Vec::new(),
        undo: Vec::new(),
    };
    let mut stopped = false;
    for step in &plan.steps {
        let what = crate::escape::escape_control(&step.describe());
        if stopped {
            applied.steps.push((
                what,
                StepOutcome::Failed("not run: an earlier step failed".into()),
            ));
            continue;
        }
        let known = applied.undo.len();
        let outcome = match steps::run(step, force, &mut applied.undo) {
            StepOutcome::Done(d) => StepOutcome::Done(crate::escape::escape_control(&d)),
            StepOutcome::LeftToYou(d) => StepOutcome::LeftToYou(crate::escape::escape_control(&d)),
            StepOutcome::Failed(d) => StepOutcome::Failed(crate::escape::escape_control(&d)),
        };
        audit.record(check_id, &plan.id, &what, &outcome, &applied.undo[known..]);
        stopped = matches!(outcome, StepOutcome::Failed(_));
        applied.steps.push((what, outcome));
    }
    applied
}
