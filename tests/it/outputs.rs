//! Every output format from the same fixture hosts (all ok, mixed, all unknown, Dockerfile
//! findings), each checked by a real validator: promtool, our own JSON schema, xmllint for
//! well-formed XML, and structural checks of JUnit and SARIF; exit codes the same whatever the
//! format. The official JUnit XSD and SARIF 2.1.0 schema are part of the real-world corpus: the
//! corpus test at the end validates every report against them.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Tree, corpus_path, doctor, fixtures};
use serde_json::Value;

const FORMATS: &[&str] = &["text", "json", "junit", "sarif", "github", "prometheus"];

/// The official schemas (corpus/schemas: the Jenkins xUnit JUnit XSD, OASIS SARIF 2.1.0).
fn schemas() -> std::path::PathBuf {
    corpus_path("schemas")
}

/// A host where every check that can run is fine.
fn all_ok() -> Tree {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.1.0-25-amd64\n")
        .file(
            "proc/1/mountinfo",
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:30 / /tmp rw - tmpfs tmpfs rw\n\
             3 1 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
        )
        .file("proc/uptime", "100.0 100.0\n")
        .file(
            "proc/1/stat",
            "1 (systemd) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        )
        .file("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n")
        .file("sys/fs/cgroup/system.slice/cgroup.freeze", "0\n")
        .file(
            "boot/config-6.1.0-25-amd64",
            crate::common::complete_kernel_config("6.1.0-25-amd64"),
        )
        .mnt_ns(1, 4026531841);
    tree
}

/// A host with warnings and an error.
fn mixed() -> Tree {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "4.4.0-18985-Microsoft\n")
        .file("proc/1/mountinfo", fixtures::host_hybrid_tmp_on_ext4());
    tree
}

fn run(tree: &Tree, format: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = doctor()
        .arg("--root")
        .arg(tree.path())
        .args(["--format", format])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn xmllint_junit(xml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schemas().join("junit.xsd"))
        .arg(&file)
        .output()
        .expect("xmllint (libxml2-utils)");
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sarif_valid(text: &str) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(schemas().join("sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    // The official schema's pattern for `language` has a stray `]` (`…{2}]?$`), which a strict
    // meta-schema check rejects; that pattern is corrected (we never emit `language`), every other
    // rule is used as published.
    let mut schema = schema;
    fix_language_pattern(&mut schema);
    let v = jsonschema::validator_for(&schema).unwrap();
    let doc: Value = serde_json::from_str(text).unwrap();
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn fix_language_pattern(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "pattern" && child == "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$" {
                    *child = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$".into();
                } else {
                    fix_language_pattern(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fix_language_pattern),
        _ => {}
    }
}

fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn own_schema(text: &str) {
    let schema: Value =
        serde_json::from_str(include_str!("../../assets/schema/report.schema.json")).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let doc: Value = serde_json::from_str(text).unwrap();
    assert!(v.is_valid(&doc), "{doc:#}");
}

/// JUnit as Jenkins' xUnit reads it: well-formed (xmllint), one <testsuites> with <testsuite>s of
/// <testcase>s, every `time` a decimal with at most three places (the XSD's pattern).
fn junit_structure(xml: &str) {
    let mut child = Command::new("xmllint")
        .args(["--noout", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint (libxml2-utils)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), xml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        xml.starts_with("<?xml") && xml.contains("<testsuites"),
        "{xml}"
    );
    assert!(
        xml.contains("<testsuite ") && xml.contains("<testcase "),
        "{xml}"
    );
    for time in xml.split(" time=\"").skip(1) {
        let value = &time[..time.find('"').unwrap()];
        let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
        assert!(
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.len() <= 3
                && frac.bytes().all(|b| b.is_ascii_digit()),
            "time=\"{value}\""
        );
    }
}

/// SARIF 2.1.0 as code scanning reads it: version, one run with the tool's name and rules, and
/// results with a known rule id, a level from the spec and a message text.
fn sarif_structure(text: &str) {
    let doc: Value = serde_json::from_str(text).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    assert!(
        doc["$schema"].as_str().is_some_and(|s| s.contains("sarif")),
        "{doc}"
    );
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "container-doctor");
    let rules: Vec<&str> = driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for r in runs[0]["results"].as_array().unwrap() {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()), "{r}");
        assert!(
            ["error", "warning", "note", "none"].contains(&r["level"].as_str().unwrap()),
            "{r}"
        );
        assert!(r["message"]["text"].is_string(), "{r}");
    }
}

