//! The UI's state and what keys and the mouse do to it. Pure: no terminal, no system; the loop in
//! `tui::run` feeds it events and scan results, and carries out the actions it returns.
//! The selection is a check id, never a list position, so rescans and filters cannot move it.

use std::time::Instant;

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::dialog::FixDialog;
use super::fit::Glyphs;
use crate::checks::Check;
use crate::model::{CheckResult, FixPlan, Status, Step};
use crate::summary::HostSummary;

/// One check's line in the list. A rescan keeps the old result on show (`running` is set) until
/// the new one arrives.
pub struct Row {
    pub check: &'static Check,
    pub result: Option<CheckResult>,
    pub running: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
}

/// A window over the main screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    Help {
        scroll: u16,
    },
    /// What a finished fix did.
    Message {
        text: String,
        scroll: u16,
    },
    Fix(Box<FixDialog>),
    /// `q` while a fix runs: quitting interrupts it.
    QuitWhileFixing,
}

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    Rescan,
    /// Run the checks that have an active probe again, with it.
    ActiveProbe,
    /// Put this text on the clipboard (OSC 52) and print it on exit.
    Copy(String),
    /// Write a support bundle.
    Export,
    /// Apply exactly this plan of this check: the one the dialog showed.
    Apply {
        check: &'static str,
        plan: FixPlan,
    },
    /// Look, off the UI thread, for what would block this plan (open files under a mount target).
    Preflight {
        check: &'static str,
        plan: FixPlan,
    },
    /// Ctrl-Z: give the terminal back and stop until `fg`.
    Suspend,
}

/// What the doctor may do to the machine it shows, set once by the loop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixEnv {
    /// Scanning the live machine (not `--root`, not a bundle).
    pub live: bool,
    /// Replaying a bundle.
    pub replay: bool,
    pub euid: u32,
    /// Inside tmux, where OSC 52 reaches the clipboard only with `set-clipboard on`.
    pub in_tmux: bool,
}

/// A fix being applied.
#[derive(Debug, Clone)]
pub struct Job {
    pub check: &'static str,
    pub plan_id: String,
    pub steps: usize,
    /// The step running now (0-based) and what it does.
    pub step: usize,
    pub what: String,
    pub started: Instant,
}

/// Where things were drawn last, for the mouse.
#[derive(Debug, Clone, Default)]
pub struct Areas {
    pub list: Rect,
    pub list_offset: usize,
    pub text: Rect,
    /// The table's rows (below its header), the first row shown, and each screen line's row.
    pub table: Rect,
    pub table_lines: Vec<usize>,
    pub dialog: Rect,
    pub cancel: Rect,
}

pub struct App {
    pub rows: Vec<Row>,
    pub host: Option<HostSummary>,
    /// The selected check's id.
    pub selected: Option<&'static str>,
    pub focus: Focus,
    pub detail_scroll: u16,
    /// The furthest the detail text can scroll, as last drawn.
    pub detail_max: u16,
    /// The selected row among the table rows shown (the filter may hide some).
    pub table_row: usize,
    pub filter: String,
    pub filtering: bool,
    /// Hide checks that are ok or skipped.
    pub problems_only: bool,
    pub dialog: Option<Dialog>,
    pub spinner: usize,
    pub color: bool,
    pub glyphs: Glyphs,
    pub env: FixEnv,
    /// A one-line notice in the footer until the next key (copied, exported …).
    pub notice: Option<String>,
    pub job: Option<Job>,
    pub exporting: bool,
    pub scanned_at: Option<Instant>,
    pub areas: Areas,
}

