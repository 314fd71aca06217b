//! Drawing the main screen: header, the list of checks by area, the detail pane, the footer of
//! keys that work now (or a notice, or a running fix's progress), and whichever dialog is open.
//! Below `TWO_PANES` columns one pane is shown at a time, the focused one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Borders, List, ListItem, ListState, Paragraph, Scrollbar,
    ScrollbarOrientation, ScrollbarState, Wrap,
};

use super::app::{App, Dialog, Focus};
use super::{detail, dialog_view, fit};
use crate::model::{Risk, Status};

/// The smallest terminal the UI draws in: the fix dialog keeps its buttons on screen down to this.
pub const MIN: (u16, u16) = (50, 12);
/// Narrower than this, the list and the details take turns.
pub const TWO_PANES: u16 = 90;

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    app.areas = Default::default();
    if area.width < MIN.0 || area.height < MIN.1 {
        let text = format!(
            "terminal too small: {}×{}; the UI needs at least {}×{}",
            area.width, area.height, MIN.0, MIN.1
        );
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, app, header);
    if body.width < TWO_PANES {
        match app.focus {
            Focus::List => draw_list(f, app, body),
            Focus::Detail => detail::draw(f, app, body),
        }
    } else {
        let list_width = (body.width * 2 / 5).clamp(30, 48);
        let [list, detail] =
            Layout::horizontal([Constraint::Length(list_width), Constraint::Min(10)]).areas(body);
        draw_list(f, app, list);
        detail::draw(f, app, detail);
    }
    draw_footer(f, app, footer);
    match app.dialog.take() {
        Some(Dialog::Fix(mut d)) => {
            dialog_view::draw_fix(f, app, area, &mut d);
            app.dialog = Some(Dialog::Fix(d));
        }
        Some(Dialog::Help { mut scroll }) => {
            dialog_view::draw_help(f, area, &mut scroll);
            app.dialog = Some(Dialog::Help { scroll });
        }
        Some(Dialog::Message { text, mut scroll }) => {
            dialog_view::draw_message(f, area, &text, &mut scroll);
            app.dialog = Some(Dialog::Message { text, scroll });
        }
        Some(Dialog::QuitWhileFixing) => {
            dialog_view::draw_quit(f, app, area);
            app.dialog = Some(Dialog::QuitWhileFixing);
        }
        None => {}
    }
}

/// A foreground color, only with colors on. Never color 8 (dark gray): unreadable on many themes.
pub fn style(app: &App, color: Color) -> Style {
    if app.color {
        Style::new().fg(color)
    } else {
        Style::new()
    }
}

pub fn status_style(app: &App, s: Status) -> Style {
    let c = match s {
        Status::Ok => Color::Green,
        Status::Warn => Color::Yellow,
        Status::Error => Color::Red,
        Status::Unknown => Color::Magenta,
        Status::Skipped => Color::Reset,
    };
    style(app, c).add_modifier(Modifier::BOLD)
}

pub fn risk_style(app: &App, r: Risk) -> Style {
    style(
        app,
        match r {
            Risk::Safe => Color::Green,
            Risk::Disruptive => Color::Yellow,
            Risk::Destructive => Color::Red,
        },
    )
}

/// A pane's frame: the focused one has a double border and a `▶` before its title, which read
/// without color, and is cyan with it.
pub fn pane(app: &App, title: String, focused: bool) -> Block<'static> {
    let block = Block::default().borders(Borders::ALL);
    if focused {
        block
            .border_type(BorderType::Double)
            .border_style(style(app, Color::Cyan))
            .title(format!(
                "{}{title}",
                if app.glyphs.ascii { ">" } else { "▶" }
            ))
    } else {
        block.title(title)
    }
}

