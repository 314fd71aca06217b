//! `--format prometheus`: the text exposition format, for node_exporter's textfile collector.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;
use crate::model::Status;

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
    // The checks' own numbers, one family per name.
    let mut families: BTreeMap<&str, Vec<(&str, f64)>> = BTreeMap::new();
    for c in &report.checks {
        for (key, value) in &c.metrics {
            let name = key.split('{').next().unwrap_or(key);
            families
                .entry(name)
                .or_default()
                .push((key.as_str(), *value));
        }
    }
    for (name, samples) in families {
        family(&mut out, &format!("container_doctor_{name}"), &help(name));
        for (key, value) in samples {
            let _ = writeln!(out, "container_doctor_{key} {value}");
        }
    }
    out
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn help(name: &str) -> String {
    match name {
        "zombies" => "Zombie processes.".into(),
        "zombies_left_to_pid1" => "Zombie processes whose parent is PID 1.".into(),
        "overlay_mounts" => "Overlay mounts, in every mount namespace.".into(),
        "overlay_busy_mounts" => "Leaked overlay mounts that something still holds.".into(),
        "overlay_leaked_mounts" => "Overlay mounts without a running container.".into(),
        "buildkit_cache_bytes" => "BuildKit build cache size.".into(),
        "buildkit_limit_bytes" => "The effective BuildKit GC limit.".into(),
        "buildkit_type_bytes" => "BuildKit build cache size by record type.".into(),
        "freezer_probe_ms" => "Milliseconds a test cgroup took to freeze (--active).".into(),
        other => format!("{other}, from container-doctor."),
    }
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
