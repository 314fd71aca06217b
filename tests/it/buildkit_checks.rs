//! buildkit-usage over trees with real buildkitd.toml and daemon.json files, and
//! dockerfile-cache-mounts over the real Dockerfiles, with a stub runc for the version matrix.

use std::fs;

use crate::common::{Tree, check, doctor, fixtures, status, summary};
use serde_json::Value;

fn buildkitd_tree(toml: &str) -> Tree {
    let tree = Tree::new();
    tree.file("etc/buildkit/buildkitd.toml", toml);
    // Some state so there is usage to weigh: 64 KiB in two files.
    tree.file(
        "var/lib/buildkit/runc-overlayfs/content/blobs/a",
        vec![1u8; 32 << 10],
    )
    .file(
        "var/lib/buildkit/runc-overlayfs/content/blobs/b",
        vec![2u8; 32 << 10],
    );
    tree
}

#[test]
fn buildkitd_new_style_is_under_its_limit() {
    let tree = buildkitd_tree(fixtures::BUILDKITD_TOML_NEW);
    let (_, report) = tree.run_json(&["--only", "buildkit-usage"]);
    assert_eq!(status(&report, "buildkit-usage"), "ok", "{report}");
    let s = summary(&report, "buildkit-usage");
    assert!(
        s.starts_with("buildkitd: ") && s.ends_with("of 1.024 GB"),
        "{s}"
    );
    let ev = check(&report, "buildkit-usage")["evidence"].to_string();
    assert!(
        ev.contains("rule #1 (no filter, no age) (reservedSpace 976.6 MiB)"),
        "{ev}"
    );
    assert!(ev.contains("records unavailable"), "{ev}");
}

