//! buildkit-usage and dockerfile-cache-mounts against a real Docker engine and its embedded
//! BuildKit: a build whose two parallel stages use the same cache mount, the build cache compared
//! with `docker system df -v`, and `builder.gc.defaultKeepStorage` from daemon.json as the limit.

use std::process::Command;

use crate::common::dockerd::Dockerd;
use crate::common::{assert_success, check, doctor, require_root, status};
use container_doctor::units::human_size;
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
    assert_success(&build);

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

/// Runs Debian's docker client's BuildKit build of `dockerfile` against the engine, waiting for
/// it to finish.
fn build(engine: &Dockerd, dockerfile: &str) {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile).unwrap();
    let out = Command::new("/usr/bin/docker")
        .env("DOCKER_HOST", engine.docker_host())
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "--network", "none", "-q"])
        .arg(ctx.path())
        .output()
        .unwrap();
    assert_success(&out);
}

/// The doctor's buildkit-usage result against the engine.
fn usage(engine: &Dockerd) -> Value {
    let out = doctor()
        .env("DOCKER_HOST", engine.docker_host())
        .args(["--format", "json", "--only", "buildkit-usage"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    check(&report, "buildkit-usage").clone()
}

/// The (directory, excerpt) evidence of the records measured on disk.
fn measured(c: &Value) -> Vec<(String, String)> {
    c["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["excerpt"].as_str().unwrap().contains(" on disk ("))
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_string(),
                e["excerpt"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// "record ID (exec.cachemount): 1.049 MB on disk (…" → (ID, bytes).
fn record_size(excerpt: &str) -> (String, i64) {
    let rest = excerpt.strip_prefix("record ").unwrap();
    let (id, rest) = rest.split_once(' ').unwrap();
    let size = rest
        .split_once("): ")
        .unwrap()
        .1
        .split(" on disk")
        .next()
        .unwrap();
    (
        id.to_string(),
        human_size(size.trim_start_matches("at least ")).unwrap(),
    )
}

fn offers_prune(c: &Value) -> Option<Vec<String>> {
    c["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "prune-build-cache")
        .map(|f| {
            f["steps"][0]["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect()
        })
}

/// Issue #16 item 11: a build held running (a `sleep` in a RUN with a cache mount) holds its
/// cache mount in use, and Docker 20.10 reports it as 0 B (buildkit cache/manager.go DiskUsage:
/// "size can not be determined because it is changing"). The doctor measures the layer directory
/// named by the record's ID — the very directory the build's container has mounted at /c — and,
/// with the cache over its 1 KiB limit but nothing reclaimable, offers no prune.
#[test]
fn a_cache_mount_held_by_a_running_build_is_measured_on_disk() {
    if !require_root() {
        return;
    }
    let engine = Dockerd::start_with_config(
        r#"{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "1KB"}}}"#,
    );
    engine.import_busybox("doctor-busybox:test");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM doctor-busybox:test\nRUN --mount=type=cache,target=/c dd if=/dev/zero of=/c/blob bs=1k count=1024 && sleep 120\n",
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
    // Ask until the held cache mount is measured with its 1 MiB written (the build needs a
    // moment to start, and dd to write).
    let start = std::time::Instant::now();
    let (held, dir, id, bytes) = loop {
        let c = usage(&engine);
        let found = measured(&c).into_iter().find_map(|(dir, e)| {
            (e.contains("(exec.cachemount)")
                && e.contains("reported as 0 B while a build holds it"))
            .then(|| (dir, record_size(&e)))
        });
        if let Some((dir, (id, bytes))) = found
            && bytes >= 1 << 20
        {
            break (c, dir, id, bytes);
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "no held cache mount measured: {c:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    // The build's container has this very directory mounted at /c.
    let mounted = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read_to_string(p.path().join("mountinfo")).ok())
        .any(|t| {
            t.lines().any(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                f.get(4) == Some(&"/c")
                    && f.get(3)
                        .is_some_and(|r| r.ends_with(&format!("/overlay2/{id}/diff")))
            })
        });
    let _ = build.kill();
    let _ = build.wait();
    assert!(mounted, "no /c mount of {dir}");
    assert_eq!(
        dir,
        engine
            .dir
            .path()
            .join(format!("docker/overlay2/{id}/diff"))
            .display()
            .to_string()
    );
    // Its own megabyte, not the whole cache's.
    assert!(bytes < 1_200_000, "{bytes}");
    let records: Vec<String> = held["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"].as_str().unwrap().starts_with("record "))
        .map(|e| e["excerpt"].as_str().unwrap().to_string())
        .collect();
    assert!(
        records.iter().any(|r| r.starts_with("exec.cachemount 1.0")
            && r.contains("in use (0 B reported while held; measured on disk)")),
        "{records:?}"
    );
    let summary = held["summary"].as_str().unwrap();
    assert!(summary.contains("over the limit by"), "{summary}");
    assert!(
        summary.contains("a prune frees nothing")
            && summary.contains("reported as 0 B while held, measured on disk"),
        "{summary}"
    );
    assert_eq!(offers_prune(&held), None, "{held:#}");
}

/// Issue #16 item 11: BuildKit sizes a cache mount once and keeps that figure (buildkit
/// cache/refs.go resets a record's size only on commit; moby's snapshot adapter keeps it again in
/// snapshots.db): after a second build writes 4 MiB more into it, Docker still reports the first
/// 1 MiB. The doctor measures the cache mount's directory, counts that, says BuildKit's GC will
/// not act (its own count is under the 3 MiB limit), and offers the prune that frees it — not one
/// down to the limit, which BuildKit would end at once (pruneOnce: total under the keep).
#[test]
fn a_stale_cache_mount_size_is_measured_and_its_prune_frees_it() {
    if !require_root() {
        return;
    }
    let engine = Dockerd::start_with_config(
        r#"{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "3MB"}}}"#,
    );
    engine.import_busybox("doctor-busybox:test");
    build(
        &engine,
        "FROM doctor-busybox:test\nRUN --mount=type=cache,target=/c dd if=/dev/zero of=/c/one bs=1k count=1024\n",
    );
    // Docker sizes the cache mount now (GC after the build does too).
    engine.ok(&["system", "df", "-v"]);
    build(
        &engine,
        "FROM doctor-busybox:test\nRUN --mount=type=cache,target=/c dd if=/dev/zero of=/c/two bs=1k count=4096\n",
    );
    let df = engine.ok(&["system", "df", "-v"]);
    let reported = df
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("exec.cachemount"))
        .and_then(|l| human_size(l.split_whitespace().nth(2)?))
        .unwrap_or_else(|| panic!("{df}"));
    assert!(reported < 2_000_000, "Docker reports the first size: {df}");

    let c = usage(&engine);
    let stale = measured(&c)
        .into_iter()
        .find(|(_, e)| {
            e.contains("(exec.cachemount)") && e.contains("a stale size, counted as measured")
        })
        .unwrap_or_else(|| panic!("{c:#}"));
    let (id, bytes) = record_size(&stale.1);
    assert!((5 << 20..5_500_000).contains(&bytes), "{bytes}: {c:#}");
    let summary = c["summary"].as_str().unwrap();
    assert_eq!(c["status"], "warn", "{c:#}");
    assert!(summary.contains("over the limit by"), "{summary}");
    assert!(
        summary.contains("by its stale sizes, under its limit: its GC will not act"),
        "{summary}"
    );
    assert_eq!(
        offers_prune(&c).unwrap_or_else(|| panic!("{c:#}")),
        ["docker", "builder", "prune", "--force"]
    );

    // The offered prune, applied by the doctor (with Debian's client), frees the directory.
    let out = doctor()
        .env("DOCKER_HOST", engine.docker_host())
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env(
            "CONTAINER_DOCTOR_AUDIT_LOG",
            engine.dir.path().join("audit.log"),
        )
        .args([
            "fix",
            "buildkit-usage",
            "--plan",
            "prune-build-cache",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !std::path::Path::new(&stale.0).exists(),
        "{} still there",
        stale.0
    );
    let after = usage(&engine);
    assert_eq!(after["status"], "ok", "{after:#}");
    assert!(!after.to_string().contains(&id), "{after:#}");
}
