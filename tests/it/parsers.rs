//! Every parser over the repository's hand-written fixtures (common/fixtures.rs and the small ones
//! below, each naming the real-world source whose facts it reproduces). The default run's
//! counterpart of the corpus tests in `realdata_parsers.rs`.

use crate::common::fixtures;
use container_doctor::parse::buildkit::{self, DiskSpace};
use container_doctor::parse::cgroup::{self, FreezerState, Mode};
use container_doctor::parse::criu::{self, Verdict};
use container_doctor::parse::kernel::{self, Flavour};
use container_doctor::parse::{dockerfile, mountinfo};
use std::time::Duration;

#[test]
fn kernel_release_in_every_form() {
    for &(kind, string, release, major, minor, _) in fixtures::KERNEL_RELEASES {
        let k = match kind {
            "uname_r" => kernel::parse_release(string),
            _ => kernel::find_release(string),
        }
        .unwrap_or_else(|| panic!("no release in {string:?}"));
        assert_eq!(k.release, release, "{string}");
        assert_eq!((k.major, k.minor), (major, minor), "{string}");
        let flavour = k.flavour();
        if release.ends_with("-Microsoft") {
            assert_eq!(flavour, Some(Flavour::Wsl1), "{string}");
        } else if release.ends_with("-WSL2") {
            assert_eq!(flavour, Some(Flavour::Wsl2), "{string}");
        } else if release.contains(".el") {
            assert!(matches!(flavour, Some(Flavour::Enterprise(_))), "{string}");
        }
        assert_eq!(k.rc.is_some(), release.contains("-rc"), "{string}");
    }
    // Debian's /proc/version carries the upstream version last; others make no claim.
    let (_, debian, ..) = fixtures::KERNEL_RELEASES[7];
    assert_eq!(kernel::upstream_version(debian), Some((5, 10, 209)));
    let (_, wsl, ..) = fixtures::KERNEL_RELEASES[5];
    assert_eq!(kernel::upstream_version(wsl), None);
}

#[test]
fn mountinfo_fixtures_parse_without_loss() {
    for (name, text, _) in fixtures::mount_tables() {
        let t = mountinfo::parse(&text);
        let lines = text.split('\n').filter(|l| !l.is_empty()).count();
        assert_eq!(t.mounts.len() + t.bad_lines.len(), lines, "{name}");
        let bad: Vec<usize> = if name == "garbled" {
            vec![2, 3, 4]
        } else {
            vec![]
        };
        assert_eq!(t.bad_lines, bad, "{name}");
        for m in &t.mounts {
            assert_eq!(
                mountinfo::decode(&mountinfo::escape(&m.mount_point)),
                m.mount_point,
                "{name}"
            );
        }
    }
}

#[test]
fn mountinfo_escapes_empty_sources_and_odd_numbers() {
    let t = mountinfo::parse(&fixtures::escapes());
    assert_eq!(t.mounts[0].mount_point, "/srv/my share");
    assert_eq!(t.mounts[1].source, "//nas/Team Files/");
    assert!(
        t.mounts[1]
            .super_options
            .contains("unc=\\\\nas\\Team Files")
    );
    assert_eq!(t.mounts[2].mount_point, "/tmp/a\nb\tc d\\e'f\"");
    assert_eq!(
        mountinfo::escape(&t.mounts[2].mount_point),
        "/tmp/a\\012b\\011c\\040d\\134e'f\""
    );
    assert_eq!(t.containing("/tmp").map(|m| m.id), None);

    let nosrc = mountinfo::parse(&fixtures::empty_source());
    let m = nosrc.at("/mnt/scratch").unwrap();
    assert_eq!(
        (
            m.fstype.as_str(),
            m.source.as_str(),
            m.super_options.as_str()
        ),
        ("tmpfs", "", "rw")
    );
    assert_eq!(m.optional, vec!["shared:212"]);

    let openrc = mountinfo::parse(&fixtures::host_openrc_v1());
    assert_eq!(
        openrc.mounts.last().unwrap().mount_point,
        "/media/USB STICK"
    );
    assert!(openrc.mounts.iter().all(|m| m.optional.is_empty()));
    assert_eq!(
        openrc.at("/tmp").map(|m| (m.id, m.fstype.as_str())),
        Some((35, "tmpfs"))
    );

    let desktop = mountinfo::parse(&fixtures::host_v1_tmpfs());
    assert_eq!(desktop.at("/").map(|m| m.parent), Some(0));
    assert!(
        desktop
            .mounts
            .iter()
            .all(|m| m.optional.iter().any(|o| o.starts_with("shared:")))
    );

    let garbled = mountinfo::parse(&fixtures::garbled());
    assert_eq!(
        (garbled.mounts[0].major, garbled.mounts[0].minor),
        (1_000_777, 220_777)
    );
    assert_eq!(garbled.mounts[1].mount_point, "/the-good-one");

    let rhel = mountinfo::parse(&fixtures::host_hybrid_tmp_on_ext4());
    let tmp = rhel.containing("/tmp").unwrap();
    assert_eq!(
        (tmp.id, tmp.fstype.as_str(), tmp.root.as_str()),
        (89, "ext4", "/.tmp")
    );
    assert_eq!(
        rhel.containing("/var/tmp").map(|m| m.fstype.as_str()),
        Some("ext4")
    );
    let xfs = mountinfo::parse(&fixtures::host_v2_xfs());
    let tmp = xfs.containing("/tmp").unwrap();
    assert_eq!(
        (tmp.mount_point.as_str(), tmp.fstype.as_str()),
        ("/", "xfs")
    );
}

