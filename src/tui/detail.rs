//! The detail pane: the result's pictures (gauges, bars), its table of findings, then the summary,
//! evidence, fixes and explanation as text that scrolls within bounds, with a scrollbar.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Borders, Cell, Gauge, Paragraph, Row, Table, TableState, Wrap,
};

use super::app::{App, Focus};
use super::fit::{fit_words, fit_words_end, path_and_note, wrapped_height};
use super::markdown;
use super::ui::{pane, risk_style, scrollbar, status_style, style};
use crate::model::{CheckResult, Unit, Visual};
use crate::report::text::clean;
use crate::units::human_decimal;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = app.focus == Focus::Detail;
    let Some(row) = app.current() else {
        f.render_widget(
            Block::default().borders(Borders::ALL).title(" Details "),
            area,
        );
        return;
    };
    let (check, result, running) = (row.check, row.result.clone(), row.running);
    let block = pane(app, format!(" {} ", check.id), focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut text_area = inner;
    if let Some(r) = &result {
        text_area = draw_pictures(f, app, r, inner);
        text_area = draw_table(f, app, r, text_area);
    }
    let mut lines: Vec<Line> = vec![Line::styled(
        check.title,
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if running {
        lines.push(Line::raw(format!(
            "{} running …",
            app.glyphs.spinner(app.spinner)
        )));
    }
    if let Some(r) = &result {
        lines.extend(result_lines(app, r));
    }
    lines.push(Line::raw(""));
    lines.extend(markdown::render(check.explanation, app.color));
    // One column for the scrollbar.
    let text_width = text_area.width.saturating_sub(1);
    let total = wrapped_height(&lines, text_width);
    let shown = text_area.height as usize;
    app.detail_max = total.saturating_sub(shown).min(u16::MAX as usize) as u16;
    app.detail_scroll = app.detail_scroll.min(app.detail_max);
    let [text, bar] = Layout::horizontal([Constraint::Length(text_width), Constraint::Length(1)])
        .areas(text_area);
    f.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll, 0)),
        text,
    );
    scrollbar(f, bar, total, shown, app.detail_scroll as usize);
    app.areas.text = text_area;
}

/// Status, summary, evidence (lines matching the filter marked) and fixes.
fn result_lines(app: &App, r: &CheckResult) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{} {}", app.glyphs.mark(r.status), r.status.as_str()),
                status_style(app, r.status),
            ),
            Span::raw(format!("  ({:.1} ms)", r.duration_ms)),
        ]),
        Line::raw(clean(&r.summary)),
    ];
    let limits = app.host.iter().flat_map(|h| &h.container_limits);
    for l in limits.filter(|l| l.check == r.id) {
        lines.push(Line::styled(
            format!("Inside a container: {}", l.why),
            style(app, Color::Yellow),
        ));
    }
    let underlined = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    if !r.evidence.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Evidence", underlined));
        let f = app.filter.to_lowercase();
        for e in &r.evidence {
            let (source, excerpt) = (clean(&e.source), clean(&e.excerpt));
            let hit = !f.is_empty()
                && (source.to_lowercase().contains(&f) || excerpt.to_lowercase().contains(&f));
            let line = Line::from(vec![
                Span::styled(format!("{source}: "), style(app, Color::Blue)),
                Span::raw(excerpt),
            ]);
            lines.push(if hit {
                line.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                line
            });
        }
    }
    if !r.fixes.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("Fixes ({}; f preview, y copy)", r.fixes.len()),
            underlined,
        ));
        for p in &r.fixes {
            lines.push(Line::from(vec![
                Span::styled(format!("[{}] ", p.risk.as_str()), risk_style(app, p.risk)),
                Span::raw(clean(&p.title)),
            ]));
        }
    }
    lines
}

/// The result's gauges and bar charts, whatever the check; returns the area left below them.
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

