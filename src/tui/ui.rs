//! Drawing: header, the list of checks by area, the detail pane (with a gauge and bars where a
//! picture beats text), the footer of keys that work now, and dialogs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Borders, Cell, Clear, Gauge, List, ListItem, ListState,
    Paragraph, Row, Table, TableState, Wrap,
};

use super::app::{App, Dialog, Focus};
use super::markdown;
use crate::model::{CheckResult, Risk, Status, Unit, Visual};
use crate::parse::buildkit::human_decimal;
use crate::report::text::clean;

const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// Below this the layout cannot show anything useful.
const MIN: (u16, u16) = (40, 10);

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    if area.width < MIN.0 || area.height < MIN.1 {
        f.render_widget(
            Paragraph::new("terminal too small").wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, app, header);
    let list_width = (body.width * 2 / 5).clamp(30, 48);
    let [list, detail] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(10)]).areas(body);
    draw_list(f, app, list);
    draw_detail(f, app, detail);
    draw_footer(f, app, footer);
    match app.dialog.clone() {
        Some(Dialog::Help) => draw_help(f, app, area),
        Some(Dialog::Message(m)) => draw_message(f, app, area, &m),
        Some(Dialog::Fix {
            plan,
            typed,
            confirm_focused,
        }) => draw_fix(f, app, area, plan, &typed, confirm_focused),
        None => {}
    }
}

fn style(app: &App, color: Color) -> Style {
    if app.color {
        Style::new().fg(color)
    } else {
        Style::new()
    }
}

fn status_style(app: &App, s: Status) -> Style {
    let c = match s {
        Status::Ok => Color::Green,
        Status::Warn => Color::Yellow,
        Status::Error => Color::Red,
        Status::Unknown => Color::Magenta,
        Status::Skipped => Color::DarkGray,
    };
    style(app, c).add_modifier(Modifier::BOLD)
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut first = vec![Span::styled(
        format!("container-doctor {}", env!("CARGO_PKG_VERSION")),
        bold,
    )];
    let mut second = Vec::new();
    match &app.host {
        Some(h) => {
            let mut parts: Vec<String> = Vec::new();
            parts.extend(h.hostname.clone());
            parts.extend(h.kernel.as_ref().map(|k| format!("Linux {k}")));
            parts.extend(h.os.clone());
            first.push(Span::raw(format!("  {}", parts.join(" · "))));
            let cgroup = format!("cgroup {}", h.cgroup.as_deref().unwrap_or("?"));
            second.push(Span::raw(format!(
                "{} · {} · {} · {}",
                cgroup,
                if h.root {
                    "root"
                } else {
                    "not root: some checks say unknown"
                },
                h.container
                    .as_ref()
                    .map(|c| format!("inside a container ({c})"))
                    .unwrap_or_else(|| "not in a container".into()),
                if h.source == "live" {
                    "live".to_string()
                } else {
                    h.source.clone()
                }
            )));
        }
        None => second.push(Span::raw("reading the host …")),
    }
    f.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

fn draw_list(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = app.focus == Focus::List;
    let block = Block::default()
        .borders(Borders::ALL)
        .title(if app.filter.is_empty() {
            " Checks ".to_string()
        } else {
            format!(" Checks /{} ", app.filter)
        })
        .border_style(if focused {
            style(app, Color::Cyan)
        } else {
            Style::new()
        });
    let inner = block.inner(area);
    app.list_top = inner.y;
    let mut items = Vec::new();
    let mut selected_line = None;
    let mut area_name = "";
    let visible = app.visible();
    for (pos, &i) in visible.iter().enumerate() {
        let row = &app.rows[i];
        if row.check.area != area_name {
            area_name = row.check.area;
            items.push(ListItem::new(Line::styled(
                area_name,
                Style::new().add_modifier(Modifier::BOLD),
            )));
        }
        let (mark, mark_style) = match &row.result {
            Some(r) => (r.status.symbol().to_string(), status_style(app, r.status)),
            None => (
                SPINNER[app.spinner % SPINNER.len()].to_string(),
                style(app, Color::Cyan),
            ),
        };
        if pos == app.selected {
            selected_line = Some(items.len());
        }
        items.push(ListItem::new(Line::from(vec![
            Span::raw(" "),
            Span::styled(mark, mark_style),
            Span::raw(" "),
            Span::raw(row.check.id),
        ])));
    }
    if visible.is_empty() {
        items.push(ListItem::new(Line::raw("(nothing matches)")));
    }
    let list = List::new(items)
        .block(block)
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(selected_line);
    f.render_stateful_widget(list, area, &mut state);
}

fn draw_detail(f: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Detail;
    let Some(row) = app.current() else {
        f.render_widget(
            Block::default().borders(Borders::ALL).title(" Details "),
            area,
        );
        return;
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", row.check.id))
        .border_style(if focused {
            style(app, Color::Cyan)
        } else {
            Style::new()
        });
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut text_area = inner;
    if let Some(r) = &row.result {
        text_area = draw_pictures(f, app, r, inner);
        if let Some(t) = &r.table {
            text_area = draw_table(f, app, t, text_area);
        }
    }
    let mut lines: Vec<Line> = vec![Line::styled(
        row.check.title,
        Style::new().add_modifier(Modifier::BOLD),
    )];
    match &row.result {
        None => lines.push(Line::raw(format!(
            "{} running …",
            SPINNER[app.spinner % SPINNER.len()]
        ))),
        Some(r) => {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{} {}", r.status.symbol(), r.status.as_str()),
                    status_style(app, r.status),
                ),
                Span::raw(format!("  ({:.1} ms)", r.duration_ms)),
            ]));
            lines.push(Line::raw(clean(&r.summary)));
            let limits = app.host.iter().flat_map(|h| &h.container_limits);
            for l in limits.filter(|l| l.check == row.check.id) {
                lines.push(Line::styled(
                    format!("Inside a container: {}", l.why),
                    style(app, Color::Yellow),
                ));
            }
            if !r.evidence.is_empty() {
                lines.push(Line::raw(""));
                lines.push(Line::styled(
                    "Evidence",
                    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                ));
                for e in &r.evidence {
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("{}: ", clean(&e.source)),
                            style(app, Color::DarkGray),
                        ),
                        Span::raw(clean(&e.excerpt)),
                    ]));
                }
            }
            if !r.fixes.is_empty() {
                lines.push(Line::raw(""));
                lines.push(Line::styled(
                    "Fixes (f: preview, c: copy)",
                    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                ));
                for p in &r.fixes {
                    lines.push(Line::from(vec![
                        Span::styled(format!("[{}] ", p.risk.as_str()), risk_style(app, p.risk)),
                        Span::raw(clean(&p.title)),
                    ]));
                }
            }
        }
    }
    lines.push(Line::raw(""));
    lines.extend(markdown::render(row.check.explanation, app.color));
    f.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll, 0)),
        text_area,
    );
}

