//! `--format json` validates against the shipped schema, live and over fixture trees that bring
//! out every status, evidence and every kind of fix step.

use crate::common::{Tree, doctor, fixtures};
use serde_json::Value;

fn validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/schema/report.schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid schema")
}

fn assert_valid(v: &jsonschema::Validator, report: &Value) {
    let errors: Vec<String> = v
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
}

#[test]
fn live_report_is_valid() {
    let v = validator();
    let out = doctor().args(["--format", "json"]).output().unwrap();
    assert_valid(&v, &serde_json::from_slice(&out.stdout).unwrap());
}

#[test]
fn fixture_reports_are_valid() {
    let v = validator();
    // Everything unknown.
    let empty = Tree::new();
    assert_valid(&v, &empty.run_json(&[]).1);
    // Warnings with manual, append-file and exec fixes; an error; zombies.
    let tree = Tree::new();
    tree.file("proc/1/mountinfo", fixtures::host_hybrid_tmp_on_ext4())
        .file("proc/sys/kernel/osrelease", "4.4.0-18985-Microsoft\n")
        .file("proc/uptime", "100.0 100.0\n")
        .file(
            "proc/1/stat",
            "1 (sh) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        )
        .file(
            "proc/2/stat",
            "2 (x) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        );
    let (out, report) = tree.run_json(&[]);
    assert_eq!(out.status.code(), Some(1), "WSL1 is an error");
    assert_valid(&v, &report);
    tree.file("usr/lib/systemd/system/tmp.mount", "")
        .file("run/systemd/system/x", "");
    assert_valid(&v, &tree.run_json(&[]).1);
}

#[test]
fn the_schema_rejects_what_it_should() {
    let v = validator();
    let out = doctor().args(["--format", "json"]).output().unwrap();
    let mut report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["checks"][0]["status"] = "fine".into();
    assert!(!v.is_valid(&report));
    let mut report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["extra"] = 1.into();
    assert!(!v.is_valid(&report));
}
