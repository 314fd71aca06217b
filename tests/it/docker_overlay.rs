//! overlay-busy against a real Docker engine: a running container's overlay is attributed to it;
//! after `docker rm` while a process keeps its cwd in the old merged dir, the leaked overlay and that
//! process are reported; an engine socket that never answers costs a bounded wait and nothing else.
//! The engine, the holder and the doctor share a mount and PID namespace of their own, so the
//! machine's other overlays and processes are not part of the verdicts.

use std::io::BufRead;
use std::os::unix::net::UnixListener;
use std::process::Stdio;
use std::time::Duration;

use crate::common::dockerd::Dockerd;
use crate::common::{SCAN_TIMEOUT, check, doctor_path, require_root, status};
use serde_json::Value;

/// The doctor's overlay-busy report, taken in the engine's namespaces.
fn overlay_report(engine: &Dockerd, docker_host: &str) -> Value {
    let out = engine
        .enter(doctor_path())
        .env("DOCKER_HOST", docker_host)
        .env_remove("NO_COLOR")
        .env_remove("TMPDIR")
        .args(["--timeout", SCAN_TIMEOUT])
        .args(["--format", "json", "--only", "overlay-busy"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn containers_leaks_and_a_silent_engine() {
    if !require_root() {
        return;
    }
    let engine = Dockerd::start_isolated();
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
    let report = overlay_report(&engine, &engine.docker_host());
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
    // It runs in the engine's namespaces (where the merged dir is mounted) and says its pid there,
    // the one the doctor sees, once it sits in the merged dir.
    let mut holder = engine
        .enter("sh")
        .args(["-c", "cd \"$0\" && echo $$ && exec sleep 600"])
        .arg(&merged)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let holder_pid: u32 = line.trim().parse().expect("the holder's pid");
    engine.ok(&["rm", "-f", "doctor-web"]);
    let report = overlay_report(&engine, &engine.docker_host());
    assert_eq!(status(&report, "overlay-busy"), "warn", "{report:#}");
    let ev = check(&report, "overlay-busy")["evidence"].to_string();
    assert!(
        ev.contains("detached (lazily unmounted, as `docker rm` does) but still held"),
        "{ev}"
    );
    assert!(
        ev.contains(&format!("pid {holder_pid} (sleep) holds it: cwd")),
        "{ev}"
    );
    let fixes = check(&report, "overlay-busy")["fixes"].to_string();
    assert!(
        fixes.contains(&format!("\"pid\":{holder_pid}")),
        "{report:#}"
    );
    // nsenter's child, the sleeper, on the host: killing it ends nsenter too.
    let sleeper = crate::common::dockerd::inner_pid(holder.id());
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(sleeper as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    holder.wait().unwrap();
    let report = overlay_report(&engine, &engine.docker_host());
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
    let report = overlay_report(&engine, &format!("unix://{}", silent.display()));
    let ev = check(&report, "overlay-busy")["evidence"].to_string();
    assert!(ev.contains("Docker containers unknown"), "{ev}");
    assert!(ev.contains("timed out"), "{ev}");
    assert!(
        ev.contains("/docker/overlay2/"),
        "mounts still listed: {ev}"
    );
    drop(keep);
}
