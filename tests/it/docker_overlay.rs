//! overlay-busy against a real Docker engine: a running container's overlay is attributed to it;
//! after `docker rm` while a process keeps its cwd in the old merged dir, the leaked overlay and that
//! process are reported; an engine socket that never answers costs a bounded wait and nothing else.

use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::dockerd::Dockerd;
use crate::common::{check, doctor, require_root, status};
use serde_json::Value;

fn overlay_report(docker_host: &str) -> Value {
    let out = doctor()
        .env("DOCKER_HOST", docker_host)
        .args(["--format", "json", "--only", "overlay-busy"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn containers_leaks_and_a_silent_engine() {
    if !require_root() {
        return;
    }
    let engine = Dockerd::start();
    engine.import_busybox("doctor-busybox:test");
    let id = engine.ok(&[
        "run",
        "-d",
        "--name",
        "doctor-web",
        "doctor-busybox:test",
        "sleep",
        "600",
    ]);
    let merged = engine.ok(&[
        "inspect",
        "-f",
        "{{.GraphDriver.Data.MergedDir}}",
        "doctor-web",
    ]);
    assert!(merged.contains("/docker/overlay2/"), "{merged}");

    // Running: attributed to the container, and fine.
    let report = overlay_report(&engine.docker_host());
    let ev = &check(&report, "overlay-busy")["evidence"];
    let line = ev
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == merged.as_str())
        .unwrap_or_else(|| panic!("{merged} not listed: {report:#}"));
    let want = format!("docker container doctor-web ({}, running)", &id[..12]);
    assert!(
        line["excerpt"].as_str().unwrap().starts_with(&want),
        "{line}"
    );

    // A process keeps its cwd in the merged dir; the container is removed (docker detaches the mount).
    let mut holder = Command::new("sh")
        .args(["-c", "cd \"$0\" && exec sleep 600"])
        .arg(&merged)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    engine.ok(&["rm", "-f", "doctor-web"]);
    let report = overlay_report(&engine.docker_host());
    assert_eq!(status(&report, "overlay-busy"), "warn", "{report:#}");
    let ev = check(&report, "overlay-busy")["evidence"].to_string();
    assert!(
        ev.contains("detached (lazily unmounted, as `docker rm` does) but still held"),
        "{ev}"
    );
    assert!(
        ev.contains(&format!("pid {} (sleep) holds it: cwd", holder.id())),
        "{ev}"
    );
    let fixes = check(&report, "overlay-busy")["fixes"].to_string();
    assert!(
        fixes.contains(&format!("\"pid\":{}", holder.id())),
        "{fixes}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    let report = overlay_report(&engine.docker_host());
    assert!(
        !check(&report, "overlay-busy")["evidence"]
            .to_string()
            .contains("detached"),
        "{report:#}"
    );

    // An engine that accepts and never answers: mounts are still reported, attribution is unknown.
    let run = engine.ok(&[
        "run",
        "-d",
        "--name",
        "doctor-web2",
        "doctor-busybox:test",
        "sleep",
        "600",
    ]);
    assert!(!run.is_empty());
    let silent = engine.dir.path().join("silent.sock");
    let listener = UnixListener::bind(&silent).unwrap();
    let keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().take(4) {
            held.push(s); // accept, never answer
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let start = Instant::now();
    let report = overlay_report(&format!("unix://{}", silent.display()));
    assert!(start.elapsed() < Duration::from_secs(15), "bounded wait");
    let ev = check(&report, "overlay-busy")["evidence"].to_string();
    assert!(ev.contains("Docker containers unknown"), "{ev}");
    assert!(ev.contains("timed out"), "{ev}");
    assert!(
        ev.contains("/docker/overlay2/"),
        "mounts still listed: {ev}"
    );
    drop(keep);
}
