//! buildkit-usage and dockerfile-cache-mounts against a real Docker engine and its embedded
//! BuildKit: a build whose two parallel stages use the same cache mount, the build cache compared
//! with `docker system df -v`, and `builder.gc.defaultKeepStorage` from daemon.json as the limit.

use std::process::Command;

use crate::common::dockerd::Dockerd;
use crate::common::{check, doctor, require_root, status};
use container_doctor::parse::buildkit::human_size;
use serde_json::Value;

const DAEMON_JSON: &str = r#"{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "20MB"}}}"#;

const DOCKERFILE: &str = "FROM doctor-busybox:test AS base\n\
FROM base AS one\n\
RUN --mount=type=cache,target=/cache/data echo one > /cache/data/one && dd if=/dev/zero of=/cache/data/blob1 bs=1k count=2048\n\
FROM base AS two\n\
RUN --mount=type=cache,target=/cache/data echo two > /cache/data/two && dd if=/dev/zero of=/cache/data/blob2 bs=1k count=1024\n\
FROM base\n\
COPY --from=one /cache /one\n\
COPY --from=two /cache /two\n";

#[test]
fn a_real_build_cache_and_its_limit() {
    if !require_root() {
        return;
    }
    let engine = Dockerd::start_with_config(DAEMON_JSON);
    engine.import_busybox("doctor-busybox:test");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), DOCKERFILE).unwrap();
    let build = Command::new("/usr/bin/docker")
        .env("DOCKER_HOST", engine.docker_host())
        .env("DOCKER_BUILDKIT", "1")
        .args([
            "build",
            "--network",
            "none",
            "-q",
            "-t",
            "doctor-cache-test",
        ])
        .arg(ctx.path())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );

    // What docker itself says of the build cache.
    let df = engine.ok(&["system", "df", "-v"]);
    let docker_total = df
        .lines()
        .find_map(|l| l.strip_prefix("Build cache usage: "))
        .and_then(human_size)
        .expect("a build cache total");
    let docker_cachemounts = df
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("exec.cachemount"))
        .count();
    assert!(docker_cachemounts >= 1, "{df}");

    // The host as the doctor sees it from a container: its root at DIR, the engine's socket in
    // it. The engine's own directory is that root (--root resolves links inside the tree, as
    // chroot would): the socket hard-linked to var/run, the data root linked relatively.
    let root = engine.dir.path();
    std::fs::create_dir_all(root.join("etc/docker")).unwrap();
    std::fs::write(root.join("etc/docker/daemon.json"), DAEMON_JSON).unwrap();
    std::fs::create_dir_all(root.join("var/run")).unwrap();
    std::fs::create_dir_all(root.join("var/lib")).unwrap();
    std::fs::hard_link(engine.socket(), root.join("var/run/docker.sock")).unwrap();
    std::os::unix::fs::symlink("../../docker", root.join("var/lib/docker")).unwrap();
    let out = doctor()
        .arg("--root")
        .arg(root)
        .args(["--format", "json", "--only", "buildkit-usage"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        matches!(status(&report, "buildkit-usage").as_str(), "ok" | "warn"),
        "{report:#}"
    );
    let ev: Vec<(String, String)> = check(&report, "buildkit-usage")["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_string(),
                e["excerpt"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let ours = ev
        .iter()
        .find(|(s, _)| s.starts_with("GET /system/df"))
        .and_then(|(_, e)| human_size(&e.replace(' ', "")))
        .unwrap_or_else(|| panic!("{ev:?}"));
    // docker prints three significant digits.
    assert!(
        (ours - docker_total).abs() * 200 <= docker_total,
        "ours {ours}, docker {docker_total}"
    );
    let by_type = &ev.iter().find(|(s, _)| s == "by type").unwrap().1;
    assert!(
        by_type.contains("exec.cachemount") && by_type.contains(&format!("({docker_cachemounts})")),
        "{by_type}"
    );
    let limit = &ev
        .iter()
        .find(|(s, _)| s.ends_with("effective GC limit"))
        .unwrap()
        .1;
    assert!(
        limit.starts_with("20.972 MB from the configured defaults (reservedSpace 20.0 MiB)"),
        "{limit}"
    );

    // The Dockerfile that made it: two parallel stages share a cache, which a shared cache is for
    // (nothing nested in it, not apt's): no finding, a note.
    let out = doctor()
        .env("DOCKER_HOST", engine.docker_host())
        .args([
            "--format",
            "json",
            "--only",
            "dockerfile-cache-mounts",
            "--dockerfile",
        ])
        .arg(ctx.path().join("Dockerfile"))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status(&report, "dockerfile-cache-mounts"),
        "ok",
        "{report:#}"
    );
    let ev = check(&report, "dockerfile-cache-mounts")["evidence"].to_string();
    assert!(
        ev.contains("used by parallel stages one (line 2) and two (line 4)"),
        "{ev}"
    );
}

/// Issue #16 item 9: the running dockerd's own `--config-file` and data root decide, not
/// /etc/docker/daemon.json and /var/lib/docker. Docker 20.10 runs builder GC only with
/// `builder.gc.enabled: true` (moby@v20.10.27 builder/builder-next/controller.go), so the
/// "nothing bounds this cache" warning follows the engine's own file.
#[test]
fn the_engines_own_config_file_and_data_root_decide() {
    if !require_root() {
        return;
    }
    for (daemon_json, warned) in [
        ("{}", true),
        (r#"{"builder": {"gc": {"enabled": true}}}"#, false),
    ] {
        let engine = Dockerd::start_with_config(daemon_json);
        let out = doctor()
            .env("DOCKER_HOST", engine.docker_host())
            .args(["--format", "json", "--only", "buildkit-usage"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let c = check(&report, "buildkit-usage");
        let ev = c["evidence"].to_string();
        let dir = engine.dir.path();
        assert!(
            ev.contains(&format!(
                "--config-file {}",
                dir.join("daemon.json").display()
            )),
            "{ev}"
        );
        assert!(
            ev.contains(&format!("DockerRootDir {}", dir.join("docker").display())),
            "{ev}"
        );
        let summary = c["summary"].as_str().unwrap();
        assert_eq!(
            summary.contains("nothing bounds this cache"),
            warned,
            "{daemon_json}: {summary}"
        );
        assert_eq!(
            status(&report, "buildkit-usage"),
            if warned { "warn" } else { "ok" },
            "{c:#}"
        );
    }
}

/// Issue #16 item 11: a build held running (a `sleep` in a RUN with a cache mount) holds its
/// cache mount in use; the doctor lists it as in use and offers no prune for it.
#[test]
fn a_cache_mount_held_by_a_running_build_is_in_use() {
    if !require_root() {
        return;
    }
    let engine = Dockerd::start_with_config(r#"{"builder": {"gc": {"enabled": true}}}"#);
    engine.import_busybox("doctor-busybox:test");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM doctor-busybox:test\nRUN --mount=type=cache,target=/c dd if=/dev/zero of=/c/blob bs=1k count=1024 && touch /c/ready && sleep 120\n",
    )
    .unwrap();
    let mut build = Command::new("/usr/bin/docker")
        .env("DOCKER_HOST", engine.docker_host())
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "--network", "none", "-q", "--no-cache"])
        .arg(ctx.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Ask until the engine lists the held cache mount (the build needs a moment to start).
    let start = std::time::Instant::now();
    let held = loop {
        let out = doctor()
            .env("DOCKER_HOST", engine.docker_host())
            .args(["--format", "json", "--only", "buildkit-usage"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let c = check(&report, "buildkit-usage").clone();
        let ev = c["evidence"].to_string();
        if ev.contains("exec.cachemount") && ev.contains("in use") {
            break c;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "no cache mount in use: {c:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let _ = build.kill();
    let _ = build.wait();
    let records: Vec<String> = held["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"].as_str().unwrap().starts_with("record "))
        .map(|e| e["excerpt"].as_str().unwrap().to_string())
        .collect();
    let mount = records
        .iter()
        .find(|r| r.starts_with("exec.cachemount"))
        .unwrap_or_else(|| panic!("{records:?}"));
    // Docker 20.10 reports a held cache mount as 0 B: marked, not counted as nothing.
    assert!(
        mount.contains("0 B, in use (size not reported while held)"),
        "{mount}"
    );
    assert!(
        !held["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "prune-build-cache"),
        "{held:#}"
    );
}
