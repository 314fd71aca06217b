//! The doctor-style text report: one line per check, grouped by area, and a summary line.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::Report;
use crate::model::Status;

pub struct Options {
    pub color: bool,
    /// Adds evidence, fixes and explanations.
    pub verbose: bool,
}

pub fn render(report: &Report, opts: &Options) -> String {
    let paint = |style: Style, text: &str| {
        if opts.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    };
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let mut out = String::new();

    let h = &report.host;
    let mut header = vec![format!("{} {}", report.tool.name, report.tool.version)];
    header.extend(h.hostname.clone());
    header.extend(h.kernel.as_ref().map(|k| format!("Linux {k}")));
    header.extend(h.os.clone());
    let mut view = vec![
        h.source.clone(),
        if h.root { "root" } else { "not root" }.to_string(),
    ];
    view.extend(
        h.container
            .as_ref()
            .map(|c| format!("in a container ({c})")),
    );
    header.push(view.join(", "));
    let _ = writeln!(out, "{}\n", paint(bold, &clean(&header.join(" · "))));
    if !h.container_limits.is_empty() {
        let ids: Vec<&str> = h
            .container_limits
            .iter()
            .map(|l| l.check.as_str())
            .collect();
        let _ = writeln!(
            out,
            "{}\n",
            paint(
                dim,
                &format!(
                    "Inside a container, these checks see the container, not the host: {}. \
                     To examine the host, mount its / read-only at /host and add --root /host.",
                    ids.join(", ")
                )
            )
        );
    }

    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let mut area = "";
    for c in &report.checks {
        if c.area != area {
            area = c.area;
            let _ = writeln!(out, "{}", paint(bold, area));
        }
        let mark = paint(status_style(c.status), c.status.symbol());
        let _ = writeln!(out, "  {mark} {:width$}  {}", c.id, clean(&c.summary));
        if !opts.verbose {
            continue;
        }
        for l in h.container_limits.iter().filter(|l| l.check == c.id) {
            let _ = writeln!(
                out,
                "      {}",
                paint(dim, &format!("inside a container: {}", l.why))
            );
        }
        for e in &c.evidence {
            let _ = writeln!(
                out,
                "      {} {}",
                paint(dim, &format!("{}:", clean(&e.source))),
                clean(&e.excerpt)
            );
        }
        for f in &c.fixes {
            let risk = f.risk.as_str();
            let root = if f.needs_root { ", needs root" } else { "" };
            let _ = writeln!(out, "      fix: {} [{risk}{root}]", clean(&f.title));
            for s in &f.steps {
                let step = s.describe();
                let _ = writeln!(out, "        - {}", clean(&step));
            }
        }
        let why = c.gist();
        if !why.is_empty() {
            let _ = writeln!(out, "      {}", paint(dim, &why));
        }
    }

    let t = &report.totals;
    let line = format!(
        "{} check{}: {} ok, {} warn, {} error, {} unknown, {} skipped in {:.0} ms",
        report.checks.len(),
        if report.checks.len() == 1 { "" } else { "s" },
        t.ok,
        t.warn,
        t.error,
        t.unknown,
        t.skipped,
        report.duration_ms
    );
    let _ = writeln!(out, "\n{}", paint(bold, &line));
    out
}

fn status_style(s: Status) -> Style {
    let color = match s {
        Status::Ok => AnsiColor::Green,
        Status::Warn => AnsiColor::Yellow,
        Status::Error => AnsiColor::Red,
        Status::Unknown => AnsiColor::Magenta,
        Status::Skipped => AnsiColor::BrightBlack,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

/// Text from the system may hold terminal escapes: show control characters, never send them.
/// The one escaping rule for text from the system: see [`crate::escape`].
pub use crate::escape::escape_control as clean;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(clean("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
    }
}
