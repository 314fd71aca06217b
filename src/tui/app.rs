//! The UI's state and what keys do to it. Pure: no terminal, no system; the loop in `tui::run`
//! feeds it events and scan results, and carries out the actions it returns.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use crate::checks::Check;
use crate::model::{CheckResult, FixPlan, Risk, Step};
use crate::summary::HostSummary;

/// One check's line in the list: pending until its result arrives.
pub struct Row {
    pub check: &'static Check,
    pub result: Option<CheckResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
}

/// A window over the main screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    Help,
    /// The selected check's fix, shown exactly; `typed` collects the check id a destructive fix
    /// requires; Cancel has the focus until the user moves it.
    Fix {
        plan: usize,
        typed: String,
        confirm_focused: bool,
    },
    Message(String),
}

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    Rescan,
    /// Run cgroup-freezer again with the active probe.
    ActiveProbe,
    /// Put this text on the clipboard (OSC 52) and print it on exit.
    Copy(String),
    /// Write a support bundle into the current directory.
    Export,
    /// Apply fix number `plan` of this check (confirmed; destructive ones had the id typed).
    Apply {
        check: &'static str,
        plan: usize,
    },
}

pub struct App {
    pub rows: Vec<Row>,
    pub host: Option<HostSummary>,
    pub selected: usize,
    pub focus: Focus,
    pub detail_scroll: u16,
    /// The selected row of the detail pane's table, when the check has one.
    pub table_row: usize,
    pub filter: String,
    pub filtering: bool,
    pub dialog: Option<Dialog>,
    pub spinner: usize,
    pub color: bool,
    /// Where the list was drawn last (row of its first item), for mouse clicks.
    pub list_top: u16,
}

impl App {
    pub fn new(checks: &[&'static Check], color: bool) -> Self {
        App {
            rows: checks
                .iter()
                .map(|c| Row {
                    check: c,
                    result: None,
                })
                .collect(),
            host: None,
            selected: 0,
            focus: Focus::List,
            detail_scroll: 0,
            table_row: 0,
            filter: String::new(),
            filtering: false,
            dialog: None,
            spinner: 0,
            color,
            list_top: 0,
        }
    }

    pub fn scanning(&self) -> bool {
        self.rows.iter().any(|r| r.result.is_none())
    }

    /// Rows matching the filter (id, title, area or summary, case-insensitive), in order.
    pub fn visible(&self) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        (0..self.rows.len())
            .filter(|&i| {
                let r = &self.rows[i];
                f.is_empty()
                    || r.check.id.contains(&f)
                    || r.check.title.to_lowercase().contains(&f)
                    || r.check.area.to_lowercase().contains(&f)
                    || r.result
                        .as_ref()
                        .is_some_and(|x| x.summary.to_lowercase().contains(&f))
            })
            .collect()
    }

    /// The row under the cursor.
    pub fn current(&self) -> Option<&Row> {
        self.visible().get(self.selected).map(|&i| &self.rows[i])
    }

