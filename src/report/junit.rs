//! `--format junit`: one testsuite per area, one testcase per check, valid against the Jenkins xUnit
//! plugin's JUnit XSD (times with at most three decimals, as its Surefire pattern demands) and the
//! stricter Ant schema (every suite attribute and the properties, system-out and system-err children).

use std::fmt::Write;

use super::{FailOn, Report};
use crate::model::{CheckResult, Status};

pub fn render(report: &Report, timestamp: &str) -> String {
    let mut areas: Vec<&str> = Vec::new();
    for c in &report.checks {
        if !areas.contains(&c.area) {
            areas.push(c.area);
        }
    }
    let host = report
        .host
        .hostname
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (id, area) in areas.iter().enumerate() {
        let checks: Vec<&CheckResult> = report.checks.iter().filter(|c| c.area == *area).collect();
        let failures = checks
            .iter()
            .filter(|c| failed(c.status, report.fail_on))
            .count();
        let skips = checks
            .iter()
            .filter(|c| skipped(c.status, report.fail_on))
            .count();
        let time: f64 = checks.iter().map(|c| c.duration_ms).sum::<f64>() / 1000.0;
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" package=\"container-doctor\" id=\"{id}\" timestamp=\"{timestamp}\" hostname=\"{}\" \
             tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skips}\" time=\"{time:.3}\">",
            esc(area),
            esc(&host),
            checks.len()
        );
        let _ = writeln!(
            x,
            "    <properties>\n      <property name=\"fail-on\" value=\"{}\"/>\n      <property name=\"source\" value=\"{}\"/>\n    </properties>",
            report.fail_on.as_str(),
            esc(&report.host.source)
        );
        for c in &checks {
            let _ = write!(
                x,
                "    <testcase name=\"{}\" classname=\"container-doctor.{}\" time=\"{:.3}\"",
                esc(c.id),
                esc(&area.to_lowercase().replace(['/', ' '], "-")),
                c.duration_ms / 1000.0
            );
            if failed(c.status, report.fail_on) {
                let _ = writeln!(
                    x,
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                    c.status.as_str(),
                    esc(&c.summary),
                    esc(&evidence(c))
                );
            } else if skipped(c.status, report.fail_on) {
                let _ = writeln!(
                    x,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    esc(&c.summary)
                );
            } else {
                let _ = writeln!(x, "/>");
            }
        }
        let out: String = checks
            .iter()
            .map(|c| {
                format!(
                    "{} [{}] {}\n{}",
                    c.id,
                    c.status.as_str(),
                    c.summary,
                    evidence(c)
                )
            })
            .collect();
        let _ = writeln!(
            x,
            "    <system-out>{}</system-out>\n    <system-err></system-err>\n  </testsuite>",
            esc(&out)
        );
    }
    x.push_str("</testsuites>\n");
    x
}

/// error always fails; warn with --fail-on warn or unknown; unknown with --fail-on unknown.
fn failed(s: Status, fail_on: FailOn) -> bool {
    s == Status::Error || (s == Status::Warn || s == Status::Unknown) && fail_on.fails(s)
}

fn skipped(s: Status, fail_on: FailOn) -> bool {
    s == Status::Skipped || (s == Status::Unknown && !fail_on.fails(s))
}

fn evidence(c: &CheckResult) -> String {
    c.evidence
        .iter()
        .map(|e| format!("  {}: {}\n", e.source, e.excerpt))
        .collect()
}

/// XML-escapes text; characters XML 1.0 cannot carry at all become U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
