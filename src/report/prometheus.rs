//! `--format prometheus`: the text exposition format, for node_exporter's textfile collector.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;
use crate::model::{Metric, Status, prometheus_label};

pub fn render(report: &Report, unix_seconds: f64) -> String {
    let mut out = String::new();
    family(&mut out, "container_doctor_info", "The doctor's version.");
    let _ = writeln!(
        out,
        "container_doctor_info{{version=\"{}\"}} 1",
        label(report.tool.version)
    );
    family(
        &mut out,
        "container_doctor_last_run_timestamp_seconds",
        "When the checks last ran.",
    );
    let _ = writeln!(
        out,
        "container_doctor_last_run_timestamp_seconds {unix_seconds:.3}"
    );
    family(
        &mut out,
        "container_doctor_check_status",
        "Status of each check: 0 ok, 1 warn, 2 error, 3 unknown.",
    );
    for c in &report.checks {
        let v = match c.status {
            Status::Ok => 0,
            Status::Warn => 1,
            Status::Error => 2,
            Status::Unknown => 3,
            Status::Skipped => continue,
        };
        let _ = writeln!(
            out,
            "container_doctor_check_status{{check=\"{}\"}} {v}",
            label(c.id)
        );
    }
    family(
        &mut out,
        "container_doctor_check_duration_seconds",
        "How long each check took.",
    );
    for c in &report.checks {
        let _ = writeln!(
            out,
            "container_doctor_check_duration_seconds{{check=\"{}\"}} {:.6}",
            label(c.id),
            c.duration_ms / 1000.0
        );
    }
    // The checks' own numbers, one family per name, with the help their check gives.
    let mut families: BTreeMap<&str, Vec<&Metric>> = BTreeMap::new();
    for m in report.checks.iter().flat_map(|c| &c.metrics) {
        families.entry(m.name).or_default().push(m);
    }
    for (name, samples) in families {
        family(&mut out, &format!("container_doctor_{name}"), samples[0].help);
        for m in samples {
            let _ = writeln!(out, "container_doctor_{} {}", m.key(), m.value);
        }
    }
    out
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn label(v: &str) -> String {
    prometheus_label(v)
}
