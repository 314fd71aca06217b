//! The interactive terminal UI. The scan runs off the UI thread, each check on its own thread, and
//! results fill in as they finish; the loop sleeps until input, a result, a spinner tick (only while
//! scanning) or a resize arrives. The terminal is restored on quit, on error and on panic.

pub mod app;
mod markdown;
pub mod ui;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use base64::Engine;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;

use crate::checks::{self, Check, Options};
use crate::facts::Facts;
use crate::fix;
use crate::host::Host;
use crate::model::{CheckResult, FixPlan};
use crate::summary::HostSummary;
use app::{Action, App};

/// Builds a fresh Host for each scan (so each scan has its own record).
pub type HostFactory = dyn Fn() -> Host + Send + Sync;

enum Msg {
    Input(Event),
    Result(CheckResult),
    Host(HostSummary),
    Tick,
    /// A fix finished: what it did, for the message box.
    Applied(String),
}

/// Runs the UI until the user quits; returns what was copied, to print after the screen is gone.
pub fn run(
    checks: Vec<&'static Check>,
    opts: Options,
    make_host: Arc<HostFactory>,
    color: bool,
) -> Result<Vec<String>, String> {
    // ratatui's own hook (restore, then the program's) goes in first; ours wraps it, so that a
    // check's caught panic never restores the terminal under a UI that keeps drawing.
    let mut terminal =
        ratatui::try_init().map_err(|e| format!("cannot start the terminal UI: {e}"))?;
    install_panic_hook();
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, checks, opts, make_host, color);
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

/// Panics on check threads are the scan's business (the check turns unknown); any other panic
/// restores the terminal before the message is printed.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if checks::is_check_thread() {
            return;
        }
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
        previous(info);
    }));
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    checks: Vec<&'static Check>,
    opts: Options,
    make_host: Arc<HostFactory>,
    color: bool,
) -> Result<Vec<String>, String> {
    let (tx, rx): (Sender<Msg>, Receiver<Msg>) = mpsc::channel();
    let input = tx.clone();
    thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if input.send(Msg::Input(ev)).is_err() {
                break;
            }
        }
    });
    let mut app = App::new(&checks, color);
    let mut copied = Vec::new();
    let scanning = Arc::new(AtomicBool::new(false));
    start_scan(&checks, &opts, &make_host, &tx, &scanning);
    loop {
        terminal
            .draw(|f| ui::draw(f, &mut app))
            .map_err(|e| e.to_string())?;
        let Ok(msg) = rx.recv() else { break };
        match msg {
            Msg::Tick => app.spinner = app.spinner.wrapping_add(1),
            Msg::Result(r) => app.set_result(r),
            Msg::Applied(text) => app.dialog = Some(app::Dialog::Message(text)),
            Msg::Host(h) => {
                app.host = Some(h);
                scanning.store(false, Ordering::Relaxed);
            }
            Msg::Input(Event::Mouse(m)) => app.on_mouse(m),
            Msg::Input(Event::Key(k)) if k.kind == event::KeyEventKind::Press => {
                match app.on_key(k) {
                    Action::Quit => break,
                    Action::None => {}
                    Action::Rescan => {
                        app.reset();
                        start_scan(&checks, &opts, &make_host, &tx, &scanning);
                    }
                    Action::ActiveProbe => {
                        let probes: Vec<&'static Check> =
                            checks.iter().copied().filter(|c| c.active_probe).collect();
                        for row in app.rows.iter_mut().filter(|r| r.check.active_probe) {
                            row.result = None;
                        }
                        let active = Options {
                            active: true,
                            ..opts.clone()
                        };
                        start_scan(&probes, &active, &make_host, &tx, &scanning);
                    }
                    Action::Apply { check, plan } => {
                        let fix = app
                            .rows
                            .iter()
                            .find(|r| r.check.id == check)
                            .and_then(|r| r.result.as_ref())
                            .and_then(|r| r.fixes.get(plan).cloned());
                        if let (Some(c), Some(p)) = (checks::find(check), fix) {
                            apply_fix(c, p, &make_host, &tx);
                        }
                    }
                    Action::Export => {
                        let probe = make_host();
                        if !probe.is_live() || probe.replayed_from().is_some() {
                            app.dialog = Some(app::Dialog::Message(
                            "Bundles are made from the live machine, not under --root or from a bundle.".into(),
                        ));
                            continue;
                        }
                        let (tx, opts) = (tx.clone(), opts.clone());
                        thread::spawn(move || {
                            let ex = crate::bundle::ExportOptions {
                                output: None,
                                root: None,
                                include_dirs: Vec::new(),
                                exclude: Vec::new(),
                                anonymize: false,
                                max_bytes: 100_000_000,
                            };
                            let text = match crate::bundle::export(&opts, &ex, &mut |_| {}) {
                                Ok(p) => format!(
                                    "Support bundle written (secrets removed): {}",
                                    p.display()
                                ),
                                Err(e) => format!("No bundle: {e}"),
                            };
                            let _ = tx.send(Msg::Applied(text));
                        });
                    }
                    Action::Copy(text) => {
                        osc52(&text);
                        copied.push(text);
                        app.dialog = Some(app::Dialog::Message(
                            "Copied to the clipboard (OSC 52); also printed when you quit.".into(),
                        ));
                    }
                }
            }
            Msg::Input(_) => {} // resize and focus changes: the redraw above is all they need
        }
    }
    Ok(copied)
}