impl App {
    pub fn new(checks: &[&'static Check], color: bool) -> Self {
        App {
            rows: checks
                .iter()
                .map(|c| Row {
                    check: c,
                    result: None,
                    running: true,
                })
                .collect(),
            host: None,
            selected: checks.first().map(|c| c.id),
            focus: Focus::List,
            detail_scroll: 0,
            detail_max: 0,
            table_row: 0,
            filter: String::new(),
            filtering: false,
            problems_only: false,
            dialog: None,
            spinner: 0,
            color,
            glyphs: Glyphs { ascii: false },
            env: FixEnv::default(),
            notice: None,
            job: None,
            exporting: false,
            scanned_at: None,
            areas: Areas::default(),
        }
    }

    pub fn scanning(&self) -> bool {
        self.rows.iter().any(|r| r.running)
    }

    /// Rows shown: matching the filter (id, title, area, summary, evidence, table cells;
    /// case-insensitive) and, with problems only, not ok or skipped; in order.
    pub fn visible(&self) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        (0..self.rows.len())
            .filter(|&i| {
                let r = &self.rows[i];
                let problem = r
                    .result
                    .as_ref()
                    .is_none_or(|x| !matches!(x.status, Status::Ok | Status::Skipped));
                (!self.problems_only || problem) && (f.is_empty() || row_matches(r, &f))
            })
            .collect()
    }

    /// The row under the cursor: the selected check if shown, else the first shown.
    pub fn current(&self) -> Option<&Row> {
        let visible = self.visible();
        visible
            .iter()
            .find(|&&i| Some(self.rows[i].check.id) == self.selected)
            .or(visible.first())
            .map(|&i| &self.rows[i])
    }

