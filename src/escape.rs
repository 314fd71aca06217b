//! One escaping rule for every human-facing string that comes from the system (process names,
//! paths, Dockerfile lines, container names): control characters are shown, never sent, so a
//! newline in a process name cannot add a line to "exactly what will run", and an escape
//! sequence cannot repaint the terminal. Bidirectional overrides and line separators are shown
//! too (they reorder or break what a reader sees).

/// `s` with every control character (C0, DEL, C1), bidi control and line/paragraph separator
/// written as a Rust-style escape (`\n`, `\u{1b}`).
pub fn escape_control(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if needs_escape(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Like [`escape_control`], but keeps line breaks: for multi-line text shown as lines (diffs).
pub fn escape_control_lines(s: &str) -> String {
    s.split('\n')
        .map(escape_control)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(escape_control("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        assert_eq!(escape_control("x\u{202e}y\u{85}"), "x\\u{202e}y\\u{85}");
        assert_eq!(escape_control("plain /path é"), "plain /path é");
        assert_eq!(escape_control_lines("a\nb\rc"), "a\nb\\rc");
    }
}