/// The result's gauges and bar charts, whatever the check; returns the area left for text.
fn draw_pictures(f: &mut Frame, app: &App, r: &CheckResult, area: Rect) -> Rect {
    let mut rest = area;
    for v in &r.visuals {
        match v {
            Visual::Gauge {
                label,
                value,
                limit,
                unit,
            } => {
                if rest.height < 8 {
                    break;
                }
                let [gauge, below] =
                    Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(rest);
                let ratio = if *limit > 0.0 {
                    (value / limit).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let c = if value > limit {
                    Color::Red
                } else {
                    Color::Green
                };
                f.render_widget(
                    Gauge::default()
                        .ratio(ratio)
                        .gauge_style(style(app, c))
                        .label(format!(
                            "{label}: {} of {}",
                            amount(*value, *unit),
                            amount(*limit, *unit)
                        )),
                    gauge,
                );
                rest = below;
            }
            Visual::Bars { bars, unit, .. } => {
                if bars.is_empty() || rest.height < 10 {
                    continue;
                }
                let [chart, below] =
                    Layout::vertical([Constraint::Length(5), Constraint::Min(0)]).areas(rest);
                let width = bars
                    .iter()
                    .map(|(l, _)| l.chars().count())
                    .max()
                    .unwrap_or(8)
                    .clamp(8, 14) as u16;
                // Bar heights are integers: scale milliseconds so short ones still show.
                let scale = if *unit == Unit::Milliseconds {
                    1000.0
                } else {
                    1.0
                };
                let drawn: Vec<Bar> = bars
                    .iter()
                    .map(|(label, v)| {
                        Bar::default()
                            .label(Line::raw(label.clone()))
                            .value((v * scale) as u64)
                            .text_value(amount(*v, *unit))
                    })
                    .collect();
                f.render_widget(
                    BarChart::default()
                        .data(BarGroup::default().bars(&drawn))
                        .bar_width(width)
                        .bar_gap(1),
                    chart,
                );
                rest = below;
            }
        }
    }
    rest
}

/// A number as its unit reads best: BuildKit's binary sizes, milliseconds with one decimal.
fn amount(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Bytes => human_decimal(v as i64),
        Unit::Milliseconds => format!("{v:.1} ms"),
        Unit::Count => format!("{v}"),
    }
}

