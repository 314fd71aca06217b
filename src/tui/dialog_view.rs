//! Drawing dialogs sized to the terminal. In the fix dialog the body scrolls and the refusal,
//! the typed confirmation and the buttons are laid out first, so they are on screen at every
//! size the UI accepts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::App;
use super::dialog::FixDialog;
use super::fit::wrapped_height;
use super::ui::{risk_style, scrollbar};
use crate::report::text::clean;

/// A rectangle of at most `width`×`height` centred in `area`, leaving a margin of one.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2));
    let h = height.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Draws `lines` scrolled in `area` with a scrollbar; clamps `scroll`; returns the furthest scroll.
fn scrolling(f: &mut Frame, area: Rect, lines: Vec<Line>, scroll: &mut u16) -> u16 {
    let width = area.width.saturating_sub(1);
    let total = wrapped_height(&lines, width);
    let max = total
        .saturating_sub(area.height as usize)
        .min(u16::MAX as usize) as u16;
    *scroll = (*scroll).min(max);
    let [text, bar] =
        Layout::horizontal([Constraint::Length(width), Constraint::Length(1)]).areas(area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((*scroll, 0)),
        text,
    );
    scrollbar(f, bar, total, area.height as usize, *scroll as usize);
    max
}

pub fn draw_fix(f: &mut Frame, app: &mut App, area: Rect, d: &mut FixDialog) {
    let p = &d.plan;
    let mut body = vec![
        Line::from(vec![
            Span::styled(format!("[{}] ", p.risk.as_str()), risk_style(app, p.risk)),
            Span::raw(clean(&p.title)),
        ]),
        Line::raw(if p.needs_root {
            "Needs root. Exactly what would run, in order:"
        } else {
            "Exactly what would run, in order:"
        }),
    ];
    for (i, s) in p.steps.iter().enumerate() {
        body.push(Line::raw(format!("{:>3}. {}", i + 1, clean(&s.describe()))));
    }
    if d.choices.len() > 1 {
        body.push(Line::raw(""));
        body.push(Line::raw(format!(
            "< > step through the {} fixes offered here.",
            d.choices.len()
        )));
    }
    let refusal = app.refusal(d);
    let confirmable = refusal.is_none();
    let width = area.width.saturating_sub(4).min(100);
    let inner_width = width.saturating_sub(2);
    let refusal_lines: Vec<Line> = refusal
        .iter()
        .map(|r| {
            Line::styled(
                clean(&r.why),
                Style::new().add_modifier(if r.pending {
                    Modifier::ITALIC
                } else {
                    Modifier::BOLD
                }),
            )
        })
        .collect();
    let typed_line = (confirmable && d.destructive()).then(|| {
        Line::raw(format!(
            "Destructive: type {} to enable Confirm: {}{}",
            d.check,
            d.typed,
            app.glyphs.cursor()
        ))
    });
    let fixed_wanted = wrapped_height(&refusal_lines, inner_width) as u16
        + typed_line.as_ref().map_or(0, |l| {
            wrapped_height(std::slice::from_ref(l), inner_width) as u16
        })
        + 1;
    let body_wanted = wrapped_height(&body, inner_width.saturating_sub(1)) as u16;
    let r = centered(area, width, body_wanted + fixed_wanted + 3);
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", clean(&d.title())));
    let inner = block.inner(r);
    f.render_widget(block, r);
    // The fixed parts first: the buttons line always, then the typed field, then the refusal,
    // each squeezed before the body gets anything (the body keeps at least one line).
    let room = inner.height.saturating_sub(2);
    let typed_h = typed_line
        .as_ref()
        .map_or(0, |l| {
            wrapped_height(std::slice::from_ref(l), inner.width) as u16
        })
        .min(room);
    let refusal_h = (wrapped_height(&refusal_lines, inner.width) as u16).min(
        room.saturating_sub(typed_h)
            .max(u16::from(refusal.is_some())),
    );
    let (x, w) = (inner.x, inner.width);
    let buttons = Rect::new(x, inner.bottom().saturating_sub(1), w, 1);
    let typed_area = Rect::new(x, buttons.y.saturating_sub(typed_h), w, typed_h);
    let refusal_area = Rect::new(x, typed_area.y.saturating_sub(refusal_h), w, refusal_h);
    // A blank line above the fixed parts when the body can spare it.
    let gap = u16::from(refusal_area.y.saturating_sub(inner.y) > 3);
    let body_area = Rect::new(
        x,
        inner.y,
        w,
        refusal_area.y.saturating_sub(inner.y + gap).max(1),
    );
    d.scroll_max = scrolling(f, body_area, body, &mut d.scroll);
    f.render_widget(
        Paragraph::new(refusal_lines).wrap(Wrap { trim: true }),
        refusal_area,
    );
    if let Some(l) = typed_line {
        f.render_widget(Paragraph::new(l).wrap(Wrap { trim: false }), typed_area);
    }
    let focused = Style::new().add_modifier(Modifier::REVERSED);
    let (cancel, confirm) = if d.confirm_focused && confirmable {
        (Style::new(), focused)
    } else {
        (focused, Style::new())
    };
    let mut spans = vec![Span::styled(" Cancel ", cancel)];
    if confirmable {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(" Confirm ", confirm));
    }
    let hint = if d.destructive() {
        "  Tab moves · Enter chooses"
    } else {
        "  Tab moves · y copies"
    };
    if buttons.width as usize >= 21 + hint.chars().count() {
        spans.push(Span::raw(hint));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), buttons);
    app.areas.dialog = r;
    app.areas.cancel = Rect::new(buttons.x, buttons.y, 8.min(buttons.width), 1);
}

