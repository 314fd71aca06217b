//! Corpus tests: every parser over every relevant real-world file of the corpus (`realdata/`, found
//! by `common::corpus()`), with the readings their SOURCES.md give. Ignored in the default run;
//! `scripts/test` runs them when the corpus is there. The default run's counterparts over
//! hand-written fixtures are in `parsers.rs`.

use crate::common::{realdata, realdata_text};
use container_doctor::parse::kernel::{self, Flavour};
use container_doctor::parse::mountinfo::{self, MountTable};

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn kernel_versions_tsv_every_row() {
    let tsv = realdata_text("proc_version/kernel_versions.tsv");
    let mut rows = 0;
    for line in tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        let (kind, string, release) = (f[0], f[1], f[2]);
        let want: (u32, u32, u32) = (
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
            f[5].parse().unwrap(),
        );
        let k = match kind {
            "uname_r" => kernel::parse_release(string),
            "uname_a" | "proc_version" => kernel::find_release(string),
            other => panic!("unknown kind {other}"),
        }
        .unwrap_or_else(|| panic!("no release in {string:?}"));
        assert_eq!(k.release, release, "{string}");
        assert_eq!((k.major, k.minor, k.patch), want, "{string}");
        // The same token also parses when found inside any text form.
        assert_eq!(
            kernel::find_release(release).map(|r| r.release),
            Some(release.to_string())
        );

        let note = f.get(8).copied().unwrap_or("");
        let flavour = k.flavour();
        if note.starts_with("WSL1") {
            assert_eq!(flavour, Some(Flavour::Wsl1), "{string}");
        } else if note.starts_with("WSL2") {
            assert_eq!(flavour, Some(Flavour::Wsl2), "{string}");
        } else {
            assert!(
                !matches!(flavour, Some(Flavour::Wsl1 | Flavour::Wsl2)),
                "{string}"
            );
        }
        if release.contains(".el") {
            assert!(
                matches!(flavour, Some(Flavour::Enterprise(_))),
                "{string}: {flavour:?}"
            );
        }
        if release.contains("-rc") {
            assert!(k.rc.is_some(), "{string}");
        }
        rows += 1;
    }
    // SOURCES.md says 106 rows; the file as shipped holds 71. Every one of them is checked.
    assert_eq!(rows, 71);
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn kernel_upstream_version_from_the_debian_row_note() {
    // The Debian 12 row's note quotes its version field; the full /proc/version carries it last.
    let line = "Linux version 6.1.0-25-amd64 (debian-kernel@lists.debian.org) (x86_64-linux-gnu-gcc-12 \
                (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC \
                Debian 6.1.106-3 (2024-08-26)";
    assert_eq!(kernel::upstream_version(line), Some((6, 1, 106)));
    let tsv = realdata_text("proc_version/kernel_versions.tsv");
    for line in tsv.lines().filter(|l| l.starts_with("proc_version")) {
        let text = line.split('\t').nth(1).unwrap();
        // None of the collected /proc/version lines is a Debian or Ubuntu build: no upstream claim.
        assert_eq!(kernel::upstream_version(text), None, "{text}");
    }
}

fn table(file: &str) -> MountTable {
    mountinfo::parse(&realdata_text(&format!("mountinfo/{file}")))
}