#[test]
fn buildkitd_old_keys_are_named_with_their_new_spelling_and_rewritten() {
    let text = fixtures::BUILDKITD_TOML_OLD;
    let tree = buildkitd_tree(text);
    let (_, report) = tree.run_json(&["--only", "buildkit-usage"]);
    assert_eq!(status(&report, "buildkit-usage"), "warn", "{report}");
    let s = summary(&report, "buildkit-usage");
    assert!(s.contains("deprecated keys: worker.oci.gckeepstorage → reservedSpace, worker.oci.gcpolicy[0].keepBytes → reservedSpace"), "{s}");
    let fix = check(&report, "buildkit-usage")["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "rename-deprecated-gc-keys")
        .cloned()
        .unwrap();
    let new = fix["steps"][0]["content"].as_str().unwrap();
    assert!(
        !new.contains("keepBytes =") && !new.contains("gckeepstorage ="),
        "only the keys change"
    );
    assert_eq!(new.lines().count(), text.lines().count());
    assert!(
        new.contains("reservedSpace = \"512MB\"") && new.contains("# keepBytes can be"),
        "comments untouched"
    );
    let rewritten = container_doctor::parse::buildkit::buildkitd_toml(new).unwrap();
    assert!(rewritten.1.iter().all(|w| w.deprecated.is_empty()));
}

#[test]
fn over_the_limit_and_no_ceiling() {
    let tree = buildkitd_tree("[worker.oci]\n  reservedSpace = 1000\n");
    let (_, report) = tree.run_json(&["--only", "buildkit-usage"]);
    assert_eq!(status(&report, "buildkit-usage"), "warn", "{report}");
    assert!(
        summary(&report, "buildkit-usage").contains("over the limit by"),
        "{report}"
    );
    // buildctl cannot run under --root: with no records, what a prune would free is unknown,
    // and a prune that may free nothing is not offered (#16 item 11).
    assert!(
        summary(&report, "buildkit-usage")
            .contains("what a prune would free is unknown: the builder listed no records"),
        "{report}"
    );
    assert!(
        !check(&report, "buildkit-usage")["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "prune-build-cache"),
        "{report}"
    );

    let tree = buildkitd_tree(
        &fixtures::BUILDKITD_TOML_TWO_TIER
            .replace("[[worker.oci.gcpolicy]]\n  keepBytes = \"100GB\"\n", ""),
    );
    let (_, report) = tree.run_json(&["--only", "buildkit-usage"]);
    assert!(
        summary(&report, "buildkit-usage").contains("no rule bounds the whole cache"),
        "{report}"
    );
}

#[test]
fn bad_configs_are_unknown_with_the_reason() {
    for (toml, says) in [
        ("this is not toml = = =", "not TOML"),
        (
            "[worker.oci]\nreservedSpace = \"12XB\"\n",
            "invalid size \"12XB\"",
        ),
        ("[worker.oci]\nreservedSpace = -5\n", "invalid size"),
        (
            "[[worker.oci.gcpolicy]]\nkeepDuration = \"5 days\"\n",
            "invalid duration",
        ),
    ] {
        let tree = buildkitd_tree(toml);
        let (out, report) = tree.run_json(&["--only", "buildkit-usage"]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            status(&report, "buildkit-usage"),
            "unknown",
            "{toml}: {report}"
        );
        assert!(
            summary(&report, "buildkit-usage").contains(says),
            "{toml}: {report}"
        );
    }
}

#[test]
fn docker_builder_gc_from_daemon_json() {
    let tree = Tree::new();
    tree.file("etc/docker/daemon.json", fixtures::DAEMON_JSON_BUILDER_GC)
        .file("var/lib/docker/buildkit/cache.db", vec![0u8; 16 << 10]);
    let (_, report) = tree.run_json(&["--only", "buildkit-usage"]);
    let ev = check(&report, "buildkit-usage")["evidence"].to_string();
    assert!(ev.contains("builder.gc: 2 rule(s), gc on"), "{ev}");
    assert!(
        ev.contains("32.212 GB from rule #1 (no filter, no age) (reservedSpace 30.0 GiB)"),
        "{ev}"
    );
    // No engine answers under --root, so its version is unknown: renaming keepStorage would stop
    // a Docker before 28.0 from starting, so the old keys are not called deprecated.
    assert!(
        !summary(&report, "buildkit-usage").contains("→ reservedSpace"),
        "{report}"
    );
    assert!(
        ev.contains("keepStorage/defaultKeepStorage not flagged: the engine's version is unknown"),
        "{ev}"
    );
    let empty = Tree::new();
    let (_, report) = empty.run_json(&["--only", "buildkit-usage"]);
    assert_eq!(status(&report, "buildkit-usage"), "skipped");
}

/// Runs the Dockerfile check with a stub runc of the given version first on PATH.
fn dockerfile_report(runc: &str, files: &[&std::path::Path]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let stub = dir.path().join("runc");
    fs::write(
        &stub,
        format!("#!/bin/sh\necho 'runc version {runc}'\necho 'spec: 1.2.0'\n"),
    )
    .unwrap();
    fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cmd = doctor();
    cmd.env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .args(["--format", "json", "--only", "dockerfile-cache-mounts"]);
    for f in files {
        cmd.arg("--dockerfile").arg(f);
    }
    serde_json::from_slice(&cmd.output().unwrap().stdout).unwrap()
}

#[test]
fn dockerfiles_reproducing_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        fs::write(&p, text).unwrap();
        p
    };
    // pnpm's docs: prod-deps and build share the cache "pnpm" in parallel. Not nested, not apt:
    // a shared cache is meant to be used at once, whatever the runc.
    let pnpm = file(
        "pnpm.Dockerfile",
        fixtures::DOCKERFILE_PARALLEL_SHARED_CACHE,
    );
    for runc in ["1.1.12", "1.2.1"] {
        let report = dockerfile_report(runc, &[&pnpm]);
        assert_eq!(status(&report, "dockerfile-cache-mounts"), "ok", "{report}");
        let ev = check(&report, "dockerfile-cache-mounts")["evidence"].to_string();
        assert!(ev.contains("cache id \\\"pnpm\\\" (/pnpm/store) used by parallel stages prod-deps (line 8) and build (line 11) (line 12): fine"), "{ev}");
    }

    let locked = file("apt-locked.Dockerfile", fixtures::DOCKERFILE_APT_LOCKED);
    let report = dockerfile_report("1.2.1", &[&locked]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "ok", "{report}");

    // The "minimal" repro does not parse as its author meant (COPY --stage is no flag),
    // so its target needs no parallel stages: the parse problem is what is said.
    let repro = file(
        "parallel-broken.Dockerfile",
        fixtures::DOCKERFILE_PARALLEL_BROKEN,
    );
    let report = dockerfile_report("1.2.2", &[&repro]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "ok", "{report}");
    let ev = check(&report, "dockerfile-cache-mounts")["evidence"].to_string();
    assert!(ev.contains("unknown flag --stage for COPY"), "{ev}");
}

#[test]
fn unknown_and_missing_dockerfiles() {
    let report = dockerfile_report("1.1.15", &[]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "skipped");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let report = dockerfile_report("1.1.15", &[&missing]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "unknown");
    // The path, once.
    let shown = missing.display().to_string();
    let s = summary(&report, "dockerfile-cache-mounts");
    assert_eq!(s.matches(&shown).count(), 1, "{s}");
    assert!(s.ends_with(&format!("{shown}: not found")), "{s}");
}