    fn row(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.check.id == id)
    }

    /// A new result: shown in place; an open fix dialog keeps its plan, and learns if the new
    /// result no longer offers exactly that plan.
    pub fn set_result(&mut self, result: CheckResult) {
        if let Some(Dialog::Fix(d)) = &mut self.dialog
            && d.check == result.id
        {
            d.stale = !result.fixes.contains(&d.plan);
        }
        if let Some(row) = self.rows.iter_mut().find(|r| r.check.id == result.id) {
            row.result = Some(result);
            row.running = false;
        }
        self.clamp_table_row();
    }

    /// Marks every row running again, for a rescan; their old results stay on show meanwhile.
    pub fn reset(&mut self) {
        for r in &mut self.rows {
            r.running = true;
        }
        self.host = None;
    }

    /// The table rows shown for a result: those matching the filter when some do, else all.
    pub fn table_rows(&self, r: &CheckResult) -> Vec<usize> {
        let Some(t) = &r.table else {
            return Vec::new();
        };
        let f = self.filter.to_lowercase();
        let matching: Vec<usize> = (0..t.rows.len())
            .filter(|&i| !f.is_empty() && t.rows[i].iter().any(|c| c.to_lowercase().contains(&f)))
            .collect();
        if matching.is_empty() {
            (0..t.rows.len()).collect()
        } else {
            matching
        }
    }

    fn current_result(&self) -> Option<&CheckResult> {
        self.current().and_then(|r| r.result.as_ref())
    }

    fn table_len(&self) -> usize {
        self.current_result()
            .map_or(0, |r| self.table_rows(r).len())
    }

    fn clamp_table_row(&mut self) {
        self.table_row = self.table_row.min(self.table_len().saturating_sub(1));
    }

    /// Moves the cursor `delta` checks through the shown list.
    fn move_by(&mut self, delta: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let pos = self
            .current()
            .and_then(|c| {
                visible
                    .iter()
                    .position(|&i| self.rows[i].check.id == c.check.id)
            })
            .unwrap_or(0);
        let next = (pos as isize + delta).clamp(0, visible.len() as isize - 1) as usize;
        self.select(self.rows[visible[next]].check.id);
    }

    fn select(&mut self, id: &'static str) {
        if self.selected != Some(id) {
            self.selected = Some(id);
            self.detail_scroll = 0;
            self.table_row = 0;
        }
    }

    /// After the filter changes: the selection follows what is shown.
    fn follow_filter(&mut self) {
        if let Some(id) = self.current().map(|r| r.check.id) {
            self.select(id);
        }
        self.clamp_table_row();
    }

    fn scroll_detail(&mut self, delta: i32) {
        let v = (self.detail_scroll as i32 + delta).clamp(0, self.detail_max as i32);
        self.detail_scroll = v as u16;
    }

    fn move_table(&mut self, delta: isize) {
        let n = self.table_len();
        if n > 0 {
            self.table_row = (self.table_row as isize + delta).clamp(0, n as isize - 1) as usize;
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        self.notice = None;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('z') {
            return Action::Suspend;
        }
        if ctrl && key.code == KeyCode::Char('c') {
            return self.quit();
        }
        if let Some(dialog) = self.dialog.take() {
            return self.on_dialog_key(dialog, key);
        }
        if self.filtering {
            match key.code {
                KeyCode::Enter => self.filtering = false,
                KeyCode::Esc => {
                    self.filtering = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.follow_filter();
            return Action::None;
        }
        let detail = self.focus == Focus::Detail;
        let table = self.table_len() > 0;
        match key.code {
            KeyCode::Char('q') => return self.quit(),
            KeyCode::Up | KeyCode::Char('k') if detail && table => self.move_table(-1),
            KeyCode::Down | KeyCode::Char('j') if detail && table => self.move_table(1),
            KeyCode::Up | KeyCode::Char('k') if detail => self.scroll_detail(-1),
            KeyCode::Down | KeyCode::Char('j') if detail => self.scroll_detail(1),
            KeyCode::PageUp if detail => self.scroll_detail(-10),
            KeyCode::PageDown if detail => self.scroll_detail(10),
            KeyCode::Home | KeyCode::Char('g') if detail => {
                self.table_row = 0;
                self.detail_scroll = 0;
            }
            KeyCode::End | KeyCode::Char('G') if detail => {
                self.table_row = self.table_len().saturating_sub(1);
                self.detail_scroll = self.detail_max;
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-10),
            KeyCode::PageDown => self.move_by(10),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(-(self.rows.len() as isize)),
            KeyCode::End | KeyCode::Char('G') => self.move_by(self.rows.len() as isize),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => self.focus = Focus::Detail,
            KeyCode::Esc | KeyCode::Left | KeyCode::Char('h') => {
                if detail {
                    self.focus = Focus::List;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    self.follow_filter();
                }
            }
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = if detail { Focus::List } else { Focus::Detail }
            }
            KeyCode::Char('/') => {
                self.filtering = true;
                self.filter.clear();
                self.follow_filter();
            }
            KeyCode::Char('p') => {
                self.problems_only = !self.problems_only;
                self.follow_filter();
            }
            KeyCode::Char('?') => self.dialog = Some(Dialog::Help { scroll: 0 }),
            KeyCode::Char('r') if !self.scanning() => return Action::Rescan,
            KeyCode::Char('a') if !self.scanning() => return Action::ActiveProbe,
            KeyCode::Char('f') => return self.open_fix(),
            KeyCode::Char('c') | KeyCode::Char('y') => {
                let Some((check, plan)) = self.target_plans().and_then(|(c, p)| {
                    let first = p.into_iter().next()?;
                    Some((c, first))
                }) else {
                    self.notice = Some("Nothing to copy: no fix here.".into());
                    return Action::None;
                };
                return self.copy(check, &plan);
            }
            KeyCode::Char('e') => return self.export(),
            _ => {}
        }
        Action::None
    }

    /// `q`: at once, unless a fix is running.
    fn quit(&mut self) -> Action {
        if self.job.is_some() {
            self.dialog = Some(Dialog::QuitWhileFixing);
            Action::None
        } else {
            Action::Quit
        }
    }

    fn export(&mut self) -> Action {
        if !self.env.live || self.env.replay {
            self.notice =
                Some("No bundle: bundles are made from the live machine, not under --root or from a bundle.".into());
            return Action::None;
        }
        if self.exporting {
            self.notice = Some("A support bundle is already being written.".into());
            return Action::None;
        }
        self.exporting = true;
        self.notice = Some("Writing a support bundle …".into());
        Action::Export
    }

    /// The plans `f` and `c` act on: the highlighted table row's own fixes when the detail pane
    /// has the focus and a table, else all of the check's.
    pub(super) fn target_plans(&self) -> Option<(&'static str, Vec<FixPlan>)> {
        let row = self.current()?;
        let r = row.result.as_ref()?;
        let rows = self.table_rows(r);
        let ids: Option<&[String]> = match (&r.table, rows.get(self.table_row)) {
            (Some(t), Some(&i)) if self.focus == Focus::Detail => Some(t.fixes_of(i)),
            _ => None,
        };
        let plans: Vec<FixPlan> = match ids {
            Some(ids) => r
                .fixes
                .iter()
                .filter(|p| ids.contains(&p.id))
                .cloned()
                .collect(),
            None => r.fixes.clone(),
        };
        Some((row.check.id, plans))
    }

    pub(super) fn copy(&mut self, check: &str, plan: &FixPlan) -> Action {
        let text = plan_as_text(plan);
        let lines = text.lines().count();
        let tmux = if self.env.in_tmux {
            " (inside tmux it reaches the clipboard only with set-clipboard on)"
        } else {
            " (terminals without OSC 52 ignore it)"
        };
        self.notice = Some(format!(
            "Copied {check} · {} ({lines} line{}) via OSC 52{tmux}; also printed on quit.",
            plan.id,
            if lines == 1 { "" } else { "s" }
        ));
        Action::Copy(text)
    }

    fn on_dialog_key(&mut self, dialog: Dialog, key: KeyEvent) -> Action {
        match dialog {
            Dialog::Fix(d) => return self.on_fix_key(*d, key),
            Dialog::QuitWhileFixing => {
                if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    return Action::Quit;
                }
            }
            Dialog::Help { scroll } => {
                if let Some(s) = scrolled(scroll, key) {
                    self.dialog = Some(Dialog::Help { scroll: s });
                }
            }
            Dialog::Message { text, scroll } => {
                if let Some(s) = scrolled(scroll, key) {
                    self.dialog = Some(Dialog::Message { text, scroll: s });
                }
            }
        }
        Action::None
    }

    pub fn on_mouse(&mut self, m: MouseEvent) {
        let at = Position::new(m.column, m.row);
        let wheel = match m.kind {
            MouseEventKind::ScrollDown => 1,
            MouseEventKind::ScrollUp => -1,
            _ => 0,
        };
        if let Some(dialog) = &mut self.dialog {
            // A dialog owns the mouse: nothing underneath changes while it is open.
            match dialog {
                Dialog::Fix(d) => {
                    if wheel != 0 && self.areas.dialog.contains(at) {
                        d.scroll_by(wheel * 3);
                    }
                    let click = matches!(m.kind, MouseEventKind::Down(MouseButton::Left));
                    if click && self.areas.cancel.contains(at) {
                        self.dialog = None;
                    }
                }
                Dialog::Help { scroll } | Dialog::Message { scroll, .. } => {
                    *scroll = (*scroll as i32 + wheel).max(0) as u16;
                }
                Dialog::QuitWhileFixing => {}
            }
            return;
        }
        let a = &self.areas;
        if wheel != 0 {
            if a.list.contains(at) {
                self.move_by(wheel as isize);
            } else if a.table.contains(at) {
                self.move_table(wheel as isize);
            } else if a.text.contains(at) {
                self.scroll_detail(wheel * 3);
            }
            return;
        }
        if !matches!(m.kind, MouseEventKind::Down(MouseButton::Left)) {
            return;
        }
        if a.list.contains(at) {
            // The list shows area headings between checks and may be scrolled.
            let line = (m.row - a.list.y) as usize + a.list_offset;
            if let Some(Some(i)) = self.list_entries().get(line) {
                let id = self.rows[*i].check.id;
                self.select(id);
                self.focus = Focus::List;
            }
        } else if a.table.contains(at) {
            if let Some(&row) = a.table_lines.get((m.row - a.table.y) as usize) {
                self.table_row = row;
            }
            self.focus = Focus::Detail;
        } else if a.text.contains(at) {
            self.focus = Focus::Detail;
        }
    }

    /// The list's lines: an area heading (None) before each area's first check, then the check's row index.
    pub fn list_entries(&self) -> Vec<Option<usize>> {
        let mut out = Vec::new();
        let mut area = "";
        for i in self.visible() {
            let a = self.rows[i].check.area;
            if a != area {
                area = a;
                out.push(None);
            }
            out.push(Some(i));
        }
        out
    }

    /// Counts of results by status, for the header.
    pub fn counts(&self) -> [(Status, usize); 5] {
        let n = |s| {
            self.rows
                .iter()
                .filter(|r| r.result.as_ref().is_some_and(|x| x.status == s))
                .count()
        };
        [
            (Status::Ok, n(Status::Ok)),
            (Status::Warn, n(Status::Warn)),
            (Status::Error, n(Status::Error)),
            (Status::Unknown, n(Status::Unknown)),
            (Status::Skipped, n(Status::Skipped)),
        ]
    }

    pub(super) fn result_of(&self, id: &str) -> Option<&CheckResult> {
        self.row(id).and_then(|r| r.result.as_ref())
    }

    pub(super) fn is_running(&self, id: &str) -> bool {
        self.row(id).is_some_and(|r| r.running)
    }
}