/// What holds /tmp: (mount id, fstype, whether it is a mount of its own).
fn tmp(t: &MountTable) -> Option<(u32, String, bool)> {
    t.containing("/tmp")
        .map(|m| (m.id, m.fstype.clone(), m.mount_point == "/tmp"))
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn mountinfo_every_file_parses_without_loss() {
    let dir = realdata("mountinfo");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "SOURCES.md" {
            continue;
        }
        let text = realdata_text(&format!("mountinfo/{name}"));
        let t = mountinfo::parse(&text);
        let lines = text.split('\n').filter(|l| !l.is_empty()).count();
        assert_eq!(t.mounts.len() + t.bad_lines.len(), lines, "{name}");
        if name == "systemd_garbled.mountinfo" {
            assert_eq!(t.bad_lines, vec![2, 3, 4]);
        } else {
            assert!(
                t.bad_lines.is_empty(),
                "{name}: bad lines {:?}",
                t.bad_lines
            );
        }
        for m in &t.mounts {
            assert_eq!(
                mountinfo::decode(&mountinfo::escape(&m.mount_point)),
                m.mount_point
            );
        }
        files += 1;
    }
    assert_eq!(files, 11);
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn mountinfo_tmp_readings_from_sources_md() {
    assert_eq!(
        tmp(&table("util-linux_column_mountinfo.txt")),
        Some((77, "tmpfs".into(), true))
    );
    assert_eq!(
        tmp(&table("moby-sys_gentooMountinfo.txt")),
        Some((35, "tmpfs".into(), true))
    );
    let rh = table("systemd_rhbug-1554943.mountinfo");
    assert_eq!(tmp(&rh), Some((89, "ext4".into(), true)));
    assert_eq!(rh.at("/tmp").map(|m| m.root.as_str()), Some("/.tmp"));
    assert_eq!(
        rh.containing("/var/tmp").map(|m| m.fstype.as_str()),
        Some("ext4")
    );
    // Not mounted: /tmp is part of the root mount.
    for (file, fstype) in [
        ("util-linux_libmount_mountinfo.txt", "ext3"),
        ("util-linux_libmount_mountinfo_nosrc.txt", "ext3"),
        ("runc_cgroup2Mountinfo.txt", "ext4"),
        ("jenkins_rhel_host_cgroupv2.mountinfo", "xfs"),
        ("pre-commit_docker_cgroupv1_container.mountinfo", "overlay"),
        (
            "pre-commit_podman_rootless_cgroupv1_container.mountinfo",
            "overlay",
        ),
    ] {
        let t = table(file);
        let (_, fs, own) = tmp(&t).unwrap_or_else(|| panic!("{file}: nothing holds /tmp"));
        assert_eq!((fs.as_str(), own), (fstype, false), "{file}");
    }
    // Line 3 is a mount *under* /tmp and there is no root mount: nothing is known to hold /tmp.
    assert_eq!(tmp(&table("moby-sys_mountInfoWithSpaces.txt")), None);
    assert_eq!(tmp(&table("systemd_garbled.mountinfo")), None);
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn mountinfo_escapes_and_odd_fields() {
    let spaces = table("moby-sys_mountInfoWithSpaces.txt");
    assert_eq!(spaces.mounts[0].mount_point, "/mnt/foo bar");
    assert_eq!(
        spaces.mounts[2].mount_point,
        "/tmp/newline\ntab\tspace backslash\\quote1'quote2\""
    );
    assert_eq!(spaces.mounts[1].source, "//foo/BLA BLA BLA/");

    let gentoo = table("moby-sys_gentooMountinfo.txt");
    assert_eq!(
        gentoo.mounts.last().unwrap().mount_point,
        "/media/REMOVE ME"
    );
    assert!(gentoo.mounts.iter().all(|m| m.optional.is_empty()));

    let nosrc = table("util-linux_libmount_mountinfo_nosrc.txt");
    let m = nosrc.at("/mnt/test").unwrap();
    assert_eq!(
        (
            m.fstype.as_str(),
            m.source.as_str(),
            m.super_options.as_str()
        ),
        ("tmpfs", "", "rw")
    );
    assert_eq!(m.optional, vec!["shared:212"]);

    let libmount = table("util-linux_libmount_mountinfo.txt");
    assert!(
        libmount
            .mounts
            .iter()
            .any(|m| m.mount_point == "/mnt/test/foo\rbar")
    );
    let cifs = libmount.mounts.iter().find(|m| m.fstype == "cifs").unwrap();
    assert!(
        cifs.super_options.contains("unc=\\\\foo.home\\bar"),
        "{}",
        cifs.super_options
    );

    let garbled = table("systemd_garbled.mountinfo");
    assert_eq!(
        (garbled.mounts[0].major, garbled.mounts[0].minor),
        (1_000_999, 110_999)
    );
    assert_eq!(garbled.mounts[1].mount_point, "/one-good-entry");

    let column = table("util-linux_column_mountinfo.txt");
    assert_eq!(column.at("/").map(|m| m.parent), Some(0));
    assert!(
        column
            .mounts
            .iter()
            .all(|m| m.optional.iter().any(|o| o.starts_with("shared:")))
    );
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn mountinfo_overlay_roots_of_containers() {
    for (file, upper) in [
        (
            "pre-commit_docker_cgroupv1_container.mountinfo",
            "upperdir=",
        ),
        (
            "pre-commit_podman_rootless_cgroupv1_container.mountinfo",
            "upperdir=/home/asottile/.local/share/containers/storage/overlay/",
        ),
    ] {
        let t = table(file);
        let overlays: Vec<&str> = t
            .mounts
            .iter()
            .filter(|m| m.fstype == "overlay")
            .map(|m| m.mount_point.as_str())
            .collect();
        assert_eq!(overlays, vec!["/"], "{file}");
        assert!(t.at("/").unwrap().super_options.contains(upper), "{file}");
    }
    let podman = table("pre-commit_podman_rootless_cgroupv1_container.mountinfo");
    assert!(
        podman
            .at("/")
            .unwrap()
            .super_options
            .ends_with("volatile,userxattr")
    );
    for file in [
        "util-linux_column_mountinfo.txt",
        "moby-sys_gentooMountinfo.txt",
        "systemd_rhbug-1554943.mountinfo",
        "jenkins_rhel_host_cgroupv2.mountinfo",
        "runc_cgroup2Mountinfo.txt",
    ] {
        assert!(
            !table(file).mounts.iter().any(|m| m.fstype == "overlay"),
            "{file}"
        );
    }
}

mod cgroups {
    use crate::common::realdata_text;
    use container_doctor::parse::cgroup::{self, FreezerState, Mode};

    fn lines(file: &str) -> Vec<cgroup::Membership> {
        cgroup::parse_memberships(&realdata_text(&format!("cgroup/proc_self_cgroup/{file}")))
    }

    /// An engine and a container id.
    type Container = (&'static str, String);

    /// The containers named anywhere in a /proc/PID/cgroup file.
    fn containers(m: &[cgroup::Membership]) -> Vec<Container> {
        let mut found: Vec<_> = m
            .iter()
            .filter_map(|l| cgroup::container_of(&l.path))
            .collect();
        found.dedup();
        found
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn every_proc_self_cgroup_file() {
        let docker = |id: &str| vec![("docker", id.to_string())];
        let cases: Vec<(&str, Mode, Vec<Container>)> = vec![
            (
                "newrelic_docker-0.9.1.txt",
                Mode::V1,
                docker("f37a7e4d17017e7bf774656b19ca4360c6cdc4951c86700a464101d0d9ce97ee"),
            ),
            (
                "newrelic_docker-1.3.txt",
                Mode::V1,
                docker("47cbd16b77c50cbf71401c069cd2189f0e659af17d5a2daca3bddf59d8a870b2"),
            ),
            (
                "newrelic_docker-1.1.2-native-driver-systemd.txt",
                Mode::V1,
                docker("67f98c9e6188f9c1818672a15dbe46237b6ee7e77f834d40d41c5fb3c2f84a2f"),
            ),
            (
                "newrelic_docker-1.1.2-lxc-driver.txt",
                Mode::V1,
                vec![(
                    "lxc",
                    "cb8c113e5f3cf8332f5231f8154adc429ea910f7c29995372de4f571c55d3159".into(),
                )],
            ),
            (
                "newrelic_heroku.txt",
                Mode::V1,
                vec![("lxc", "b6d196c1-50f2-4949-abdb-5d4909864487".into())],
            ),
            (
                "newrelic_ubuntu-14.04-lxc-container.txt",
                Mode::V1,
                vec![("lxc", "p1".into())],
            ),
            ("newrelic_ubuntu-14.10-no-container.txt", Mode::V1, vec![]),
            ("runc_coreos_systemd225_v1.txt", Mode::V1, vec![]),
            (
                "pre-commit_docker_container_hybrid-v1-plus-0line.txt",
                Mode::Hybrid,
                docker("c33988ec7651ebc867cb24755eaf637a6734088bc7eef59d5799293a9e5450f7"),
            ),
            (
                "pre-commit_host_hybrid_init-scope.txt",
                Mode::Hybrid,
                vec![],
            ),
            (
                "docker-for-linux-1293_debian10_container_hybrid.txt",
                Mode::Hybrid,
                docker("a2ffe0e97ac22657a2a023ad628e9df837c38a03b1ebc904d3f6d644eb1a1a81"),
            ),
            (
                "coder-15156_docker_v2_cgroupns-private.txt",
                Mode::V2,
                vec![],
            ),
            (
                "coder-15156_docker_v2_cgroupns-host.txt",
                Mode::V2,
                docker("aa86ac98959eeedeae0ecb6e0c9ddd8ae8b97a9d0fdccccf7ea7a474f4e0bb1f"),
            ),
            (
                "duckdb-16608_k8s-containerd_v1_excerpt.txt",
                Mode::V1,
                vec![(
                    "containerd",
                    "6ef14b5a76df7b5d24285e3a04ccbc6fd323620272b3787b5dc440fc1b75d294".into(),
                )],
            ),
        ];
        let on_disk = std::fs::read_dir(crate::common::realdata("cgroup/proc_self_cgroup"))
            .unwrap()
            .count();
        assert_eq!(cases.len(), on_disk, "every file has a case");
        for (file, mode, want) in cases {
            let m = lines(file);
            assert_eq!(cgroup::mode_of_memberships(&m), Some(mode), "{file}");
            assert_eq!(containers(&m), want, "{file}");
        }
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn colons_in_paths_and_the_host_path_of_the_0_line() {
        let coreos = lines("runc_coreos_systemd225_v1.txt");
        let cpu = coreos.iter().find(|l| l.hierarchy == 4).unwrap();
        assert_eq!(cpu.controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(
            cpu.path,
            "/system.slice/system-sshd.slice/sshd@126-10.240.0.15:22-xxx.yyy.zzz.aaa:33678.service"
        );
        let heroku = lines("newrelic_heroku.txt");
        assert_eq!(heroku.len(), 1);
        assert_eq!(heroku[0].controllers.len(), 9);
        let hybrid = lines("pre-commit_docker_container_hybrid-v1-plus-0line.txt");
        let v2 = hybrid.iter().find(|l| l.hierarchy == 0).unwrap();
        assert_eq!(v2.path, "/system.slice/containerd.service");
        assert_eq!(cgroup::container_of(&v2.path), None);
        // No trailing newline: the last line still counts.
        assert_eq!(lines("newrelic_docker-0.9.1.txt").len(), 10);
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn proc_cgroups_tabs_spaces_and_hierarchy_zero() {
        let tabs = cgroup::parse_subsystems(&realdata_text(
            "cgroup/proc_cgroups/harden.yml-11_v1_with-misc.txt",
        ));
        assert_eq!(tabs.len(), 12);
        assert!(tabs.iter().all(|s| s.enabled && s.hierarchy > 0));
        assert_eq!(tabs.last().map(|s| s.name.as_str()), Some("misc"));
        let spaces = cgroup::parse_subsystems(&realdata_text(
            "cgroup/proc_cgroups/balena-leviathan-99_memory-hierarchy0_spaces.txt",
        ));
        assert_eq!(spaces.len(), 8);
        let memory = spaces.iter().find(|s| s.name == "memory").unwrap();
        assert_eq!(
            (memory.hierarchy, memory.num_cgroups, memory.enabled),
            (0, 1, true)
        );
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn freezer_states_and_events() {
        for (file, want) in [
            ("kernel-doc_THAWED.freezer.state", FreezerState::Thawed),
            ("kernel-doc_FREEZING.freezer.state", FreezerState::Freezing),
            ("kernel-doc_FROZEN.freezer.state", FreezerState::Frozen),
        ] {
            let text = realdata_text(&format!("cgroup/freezer_state/{file}"));
            assert_eq!(cgroup::parse_freezer_state(&text), Some(want), "{file}");
        }
        let e = cgroup::parse_events(&realdata_text(
            "cgroup/cgroup_events/ecs-logs-collector-68_task-slice.cgroup.events",
        ));
        assert_eq!((e.populated, e.frozen), (Some(true), Some(false)));
        // The collected paste: each cgroup.events block reads populated 1 / frozen 0.
        let collected = realdata_text(
            "cgroup/cgroup_events/ecs-logs-collector-68_cgroupv2.events_collected.txt",
        );
        let blocks: Vec<&str> = collected
            .split("\n\n")
            .filter(|b| {
                b.lines()
                    .next()
                    .is_some_and(|l| l.ends_with("/cgroup.events"))
            })
            .collect();
        assert_eq!(blocks.len(), 2);
        for b in blocks {
            let e = cgroup::parse_events(b);
            assert_eq!((e.populated, e.frozen), (Some(true), Some(false)));
        }
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn cgroupns_mount_lines() {
        let t = container_doctor::parse::mountinfo::parse(&realdata_text(
            "cgroup/mountinfo_cgroupns_lines_systemd-17902.txt",
        ));
        assert_eq!(t.mounts.len(), 4);
        assert_eq!(t.mounts[0].root, "/../../../../..");
        assert_eq!(t.mounts[0].fstype, "cgroup2");
        assert_eq!(
            cgroup::container_of(&t.mounts[3].root).map(|c| c.0),
            Some("docker")
        );
    }
}

mod criu {
    use crate::common::realdata_text;
    use container_doctor::parse::criu::{self, Verdict};

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn every_version_file() {
        for (file, want, gitid) in [
            (
                "criu-1.5_gitid-mismatch.txt",
                (1, 5, 0),
                Some("v1.2-1326-ga8e1f59"),
            ),
            ("criu-1.6.txt", (1, 6, 0), Some("v1.6-31-g46270d1")),
            ("criu-2.5_criu-V.txt", (2, 5, 0), Some("v2.5-259-gd2c5eff")),
            ("criu-3.17_bare-sha-gitid.txt", (3, 17, 0), Some("496bcdb")),
        ] {
            let v = criu::parse_version(&realdata_text(&format!("criu_version/version/{file}")))
                .unwrap();
            assert_eq!((v.major, v.minor, v.patch), want, "{file}");
            assert_eq!(v.gitid.as_deref(), gitid, "{file}");
        }
        let headers = realdata_text("criu_version/version/dump-log-header-lines.txt");
        let parsed: Vec<_> = headers
            .lines()
            .map(|l| criu::parse_version(l).unwrap())
            .collect();
        let nums: Vec<_> = parsed.iter().map(|v| (v.major, v.minor, v.patch)).collect();
        assert_eq!(nums, vec![(3, 15, 0), (3, 13, 0), (3, 17, 1), (3, 17, 0)]);
        let ids: Vec<_> = parsed.iter().map(|v| v.gitid.as_deref()).collect();
        assert_eq!(
            ids,
            vec![Some("v3.14-348-gb98bbda8e"), None, None, Some("496bcdb")]
        );
        assert_eq!(parsed[2].to_string(), "3.17.1");
        assert!(criu::parse_version("criu: command not found").is_none());
        assert!(criu::parse_version("Version: x.y").is_none());
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn every_check_file() {
        for (file, want, errors) in [
            ("looks-good_stale-kdat.txt", Verdict::Good, 0),
            ("looks-good_after-errors_first-run.txt", Verdict::Good, 2),
            (
                "check-all_looks-good-but-missing.txt",
                Verdict::MissingFeatures,
                1,
            ),
            (
                "check-all_arm64_v3.18_looks-good-but-missing.txt",
                Verdict::MissingFeatures,
                0,
            ),
            (
                "check-all_x86_v3.18_looks-good_sudo-noise.txt",
                Verdict::Good,
                0,
            ),
            ("legacy-1.x_check-ms_no-verdict.txt", Verdict::None, 5),
        ] {
            let r = criu::parse_check(&realdata_text(&format!("criu_version/check/{file}")));
            assert_eq!((r.verdict, r.errors.len()), (want, errors), "{file}");
        }
        let r = criu::parse_check(&realdata_text(
            "criu_version/check/check-all_arm64_v3.18_looks-good-but-missing.txt",
        ));
        assert_eq!(r.warnings.len(), 4);
    }
}

mod buildkit {
    use crate::common::realdata_text;
    use container_doctor::parse::buildkit::{self, DiskSpace, GcConfig};
    use std::time::Duration;

    fn toml(file: &str) -> (Option<String>, Vec<GcConfig>) {
        buildkit::buildkitd_toml(&realdata_text(&format!("buildkit/{file}"))).unwrap()
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn new_style_toml() {
        let (root, workers) = toml("buildkitd.toml.docs-new-gc-style.toml");
        assert_eq!(root.as_deref(), Some("/var/lib/buildkit"));
        assert_eq!(workers.len(), 2);
        let oci = &workers[0];
        assert_eq!(oci.scope, "worker.oci");
        assert_eq!(oci.default.reserved, Some(DiskSpace::Percent(30)));
        assert_eq!(oci.default.max_used, Some(DiskSpace::Percent(60)));
        assert_eq!(oci.default.min_free, Some(DiskSpace::Bytes(20 << 30)));
        assert_eq!(oci.rules.len(), 2);
        let r0 = &oci.rules[0];
        assert_eq!(r0.reserved, Some(DiskSpace::Bytes(512 << 20)));
        assert_eq!(r0.max_used, Some(DiskSpace::Bytes(1 << 30)));
        assert_eq!(r0.min_free, Some(DiskSpace::Bytes(10 << 30)));
        assert_eq!(r0.keep_duration, Some(Duration::from_secs(48 * 3600)));
        assert_eq!(r0.filters.len(), 3);
        assert!(oci.rules[1].all && oci.rules[1].is_ceiling());
        assert_eq!(oci.rules[1].reserved, Some(DiskSpace::Bytes(1_024_000_000)));
        let containerd = &workers[1];
        assert_eq!(
            containerd.rules[0].keep_duration,
            Some(Duration::from_secs(172_800))
        );
        assert_eq!(
            containerd.rules[0].reserved,
            Some(DiskSpace::Bytes(512_000_000))
        );
        assert!(oci.deprecated.is_empty() && containerd.deprecated.is_empty());
        // Ceiling: rule #1, reservedSpace 1024000000 alone → prune down to it.
        assert_eq!(
            oci.rules[1].keep_bytes(500 << 30, 100 << 30, 700 << 30),
            Some(1_024_000_000)
        );
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn old_style_toml_and_snippets() {
        let (_, workers) = toml("buildkitd.toml.docs-old-keepBytes-style.toml");
        let oci = &workers[0];
        assert_eq!(oci.default.reserved, Some(DiskSpace::Bytes(9000)));
        assert_eq!(oci.rules[0].reserved, Some(DiskSpace::Bytes(512 << 20)));
        let renamed: Vec<(&str, &str)> = oci
            .deprecated
            .iter()
            .map(|(_, o, n)| (o.as_str(), n.as_str()))
            .collect();
        assert_eq!(
            renamed,
            vec![
                ("gckeepstorage", "reservedSpace"),
                ("keepBytes", "reservedSpace"),
                ("keepBytes", "reservedSpace")
            ]
        );
        // The second rule, `all = true` with keepBytes alone, is the ceiling.
        assert!(!oci.rules[0].is_ceiling() && oci.rules[1].is_ceiling() && oci.rules[1].all);
        assert_eq!(oci.rules[1].reserved, Some(DiskSpace::Bytes(1_024_000_000)));
        assert_eq!(workers[1].default.reserved, Some(DiskSpace::Bytes(9000)));
        assert_eq!(
            workers[1].rules[0].keep_duration,
            Some(Duration::from_secs(172_800))
        );

        let (_, w) = toml("pr-602_gcpolicy-snippet.toml");
        assert_eq!(w[0].scope, "worker.containerd");
        assert_eq!(w[0].rules[0].reserved, Some(DiskSpace::Bytes(10)));
        assert_eq!(w[0].rules[0].keep_duration, Some(Duration::from_secs(3600)));
        assert!(w[0].rules[1].all);
        assert_eq!(
            w[0].rules[1].keep_duration,
            Some(Duration::from_secs(86400))
        );

        let (_, w) = toml("kbve-13573_gcpolicy-two-tier.toml");
        assert_eq!(w[0].rules.len(), 2);
        assert!(!w[0].rules[0].is_ceiling() && w[0].rules[1].is_ceiling());
        assert_eq!(w[0].rules[1].reserved, Some(DiskSpace::Bytes(120 << 30)));
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn daemon_json_builder_gc() {
        let gc = buildkit::daemon_json_builder(&realdata_text(
            "buildkit/moby-37846_daemon.json_builder-gc.json",
        ))
        .unwrap()
        .unwrap();
        assert!(gc.enabled);
        assert_eq!(gc.rules.len(), 2);
        assert_eq!(gc.rules[0].filters, vec!["unused-for=1400h"]);
        assert_eq!(gc.rules[0].reserved, Some(DiskSpace::Bytes(512 << 20)));
        assert!(gc.rules[1].all && gc.rules[1].is_ceiling());
        assert_eq!(gc.rules[1].reserved, Some(DiskSpace::Bytes(30 << 30)));
        assert_eq!(gc.deprecated.len(), 2);
        assert_eq!(buildkit::daemon_json_builder("{}").unwrap(), None);
        assert!(buildkit::daemon_json_builder("{not json").is_err());
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn du_outputs() {
        let v = buildkit::du_verbose(&realdata_text(
            "buildkit/issue-1385_buildctl-du-v_reclaimable-excerpt.txt",
        ));
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].kind.as_str(), v[0].size, v[0].reclaimable),
            ("regular", 172_820_000, true)
        );
        assert_eq!(
            (v[1].kind.as_str(), v[1].size),
            ("source.local", 102_560_000)
        );
        let pretty = realdata_text("buildkit/buildx-du_docs_format-pretty.txt");
        let p = buildkit::du_verbose(&pretty);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].size, p[0].shared, p[0].kind.as_str()),
            (1_653_000_000, true, "regular")
        );
        assert_eq!(buildkit::du_total(&pretty), Some(133_500_000_000));

        let table = realdata_text("buildkit/buildx-du_docs_default.txt");
        let t = buildkit::du_table(&table);
        assert_eq!(t.len(), 11);
        assert_eq!(
            (t[0].id.as_str(), t[0].size),
            ("12wgll9os87pazzft8lt0yztp", 1_704_000_000)
        );
        assert!(t[7].shared && !t[0].shared);
        assert_eq!(buildkit::du_total(&table), Some(10_360_000_000));
        let b = realdata_text("buildkit/buildx-du_docs_builder.txt");
        assert_eq!(buildkit::du_table(&b).len(), 17);
        assert_eq!(buildkit::du_total(&b), Some(2_627_000_000));
        let old = realdata_text("buildkit/pr-49_buildctl-du_2017-table.txt");
        let o = buildkit::du_table(&old);
        assert_eq!(o.len(), 2);
        assert!(!o[0].reclaimable && o[1].reclaimable);
        assert_eq!(buildkit::du_total(&old), Some(1_179_000_000));
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn default_policy_printed_by_buildctl_debug_workers() {
        // `buildctl debug workers -v` prints the default rules: its sizes are HumanSize (decimal),
        // its durations seconds; they match the defaults BuildKit documents.
        let text = realdata_text("buildkit/pr-602_buildctl-debug-workers-v_default-gc-policy.txt");
        let keep: Vec<i64> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Keep Bytes:"))
            .filter_map(container_doctor::units::human_size)
            .collect();
        assert_eq!(
            keep,
            vec![512_000_000, 3_000_000_000, 3_000_000_000, 3_000_000_000]
        );
        let durations: Vec<Duration> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Keep Duration:"))
            .map(|d| buildkit::duration(d).unwrap())
            .collect();
        assert_eq!(
            durations,
            vec![
                Duration::from_secs(48 * 3600),
                Duration::from_secs(60 * 86400)
            ]
        );
    }
}

mod dockerfiles {
    use crate::common::realdata_text;
    use container_doctor::parse::dockerfile;

    /// The two excerpts list original line numbers (`13:FROM …`); they are put back at those lines.
    /// What the excerpt left out is bridged: a continuation whose next lines are missing is closed
    /// with a bare word, a heredoc whose body is missing gets its terminator, and a `--mount`
    /// continuation whose RUN line is missing gets `RUN` in front.
    pub fn from_excerpt(text: &str) -> String {
        let mut lines: Vec<String> = Vec::new();
        let mut heredoc: Option<String> = None;
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (n, body) = l.split_once(':').unwrap();
            let n: usize = n.parse().unwrap();
            let gap = lines.len() + 1 < n;
            while lines.len() + 1 < n {
                let continued = lines.last().is_some_and(|p| p.trim_end().ends_with('\\'));
                lines.push(match heredoc.take() {
                    Some(marker) => marker,
                    None if continued => "true".into(),
                    None => String::new(),
                });
            }
            heredoc = body
                .split_whitespace()
                .find_map(|w| w.strip_prefix("<<"))
                .map(str::to_string);
            let body = if gap && body.trim_start().starts_with("--mount") {
                format!("RUN {body}")
            } else {
                body.to_string()
            };
            lines.push(body);
        }
        lines.join("\n") + "\n"
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn minimal_5566_repro_and_its_breakage() {
        let df = dockerfile::parse(&realdata_text(
            "dockerfiles/buildkit-issue-5566_minimal-repro.Dockerfile",
        ));
        let names: Vec<_> = df.stages.iter().map(|s| s.name.clone().unwrap()).collect();
        assert_eq!(names, vec!["one", "two", "three", "four"]);
        assert_eq!(df.stages[1].mounts[0].target, "/npm/cache");
        assert_eq!(df.stages[1].mounts[0].id, "/npm/cache");
        assert!(df.parallel(1, 2));
        assert!(!df.parallel(0, 1));
        // `npm install` without a trailing backslash, and `COPY --stage=`: both reported.
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
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn pnpm_example() {
        let df = dockerfile::parse(&realdata_text(
            "dockerfiles/pnpm-docs_example1_prod-deps-and-build.Dockerfile",
        ));
        assert_eq!(df.stages.len(), 4);
        let (prod, build) = (&df.stages[1], &df.stages[2]);
        assert_eq!(
            (prod.mounts[0].id.as_str(), prod.mounts[0].line),
            ("pnpm", 9)
        );
        assert_eq!(
            (
                build.mounts[0].id.as_str(),
                build.mounts[0].sharing.as_str()
            ),
            ("pnpm", "shared")
        );
        assert!(df.parallel(1, 2));
        assert!(df.depends_on(3, 1) && df.depends_on(3, 2) && df.depends_on(3, 0));
        assert!(df.problems.is_empty());
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn buildkit_root_excerpt() {
        let df = dockerfile::parse(&from_excerpt(&realdata_text(
            "dockerfiles/moby-buildkit_root.Dockerfile.excerpt",
        )));
        let stage = |name: &str| {
            df.stages
                .iter()
                .position(|s| s.name.as_deref() == Some(name))
                .unwrap()
        };
        let (buildctl, buildkitd) = (stage("buildctl"), stage("buildkitd"));
        assert_eq!(df.stages[buildctl].line, 97);
        assert!(df.parallel(buildctl, buildkitd));
        let ids: Vec<_> = df.stages[buildctl]
            .mounts
            .iter()
            .map(|m| (m.id.as_str(), m.line))
            .collect();
        assert_eq!(ids, vec![("/root/.cache", 101), ("/go/pkg/mod", 102)]);
        // Heredoc bodies (lines 61, 300, 342 …) are not instructions.
        assert_eq!(df.stages[stage("dlv")].mounts.len(), 2);
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn lint_excerpt_distinct_ids_and_trailing_slash() {
        let df = dockerfile::parse(&from_excerpt(&realdata_text(
            "dockerfiles/moby-buildkit_hack-dockerfiles-lint.Dockerfile.excerpt",
        )));
        let stage = |name: &str| {
            df.stages
                .iter()
                .position(|s| s.name.as_deref() == Some(name))
                .unwrap()
        };
        let ids: Vec<_> = df.stages[stage("golangci-build")]
            .mounts
            .iter()
            .map(|m| m.id.clone())
            .collect();
        // `target=/root/.cache/`: BuildKit's default id is path.Clean(target), the same cache as
        // `/root/.cache` (the corpus note saying otherwise is wrong; convert_runmount.go).
        assert_eq!(
            ids,
            vec!["/go/pkg/mod", "/root/.cache", "/go/pkg/mod", "/root/.cache"]
        );
        for s in ["golangci-lint", "gopls-analyze", "modernize-fix-run"] {
            assert_eq!(
                df.stages[stage(s)].mounts[0].id,
                "lint-cache-${TARGETNAME}-${TARGETPLATFORM}",
                "{s}"
            );
        }
    }

    #[test]
    #[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
    fn apt_examples() {
        let df = dockerfile::parse(&realdata_text(
            "dockerfiles/buildkit-docs_reference_cache-apt-sharing-locked.Dockerfile",
        ));
        assert!(df.stages[0].mounts.iter().all(|m| m.sharing == "locked"));
        // The snippet is one RUN line; it needs a FROM to be a Dockerfile.
        let snippet = realdata_text(
            "dockerfiles/buildkit-issue-1662_apt-cache-no-sharing.Dockerfile-snippet",
        );
        let df = dockerfile::parse(&format!("FROM debian\n{snippet}"));
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
}
