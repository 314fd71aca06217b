//! The fix dialog's state and keys. A dialog is bound to one check and one plan, held as a copy:
//! Confirm applies exactly the plan that was shown, whatever the mouse or a rescan do meanwhile.
//! Everything that would refuse the plan is worked out here, before Confirm is offered.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::app::{Action, App, Dialog};
use crate::fix;
use crate::model::{FixPlan, Risk};

/// What the off-thread look for blockers (open files under a mount target) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    Pending,
    Clear,
    Blocked(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixDialog {
    pub check: &'static str,
    /// The plan shown, and the only one Confirm can apply.
    pub plan: FixPlan,
    /// The plan ids `<` and `>` step through (the table row's own, or all of the check's).
    pub choices: Vec<String>,
    /// This plan's place among all of the check's fixes (1-based) and their number, for the title.
    pub number: usize,
    pub total: usize,
    /// What has been typed: a destructive plan needs its check id.
    pub typed: String,
    pub confirm_focused: bool,
    pub scroll: u16,
    /// The furthest the body can scroll, as last drawn.
    pub scroll_max: u16,
    pub blocker: Blocker,
    /// The latest result of the check no longer offers exactly this plan.
    pub stale: bool,
}

/// Why Confirm is not offered, shown in the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    /// Still to be found out (Confirm may come).
    pub pending: bool,
}

impl FixDialog {
    /// `check · fix 57 of 58: plan-id`.
    pub fn title(&self) -> String {
        format!(
            "{} · fix {} of {}: {}",
            self.check, self.number, self.total, self.plan.id
        )
    }

    pub fn destructive(&self) -> bool {
        self.plan.risk == Risk::Destructive
    }

    /// A destructive plan's check id has been typed (others need nothing typed).
    pub fn typed_ok(&self) -> bool {
        !self.destructive() || self.typed == self.check
    }

    pub fn scroll_by(&mut self, delta: i32) {
        self.scroll = (self.scroll as i32 + delta).clamp(0, self.scroll_max as i32) as u16;
    }
}

impl App {
    /// `f`: the dialog for the first plan `target_plans` offers.
    pub(super) fn open_fix(&mut self) -> Action {
        let Some((check, plans)) = self.target_plans() else {
            self.notice = Some("No result yet: nothing to fix.".into());
            return Action::None;
        };
        let Some(first) = plans.first() else {
            let on_row = self.focus == super::app::Focus::Detail
                && self
                    .current()
                    .and_then(|r| r.result.as_ref())
                    .is_some_and(|r| r.table.as_ref().is_some_and(|t| !t.rows.is_empty()));
            self.notice = Some(if on_row {
                "This row has no fix of its own.".into()
            } else {
                "This check has no fix to offer.".into()
            });
            return Action::None;
        };
        let choices = plans.iter().map(|p| p.id.clone()).collect();
        self.bind(check, first.id.clone(), choices)
    }

    /// Opens (or rebinds) the dialog on plan `id` of `check`, as the latest result has it.
    fn bind(&mut self, check: &'static str, id: String, choices: Vec<String>) -> Action {
        let Some(r) = self.result_of(check) else {
            return Action::None;
        };
        let Some(number) = r.fixes.iter().position(|p| p.id == id) else {
            return Action::None;
        };
        let plan = r.fixes[number].clone();
        let total = r.fixes.len();
        self.dialog = Some(Dialog::Fix(Box::new(FixDialog {
            check,
            plan: plan.clone(),
            choices,
            number: number + 1,
            total,
            typed: String::new(),
            confirm_focused: false,
            scroll: 0,
            scroll_max: 0,
            blocker: Blocker::Pending,
            stale: false,
        })));
        Action::Preflight { check, plan }
    }

