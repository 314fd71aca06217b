//! `dockerfile-cache-mounts` on Dockerfiles with the stage graphs and cache mounts of real ones,
//! written here by hand from the upstream files named on each (their text is not copied): the big
//! Go builds of moby/moby, moby/buildkit and docker/buildx must give no warning with an unaffected
//! runc, and BuildKit's own regression test for the runc race must give an error with runc 1.2.1.

use std::fs;

use serde_json::Value;

use crate::common::{check, doctor, status, summary};

/// One stage: name, base (a stage name or an image), stages it copies from, cache mount specs.
type Stage<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str]);

/// A Dockerfile with that graph: a RUN per cache mount, a COPY --from per dependency.
fn dockerfile(stages: &[Stage]) -> String {
    let mut text = String::from("# syntax=docker/dockerfile:1\n");
    for (name, base, copies, mounts) in stages {
        text.push_str(&format!("FROM {base} AS {name}\n"));
        for c in *copies {
            text.push_str(&format!("COPY --from={c} /out /in/{c}\n"));
        }
        for m in *mounts {
            text.push_str(&format!("RUN --mount={m} go build ./...\n"));
        }
    }
    text
}

/// Runs the check on `text` with a stub runc of `runc` first on PATH.
fn judge(text: &str, runc: &str, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let stub = dir.path().join("runc");
    fs::write(
        &stub,
        format!("#!/bin/sh\necho 'runc version {runc}'\necho 'spec: 1.2.0'\n"),
    )
    .unwrap();
    fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = dir.path().join("Dockerfile");
    fs::write(&file, text).unwrap();
    let out = doctor()
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .args([
            "--format",
            "json",
            "--only",
            "dockerfile-cache-mounts",
            "--dockerfile",
        ])
        .arg(&file)
        .args(extra)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

const GO_CACHE: &str = "target=/root/.cache,type=cache";
const GO_MOD: &str = "target=/go/pkg/mod,type=cache";

/// moby/buildkit's Dockerfile @73ed6825 (2026-08-21), the stages its default target `buildkit`
/// reaches: runc, buildctl, buildkitd and dnsname run in parallel on the default-id caches
/// /root/.cache and /go/pkg/mod, none nested.
fn buildkit_graph() -> String {
    dockerfile(&[
        ("xx", "tonistiigi/xx", &[], &[]),
        ("golatest", "golang:alpine", &[], &[]),
        ("gobuild-base", "golatest", &["xx"], &[]),
        ("runc", "gobuild-base", &[], &[GO_CACHE]),
        ("buildkit-base", "gobuild-base", &[], &[]),
        ("buildkit-version", "buildkit-base", &[], &[]),
        (
            "buildctl",
            "buildkit-base",
            &["buildkit-version"],
            &[GO_CACHE, GO_MOD],
        ),
        (
            "buildkitd",
            "buildkit-base",
            &["buildkit-version"],
            &[GO_CACHE, GO_MOD],
        ),
        ("dnsname", "gobuild-base", &[], &[GO_CACHE]),
        ("cni-plugins", "alpine", &["xx", "dnsname"], &[]),
        ("cni-plugins-export", "scratch", &["cni-plugins"], &[]),
        (
            "cni-plugins-export-squashed",
            "scratch",
            &["cni-plugins-export"],
            &[],
        ),
        ("binfmt-filter", "alpine", &[], &[]),
        (
            "binaries-linux",
            "scratch",
            &[
                "runc",
                "binfmt-filter",
                "cni-plugins-export-squashed",
                "buildctl",
                "buildkitd",
            ],
            &[],
        ),
        ("binaries", "binaries-linux", &[], &[]),
        // Not reached by the default target: an integration stage sharing /root/.cache too.
        ("gotestsum", "gobuild-base", &[], &[GO_CACHE]),
        (
            "integration-tests",
            "buildkit-base",
            &["gotestsum", "binaries"],
            &[],
        ),
        ("buildkit-export", "alpine", &[], &[]),
        ("buildkit-linux", "buildkit-export", &["binaries"], &[]),
        ("buildkit", "buildkit-linux", &[], &[]),
    ])
}

/// moby/moby's Dockerfile @b985e231 (2026-08-23), the `dev` graph in short: apt caches with a
/// per-stage id and sharing=locked, Go build caches shared by parallel tool stages.
fn moby_graph() -> String {
    dockerfile(&[
        ("base", "golang:bookworm", &[], &[]),
        (
            "criu",
            "base",
            &[],
            &[
                "type=cache,sharing=locked,id=moby-criu-aptlib,target=/var/lib/apt",
                "type=cache,sharing=locked,id=moby-criu-aptcache,target=/var/cache/apt",
            ],
        ),
        (
            "gowinres",
            "base",
            &[],
            &[
                "type=cache,target=/root/.cache/go-build",
                "type=cache,target=/go/pkg/mod",
            ],
        ),
        (
            "golangci_lint",
            "base",
            &[],
            &[
                "type=cache,target=/root/.cache/go-build",
                "type=cache,target=/go/pkg/mod",
            ],
        ),
        (
            "gotestsum",
            "base",
            &[],
            &[
                "type=cache,target=/root/.cache/go-build",
                "type=cache,target=/go/pkg/mod",
            ],
        ),
        (
            "shfmt",
            "base",
            &[],
            &[
                "type=cache,target=/root/.cache/go-build",
                "type=cache,target=/go/pkg/mod",
            ],
        ),
        (
            "containerd-build",
            "base",
            &[],
            &[
                "type=cache,sharing=locked,id=moby-containerd-aptlib,target=/var/lib/apt",
                "type=cache,sharing=locked,id=moby-containerd-aptcache,target=/var/cache/apt",
                "type=cache,id=containerd-build-$TARGETPLATFORM,target=/root/.cache/go-build",
            ],
        ),
        (
            "runc-build",
            "base",
            &[],
            &[
                "type=cache,sharing=locked,id=moby-runc-aptlib,target=/var/lib/apt",
                "type=cache,sharing=locked,id=moby-runc-aptcache,target=/var/cache/apt",
                "type=cache,id=runc-build-$TARGETPLATFORM,target=/root/.cache/go-build",
            ],
        ),
        (
            "dockercli",
            "base",
            &[],
            &["type=cache,id=dockercli-git-$TARGETPLATFORM,sharing=locked,target=./.git"],
        ),
        (
            "dockercli-integration",
            "base",
            &[],
            &["type=cache,id=dockercli-git-$TARGETPLATFORM,sharing=locked,target=./.git"],
        ),
        (
            "dev-base",
            "base",
            &[
                "criu",
                "gowinres",
                "golangci_lint",
                "gotestsum",
                "shfmt",
                "containerd-build",
                "runc-build",
                "dockercli",
                "dockercli-integration",
            ],
            &[
                "type=cache,sharing=locked,id=moby-dev-aptlib,target=/var/lib/apt",
                "type=cache,sharing=locked,id=moby-dev-aptcache,target=/var/cache/apt",
            ],
        ),
        ("dev", "dev-base", &[], &[]),
    ])
}

/// docker/buildx's Dockerfile @461836ba (2026-08-20): the default target (a last, unnamed stage
/// FROM binaries) reaches one cache stage, buildx-build; `test` is not built.
fn buildx_graph() -> String {
    let mut text = dockerfile(&[
        ("xx", "tonistiigi/xx", &[], &[]),
        ("golatest", "golang:alpine", &[], &[]),
        ("gobase", "golatest", &["xx"], &[]),
        ("gotestsum", "gobase", &[], &[GO_CACHE]),
        ("buildx-version", "gobase", &[], &[]),
        (
            "buildx-build",
            "gobase",
            &["buildx-version"],
            &[GO_CACHE, GO_MOD],
        ),
        ("test", "gobase", &[], &[GO_CACHE, GO_MOD]),
        ("binaries-unix", "scratch", &["buildx-build"], &[]),
        ("binaries", "binaries-unix", &[], &[]),
    ]);
    text.push_str("FROM binaries\n");
    text
}

/// moby/buildkit frontend/dockerfile/dockerfile_mount_test.go, testCacheMountParallel (added for
/// moby/buildkit#5566): two stages with nested cache targets, built together.
const RACE: &str = "FROM alpine AS b1\n\
RUN --mount=type=cache,target=/foo/bar --mount=type=cache,target=/foo/bar/baz echo 1\n\
\n\
FROM alpine AS b2\n\
RUN --mount=type=cache,target=/foo/bar --mount=type=cache,target=/foo/bar/baz echo 2\n\
\n\
FROM scratch\n\
COPY --from=b1 /etc/passwd p1\n\
COPY --from=b2 /etc/passwd p2\n";

#[test]
fn the_big_real_graphs_give_no_warning_with_an_unaffected_runc() {
    for (name, text) in [
        ("moby/buildkit", buildkit_graph()),
        ("moby/moby", moby_graph()),
        ("docker/buildx", buildx_graph()),
    ] {
        for runc in ["1.1.5+ds1", "1.2.3", "1.3.0"] {
            let report = judge(&text, runc, &[]);
            assert_eq!(
                status(&report, "dockerfile-cache-mounts"),
                "ok",
                "{name} with runc {runc}: {report}"
            );
            assert!(
                check(&report, "dockerfile-cache-mounts")["fixes"]
                    .as_array()
                    .unwrap()
                    .is_empty()
            );
        }
        // Not nested: even the racy runc has nothing to race on.
        let report = judge(&text, "1.2.1", &[]);
        assert_eq!(
            status(&report, "dockerfile-cache-mounts"),
            "ok",
            "{name}: {report}"
        );
    }
    // BuildKit's default target builds 18 of these 20 stages (not gotestsum and
    // integration-tests); the shared caches are noted.
    let report = judge(&buildkit_graph(), "1.2.3", &[]);
    assert!(
        summary(&report, "dockerfile-cache-mounts").contains("18 of 20 stages built for buildkit"),
        "{report}"
    );
    let ev = check(&report, "dockerfile-cache-mounts")["evidence"].to_string();
    assert!(
        ev.contains("fine, a shared cache is meant to be used at once"),
        "{ev}"
    );
    // buildx's default builds one cache stage: nothing is shared.
    let report = judge(&buildx_graph(), "1.2.3", &[]);
    assert!(
        !check(&report, "dockerfile-cache-mounts")["evidence"]
            .to_string()
            .contains("parallel")
    );
}

#[test]
fn buildkits_regression_test_for_the_race_is_an_error_with_runc_1_2_1() {
    let report = judge(RACE, "1.2.1", &[]);
    assert_eq!(
        status(&report, "dockerfile-cache-mounts"),
        "error",
        "{report}"
    );
    assert!(summary(&report, "dockerfile-cache-mounts").ends_with("upgrade to 1.2.3+"));
    let ev = check(&report, "dockerfile-cache-mounts")["evidence"].to_string();
    assert!(ev.contains("mkdirat"), "{ev}");
    let fixes = check(&report, "dockerfile-cache-mounts")["fixes"].to_string();
    assert!(fixes.contains("upgrade-runc"), "{fixes}");
    // Fixed runc: the same file is fine; unknown runc: a warning that says why.
    let report = judge(RACE, "1.2.3", &[]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "ok", "{report}");
    let report = judge(RACE, "not a version", &[]);
    assert_eq!(
        status(&report, "dockerfile-cache-mounts"),
        "warn",
        "{report}"
    );
}

#[test]
fn trailing_slashes_name_the_same_cache() {
    // BuildKit's default id is path.Clean(target): /root/.cache/ and /root/.cache are one cache
    // (convert_runmount.go; checked with a real build on Docker 20.10).
    let text = RACE
        .replacen("target=/foo/bar ", "target=/foo/bar/ ", 1)
        .replacen(
            "target=/foo/bar/baz echo 2",
            "target=/foo/bar/baz/ echo 2",
            1,
        );
    assert_ne!(text, RACE);
    let report = judge(&text, "1.2.2", &[]);
    assert_eq!(
        status(&report, "dockerfile-cache-mounts"),
        "error",
        "{report}"
    );
}

#[test]
fn only_the_stages_the_target_needs_run() {
    // The racing pair is b1 ∥ b2; a build of b1 alone (--target b1) runs one of them.
    let report = judge(RACE, "1.2.1", &["--target", "b1"]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "ok", "{report}");
    assert!(summary(&report, "dockerfile-cache-mounts").contains("1 of 3 stages built for b1"));
    let report = judge(RACE, "1.2.1", &["--target", "nope"]);
    assert_eq!(
        status(&report, "dockerfile-cache-mounts"),
        "unknown",
        "{report}"
    );
    assert!(summary(&report, "dockerfile-cache-mounts").contains("no stage named \"nope\""));
}

#[test]
fn apt_caches_shared_by_parallel_stages_need_a_lock() {
    // moby/buildkit#1662: two stages running apt on one unlocked cache fail on apt's lock.
    let apt = "type=cache,target=/var/cache/apt";
    let text = dockerfile(&[
        ("base", "debian:bookworm", &[], &[]),
        ("tools", "base", &[], &[apt]),
        ("libs", "base", &[], &[apt]),
        ("out", "scratch", &["tools", "libs"], &[]),
    ]);
    let report = judge(&text, "1.1.15", &[]);
    assert_eq!(
        status(&report, "dockerfile-cache-mounts"),
        "warn",
        "{report}"
    );
    let ev = check(&report, "dockerfile-cache-mounts")["evidence"].to_string();
    assert!(ev.contains("Could not get lock"), "{ev}");
    let fix = &check(&report, "dockerfile-cache-mounts")["fixes"][0];
    assert_eq!(fix["id"], "cache-mount-sharing-locked");
    let rewritten = fix["steps"][0]["content"].as_str().unwrap();
    assert_eq!(
        rewritten
            .matches("target=/var/cache/apt,sharing=locked")
            .count(),
        2
    );
    // The rewritten file passes.
    let report = judge(rewritten, "1.1.15", &[]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "ok", "{report}");
    // One stage using an unlocked apt cache races with nothing in its own build.
    let single = dockerfile(&[("tools", "debian:bookworm", &[], &[apt])]);
    let report = judge(&single, "1.1.15", &[]);
    assert_eq!(status(&report, "dockerfile-cache-mounts"), "ok", "{report}");
}
