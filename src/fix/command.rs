//! `container-doctor fix ID`: run the check, show the chosen plan exactly (diffs for file writes),
//! refuse what must be refused, confirm, apply, re-check, and say what happened.

use std::io::{BufRead, IsTerminal, Write};

use super::{Applied, Audit, StepOutcome, apply, audit_path, manual_only, preview, refusal};
use crate::checks::{self, Check, Options};
use crate::escape::escape_control;
use crate::facts::Facts;
use crate::host::Host;
use crate::model::{Risk, Status};

pub struct Flags {
    pub plan: Option<String>,
    pub dry_run: bool,
    pub yes: bool,
    pub force: bool,
}

/// Returns the exit code: 0 done (or nothing to do), 1 a step failed or the check still fails,
/// 2 refused or unusable.
pub fn run(check: &Check, opts: &Options, flags: &Flags) -> Result<u8, String> {
    let host = Facts::of(Host::live());
    let before = checks::run_one(check, &host, opts);
    println!(
        "{} {}: {}",
        before.status.symbol(),
        check.id,
        escape_control(&before.summary)
    );
    if before.fixes.is_empty() {
        println!("nothing to fix");
        return Ok(0);
    }
    let plan = match &flags.plan {
        Some(id) => before.fixes.iter().find(|p| &p.id == id).ok_or_else(|| {
            let ids: Vec<&str> = before.fixes.iter().map(|p| p.id.as_str()).collect();
            format!(
                "{} has no fix {id} (its fixes: {})",
                check.id,
                ids.join(", ")
            )
        })?,
        None => &before.fixes[0],
    };
    let risk = plan.risk.as_str();
    println!(
        "\nfix {}: {} [{risk}{}]",
        escape_control(&plan.id),
        escape_control(&plan.title),
        if plan.needs_root { ", needs root" } else { "" }
    );
    for (i, step) in plan.steps.iter().enumerate() {
        println!("  {}. {}", i + 1, preview(step).replace('\n', "\n     "));
    }
    if manual_only(plan) {
        println!("\nThese steps are yours to take; container-doctor never runs them.");
        return Ok(0);
    }
    if flags.dry_run {
        println!("\n--dry-run: nothing was changed.");
        return Ok(0);
    }
    if let Some(why) = refusal(plan, host.euid(), flags.yes, flags.force, check.id) {
        return Err(format!("refused: {why}"));
    }
    if !flags.yes && !confirm(plan.risk)? {
        println!("cancelled: nothing was changed");
        return Ok(0);
    }
    let mut audit = Audit::open(audit_path(host.euid()))?;
    let applied = apply(check.id, plan, flags.force, &mut audit);
    report(&applied);
    let after = checks::run_one(check, &Facts::of(Host::live()), opts);
    let fixed = after.status <= Status::Ok || after.status < before.status;
    println!(
        "\n{} {}: {}",
        if fixed { "fixed:" } else { "still failing:" },
        after.status.as_str(),
        escape_control(&after.summary)
    );
    println!(
        "logged to {}",
        escape_control(&audit.path().display().to_string())
    );
    Ok(if applied.failed() || !fixed { 1 } else { 0 })
}

fn report(applied: &Applied) {
    println!();
    // Step descriptions and outcomes are escaped where they are made (fix::apply).
    for (what, outcome) in &applied.steps {
        match outcome {
            StepOutcome::Done(d) => println!("  done: {what}\n        {d}"),
            StepOutcome::LeftToYou(d) => println!("  yours: {d}"),
            StepOutcome::Failed(d) => println!("  FAILED: {what}\n        {d}"),
        }
    }
    if !applied.undo.is_empty() {
        println!("\nto undo: {}", escape_control(&applied.undo.join("; ")));
    }
}

/// Asks on the terminal; without one there is nobody to ask.
fn confirm(risk: Risk) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to confirm on: pass --yes".into());
    }
    let word = if risk == Risk::Safe { "y" } else { "yes" };
    print!("\nApply this fix? Type {word} to go on: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer.trim() == word)
}