/// A findings table at the top of the pane; ↑↓ select a row when the pane has the focus.
fn draw_table(f: &mut Frame, app: &App, t: &crate::model::Table, area: Rect) -> Rect {
    if t.rows.is_empty() || area.height < 8 {
        return area;
    }
    let height = (t.rows.len() as u16 + 2).min(area.height / 2).max(4);
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(area);
    let widths = [
        Constraint::Percentage(40),
        Constraint::Length(12),
        Constraint::Percentage(20),
        Constraint::Fill(1),
    ];
    let header = Row::new(t.columns.iter().map(|c| Cell::from(c.clone())))
        .style(Style::new().add_modifier(Modifier::BOLD));
    // Long paths keep their end, where the layer id and the odd characters are.
    let first = (area.width as usize * 40 / 100).max(8);
    let tail = |c: &str| {
        let c = clean(c);
        let n = c.chars().count();
        if n > first {
            format!("…{}", c.chars().skip(n - first + 1).collect::<String>())
        } else {
            c
        }
    };
    let rows = t.rows.iter().map(|r| {
        Row::new(
            r.iter()
                .enumerate()
                .map(|(i, c)| Cell::from(if i == 0 { tail(c) } else { clean(c) })),
        )
    });
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::default().borders(Borders::BOTTOM));
    let mut state =
        TableState::default().with_selected((app.focus == Focus::Detail).then_some(app.table_row));
    f.render_stateful_widget(table, top, &mut state);
    rest
}

fn risk_style(app: &App, r: Risk) -> Style {
    style(
        app,
        match r {
            Risk::Safe => Color::Green,
            Risk::Disruptive => Color::Yellow,
            Risk::Destructive => Color::Red,
        },
    )
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let keys = if app.filtering {
        format!("filter: {}▏  Enter keep · Esc clear", app.filter)
    } else if app.dialog.is_some() {
        "Esc close · Tab move · Enter choose".to_string()
    } else {
        // Full labels where they fit, the keys alone where they do not.
        let full = area.width >= 100;
        let mut k: Vec<&str> = if full {
            vec![
                "↑↓ move",
                "Enter details",
                "Tab pane",
                "/ filter",
                "f fix",
                "c copy",
                "? help",
                "q quit",
            ]
        } else {
            vec![
                "↑↓", "Enter", "Tab", "/ filter", "f fix", "c copy", "? help", "q quit",
            ]
        };
        if !app.scanning() {
            k.insert(4, if full { "r rescan" } else { "r" });
            k.insert(5, if full { "a freezer probe" } else { "a probe" });
        }
        if app.focus == Focus::Detail {
            k[0] = "↑↓ scroll";
            k[1] = if full { "Esc back" } else { "Esc" };
        }
        k.join(" · ")
    };
    f.render_widget(
        Paragraph::new(Line::styled(keys, Style::new().add_modifier(Modifier::DIM))),
        area,
    );
}

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

fn draw_help(f: &mut Frame, _app: &App, area: Rect) {
    let r = centered(area, 60, 18);
    f.render_widget(Clear, r);
    let text = "↑ ↓ / j k    move (scroll in details)\n\
                Enter / →    open details\n\
                Esc / ←      back\n\
                Tab          switch pane\n\
                /            filter by text (Enter keep, Esc clear)\n\
                r            scan again\n\
                a            run the active freezer probe (root)\n\
                f            preview the selected fix\n\
                c            copy the fix's commands (OSC 52; printed on exit)\n\
                e            export a support bundle (secrets removed)\n\
                ?            this help\n\
                q / Ctrl-C   quit\n\
                mouse        click to select, wheel to scroll";
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" Keys ")),
        r,
    );
}

fn draw_message(f: &mut Frame, _app: &App, area: Rect, message: &str) {
    let height = message
        .lines()
        .map(|l| l.len() as u16 / 60 + 1)
        .sum::<u16>()
        + 4;
    let r = centered(area, 72, height.max(7));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(format!("{message}\n\n(Enter or Esc)"))
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::ALL)),
        r,
    );
}

fn draw_fix(f: &mut Frame, app: &App, area: Rect, plan: usize, typed: &str, confirm_focused: bool) {
    let Some(row) = app.current() else { return };
    let Some(p) = row.result.as_ref().and_then(|r| r.fixes.get(plan)) else {
        return;
    };
    let r = centered(
        area,
        area.width.saturating_sub(8).min(100),
        area.height.saturating_sub(4).min(24),
    );
    f.render_widget(Clear, r);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("[{}] ", p.risk.as_str()), risk_style(app, p.risk)),
            Span::raw(clean(&p.title)),
        ]),
        Line::raw(if p.needs_root { "needs root" } else { "" }),
        Line::raw("Exactly what would run, in order:"),
    ];
    for (i, s) in p.steps.iter().enumerate() {
        let text = s.describe();
        lines.push(Line::raw(format!("  {}. {}", i + 1, clean(&text))));
    }
    lines.push(Line::raw(""));
    if p.risk == Risk::Destructive {
        lines.push(Line::raw(format!(
            "Destructive: type {} to enable Confirm: {typed}▏",
            row.check.id
        )));
    }
    let (cancel, confirm) = if confirm_focused {
        (Style::new(), Style::new().add_modifier(Modifier::REVERSED))
    } else {
        (Style::new().add_modifier(Modifier::REVERSED), Style::new())
    };
    lines.push(Line::from(vec![
        Span::styled(" Cancel ", cancel),
        Span::raw("   "),
        Span::styled(" Confirm ", confirm),
        Span::raw("   (Tab moves, ↑↓ other fixes, c copies)"),
    ]));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" Fix ")),
        r,
    );
}