#[test]
fn huge_and_binary_dockerfiles() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.Dockerfile");
    let mut text = String::from("FROM busybox AS base\n");
    for i in 0..100_000 {
        text.push_str(&format!("RUN --mount=type=cache,target=/c{} true\n", i % 7));
    }
    text.push_str("RUN <<EOF\nunterminated\n");
    fs::write(&big, text).unwrap();
    let bin = dir.path().join("bin.Dockerfile");
    fs::write(&bin, [0u8, 0xff, 0xfe, b'\n', b'\\', b'\\', b'\n']).unwrap();
    let report = dockerfile_report("1.1.15", &[&big, &bin]);
    // The binary file has no stage at all: not a Dockerfile, so nothing can be said of it.
    assert_eq!(
        status(&report, "dockerfile-cache-mounts"),
        "unknown",
        "{report}"
    );
    assert!(summary(&report, "dockerfile-cache-mounts").contains("bin.Dockerfile: no stages"));
    let ev = check(&report, "dockerfile-cache-mounts")["evidence"].to_string();
    assert!(ev.contains("heredoc <<EOF is never closed"), "{ev}");
}

#[test]
fn a_hanging_buildctl_is_bounded_and_the_state_dir_stands_in() {
    if !crate::common::require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stub = dir.path().join("buildctl");
    fs::write(&stub, "#!/bin/sh\nsleep 60\n").unwrap();
    fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // A buildkitd state dir in a private mount namespace, so the host is untouched; /run (and so
    // /var/run/docker.sock) hidden there, so that an engine running on the machine is not asked.
    let script = "mount -t tmpfs scratch /var/lib && mount -t tmpfs no-engine /run && \
                  { [ -L /var/run ] || mount -t tmpfs no-engine /var/run; } && \
                  mkdir -p /var/lib/buildkit && \
                  head -c 100000 /dev/zero > /var/lib/buildkit/blob && \
                  exec \"$0\" --timeout 120 --format json --only buildkit-usage";
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(crate::common::doctor_path())
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let ev = check(&report, "buildkit-usage")["evidence"].to_string();
    assert!(ev.contains("size of /var/lib/buildkit"), "{ev}");
    assert!(ev.contains("buildctl du -v: timed out after 5 s"), "{ev}");
    assert!(!ev.contains("/system/df"), "no engine was asked: {ev}");
    assert!(
        summary(&report, "buildkit-usage").starts_with("buildkitd: "),
        "{report}"
    );
}

/// Without buildctl or an engine, the state directory's size is the walk's: the same bytes as
/// `du -s -x` (hard links once, nested directories), over a tree with thousands of entries.
#[test]
fn the_state_walk_counts_what_du_counts() {
    let tree = Tree::new();
    let state = tree.path().join("var/lib/buildkit");
    for i in 0..3000 {
        let dir = state.join(format!(
            "runc-overlayfs/snapshots/snapshots/{}/fs/{}",
            i / 100,
            i % 7
        ));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("f{i}")), vec![b'x'; (i * 7919) % 20000]).unwrap();
        if i % 100 == 0 {
            fs::hard_link(dir.join(format!("f{i}")), dir.join(format!("link{i}"))).unwrap();
        }
    }
    let (_, report) = tree.run_json(&["--only", "buildkit-usage"]);
    let ours =
        check(&report, "buildkit-usage")["metrics"]["buildkit_cache_bytes{builder=\"buildkitd\"}"]
            .as_f64()
            .unwrap_or_else(|| panic!("{report}"));
    let du = std::process::Command::new("du")
        .args(["-s", "-x", "-B1"])
        .arg(&state)
        .output()
        .unwrap();
    let du: f64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ours, du);
}

/// #15 item 8: a buildkitd socket that refuses us (not root, not in its group) is a buildkitd
/// there, whose cache is unknown: "permission denied on …", never "no BuildKit", even without
/// buildctl to ask it (Debian has none) and with no config or state in sight.
#[test]
fn a_buildkitd_socket_that_refuses_us_is_unknown_not_absent() {
    if !crate::common::require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let sock = dir.path().join("buildkitd.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let host = format!("unix://{}", sock.display());
    let home = dir.path().to_string_lossy().into_owned();
    let out = crate::common::run_as_nobody(
        &["--format", "json", "--only", "buildkit-usage"],
        &[
            ("BUILDKIT_HOST", host.as_str()),
            ("HOME", home.as_str()),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = summary(&report, "buildkit-usage");
    assert!(
        s.split("; ")
            .any(|p| p == format!("buildkitd: permission denied on {}", sock.display())),
        "{s}"
    );
    assert_eq!(status(&report, "buildkit-usage"), "unknown", "{report}");
}
