//! `--format json`: the report as described by assets/schema/report.schema.json, with secrets
//! removed (fix plans carry file contents: a Dockerfile, daemon.json) by the same detectors as
//! support bundles.

use super::Report;
use crate::secrets::{self, Tally};

pub fn render(report: &Report) -> String {
    render_redacted(report).0
}

/// The report as JSON, redacted, and what was redacted.
pub fn render_redacted(report: &Report) -> (String, Tally) {
    // Serializing plain data with string keys cannot fail.
    let mut v = match serde_json::to_value(report) {
        Ok(v) => v,
        Err(e) => return (format!("{{\"error\": \"{e}\"}}\n"), Tally::default()),
    };
    let tally = secrets::redact_report(&mut v);
    let text =
        serde_json::to_string_pretty(&v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    (text + "\n", tally)
}