fn validate_all(tree: &Tree, extra: &[&str]) -> Vec<(Option<i32>, String)> {
    let runs: Vec<(Option<i32>, String)> = FORMATS.iter().map(|f| run(tree, f, extra)).collect();
    own_schema(&runs[1].1);
    junit_structure(&runs[2].1);
    sarif_structure(&runs[3].1);
    promtool(&runs[5].1);
    let codes: Vec<Option<i32>> = runs.iter().map(|r| r.0).collect();
    assert!(
        codes.iter().all(|c| *c == codes[0]),
        "exit codes differ by format: {codes:?}"
    );
    runs
}

#[test]
fn all_ok_host() {
    let runs = validate_all(&all_ok(), &[]);
    assert_eq!(runs[0].0, Some(0), "{}", runs[0].1);
    let junit = &runs[2].1;
    assert!(!junit.contains("<failure"), "{junit}");
    assert!(
        runs[4].1.lines().all(|l| !l.starts_with("::")),
        "no annotations: {}",
        runs[4].1
    );
    let sarif: Value = serde_json::from_str(&runs[3].1).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 0);
    assert!(
        runs[5]
            .1
            .contains("container_doctor_check_status{check=\"tmp-tmpfs\"} 0")
    );
    assert!(runs[5].1.contains("container_doctor_zombies 0"));
}

#[test]
fn mixed_host() {
    let runs = validate_all(&mixed(), &[]);
    assert_eq!(runs[0].0, Some(1));
    let junit = &runs[2].1;
    assert!(junit.contains("<failure type=\"error\""), "{junit}");
    assert!(
        !junit.contains("<failure type=\"warn\""),
        "warn passes with --fail-on error"
    );
    let runs = validate_all(&mixed(), &["--fail-on", "warn"]);
    assert!(runs[2].1.contains("<failure type=\"warn\""));
    let gh = &runs[4].1;
    assert!(
        gh.contains("::error title=container-doctor kernel-version::"),
        "{gh}"
    );
    assert!(
        gh.contains("::warning title=container-doctor tmp-tmpfs::"),
        "{gh}"
    );
    assert!(
        runs[5]
            .1
            .contains("container_doctor_check_status{check=\"kernel-version\"} 2")
    );
    let sarif: Value = serde_json::from_str(&runs[3].1).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert!(!rules.is_empty());
    for rule in rules {
        // Every rule links to its explanation's source file, which must exist in the repository.
        let uri = rule["helpUri"].as_str().unwrap();
        let (base, file) = uri.split_once("/blob/main/").unwrap();
        assert_eq!(base, env!("CARGO_PKG_REPOSITORY"));
        assert!(file.ends_with(&format!("{}.md", rule["id"].as_str().unwrap())));
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        assert_eq!(rule["help"]["markdown"].as_str().unwrap(), text);
    }
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "kernel-version"
        && r["level"] == "error"
        && r["locations"][0]["logicalLocations"][0]["name"] == "kernel-version"));
}

#[test]
fn all_unknown_host() {
    let empty = Tree::new();
    let runs = validate_all(&empty, &[]);
    assert_eq!(runs[0].0, Some(0));
    assert!(
        runs[2].1.contains("<skipped message="),
        "unknown is skipped in JUnit"
    );
    let runs = validate_all(&empty, &["--fail-on", "unknown"]);
    assert_eq!(runs[0].0, Some(1));
    assert!(runs[2].1.contains("<failure type=\"unknown\""));
    assert!(runs[4].1.contains("::notice title=container-doctor"));
}