/// Runs the checks on their own threads; each result, then the host summary, comes back as a message.
fn start_scan(
    checks: &[&'static Check],
    opts: &Options,
    make_host: &Arc<HostFactory>,
    tx: &Sender<Msg>,
    scanning: &Arc<AtomicBool>,
) {
    scanning.store(true, Ordering::Relaxed);
    let (checks, opts, make_host, tx) = (
        checks.to_vec(),
        opts.clone(),
        Arc::clone(make_host),
        tx.clone(),
    );
    let ticker = tx.clone();
    let flag = Arc::clone(scanning);
    thread::spawn(move || {
        while flag.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(100));
            if ticker.send(Msg::Tick).is_err() {
                break;
            }
        }
    });
    thread::spawn(move || {
        let host = Arc::new(Facts::of(make_host()));
        checks::run(&checks, &host, &opts, |r| {
            let _ = tx.send(Msg::Result(r.clone()));
        });
        let _ = tx.send(Msg::Host(HostSummary::gather(&host)));
    });
}

/// Applies a confirmed fix off the UI thread (a signal step may wait for a process to exit),
/// then runs the check again; the outcome comes back as a message.
fn apply_fix(check: &'static Check, plan: FixPlan, make_host: &Arc<HostFactory>, tx: &Sender<Msg>) {
    let (make_host, tx) = (Arc::clone(make_host), tx.clone());
    thread::spawn(move || {
        let host = make_host();
        let text = if host.replayed_from().is_some() {
            "Fixes are disabled while replaying a bundle.".to_string()
        } else if !host.is_live() {
            "Fixes apply to the live machine, not under --root.".to_string()
        } else if let Some(why) = fix::refusal(&plan, host.euid(), true, true, check.id) {
            // The dialog was the confirmation; a destructive plan needed its check id typed.
            format!("Refused: {why}")
        } else {
            match fix::Audit::open(fix::audit_path(host.euid())) {
                Err(e) => format!("Nothing was done: {e}"),
                Ok(mut audit) => {
                    let applied = fix::apply(check.id, &plan, false, &mut audit);
                    let after =
                        checks::run_one(check, &Facts::of(make_host()), &Options::default());
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
                    format!(
                        "{}\n\n{summary}\nLogged to {}",
                        steps.join("\n"),
                        audit.path().display()
                    )
                }
            }
        };
        let _ = tx.send(Msg::Applied(text));
    });
}

/// Asks the terminal to put `text` on the clipboard (OSC 52); terminals that do not support it ignore it.
fn osc52(text: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
}
