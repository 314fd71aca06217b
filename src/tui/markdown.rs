//! The check explanations (assets/checks/*.md) as styled lines: headings bold, paragraphs joined
//! so the pane wraps them, list items with bullets, `code` set apart. Only what those files use.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

pub fn render(md: &str, color: bool) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for block in md.split("\n\n") {
        let block = block.trim_end();
        if block.is_empty() {
            continue;
        }
        if let Some(h) = block.strip_prefix("# ") {
            lines.push(Line::styled(
                h.to_string(),
                Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ));
        } else if let Some(h) = block.strip_prefix("## ") {
            lines.push(Line::styled(
                h.to_string(),
                Style::new().add_modifier(Modifier::BOLD),
            ));
        } else if block.trim_start().starts_with("- ") {
            // One bullet per item; an item's continuation lines are indented.
            let mut item = String::new();
            for l in block.lines() {
                if let Some(rest) = l.trim_start().strip_prefix("- ") {
                    if !item.is_empty() {
                        lines.push(inline(&format!("• {item}"), color));
                    }
                    item = rest.to_string();
                } else {
                    item.push(' ');
                    item.push_str(l.trim());
                }
            }
            if !item.is_empty() {
                lines.push(inline(&format!("• {item}"), color));
            }
        } else {
            let joined = block.lines().map(str::trim).collect::<Vec<_>>().join(" ");
            lines.push(inline(&joined, color));
        }
        lines.push(Line::raw(""));
    }
    lines
}

/// `code` spans and **bold**.
fn inline(text: &str, color: bool) -> Line<'static> {
    let code = if color {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().add_modifier(Modifier::ITALIC)
    };
    let mut spans = Vec::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            spans.push(Span::styled(part.to_string(), code));
            continue;
        }
        for (j, p) in part.split("**").enumerate() {
            let s = if j % 2 == 1 {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            if !p.is_empty() {
                spans.push(Span::styled(p.to_string(), s));
            }
        }
    }
    Line::from(spans)
}
