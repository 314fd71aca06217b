//! The static release binary inside a real container (Debian's dockerd, an image of busybox-static):
//! it says it is in a container and which checks that narrows; with the host's / mounted read-only
//! at /host and `--root /host`, its verdicts are the ones taken on the host itself.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::common::dockerd::Dockerd;
use crate::common::{require_root, serial, static_bin};
use container_doctor::checks;
use serde_json::Value;

/// The static binary and an engine of our own with `doctor-busybox:static` imported, holding
/// the one-engine-at-a-time lock.
fn engine_with_image() -> (std::sync::MutexGuard<'static, ()>, PathBuf, Dockerd) {
    engine_with_image_in(Dockerd::start)
}

fn engine_with_image_in(
    start: fn() -> Dockerd,
) -> (std::sync::MutexGuard<'static, ()>, PathBuf, Dockerd) {
    let serial = serial();
    let bin = static_bin();
    let engine = start();
    engine.import_busybox("doctor-busybox:static");
    (serial, bin, engine)
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The exit code follows the contract whatever the verdicts: 1 when the report failed, else 0.
fn assert_contract(out: &Output, report: &Value) {
    let failed = report["failed"].as_bool().unwrap();
    assert_eq!(out.status.code(), Some(if failed { 1 } else { 0 }));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

fn by_id(report: &Value) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                c["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn inside_a_container_it_says_so_and_what_that_hides() {
    if !require_root() {
        return;
    }
    let (_serial, bin, engine) = engine_with_image();
    let mount = format!("{}:/doctor:ro", bin.display());
    let run = |args: &[&str]| {
        let mut argv = vec!["run", "--rm", "--network", "none", "-v", &mount];
        argv.extend([
            "doctor-busybox:static",
            "/doctor",
            "--timeout",
            crate::common::SCAN_TIMEOUT,
            "--check",
        ]);
        argv.extend(args);
        engine.docker(&argv)
    };

    let out = run(&["--format", "json"]);
    let json = report(&out);
    assert_contract(&out, &json);
    assert_eq!(json["host"]["container"], "docker", "{}", json["host"]);
    let limited: Vec<&str> = json["host"]["container_limits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["check"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = checks::ALL
        .iter()
        .filter(|c| c.in_container.is_some())
        .map(|c| c.id)
        .collect();
    assert_eq!(limited, expected);
    assert!(limited.contains(&"overlay-busy") && !limited.contains(&"kernel-version"));
    // What it sees is the container's: its PID 1 is the doctor itself.
    let zombies = crate::common::check(&json, "zombies");
    assert!(
        zombies["summary"]
            .as_str()
            .unwrap()
            .contains("PID 1 is doctor"),
        "{zombies}"
    );

    let out = run(&["-v", "--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("in a container (docker)"), "{text}");
    assert!(
        text.contains(
            "Inside a container, these checks see the container, not the host: kernel-config, pidfd, zombies"
        ),
        "{text}"
    );
    assert!(
        text.contains("inside a container: sees only this container's mounts and processes"),
        "{text}"
    );
    assert!(text.contains("--root /host"), "{text}");

    // --only narrows the list to the checks that ran.
    let out = run(&["--format", "json", "--only", "kernel-version,overlay-busy"]);
    let json = report(&out);
    assert_eq!(
        json["host"]["container_limits"],
        serde_json::json!([{
            "check": "overlay-busy",
            "why": "sees only this container's mounts and processes"
        }])
    );
}

#[test]
fn host_mounted_at_host_gives_the_hosts_verdicts() {
    if !require_root() {
        return;
    }
    // The engine in a mount and PID namespace of its own, and the host-side runs there too: both
    // sides see the engine, its container and the test's processes, and nothing else that runs
    // on the machine (other overlays, other engines, other tests' zombies).
    let (_serial, bin, engine) = engine_with_image_in(Dockerd::start_isolated);
    // The container stays up while the host is examined, so its overlay and cgroups are part of
    // what both sides see.
    let id = engine.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "-v",
        &format!("{}:/doctor:ro", bin.display()),
        "-v",
        "/:/host:ro",
        "doctor-busybox:static",
        "sleep",
        "600",
    ]);
    let on_host = |args: &[&str]| {
        let out = engine
            .enter(&bin)
            .env_remove("DOCKER_HOST")
            .args(["--timeout", crate::common::SCAN_TIMEOUT])
            .args(["--check", "--format", "json"])
            .args(args)
            .output()
            .unwrap();
        let json = report(&out);
        assert_contract(&out, &json);
        json
    };
    let rooted_before = on_host(&["--root", "/"]);
    let live = on_host(&[]);
    let out = engine.docker(&[
        "exec",
        &id,
        "/doctor",
        "--timeout",
        crate::common::SCAN_TIMEOUT,
        "--check",
        "--format",
        "json",
        "--root",
        "/host",
    ]);
    let inside = report(&out);
    assert_contract(&out, &inside);
    let rooted_after = on_host(&["--root", "/"]);

    // The hostname is left out: live it is the kernel's (UTS) name, under --root the host's
    // /etc/hostname, and a machine may have renamed itself since boot.
    // "container" is left out too: the host-side runs are in the test's own PID namespace (so
    // the machine's other processes cannot change the verdicts), which a live run rightly calls a
    // container, while under --root /host the examined system's PID 1 decides.
    for field in ["kernel", "os"] {
        assert_eq!(inside["host"][field], live["host"][field], "{field}");
    }
    assert_eq!(inside["host"]["source"], "root:/host");
    let (before, after) = (by_id(&rooted_before), by_id(&rooted_after));
    let (inside, live) = (by_id(&inside), by_id(&live));
    let mut compared = 0;
    for (((b, a), i), l) in before.iter().zip(&after).zip(&inside).zip(&live) {
        // A fact that changed on the host while the test ran (a zombie reaped) proves nothing.
        if b != a {
            eprintln!("changed on the host during the test: {b:?} then {a:?}");
            continue;
        }
        compared += 1;
        if i.0 == "zombies" {
            // `docker exec` itself leaves short-lived zombies (ok) while the check runs.
            assert_eq!(i.1, b.1, "zombies: {i:?} vs {b:?}");
        } else {
            assert_eq!(i, b, "inside the container vs the host with --root /");
        }
        assert_eq!(i.1, l.1, "{}: status inside vs the host live", i.0);
    }
    assert!(compared >= before.len() - 1, "the host kept changing");
}

/// With `--pid host` the PID namespace is the host's; the container is still told apart by a root
/// filesystem of its own plus the engine's marker, where a stale marker on a VM's own root is not.
#[test]
fn a_private_root_with_an_engine_marker_is_a_container() {
    if !require_root() {
        return;
    }
    let bin = static_bin();
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
        set -e
        mount -t tmpfs tmpfs "$1"
        mkdir "$1/proc"
        mount -t proc proc "$1/proc"
        cp "$2" "$1/doctor"
        for marker in none /.dockerenv; do
            [ "$marker" = none ] || touch "$1$marker"
            chroot "$1" /doctor --check --only kernel-version --format json
            echo
        done
    "#;
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(dir.path())
        .arg(&bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["host"]["container"], Value::Null);
    assert_eq!(reports[1]["host"]["container"], "docker");
    assert_eq!(
        reports[1]["host"]["container_limits"],
        serde_json::json!([])
    );
}