/// Help and messages scroll with the arrows and close with Esc, Enter, q or ?; None when closed.
fn scrolled(scroll: u16, key: KeyEvent) -> Option<u16> {
    match key.code {
        KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?') => None,
        KeyCode::Up | KeyCode::Char('k') => Some(scroll.saturating_sub(1)),
        KeyCode::Down | KeyCode::Char('j') => Some(scroll.saturating_add(1)),
        KeyCode::PageUp => Some(scroll.saturating_sub(10)),
        KeyCode::PageDown => Some(scroll.saturating_add(10)),
        KeyCode::Home | KeyCode::Char('g') => Some(0),
        // Drawing clamps it to the last line.
        KeyCode::End | KeyCode::Char('G') => Some(u16::MAX),
        _ => Some(scroll),
    }
}

fn row_matches(r: &Row, f: &str) -> bool {
    let has = |s: &str| s.to_lowercase().contains(f);
    r.check.id.contains(f)
        || has(r.check.title)
        || has(r.check.area)
        || r.result.as_ref().is_some_and(|x| {
            has(&x.summary)
                || x.evidence.iter().any(|e| has(&e.source) || has(&e.excerpt))
                || x.table
                    .as_ref()
                    .is_some_and(|t| t.rows.iter().flatten().any(|c| has(c)))
        })
}

/// A fix as text someone can paste: argv steps shell-quoted, the rest as comments.
pub fn plan_as_text(plan: &FixPlan) -> String {
    let quote = |s: &str| {
        shlex::try_quote(s)
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| format!("{s:?}"))
    };
    plan.steps
        .iter()
        .map(|s| match s {
            Step::Exec { argv } => {
                shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
            }
            Step::WriteFile { path, .. } => {
                format!("# rewrite {path} (container-doctor shows the diff)")
            }
            Step::AppendFile { path, content } => {
                format!("printf '%s' {} >> {}", quote(content), quote(path))
            }
            Step::Signal { pid, signal, .. } => format!("kill -{signal} {pid}"),
            Step::Mount {
                source,
                target,
                fstype,
                options,
            } => format!("mount -t {fstype} -o {options} {source} {}", quote(target)),
            Step::Unmount { path, lazy, .. } => {
                format!("umount {}{}", if *lazy { "-l " } else { "" }, quote(path))
            }
            Step::Manual { instruction } => format!("# {instruction}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