#[test]
fn mountinfo_overlay_roots_of_containers() {
    for (text, upper) in [
        (
            fixtures::docker_container_v1(),
            "upperdir=/var/lib/docker/overlay2/",
        ),
        (
            fixtures::podman_rootless_container_v1(),
            "upperdir=/home/dev/.local/share/containers/storage/overlay/",
        ),
    ] {
        let t = mountinfo::parse(&text);
        let overlays: Vec<&str> = t
            .mounts
            .iter()
            .filter(|m| m.fstype == "overlay")
            .map(|m| m.mount_point.as_str())
            .collect();
        assert_eq!(overlays, vec!["/"]);
        assert!(t.at("/").unwrap().super_options.contains(upper));
    }
    let podman = mountinfo::parse(&fixtures::podman_rootless_container_v1());
    assert!(
        podman
            .at("/")
            .unwrap()
            .super_options
            .ends_with("volatile,userxattr")
    );
}

/// (file contents, mode, containers named): one per engine and cgroup layout.
/// Each reproduces the facts of a /proc/self/cgroup the corpus holds (source named per case).
#[test]
fn proc_cgroup_modes_and_containers() {
    let docker_v1 = "11:freezer:/docker/0b1c2d3e4f5a\n10:memory:/docker/0b1c2d3e4f5a\n1:name=systemd:/docker/0b1c2d3e4f5a\n";
    type Case<'a> = (&'a str, &'a str, Mode, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        // newrelic/newrelic-python-agent's docker-1.3 sample (a v1 host, /docker/ID).
        (
            "docker v1",
            docker_v1,
            Mode::V1,
            vec![("docker", "0b1c2d3e4f5a")],
        ),
        // The same sample's heroku case: one line naming nine controllers, an LXC id with dashes.
        (
            "heroku",
            "1:hugetlb,perf_event,blkio,freezer,devices,memory,cpuacct,cpu,cpuset:/lxc/1f2e3d4c-aaaa-bbbb-cccc-0123456789ab",
            Mode::V1,
            vec![("lxc", "1f2e3d4c-aaaa-bbbb-cccc-0123456789ab")],
        ),
        // pre-commit's host example: hybrid, init.scope, no container.
        (
            "host hybrid",
            fixtures::PROC_CGROUP_HYBRID_INIT,
            Mode::Hybrid,
            vec![],
        ),
        // coder/coder issue 15156: a private cgroup namespace shows `0::/` only.
        ("v2 private ns", "0::/\n", Mode::V2, vec![]),
        // duckdb/duckdb issue 16608: containerd under Kubernetes, the id after `cri-containerd:`.
        (
            "k8s containerd",
            "13:cpuset:/kubepods-besteffort-pod1234.slice:cri-containerd:9f8e7d6c5b4a\n12:pids:/kubepods-besteffort-pod1234.slice:cri-containerd:9f8e7d6c5b4a\n",
            Mode::V1,
            vec![("containerd", "9f8e7d6c5b4a")],
        ),
    ];
    for (name, text, mode, want) in cases {
        let m = cgroup::parse_memberships(text);
        assert_eq!(cgroup::mode_of_memberships(&m), Some(mode), "{name}");
        let mut found: Vec<(&str, String)> = m
            .iter()
            .filter_map(|l| cgroup::container_of(&l.path))
            .collect();
        found.dedup();
        let want: Vec<(&str, String)> = want.into_iter().map(|(e, i)| (e, i.to_string())).collect();
        assert_eq!(found, want, "{name}");
    }
    // runc's CoreOS sample: colons inside a path (an sshd unit's address:port) stay in the path.
    let colons = cgroup::parse_memberships(
        "4:cpu,cpuacct:/system.slice/sshd@3-10.0.0.5:22-10.0.0.9:51234.service\n",
    );
    assert_eq!(colons[0].controllers, vec!["cpu", "cpuacct"]);
    assert_eq!(
        colons[0].path,
        "/system.slice/sshd@3-10.0.0.5:22-10.0.0.9:51234.service"
    );
}

