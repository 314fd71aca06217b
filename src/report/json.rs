//! `--format json`: the report as described by assets/schema/report.schema.json.

use super::Report;

pub fn render(report: &Report) -> String {
    // Serializing plain data with string keys cannot fail.
    let text =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text + "\n"
}