    /// The look for blockers came back; it counts only for the plan it was made for.
    pub fn set_blocker(&mut self, check: &str, plan: &FixPlan, found: Option<String>) {
        if let Some(Dialog::Fix(d)) = &mut self.dialog
            && d.check == check
            && d.plan == *plan
        {
            d.blocker = match found {
                Some(why) => Blocker::Blocked(why),
                None => Blocker::Clear,
            };
        }
    }

    /// Why this plan cannot be confirmed now, if anything stops it.
    pub fn refusal(&self, d: &FixDialog) -> Option<Refusal> {
        let now = |why: String| {
            Some(Refusal {
                why,
                pending: false,
            })
        };
        if self.env.replay {
            return now(
                "Replaying a bundle: fixes are disabled (this is not the machine it was recorded on). c copies the steps."
                    .into(),
            );
        }
        if !self.env.live {
            return now(
                "Fixes apply to the live machine, not under --root. c copies the steps.".into(),
            );
        }
        if fix::manual_only(&d.plan) {
            return now(
                "These steps are yours to take; container-doctor never runs them. c copies them."
                    .into(),
            );
        }
        if let Some(why) = fix::refusal(&d.plan, self.env.euid, true, true, d.check) {
            return now(format!("Not root: {why}"));
        }
        if self.is_running(d.check) {
            return now(format!(
                "{} is running again: wait for its result.",
                d.check
            ));
        }
        if d.stale {
            return now(
                "The latest scan no longer offers exactly this plan: close and look again.".into(),
            );
        }
        if self.job.is_some() {
            return now("Another fix is running: wait for it to finish.".into());
        }
        match &d.blocker {
            Blocker::Pending => Some(Refusal {
                why: "Looking for what would block it …".into(),
                pending: true,
            }),
            Blocker::Blocked(why) => now(why.clone()),
            Blocker::Clear => None,
        }
    }

    pub(super) fn on_fix_key(&mut self, mut d: FixDialog, key: KeyEvent) -> Action {
        let refused = self.refusal(&d).is_some();
        let can_confirm = !refused && d.typed_ok();
        match key.code {
            KeyCode::Esc => return Action::None,
            KeyCode::Enter if d.confirm_focused && can_confirm => {
                let (check, plan) = (d.check, d.plan.clone());
                self.job = Some(super::app::Job {
                    check,
                    plan_id: plan.id.clone(),
                    steps: plan.steps.len(),
                    step: 0,
                    what: "starting".into(),
                    started: std::time::Instant::now(),
                });
                return Action::Apply { check, plan };
            }
            KeyCode::Enter => return Action::None,
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                d.confirm_focused = !d.confirm_focused && can_confirm;
            }
            KeyCode::Up => d.scroll_by(-1),
            KeyCode::Down => d.scroll_by(1),
            KeyCode::PageUp => d.scroll_by(-10),
            KeyCode::PageDown => d.scroll_by(10),
            KeyCode::Home => d.scroll = 0,
            KeyCode::End => d.scroll = d.scroll_max,
            KeyCode::Char(c @ ('<' | '>')) => {
                let pos = d.choices.iter().position(|p| *p == d.plan.id).unwrap_or(0);
                let n = d.choices.len();
                let next = if c == '>' {
                    (pos + 1) % n
                } else {
                    (pos + n - 1) % n
                };
                let id = d.choices[next].clone();
                return self.bind(d.check, id, d.choices);
            }
            // The typed field takes what check ids are made of; other keys are commands.
            KeyCode::Char(c) if d.destructive() && (c.is_ascii_alphanumeric() || c == '-') => {
                d.typed.push(c);
                d.confirm_focused = false;
            }
            KeyCode::Backspace => {
                d.typed.pop();
                d.confirm_focused = false;
            }
            KeyCode::Char('c' | 'y') => {
                let action = self.copy(d.check, &d.plan);
                self.dialog = Some(Dialog::Fix(Box::new(d)));
                return action;
            }
            _ => {}
        }
        self.dialog = Some(Dialog::Fix(Box::new(d)));
        Action::None
    }
}