/// Column widths: every column but the path column gets what its content needs, up to a fair
/// share; the path column gets the rest (paths lose their middle, never their end).
fn widths(t: &crate::model::Table, rows: &[usize], width: u16) -> Vec<u16> {
    let n = t.columns.len().max(1);
    let spacing = (n as u16).saturating_sub(1);
    let avail = width.saturating_sub(spacing + 1) as usize;
    let need: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .filter_map(|&r| t.rows[r].get(c))
                .map(|s| {
                    let s = clean(s);
                    if t.path_columns.contains(&c) {
                        path_and_note(&s).0.chars().count()
                    } else {
                        s.chars().count()
                    }
                })
                .chain([t.columns.get(c).map_or(0, |h| h.chars().count())])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let paths: Vec<usize> = (0..n).filter(|c| t.path_columns.contains(c)).collect();
    let mut w = vec![0usize; n];
    if need.iter().sum::<usize>() <= avail {
        w.clone_from(&need);
    } else {
        // Paths first get two fifths (or what they need), then the other columns share the rest
        // smallest first, each up to its need; what is left goes back to the paths.
        for &c in &paths {
            w[c] = need[c].min((avail * 2 / 5 / paths.len()).max(16));
        }
        let mut rest = avail.saturating_sub(w.iter().sum());
        let mut others: Vec<usize> = (0..n).filter(|c| !paths.contains(c)).collect();
        others.sort_by_key(|&c| need[c]);
        for (k, &c) in others.iter().enumerate() {
            let fair = rest / (others.len() - k);
            w[c] = need[c].min(fair.max(t.columns[c].chars().count()));
            rest = rest.saturating_sub(w[c]);
        }
        for &c in &paths {
            let more = need[c].saturating_sub(w[c]).min(rest / paths.len().max(1));
            w[c] += more;
        }
    }
    w.into_iter().map(|x| x as u16).collect()
}

/// The findings table at the top of the pane, with a row counter and a scrollbar; ↑↓ select a
/// row when the pane has the focus, and `f` offers that row's own fixes. Returns the area below.
fn draw_table(f: &mut Frame, app: &mut App, r: &CheckResult, area: Rect) -> Rect {
    let Some(t) = &r.table else { return area };
    let shown = app.table_rows(r);
    if shown.is_empty() || area.height < 8 {
        return area;
    }
    let w = widths(t, &shown, area.width);
    let rows: Vec<(Row, u16)> = shown
        .iter()
        .map(|&i| {
            let mut height = 1;
            let cells: Vec<Cell> = t.rows[i]
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    let cell = clean(cell);
                    let width = w.get(c).copied().unwrap_or(8) as usize;
                    if t.path_columns.contains(&c) {
                        let (path, note) = path_and_note(&cell);
                        let mut lines = vec![Line::raw(super::fit::elide_middle(path, width))];
                        if let Some(note) = note {
                            // Mounts in another namespace: the namespace on its own line.
                            lines.push(Line::raw(fit_words_end(note, width)));
                            height = 2;
                        }
                        Cell::from(Text::from(lines))
                    } else {
                        Cell::from(fit_words(&cell, width))
                    }
                })
                .collect();
            (Row::new(cells), height)
        })
        .collect();
    let needed: u16 = rows.iter().map(|(_, h)| h).sum::<u16>() + 2;
    let height = needed.min(area.height / 2).max(3);
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(area);
    let counter = format!(
        " row {} of {}{} ",
        app.table_row + 1,
        shown.len(),
        if shown.len() < t.rows.len() {
            format!(" matching /{} ({} rows)", app.filter, t.rows.len())
        } else {
            String::new()
        }
    );
    let header = Row::new(t.columns.iter().map(|c| Cell::from(c.clone())))
        .style(Style::new().add_modifier(Modifier::BOLD));
    let heights: Vec<u16> = rows.iter().map(|(_, h)| *h).collect();
    let table = Table::new(
        rows.into_iter().map(|(row, h)| row.height(h)),
        w.iter().map(|&x| Constraint::Length(x)),
    )
    .header(header)
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .block(
        Block::default()
            .borders(Borders::BOTTOM)
            .title_bottom(Line::raw(counter).right_aligned()),
    );
    // Unfocused, the selected row is not highlighted (the list has the cursor).
    let table = if app.focus == Focus::Detail {
        table
    } else {
        table.row_highlight_style(Style::new())
    };
    let mut state = TableState::default().with_selected(Some(app.table_row));
    f.render_stateful_widget(table, top, &mut state);
    // The rows' lines on screen, for clicks.
    let body = Rect::new(top.x, top.y + 1, top.width, top.height.saturating_sub(2));
    let mut lines = Vec::new();
    for (n, h) in heights.iter().enumerate().skip(state.offset()) {
        for _ in 0..*h {
            lines.push(n);
        }
    }
    lines.truncate(body.height as usize);
    app.areas.table = body;
    app.areas.table_lines = lines;
    scrollbar(
        f,
        top.inner(Margin::new(0, 0)),
        shown.len(),
        body.height as usize,
        state.offset(),
    );
    rest
}
