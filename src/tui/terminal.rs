//! Owning the terminal: entering and leaving the UI's modes, the panic hook, signals from outside
//! (SIGTERM, SIGHUP, SIGINT end the UI with the terminal restored; SIGTSTP suspends it; SIGCONT
//! redraws) and Ctrl-Z.

use std::io::stdout;

use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGTERM, SIGTSTP};

use crate::checks;

/// Signals the UI handles itself, delivered to the loop as messages.
pub const HANDLED: [i32; 5] = [SIGTERM, SIGHUP, SIGINT, SIGTSTP, SIGCONT];

/// Raw mode, the alternate screen and the mouse; the panic hook goes on top of ratatui's.
pub fn enter() -> Result<ratatui::DefaultTerminal, String> {
    // ratatui's own hook (restore, then the program's: one line, exit 2) goes in first; ours wraps
    // it, so that a check's caught panic never restores the terminal under a UI that keeps drawing.
    let terminal = ratatui::try_init().map_err(|e| format!("cannot start the terminal UI: {e}"))?;
    install_panic_hook();
    let _ = execute!(stdout(), EnableMouseCapture);
    Ok(terminal)
}

/// Gives the terminal back as it was: cooked mode, main screen, cursor, no mouse reports.
pub fn leave() {
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    let _ = execute!(stdout(), ratatui::crossterm::cursor::Show);
}

/// Takes the terminal again after a suspend (or after something else touched it).
pub fn resume(terminal: &mut ratatui::DefaultTerminal) {
    let _ = enable_raw_mode();
    let _ = execute!(
        stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        Clear(ClearType::All)
    );
    // Not `terminal.clear()`: it asks the terminal for the cursor position, whose answer the
    // input thread may read first. A blank frame makes ratatui's idea of the screen blank too,
    // so the next frame is drawn whole.
    let _ = terminal.draw(|_| {});
}

/// Ctrl-Z or SIGTSTP: restore the terminal, stop as the shell expects, and take it back on `fg`.
pub fn suspend(terminal: &mut ratatui::DefaultTerminal) {
    let _ = execute!(stdout(), DisableMouseCapture, LeaveAlternateScreen);
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), ratatui::crossterm::cursor::Show);
    // Stops the process (SIGSTOP: our SIGTSTP handler must not catch it again); returns on SIGCONT.
    let _ = signal_hook::low_level::emulate_default_handler(SIGTSTP);
    resume(terminal);
}

/// After the terminal is restored: end the way the signal would have ended us (so the shell sees
/// 128 + the signal number).
pub fn die_of(signal: i32) -> ! {
    let _ = signal_hook::low_level::emulate_default_handler(signal);
    std::process::exit(128 + signal)
}

/// Panics on check threads are the scan's business (the check turns unknown); a panic on any
/// other thread (the loop, input, a fix job, an export) restores the terminal before the message.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if checks::is_check_thread() {
            return;
        }
        leave();
        previous(info);
    }));
}