const HELP: &str = "↑ ↓ / j k    move; in details: table rows, or scroll\n\
PgUp PgDn    page\n\
Home End g G top / bottom of the focused pane\n\
Enter / →    open details (one pane at a time when narrow)\n\
Esc / ←      back; in the list, clear the filter\n\
Tab          switch pane\n\
/            filter checks, table rows and evidence\n\
p            problems only (hide ok and skipped)\n\
r            scan again\n\
a            run the active probes (root)\n\
f            preview the fix (the table row's own in details)\n\
y / c        copy the fix's commands (OSC 52; printed on quit)\n\
e            write a support bundle (secrets removed)\n\
Ctrl-Z       suspend (fg resumes)\n\
?            this help\n\
q / Ctrl-C   quit\n\
mouse        click selects, wheel scrolls the pane under it\n\
\n\
In the fix dialog: ↑↓ scroll, < > other fixes, Tab moves\n\
between Cancel and Confirm, Enter chooses, Esc cancels.";

pub fn draw_help(f: &mut Frame, area: Rect, scroll: &mut u16) {
    let lines: Vec<Line> = HELP.lines().map(Line::raw).collect();
    let r = centered(area, 66, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    let block = Block::default().borders(Borders::ALL).title(" Keys ");
    let inner = block.inner(r);
    f.render_widget(block, r);
    scrolling(f, inner, lines, scroll);
}

pub fn draw_message(f: &mut Frame, area: Rect, text: &str, scroll: &mut u16) {
    let mut lines: Vec<Line> = text.lines().map(|l| Line::raw(clean(l))).collect();
    lines.push(Line::raw(""));
    lines.push(Line::raw("(Enter or Esc)"));
    let width = 76.min(area.width.saturating_sub(2));
    let height = wrapped_height(&lines, width.saturating_sub(3)) as u16 + 2;
    let r = centered(area, width, height);
    f.render_widget(Clear, r);
    let block = Block::default().borders(Borders::ALL);
    let inner = block.inner(r);
    f.render_widget(block, r);
    scrolling(f, inner, lines, scroll);
}

pub fn draw_quit(f: &mut Frame, app: &App, area: Rect) {
    let what = app
        .job
        .as_ref()
        .map(|j| {
            format!(
                "{} · {} is running (step {} of {}).",
                j.check,
                j.plan_id,
                j.step + 1,
                j.steps
            )
        })
        .unwrap_or_default();
    let text = format!(
        "{what}\nQuit anyway? The plan is logged as interrupted; later steps do not run.\n\ny quits · any other key goes back"
    );
    let r = centered(area, 64, 7);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" A fix is running "),
        ),
        r,
    );
}