    pub fn set_result(&mut self, result: CheckResult) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.check.id == result.id) {
            row.result = Some(result);
        }
    }

    /// Marks every row pending again, for a re-scan.
    pub fn reset(&mut self) {
        for r in &mut self.rows {
            r.result = None;
        }
        self.host = None;
    }

    fn table_len(&self) -> usize {
        self.current()
            .and_then(|r| r.result.as_ref())
            .and_then(|r| r.table.as_ref())
            .map_or(0, |t| t.rows.len())
    }

    fn fixes(&self) -> &[FixPlan] {
        self.current()
            .and_then(|r| r.result.as_ref())
            .map(|r| r.fixes.as_slice())
            .unwrap_or(&[])
    }

    fn move_by(&mut self, delta: isize) {
        let n = self.visible().len();
        if n == 0 {
            self.selected = 0;
            return;
        }
        self.selected = (self.selected as isize + delta).clamp(0, n as isize - 1) as usize;
        self.detail_scroll = 0;
        self.table_row = 0;
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Action::Quit;
        }
        if let Some(dialog) = self.dialog.clone() {
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
            self.selected = 0;
            return Action::None;
        }
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Up | KeyCode::Char('k')
                if self.focus == Focus::Detail && self.table_len() > 0 =>
            {
                self.table_row = self.table_row.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j')
                if self.focus == Focus::Detail && self.table_len() > 0 =>
            {
                self.table_row = (self.table_row + 1).min(self.table_len() - 1)
            }
            KeyCode::PageUp if self.focus == Focus::Detail => {
                self.detail_scroll = self.detail_scroll.saturating_sub(10)
            }
            KeyCode::PageDown if self.focus == Focus::Detail => {
                self.detail_scroll = self.detail_scroll.saturating_add(10)
            }
            KeyCode::Up | KeyCode::Char('k') if self.focus == Focus::Detail => {
                self.detail_scroll = self.detail_scroll.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') if self.focus == Focus::Detail => {
                self.detail_scroll = self.detail_scroll.saturating_add(1)
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-10),
            KeyCode::PageDown => self.move_by(10),
            KeyCode::Home => self.move_by(-(self.rows.len() as isize)),
            KeyCode::End => self.move_by(self.rows.len() as isize),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => self.focus = Focus::Detail,
            KeyCode::Esc | KeyCode::Left | KeyCode::Char('h') => {
                if self.focus == Focus::Detail {
                    self.focus = Focus::List;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    self.selected = 0;
                }
            }
            KeyCode::Tab => {
                self.focus = if self.focus == Focus::List {
                    Focus::Detail
                } else {
                    Focus::List
                }
            }
            KeyCode::Char('/') => {
                self.filtering = true;
                self.filter.clear();
                self.selected = 0;
            }
            KeyCode::Char('?') => self.dialog = Some(Dialog::Help),
            KeyCode::Char('r') if !self.scanning() => return Action::Rescan,
            KeyCode::Char('a') if !self.scanning() => return Action::ActiveProbe,
            KeyCode::Char('f') => {
                self.dialog = Some(if self.fixes().is_empty() {
                    Dialog::Message("This check has no fix to offer.".into())
                } else {
                    Dialog::Fix {
                        plan: 0,
                        typed: String::new(),
                        confirm_focused: false,
                    }
                });
            }
            KeyCode::Char('c') => {
                return match self.fixes().first() {
                    Some(plan) => Action::Copy(plan_as_text(plan)),
                    None => {
                        self.dialog =
                            Some(Dialog::Message("This check has no fix to copy.".into()));
                        Action::None
                    }
                };
            }
            KeyCode::Char('e') => {
                self.dialog = Some(Dialog::Message("Writing a support bundle …".into()));
                return Action::Export;
            }
            _ => {}
        }
        Action::None
    }

    fn on_dialog_key(&mut self, dialog: Dialog, key: KeyEvent) -> Action {
        match dialog {
            Dialog::Help | Dialog::Message(_) => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?')
                ) {
                    self.dialog = None;
                }
            }
            Dialog::Fix {
                plan,
                mut typed,
                confirm_focused,
            } => {
                let count = self.fixes().len();
                let destructive = self
                    .fixes()
                    .get(plan)
                    .is_some_and(|p| p.risk == Risk::Destructive);
                match key.code {
                    KeyCode::Esc => self.dialog = None,
                    KeyCode::Enter if !confirm_focused => self.dialog = None,
                    KeyCode::Enter => {
                        let Some(row) = self.current() else {
                            return Action::None;
                        };
                        let check = row.check.id;
                        self.dialog =
                            Some(Dialog::Message(format!("Applying the fix for {check} …")));
                        return Action::Apply { check, plan };
                    }
                    KeyCode::Tab | KeyCode::Left | KeyCode::Right => {
                        let id = self.current().map(|r| r.check.id).unwrap_or("");
                        // A destructive fix can be confirmed only after its check id is typed.
                        let allowed = !destructive || typed == id;
                        self.dialog = Some(Dialog::Fix {
                            plan,
                            typed,
                            confirm_focused: !confirm_focused && allowed,
                        });
                    }
                    KeyCode::Up => {
                        self.dialog = Some(Dialog::Fix {
                            plan: plan.saturating_sub(1),
                            typed: String::new(),
                            confirm_focused: false,
                        })
                    }
                    KeyCode::Down => {
                        self.dialog = Some(Dialog::Fix {
                            plan: (plan + 1).min(count.saturating_sub(1)),
                            typed: String::new(),
                            confirm_focused: false,
                        })
                    }
                    KeyCode::Char('c') if !destructive => {
                        if let Some(p) = self.fixes().get(plan) {
                            return Action::Copy(plan_as_text(p));
                        }
                    }
                    KeyCode::Backspace => {
                        typed.pop();
                        self.dialog = Some(Dialog::Fix {
                            plan,
                            typed,
                            confirm_focused: false,
                        });
                    }
                    KeyCode::Char(c) if destructive => {
                        typed.push(c);
                        self.dialog = Some(Dialog::Fix {
                            plan,
                            typed,
                            confirm_focused: false,
                        });
                    }
                    _ => {}
                }
            }
        }
        Action::None
    }

    pub fn on_mouse(&mut self, m: MouseEvent) {
        match m.kind {
            MouseEventKind::ScrollDown if self.focus == Focus::Detail => self.detail_scroll += 1,
            MouseEventKind::ScrollUp if self.focus == Focus::Detail => {
                self.detail_scroll = self.detail_scroll.saturating_sub(1)
            }
            MouseEventKind::ScrollDown => self.move_by(1),
            MouseEventKind::ScrollUp => self.move_by(-1),
            MouseEventKind::Down(_) => {
                // The list shows area headings between checks: map the clicked line back to a check.
                let line = m.row.saturating_sub(self.list_top) as usize;
                if let Some(pos) = self.list_lines().iter().position(|l| *l == Some(line)) {
                    self.selected = pos;
                    self.focus = Focus::List;
                    self.detail_scroll = 0;
                }
            }
            _ => {}
        }
    }

    /// For each visible check, the line it occupies in the list (headings take lines too).
    pub fn list_lines(&self) -> Vec<Option<usize>> {
        let mut line = 0;
        let mut area = "";
        self.visible()
            .iter()
            .map(|&i| {
                let a = self.rows[i].check.area;
                if a != area {
                    area = a;
                    line += 1;
                }
                line += 1;
                Some(line - 1)
            })
            .collect()
    }
}

/// A fix as text someone can paste: argv steps shell-quoted, the rest as comments.
pub fn plan_as_text(plan: &FixPlan) -> String {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::Exec { argv } => {
                shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
            }
            Step::WriteFile { path, .. } => {
                format!("# rewrite {path} (container-doctor shows the diff)")
            }
            Step::AppendFile { path, content } => format!(
                "printf '%s' {} >> {}",
                shlex::try_quote(content)
                    .map(|c| c.into_owned())
                    .unwrap_or_default(),
                shlex::try_quote(path)
                    .map(|c| c.into_owned())
                    .unwrap_or_default()
            ),
            Step::Signal { pid, signal, .. } => format!("kill -{signal} {pid}"),
            Step::Mount {
                source,
                target,
                fstype,
                options,
            } => format!(
                "mount -t {fstype} -o {options} {source} {}",
                shlex::try_quote(target)
                    .map(|c| c.into_owned())
                    .unwrap_or_default()
            ),
            Step::Unmount { path, lazy, .. } => format!(
                "umount {}{}",
                if *lazy { "-l " } else { "" },
                shlex::try_quote(path)
                    .map(|c| c.into_owned())
                    .unwrap_or_default()
            ),
            Step::Manual { instruction } => format!("# {instruction}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