/// A vertical scrollbar on the right edge of `area` when `total` lines exceed what it shows.
pub fn scrollbar(f: &mut Frame, area: Rect, total: usize, shown: usize, position: usize) {
    if total <= shown || area.height < 2 {
        return;
    }
    let mut state = ScrollbarState::new(total.saturating_sub(shown)).position(position);
    f.render_stateful_widget(
        Scrollbar::new(ScrollbarOrientation::VerticalRight)
            .begin_symbol(None)
            .end_symbol(None),
        area,
        &mut state,
    );
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut first = vec![Span::styled(
        format!("container-doctor {}", env!("CARGO_PKG_VERSION")),
        bold,
    )];
    let mut second: Vec<Span> = Vec::new();
    for (s, n) in app.counts() {
        second.push(Span::styled(
            format!("{} {n}", app.glyphs.mark(s)),
            if n > 0 {
                status_style(app, s)
            } else {
                Style::new()
            },
        ));
        second.push(Span::raw("  "));
    }
    let age = if app.scanning() {
        "scanning …".to_string()
    } else {
        app.scanned_at
            .map(|t| format!("{} (r rescans)", fit::age(t.elapsed())))
            .unwrap_or_default()
    };
    if !age.is_empty() {
        second.push(Span::raw(age));
        second.push(Span::raw(" · "));
    }
    match &app.host {
        Some(h) => {
            let mut parts: Vec<String> = Vec::new();
            parts.extend(h.hostname.clone());
            parts.extend(h.kernel.as_ref().map(|k| format!("Linux {k}")));
            parts.extend(h.os.clone());
            first.push(Span::raw(format!(
                "  {}",
                crate::report::text::clean(&parts.join(" · "))
            )));
            let facts = [
                format!("cgroup {}", h.cgroup.as_deref().unwrap_or("?")),
                if h.root {
                    "root".into()
                } else {
                    "not root: some checks say unknown".into()
                },
                h.container
                    .as_ref()
                    .map(|c| format!("inside a container ({c})"))
                    .unwrap_or_else(|| "not in a container".into()),
                h.source.clone(),
            ];
            second.push(Span::raw(facts.join(" · ")));
        }
        None => first.push(Span::raw("  reading the host …")),
    }
    f.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

fn draw_list(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = app.focus == Focus::List;
    let visible = app.visible();
    let mut title = format!(" Checks {} of {} ", visible.len(), app.rows.len());
    if !app.filter.is_empty() {
        title = format!(
            " Checks /{} {} of {} ",
            app.filter,
            visible.len(),
            app.rows.len()
        );
    }
    if app.problems_only {
        title.push_str("problems only ");
    }
    let block = pane(app, title, focused);
    let inner = block.inner(area);
    let current = app.current().map(|r| r.check.id);
    let mut items = Vec::new();
    let mut selected_line = None;
    let entries = app.list_entries();
    for (n, entry) in entries.iter().enumerate() {
        let Some(i) = *entry else {
            // A heading: the area of the check that follows it.
            let name = match entries.get(n + 1) {
                Some(Some(next)) => app.rows[*next].check.area,
                _ => "",
            };
            items.push(ListItem::new(Line::styled(
                name,
                Style::new().add_modifier(Modifier::BOLD),
            )));
            continue;
        };
        let row = &app.rows[i];
        let (mark, mark_style) = match (&row.result, row.running) {
            (Some(r), false) => (app.glyphs.mark(r.status), status_style(app, r.status)),
            _ => (app.glyphs.spinner(app.spinner), style(app, Color::Cyan)),
        };
        if Some(row.check.id) == current {
            selected_line = Some(items.len());
        }
        items.push(ListItem::new(Line::from(vec![
            Span::raw(" "),
            Span::styled(mark, mark_style),
            Span::raw(" "),
            Span::raw(row.check.id),
        ])));
    }
    let total = items.len();
    if visible.is_empty() {
        items.push(ListItem::new(Line::raw("(nothing matches)")));
    }
    let list = List::new(items)
        .block(block)
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(selected_line);
    f.render_stateful_widget(list, area, &mut state);
    app.areas.list = inner;
    app.areas.list_offset = state.offset();
    scrollbar(
        f,
        area.inner(Margin::new(0, 1)),
        total,
        inner.height as usize,
        state.offset(),
    );
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let text = if let Some(job) = &app.job {
        format!(
            "{} fixing {} · {}: step {} of {}, {} · {} s",
            app.glyphs.spinner(app.spinner),
            job.check,
            job.plan_id,
            job.step + 1,
            job.steps,
            crate::report::text::clean(&job.what),
            job.started.elapsed().as_secs()
        )
    } else if let Some(n) = &app.notice {
        // A notice keeps its end (a bundle's path, the file name last) when it must shrink.
        f.render_widget(
            Paragraph::new(Line::raw(fit::elide_middle(n, area.width as usize))),
            area,
        );
        return;
    } else if app.filtering {
        format!(
            "filter: {}{}  Enter keep · Esc clear",
            app.filter,
            app.glyphs.cursor()
        )
    } else if app.dialog.is_some() {
        "Esc close · ↑↓ scroll".to_string()
    } else {
        keys(app, area.width)
    };
    let width = area.width as usize;
    f.render_widget(
        Paragraph::new(Line::raw(fit::fit_words(&text, width))),
        area,
    );
}

/// The keys that work now: full labels where they fit, shorter ones where they do not.
fn keys(app: &App, width: u16) -> String {
    let detail = app.focus == Focus::Detail;
    let mut k: Vec<(&str, &str)> = vec![
        ("↑↓", if detail { "scroll" } else { "move" }),
        if detail {
            ("Esc", "back")
        } else {
            ("Enter", "details")
        },
        ("/", "filter"),
        ("p", "problems"),
        ("f", "fix"),
        ("y", "copy"),
    ];
    if !app.scanning() {
        k.push(("r", "rescan"));
    }
    k.extend([("e", "export"), ("?", "help"), ("q", "quit")]);
    let full: Vec<String> = k.iter().map(|(a, b)| format!("{a} {b}")).collect();
    let full = full.join(" · ");
    if full.chars().count() <= width as usize {
        return full;
    }
    k.iter()
        .map(|(a, b)| match *a {
            "↑↓" | "Enter" | "Esc" => a.to_string(),
            _ => format!("{a} {b}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