#[test]
fn proc_cgroups_spaces_hierarchy_zero_freezer_and_events() {
    let s = cgroup::parse_subsystems(fixtures::PROC_CGROUPS_MEMORY_ON_NO_HIERARCHY);
    assert_eq!(s.len(), 7);
    let memory = s.iter().find(|s| s.name == "memory").unwrap();
    assert_eq!(
        (memory.hierarchy, memory.num_cgroups, memory.enabled),
        (0, 1, true)
    );
    for (text, want) in [
        (fixtures::FREEZER_THAWED, FreezerState::Thawed),
        (fixtures::FREEZER_FREEZING, FreezerState::Freezing),
        (fixtures::FREEZER_FROZEN, FreezerState::Frozen),
    ] {
        assert_eq!(cgroup::parse_freezer_state(text), Some(want));
    }
    let e = cgroup::parse_events(fixtures::CGROUP_EVENTS_POPULATED);
    assert_eq!((e.populated, e.frozen), (Some(true), Some(false)));
}

#[test]
fn criu_version_and_check_outputs() {
    // CRIU's own forms over the years: `Version:`/`GitID:` (a describe or a bare sha).
    for (text, want, gitid) in [
        (
            "Version: 1.6\nGitID: v1.6-31-g46270d1\n",
            (1, 6, 0),
            Some("v1.6-31-g46270d1"),
        ),
        (
            "Version: 3.17\nGitID: 496bcdb\n",
            (3, 17, 0),
            Some("496bcdb"),
        ),
        ("Version: 3.17.1\n", (3, 17, 1), None),
    ] {
        let v = criu::parse_version(text).unwrap();
        assert_eq!((v.major, v.minor, v.patch), want, "{text}");
        assert_eq!(v.gitid.as_deref(), gitid, "{text}");
    }
    assert!(criu::parse_version("criu: command not found").is_none());
    for (text, want, errors) in [
        (fixtures::CRIU_CHECK_LOOKS_GOOD_STALE, Verdict::Good, 0),
        (
            "Warn  (criu/cr-check.c:1244): clone3() with set_tid not supported\nError (criu/cr-check.c:1296): IFLA_NEW_IFINDEX isn't supported\nLooks good but some kernel features are missing\nwhich, depending on your process tree, may cause\ndump or restore failure.\n",
            Verdict::MissingFeatures,
            1,
        ),
        (
            "Error (cr-check.c:500): Kernel doesn't support PTRACE_O_SUSPEND_SECCOMP\n",
            Verdict::None,
            1,
        ),
    ] {
        let r = criu::parse_check(text);
        assert_eq!((r.verdict, r.errors.len()), (want, errors), "{text}");
    }
}

#[test]
fn buildkit_configs_old_and_new() {
    let (root, workers) = buildkit::buildkitd_toml(fixtures::BUILDKITD_TOML_NEW).unwrap();
    assert_eq!(root.as_deref(), Some("/var/lib/buildkit"));
    let oci = &workers[0];
    assert_eq!(oci.default.reserved, Some(DiskSpace::Percent(30)));
    assert_eq!(oci.default.min_free, Some(DiskSpace::Bytes(20 << 30)));
    assert_eq!(
        oci.rules[0].keep_duration,
        Some(Duration::from_secs(48 * 3600))
    );
    assert!(oci.rules[1].all && oci.rules[1].is_ceiling());
    assert!(oci.deprecated.is_empty());

    let (_, workers) = buildkit::buildkitd_toml(fixtures::BUILDKITD_TOML_OLD).unwrap();
    let renamed: Vec<&str> = workers[0]
        .deprecated
        .iter()
        .map(|(_, o, _)| o.as_str())
        .collect();
    assert_eq!(renamed, vec!["gckeepstorage", "keepBytes", "keepBytes"]);
    assert_eq!(workers[0].default.reserved, Some(DiskSpace::Bytes(9000)));

    let (_, w) = buildkit::buildkitd_toml(fixtures::BUILDKITD_TOML_TWO_TIER).unwrap();
    assert!(!w[0].rules[0].is_ceiling() && w[0].rules[1].is_ceiling());

    let gc = buildkit::daemon_json_builder(fixtures::DAEMON_JSON_BUILDER_GC)
        .unwrap()
        .unwrap();
    assert!(gc.enabled && gc.rules[1].all);
    assert_eq!(gc.rules[1].reserved, Some(DiskSpace::Bytes(30 << 30)));
    assert_eq!(gc.deprecated.len(), 2);
    assert!(buildkit::daemon_json_builder("{not json").is_err());
}

