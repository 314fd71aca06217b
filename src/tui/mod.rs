//! The interactive terminal UI. The scan runs off the UI thread, each check on its own thread, and
//! results fill in as they finish; fixes and bundles run as jobs. The loop sleeps until input, a
//! message, or a tick (only while something runs; once a minute for the scan's age).
//! The terminal is restored on quit, on error, on SIGTERM/SIGHUP/SIGINT and on panic; Ctrl-Z
//! suspends.

pub mod app;
mod detail;
pub mod dialog;
mod dialog_view;
pub mod fit;
pub mod jobs;
mod markdown;
mod terminal;
pub mod ui;

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use ratatui::crossterm::event::{self, Event};

use crate::checks::{self, Check, Options};
use crate::fix;
use crate::host::Host;
use crate::model::{CheckResult, FixPlan};
use crate::summary::HostSummary;
use app::{Action, App, Dialog, FixEnv};

/// Builds a fresh Host for each scan (so each scan has its own record).
pub type HostFactory = dyn Fn() -> Host + Send + Sync;

pub enum Msg {
    Input(Event),
    Result(CheckResult),
    Host(HostSummary),
    Signal(i32),
    /// A fix job started step `step`.
    Progress {
        step: usize,
        what: String,
    },
    /// A fix finished: what it did.
    Applied(String),
    Preflight {
        check: &'static str,
        plan: FixPlan,
        found: Option<String>,
    },
    Exported(String),
}

/// How the loop ended.
enum End {
    Quit,
    Signal(i32),
}

/// Runs the UI until the user quits; returns what was copied, to print after the screen is gone.
pub fn run(
    checks: Vec<&'static Check>,
    opts: Options,
    make_host: Arc<HostFactory>,
    color: bool,
) -> Result<Vec<String>, String> {
    let (tx, rx): (Sender<Msg>, Receiver<Msg>) = mpsc::channel();
    // Before the terminal changes: a signal in between is then still handled.
    let mut signals = signal_hook::iterator::Signals::new(terminal::HANDLED)
        .map_err(|e| format!("cannot handle signals: {e}"))?;
    let handle = signals.handle();
    let on_signal = tx.clone();
    thread::spawn(move || {
        for s in signals.forever() {
            if on_signal.send(Msg::Signal(s)).is_err() {
                break;
            }
        }
    });
    let mut term = terminal::enter()?;
    let mut copied = Vec::new();
    let result = event_loop(
        &mut term,
        &tx,
        rx,
        checks,
        opts,
        make_host,
        color,
        &mut copied,
    );
    terminal::leave();
    handle.close();
    match result? {
        End::Quit => Ok(copied),
        End::Signal(s) => {
            for text in copied {
                println!("{text}");
            }
            terminal::die_of(s)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    tx: &Sender<Msg>,
    rx: Receiver<Msg>,
    checks: Vec<&'static Check>,
    opts: Options,
    make_host: Arc<HostFactory>,
    color: bool,
    copied: &mut Vec<String>,
) -> Result<End, String> {
    let input = tx.clone();
    thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if input.send(Msg::Input(ev)).is_err() {
                break;
            }
        }
    });
    let mut app = App::new(&checks, color);
    let probe = make_host();
    app.env = FixEnv {
        live: probe.is_live() && probe.replayed_from().is_none(),
        replay: probe.replayed_from().is_some(),
        euid: probe.euid(),
        in_tmux: std::env::var_os("TMUX").is_some(),
    };
    drop(probe);
    app.glyphs = fit::Glyphs::from_term(std::env::var("TERM").ok().as_deref());
    jobs::scan(&checks, &opts, &make_host, tx);
    loop {
        terminal
            .draw(|f| ui::draw(f, &mut app))
            .map_err(|e| e.to_string())?;
        // Animate only while something runs; otherwise wake once a minute for the scan's age.
        let busy = app.scanning() || app.job.is_some() || app.exporting;
        let wait = if busy {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(60)
        };
        let msg = match rx.recv_timeout(wait) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                app.spinner = app.spinner.wrapping_add(1);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(End::Quit),
        };
        match msg {
            Msg::Result(r) => app.set_result(r),
            Msg::Host(h) => {
                app.host = Some(h);
                app.scanned_at = Some(Instant::now());
            }
            Msg::Progress { step, what } => {
                if let Some(job) = &mut app.job {
                    job.step = step;
                    job.what = what;
                }
            }
            Msg::Applied(text) => {
                app.job = None;
                app.dialog = Some(Dialog::Message { text, scroll: 0 });
            }
            Msg::Preflight { check, plan, found } => app.set_blocker(check, &plan, found),
            Msg::Exported(text) => {
                app.exporting = false;
                app.notice = Some(text);
            }
            Msg::Signal(s) if s == signal_hook::consts::SIGTSTP => terminal::suspend(terminal),
            Msg::Signal(s) if s == signal_hook::consts::SIGCONT => terminal::resume(terminal),
            Msg::Signal(s) => {
                log_interrupted(&app);
                return Ok(End::Signal(s));
            }
            Msg::Input(Event::Mouse(m)) => app.on_mouse(m),
            Msg::Input(Event::Key(k)) if k.kind == event::KeyEventKind::Press => {
                match app.on_key(k) {
                    Action::Quit => {
                        log_interrupted(&app);
                        return Ok(End::Quit);
                    }
                    Action::None => {}
                    Action::Suspend => terminal::suspend(terminal),
                    Action::Rescan => {
                        app.reset();
                        jobs::scan(&checks, &opts, &make_host, tx);
                    }
                    Action::ActiveProbe => {
                        let probes: Vec<&'static Check> =
                            checks.iter().copied().filter(|c| c.active_probe).collect();
                        for row in app.rows.iter_mut().filter(|r| r.check.active_probe) {
                            row.running = true;
                        }
                        let active = Options {
                            active: true,
                            ..opts.clone()
                        };
                        jobs::scan(&probes, &active, &make_host, tx);
                    }
                    Action::Preflight { check, plan } => jobs::preflight(check, plan, tx),
                    Action::Apply { check, plan } => match checks::find(check) {
                        Some(c) => jobs::apply(c, plan, &make_host, tx),
                        None => app.job = None,
                    },
                    Action::Export => {
                        let host = app.host.as_ref().and_then(|h| h.hostname.clone());
                        let dir = std::env::current_dir()
                            .map_err(|e| format!("the current directory: {e}"));
                        match dir.and_then(|d| jobs::bundle_path(&d, host.as_deref())) {
                            Ok(target) => jobs::export(&opts, target, tx),
                            Err(e) => {
                                app.exporting = false;
                                app.notice = Some(format!("No bundle: {e}"));
                            }
                        }
                    }
                    Action::Copy(text) => {
                        osc52(&text);
                        copied.push(text);
                    }
                }
            }
            Msg::Input(_) => {} // resize and focus changes: the redraw above is all they need
        }
    }
}

/// Quitting (or a signal) while a fix runs: the audit log says the plan was interrupted.
fn log_interrupted(app: &App) {
    let Some(job) = &app.job else { return };
    if let Ok(mut audit) = fix::Audit::open(fix::audit_path(app.env.euid)) {
        audit.interrupted(job.check, &job.plan_id, &job.what);
    }
}

/// Asks the terminal to put `text` on the clipboard (OSC 52); terminals that do not support it ignore it.
fn osc52(text: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
}
