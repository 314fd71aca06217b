//! `--format github`: GitHub Actions workflow commands (`::error file=…,line=…::…`), plus a markdown
//! summary for `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write;

use super::Report;
use crate::model::Status;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for c in &report.checks {
        let command = match c.status {
            Status::Error => "error",
            Status::Warn => "warning",
            Status::Unknown => "notice",
            Status::Ok | Status::Skipped => continue,
        };
        let title = format!("container-doctor {}", c.id);
        let mut located = false;
        for e in &c.evidence {
            if let Some(l) = &e.location {
                located = true;
                let _ = writeln!(
                    out,
                    "::{command} file={},line={},title={}::{}",
                    property(&l.file),
                    l.line,
                    property(&title),
                    data(&e.excerpt)
                );
            }
        }
        if !located {
            let _ = writeln!(
                out,
                "::{command} title={}::{}",
                property(&title),
                data(&c.summary)
            );
        }
    }
    let t = &report.totals;
    let _ = writeln!(
        out,
        "container-doctor: {} ok, {} warn, {} error, {} unknown, {} skipped",
        t.ok, t.warn, t.error, t.unknown, t.skipped
    );
    out
}

/// The markdown table for `$GITHUB_STEP_SUMMARY`.
pub fn step_summary(report: &Report) -> String {
    let mut md = String::from("### container-doctor\n\n| | check | summary |\n|---|---|---|\n");
    for c in &report.checks {
        let mark = match c.status {
            Status::Ok => "✅",
            Status::Warn => "⚠️",
            Status::Error => "❌",
            Status::Unknown => "❔",
            Status::Skipped => "➖",
        };
        let _ = writeln!(
            md,
            "| {mark} | `{}` | {} |",
            c.id,
            c.summary.replace('|', "\\|").replace('\n', " ")
        );
    }
    md.push('\n');
    md
}

/// Escapes a message as the runner expects.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value, where `:` and `,` are separators too.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}
