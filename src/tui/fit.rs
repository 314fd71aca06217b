//! Making text fit a width without losing what matters: paths lose their middle (the start says
//! where, the end names the layer or file), prose is cut between words, never inside one.

use ratatui::text::Line;

/// Shortens `s` to `width` characters by replacing its middle with `…`.
pub fn elide_middle(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width <= 1 {
        return "…".chars().take(width).collect();
    }
    let keep = width - 1;
    let head = keep / 2;
    let tail = keep - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// Shortens `s` to at most `width` characters, cutting between words and marking the cut with `…`;
/// a single word longer than the width is elided in its middle instead.
pub fn fit_words(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for word in s.split(' ') {
        let candidate = if out.is_empty() {
            word.to_string()
        } else {
            format!("{out} {word}")
        };
        if candidate.chars().count() + 1 > width {
            break;
        }
        out = candidate;
    }
    if out.is_empty() {
        return elide_middle(s, width);
    }
    format!("{}…", out.trim_end_matches([',', ';', ' ']))
}

/// Shortens `s` to at most `width` characters keeping its end, cut between words
/// (`…namespace mnt:[4026532254])`): for notes whose last word is the one that matters.
pub fn fit_words_end(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for word in s.split(' ').rev() {
        let candidate = if out.is_empty() {
            word.to_string()
        } else {
            format!("{word} {out}")
        };
        if candidate.chars().count() + 1 > width {
            break;
        }
        out = candidate;
    }
    if out.is_empty() {
        return elide_middle(s, width);
    }
    format!("…{out}")
}

/// A path cell split into the path and a note in parentheses after it
/// (`/a/b (only in mount namespace mnt:[4026532254])`), so the note can get its own line.
pub fn path_and_note(cell: &str) -> (&str, Option<&str>) {
    match cell.find(" (") {
        Some(i) if cell.ends_with(')') => (&cell[..i], Some(&cell[i + 1..])),
        _ => (cell, None),
    }
}

/// How long ago, in words a person reads at a glance.
pub fn age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => "scanned just now".into(),
        60..3600 => format!("scanned {} min ago", s / 60),
        _ => format!("scanned {} h {} min ago", s / 3600, s % 3600 / 60),
    }
}

/// How many terminal rows `lines` take when wrapped at `width`.
pub fn wrapped_height(lines: &[Line], width: u16) -> usize {
    ratatui::widgets::Paragraph::new(lines.to_vec())
        .wrap(ratatui::widgets::Wrap { trim: false })
        .line_count(width)
}

/// The marks and spinner a terminal can show: the Linux console's font lacks braille and check marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyphs {
    pub ascii: bool,
}

impl Glyphs {
    pub fn from_term(term: Option<&str>) -> Self {
        Glyphs {
            ascii: term == Some("linux"),
        }
    }

    pub fn mark(self, s: crate::model::Status) -> &'static str {
        use crate::model::Status;
        if !self.ascii {
            return s.symbol();
        }
        match s {
            Status::Ok => "+",
            Status::Warn => "!",
            Status::Error => "x",
            Status::Unknown => "?",
            Status::Skipped => "-",
        }
    }

    pub fn spinner(self, tick: usize) -> &'static str {
        const BRAILLE: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        const ASCII: &[&str] = &["|", "/", "-", "\\"];
        let frames = if self.ascii { ASCII } else { BRAILLE };
        frames[tick % frames.len()]
    }

    /// Where typing goes.
    pub fn cursor(self) -> &'static str {
        if self.ascii { "_" } else { "▏" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_both_ends() {
        let p = "/var/lib/docker/overlay2/0123456789abcdef/merged";
        let e = elide_middle(p, 20);
        assert_eq!(e.chars().count(), 20);
        assert!(
            e.starts_with("/var/lib/") && e.ends_with("ef/merged"),
            "{e}"
        );
        assert_eq!(elide_middle("short", 20), "short");
    }

    #[test]
    fn prose_is_cut_between_words() {
        assert_eq!(
            fit_words("1234 sleep (cwd), 99 sh (open file)", 20),
            "1234 sleep (cwd)…"
        );
        assert_eq!(fit_words("abcdefghijklmnopqrstuvwxyz", 9), "abcd…wxyz");
    }

    #[test]
    fn notes_keep_their_last_words() {
        assert_eq!(
            fit_words_end("(only in mount namespace mnt:[4026532254])", 30),
            "…namespace mnt:[4026532254])"
        );
    }

    #[test]
    fn notes_after_paths_split_off() {
        assert_eq!(
            path_and_note("/a/b (only in mount namespace mnt:[4])"),
            ("/a/b", Some("(only in mount namespace mnt:[4])"))
        );
        assert_eq!(path_and_note("/a/b"), ("/a/b", None));
    }

    #[test]
    fn ages_read_as_words() {
        use std::time::Duration;
        assert_eq!(age(Duration::from_secs(5)), "scanned just now");
        assert_eq!(age(Duration::from_secs(12 * 60 + 5)), "scanned 12 min ago");
        assert_eq!(age(Duration::from_secs(7500)), "scanned 2 h 5 min ago");
    }

    #[test]
    fn the_linux_console_gets_ascii() {
        let g = Glyphs::from_term(Some("linux"));
        assert_eq!(g.mark(crate::model::Status::Ok), "+");
        assert!(g.spinner(3).is_ascii());
        assert_eq!(
            Glyphs::from_term(Some("xterm-256color")).mark(crate::model::Status::Ok),
            "✓"
        );
    }
}