#[test]
fn dockerfile_findings_are_located() {
    let tree = all_ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apt.Dockerfile");
    std::fs::write(&file, crate::common::fixtures::APT_PARALLEL_DOCKERFILE).unwrap();
    let path = file.to_string_lossy().into_owned();
    let runs = validate_all(&tree, &["--dockerfile", &path]);
    let sarif: Value = serde_json::from_str(&runs[3].1).unwrap();
    let located: Vec<&Value> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "dockerfile-cache-mounts")
        .collect();
    assert_eq!(located.len(), 1);
    let loc = &located[0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["region"]["startLine"], 4);
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("apt.Dockerfile")
    );
    let gh = &runs[4].1;
    assert!(
        gh.lines().any(|l| l.starts_with("::warning file=")
            && l.contains(",line=4,title=container-doctor dockerfile-cache-mounts::")),
        "{gh}"
    );
}

#[test]
fn output_dir_output_file_and_step_summary() {
    let tree = mixed();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let mut cmd = doctor();
    cmd.env("GITHUB_STEP_SUMMARY", &summary)
        .arg("--root")
        .arg(tree.path());
    for f in FORMATS {
        cmd.args(["--format", f]);
    }
    let out = cmd.arg("--output-dir").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    for name in [
        "report.txt",
        "report.json",
        "report.junit.xml",
        "report.sarif",
        "report.github.txt",
        "container_doctor.prom",
    ] {
        let text = std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!text.is_empty(), "{name}");
        assert!(!text.contains('\u{1b}'), "{name}: no colors in files");
    }
    junit_structure(&std::fs::read_to_string(dir.path().join("report.junit.xml")).unwrap());
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("### container-doctor") && md.contains("| ❌ | `kernel-version` |"),
        "{md}"
    );
    // Nothing but the reports: no temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    // --output FILE is written whole, its directory made when missing (as CI artifact steps
    // expect); an unwritable place is an error (2) and leaves nothing.
    let prom = dir.path().join("node.prom");
    let (code, stdout) = run(&tree, "prometheus", &["--output", &prom.to_string_lossy()]);
    assert_eq!((code, stdout.as_str()), (Some(1), ""));
    promtool(&std::fs::read_to_string(&prom).unwrap());
    // A missing directory is created, for --output and --output-dir alike (CI steps name one).
    let fresh = dir.path().join("missing-dir/deeper/node.prom");
    let (code, _) = run(&tree, "prometheus", &["--output", &fresh.to_string_lossy()]);
    assert_eq!(code, Some(1));
    promtool(&std::fs::read_to_string(&fresh).unwrap());
    let fresh_dir = dir.path().join("doctor");
    let (code, _) = run(
        &tree,
        "junit",
        &[
            "--format",
            "text",
            "--output-dir",
            &fresh_dir.to_string_lossy(),
        ],
    );
    assert_eq!(code, Some(1));
    assert!(fresh_dir.join("report.junit.xml").is_file() && fresh_dir.join("report.txt").is_file());
    // A place that cannot be a directory (below a regular file) is an error (2) and leaves nothing.
    let bad = dir.path().join("node.prom/below-a-file.prom");
    let out = doctor()
        .arg("--root")
        .arg(tree.path())
        .args(["--format", "prometheus", "--output"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("node.prom"),
        "{out:?}"
    );
    assert!(!bad.exists());

    // Several formats need a directory.
    let out = doctor()
        .args(["--format", "json", "--format", "junit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output-dir"));
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = doctor().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("container-doctor") && script.contains("fail-on"),
            "{shell}"
        );
    }
    if Command::new("bash").arg("--version").output().is_ok() {
        let out = doctor().args(["completions", "bash"]).output().unwrap();
        let check = Command::new("bash")
            .args(["-n", "-c", &String::from_utf8_lossy(&out.stdout)])
            .status()
            .unwrap();
        assert!(check.success(), "the bash completion script parses");
    }
    let man = doctor().arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH container-doctor"),
        "{page}"
    );
    assert!(page.contains("fail\\-on"), "{page}");
    // One page: no references to per-subcommand pages that are not installed.
    assert!(!page.contains("container\\-doctor\\-explain(1)"), "{page}");
    assert!(page.contains("container\\-doctor explain"), "{page}");
    // groff renders it without a warning (no raw non-ASCII characters such as `…`).
    assert!(page.is_ascii(), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("container-doctor.1");
    std::fs::write(&file, page.as_bytes()).unwrap();
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&file)
        .output()
        .expect("groff (groff-base)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every Kubernetes manifest in assets/deploy (all but the Prometheus rules and their tests),
/// validated in strict mode: an unknown or misspelt field fails.
#[test]
fn the_deploy_manifests_are_valid_kubernetes() {
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/deploy");
    let mut manifests: Vec<std::path::PathBuf> = std::fs::read_dir(&deploy)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("alerts")
        })
        .collect();
    manifests.sort();
    let names: Vec<String> = manifests
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"daemonset.yaml".into()) && names.contains(&"namespace.yaml".into()),
        "{names:?}"
    );
    // scripts/test installs it into a venv under target/ and names it here.
    let validator = std::env::var_os("CONTAINER_DOCTOR_KUBERNETES_VALIDATE")
        .unwrap_or_else(|| "kubernetes-validate".into());
    let validate = |manifest: &std::path::Path| {
        Command::new(&validator)
            .arg("--strict")
            .arg(manifest)
            .output()
            .unwrap_or_else(|e| {
                panic!("{validator:?}: {e} (scripts/test installs kubernetes-validate from PyPI into a venv under target/)")
            })
    };
    for manifest in &manifests {
        let out = validate(manifest);
        assert!(
            out.status.success(),
            "{}: {}{}",
            manifest.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Strict mode refuses a misspelt field, so the runs above prove something.
    let dir = tempfile::tempdir().unwrap();
    let daemonset = std::fs::read_to_string(deploy.join("daemonset.yaml")).unwrap();
    assert!(daemonset.contains("readOnlyRootFilesystem: true"));
    let bad = dir.path().join("daemonset.yaml");
    std::fs::write(
        &bad,
        daemonset.replace("readOnlyRootFilesystem:", "readOnlyRootFilesystm:"),
    )
    .unwrap();
    assert!(!validate(&bad).status.success());
    // The DaemonSet runs the doctor's own loop, over the node's root, in its PID namespace, into
    // the namespace namespace.yaml makes, as its ServiceAccount (tests/it/fleet.rs runs it).
    for want in [
        "- --root\n            - /host\n            - --format\n            - prometheus",
        "- --interval",
        "hostPID: true",
        "namespace: container-doctor",
        "serviceAccountName: container-doctor",
    ] {
        assert!(daemonset.contains(want), "{want}");
    }
    assert!(!daemonset.contains("/bin/sh"));
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn every_report_passes_the_official_junit_and_sarif_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let pnpm = dir.path().join("pnpm.Dockerfile");
    std::fs::write(&pnpm, fixtures::DOCKERFILE_PARALLEL_SHARED_CACHE).unwrap();
    let pnpm = pnpm.to_string_lossy().into_owned();
    let (ok, mixed, empty) = (all_ok(), mixed(), Tree::new());
    let cases: [(&Tree, &[&str]); 6] = [
        (&ok, &[]),
        (&ok, &["--dockerfile", &pnpm]),
        (&mixed, &[]),
        (&mixed, &["--fail-on", "warn"]),
        (&empty, &[]),
        (&empty, &["--fail-on", "unknown"]),
    ];
    for (tree, extra) in cases {
        xmllint_junit(&run(tree, "junit", extra).1);
        sarif_valid(&run(tree, "sarif", extra).1);
    }
}