#[test]
fn buildkit_du_listings() {
    // `buildctl du -v`: one block per record. Reproduces the facts of moby/buildkit issue 1385.
    let verbose = "ID:\t\tsha256:aa11\nReclaimable:\ttrue\nShared:\t\tfalse\nSize:\t\t120.5MB\nType:\t\tregular\n\n\
                   ID:\t\tq1w2e3r4t5\nMutable:\ttrue\nReclaimable:\ttrue\nShared:\t\tfalse\nSize:\t\t2.25MB\nType:\t\tsource.local\n";
    let v = buildkit::du_verbose(verbose);
    assert_eq!(
        v.iter()
            .map(|r| (r.kind.as_str(), r.size, r.reclaimable))
            .collect::<Vec<_>>(),
        vec![
            ("regular", 120_500_000, true),
            ("source.local", 2_250_000, true)
        ]
    );
    // `docker buildx du`: a table; `*` after an id marks a mutable record, after a size a shared
    // one; totals last.
    // Reproduces the facts of docker/buildx's docs (reference/buildx_du.md).
    let table = "ID                                RECLAIMABLE    SIZE          LAST ACCESSED\n\
                 aaaaaaaaaaaaaaaaaaaaaaaaa         true           1.5GB*        2 days ago\n\
                 bbbbbbbbbbbbbbbbbbbbbbbbb*        true           300MB         3 hours ago\n\
                 Shared:        1.5GB\nPrivate:       300MB\nReclaimable:   1.8GB\nTotal:         1.8GB\n";
    let t = buildkit::du_table(table);
    assert_eq!(t.len(), 2);
    assert!(t[0].shared && !t[1].shared);
    assert_eq!(t[1].id, "bbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_eq!(t[0].size, 1_500_000_000);
    assert_eq!(buildkit::du_total(table), Some(1_800_000_000));
}

#[test]
fn dockerfiles_stages_mounts_and_problems() {
    let df = dockerfile::parse(fixtures::DOCKERFILE_PARALLEL_SHARED_CACHE);
    assert_eq!(df.stages.len(), 4);
    let (deps, build) = (&df.stages[1], &df.stages[2]);
    assert_eq!(
        (deps.mounts[0].id.as_str(), deps.mounts[0].line),
        ("pnpm", 9)
    );
    assert_eq!(build.mounts[0].sharing, "shared");
    assert!(df.parallel(1, 2) && !df.parallel(0, 1));
    assert!(df.depends_on(3, 1) && df.depends_on(3, 2));
    assert!(df.problems.is_empty());

    let df = dockerfile::parse(fixtures::DOCKERFILE_PARALLEL_BROKEN);
    assert!(df.parallel(1, 2));
    assert_eq!(df.stages[1].mounts[0].target, "/cache/npm");
    let problems: Vec<String> = df
        .problems
        .iter()
        .map(|(n, p)| format!("{n}: {p}"))
        .collect();
    assert!(
        problems.contains(&"7: unknown instruction \"npm\"".to_string()),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unknown flag --stage for COPY")),
        "{problems:?}"
    );

    let df = dockerfile::parse(fixtures::DOCKERFILE_APT_LOCKED);
    assert!(
        df.stages[0].mounts.len() == 2 && df.stages[0].mounts.iter().all(|m| m.sharing == "locked")
    );
    let df = dockerfile::parse(&format!(
        "FROM debian\n{}",
        fixtures::DOCKERFILE_APT_UNLOCKED_RUN
    ));
    let targets: Vec<_> = df.stages[0]
        .mounts
        .iter()
        .map(|m| (m.target.as_str(), m.sharing.as_str()))
        .collect();
    assert_eq!(
        targets,
        vec![("/var/cache/apt", "shared"), ("/var/lib/apt", "shared")]
    );
}
