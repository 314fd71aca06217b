//! `--format sarif`: SARIF 2.1.0 for code-scanning views. Findings located in a file (Dockerfile
//! lines) get physical locations, so the file is annotated; host findings get a logical location.

use serde_json::{Value, json};

use super::Report;
use crate::model::{CheckResult, Status};

pub fn render(report: &Report) -> String {
    let rules: Vec<Value> = report
        .checks
        .iter()
        .map(|c| {
            let explanation = c.explanation;
            let mut rule = json!({
                "id": c.id,
                "name": c.id,
                "shortDescription": { "text": c.title },
                "fullDescription": { "text": c.gist() },
                "help": { "text": explanation, "markdown": explanation },
                "defaultConfiguration": { "level": "warning" },
                "properties": { "area": c.area },
            });
            if !explanation.is_empty() {
                rule["helpUri"] = c.help_uri().into();
            }
            rule
        })
        .collect();
    let mut results = Vec::new();
    for (index, c) in report.checks.iter().enumerate() {
        let Some(level) = level(c.status) else {
            continue;
        };
        let located: Vec<_> = c
            .evidence
            .iter()
            .filter_map(|e| e.location.as_ref().map(|l| (l, &e.excerpt)))
            .collect();
        if located.is_empty() {
            results.push(json!({
                "ruleId": c.id,
                "ruleIndex": index,
                "level": level,
                "message": { "text": c.summary },
                "locations": [{ "logicalLocations": [logical(report, c)] }],
            }));
        }
        for (loc, excerpt) in located {
            results.push(json!({
                "ruleId": c.id,
                "ruleIndex": index,
                "level": level,
                "message": { "text": excerpt },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&loc.file) },
                        "region": { "startLine": loc.line },
                    }
                }],
            }));
        }
    }
    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules,
            }},
            "invocations": [{ "executionSuccessful": true }],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&sarif).unwrap_or_default() + "\n"
}

fn level(s: Status) -> Option<&'static str> {
    match s {
        Status::Error => Some("error"),
        Status::Warn => Some("warning"),
        Status::Unknown => Some("note"),
        Status::Ok | Status::Skipped => None,
    }
}

fn logical(report: &Report, c: &CheckResult) -> Value {
    let host = report.host.hostname.as_deref().unwrap_or("host");
    json!({ "name": c.id, "fullyQualifiedName": format!("{host}/{}", c.id), "kind": "resource" })
}

/// Relative paths stay relative (to the repository root the scan ran in); absolute ones become file URIs.
fn uri(path: &str) -> String {
    let p = path.strip_prefix("./").unwrap_or(path);
    if p.starts_with('/') {
        format!("file://{}", p.replace(' ', "%20"))
    } else {
        p.replace(' ', "%20")
    }
}
