//! cgroup-version, cgroup-freezer and criu-version with `--root` over trees built from the fixtures
//! (and, as corpus tests, from the real-world files).

use crate::common::{Tree, check, fixtures, realdata_text, status, summary};

fn stat(pid: u32, comm: &str, state: char) -> String {
    format!(
        "{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 500 \
         0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
}

/// cgroup-version over each mount table: (name, mountinfo, status, how the summary starts).
fn cgroup_verdicts(cases: Vec<(String, String, &str, &str)>) {
    for (file, text, want, says) in cases {
        let tree = Tree::new();
        tree.file("proc/1/mountinfo", text);
        let (_, report) = tree.run_json(&["--only", "cgroup-version"]);
        assert_eq!(status(&report, "cgroup-version"), want, "{file}: {report}");
        assert!(
            summary(&report, "cgroup-version").starts_with(says),
            "{file}: {}",
            summary(&report, "cgroup-version")
        );
        if want == "warn" {
            assert_eq!(
                check(&report, "cgroup-version")["fixes"][0]["id"],
                "cgroup-v2",
                "{file}"
            );
        }
    }
}

#[test]
fn cgroup_version_from_every_fixture_mount_table() {
    cgroup_verdicts(
        fixtures::mount_tables()
            .into_iter()
            .map(|(name, text, [.., want, says])| (name.to_string(), text, want, says))
            .collect(),
    );
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn cgroup_version_from_every_real_mountinfo() {
    let cases = [
        ("util-linux_libmount_mountinfo.txt", "warn", "v1:"),
        (
            "util-linux_column_mountinfo.txt",
            "warn",
            "v1: 11 legacy hierarchies",
        ),
        ("moby-sys_gentooMountinfo.txt", "warn", "v1:"),
        ("runc_cgroup2Mountinfo.txt", "warn", "hybrid:"),
        ("systemd_rhbug-1554943.mountinfo", "warn", "hybrid:"),
        (
            "jenkins_rhel_host_cgroupv2.mountinfo",
            "ok",
            "v2: one unified hierarchy at /sys/fs/cgroup",
        ),
        (
            "pre-commit_docker_cgroupv1_container.mountinfo",
            "warn",
            "v1:",
        ),
        (
            "pre-commit_podman_rootless_cgroupv1_container.mountinfo",
            "warn",
            "v1:",
        ),
        (
            "util-linux_libmount_mountinfo_nosrc.txt",
            "unknown",
            "no cgroup or cgroup2 mounts",
        ),
        (
            "moby-sys_mountInfoWithSpaces.txt",
            "unknown",
            "no cgroup or cgroup2 mounts",
        ),
        (
            "systemd_garbled.mountinfo",
            "unknown",
            "no cgroup or cgroup2 mounts",
        ),
    ];
    cgroup_verdicts(
        cases
            .into_iter()
            .map(|(file, want, says)| {
                (
                    file.to_string(),
                    realdata_text(&format!("mountinfo/{file}")),
                    want,
                    says,
                )
            })
            .collect(),
    );
}

#[test]
fn cgroup_version_cross_checks_proc_cgroup_and_names_the_fix_for_the_distro() {
    let tree = Tree::new();
    tree.file("proc/1/mountinfo", fixtures::host_hybrid_tmp_on_ext4())
        .file("proc/1/cgroup", fixtures::PROC_CGROUP_HYBRID_INIT)
        .file(
            "proc/cgroups",
            fixtures::PROC_CGROUPS_MEMORY_ON_NO_HIERARCHY,
        )
        .file(
            "proc/cmdline",
            "BOOT_IMAGE=/vmlinuz root=/dev/sda1 systemd.unified_cgroup_hierarchy=0 quiet\n",
        )
        .file("etc/os-release", "ID=\"rhel\"\nID_LIKE=\"fedora\"\n");
    let (_, report) = tree.run_json(&["--only", "cgroup-version"]);
    let ev = check(&report, "cgroup-version")["evidence"].to_string();
    assert!(
        ev.contains("agrees (hybrid); own cgroup /init.scope"),
        "{ev}"
    );
    assert!(
        ev.contains("on no v1 hierarchy (v2 or unused): memory"),
        "{ev}"
    );
    assert!(ev.contains("systemd.unified_cgroup_hierarchy=0"), "{ev}");
    let fix = check(&report, "cgroup-version")["fixes"][0].to_string();
    assert!(fix.contains("grubby --update-kernel=ALL"), "{fix}");

    // A v1 mount table with a hybrid /proc/1/cgroup: the disagreement is shown.
    tree.file("proc/1/mountinfo", fixtures::host_v1_tmpfs());
    let (_, report) = tree.run_json(&["--only", "cgroup-version"]);
    let ev = check(&report, "cgroup-version")["evidence"].to_string();
    assert!(ev.contains("says hybrid while the mounts say v1"), "{ev}");
}

/// A v1 host (an OpenRC mount table with the freezer at /sys/fs/cgroup/freezer) with one container cgroup.
fn v1_tree(state: &str, task_state: char) -> Tree {
    let id = "a2ffe0e97ac22657a2a023ad628e9df837c38a03b1ebc904d3f6d644eb1a1a81";
    let cg = format!("sys/fs/cgroup/freezer/docker/{id}");
    let tree = Tree::new();
    tree.file("proc/1/mountinfo", fixtures::host_openrc_v1())
        .file("proc/sys/kernel/osrelease", "5.10.0-28-cloud-amd64\n")
        .file("sys/fs/cgroup/freezer/freezer.self_freezing", "0\n")
        .file("sys/fs/cgroup/freezer/docker/freezer.state", "THAWED\n")
        .file("sys/fs/cgroup/freezer/docker/freezer.self_freezing", "0\n")
        .file(&format!("{cg}/freezer.state"), state)
        .file(&format!("{cg}/freezer.self_freezing"), "1\n")
        .file(&format!("{cg}/cgroup.procs"), "4242\n4243\n")
        .file("proc/4242/stat", stat(4242, "java", task_state))
        .file("proc/4242/wchan", "fuse_wait_answer")
        .file(
            "proc/4242/stack",
            "[<0>] fuse_wait_answer+0x3c/0x80\n[<0>] fuse_simple_request+0x17c/0x2a0\n",
        )
        .file("proc/4243/stat", stat(4243, "sh", 'S'));
    tree
}

#[test]
fn freezer_v1_stuck_freezing_names_the_d_state_task_and_the_container() {
    let tree = v1_tree(fixtures::FREEZER_FREEZING, 'D');
    let (out, report) = tree.run_json(&["--only", "cgroup-freezer"]);
    assert_eq!(status(&report, "cgroup-freezer"), "error", "{report}");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        summary(&report, "cgroup-freezer"),
        "1 cgroup stuck FREEZING: checkpoints and pauses there hang"
    );
    let ev = check(&report, "cgroup-freezer")["evidence"].to_string();
    assert!(
        ev.contains("FREEZING (stuck), docker container a2ffe0e97ac2; 2 tasks"),
        "{ev}"
    );
    assert!(ev.contains("pid 4242 (java) state D, waiting in fuse_wait_answer, stack fuse_wait_answer+0x3c/0x80 < fuse_simple_request+0x17c/0x2a0"), "{ev}");
    // A Docker container's cgroup is thawed through Docker, never behind its back (#16).
    let fix = &check(&report, "cgroup-freezer")["fixes"][0];
    assert_eq!(fix["steps"][0]["kind"], "exec", "{fix}");
    let argv = fix["steps"][0]["argv"].to_string();
    assert!(
        argv.contains("unpause") && argv.contains("a2ffe0e97ac2"),
        "{argv}"
    );
}

#[test]
fn freezer_v1_frozen_is_a_warning_and_thawed_is_fine() {
    let tree = v1_tree(fixtures::FREEZER_FROZEN, 'S');
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer"]);
    assert_eq!(status(&report, "cgroup-freezer"), "warn", "{report}");
    assert!(summary(&report, "cgroup-freezer").starts_with("1 cgroup left FROZEN"));

    let tree = v1_tree(fixtures::FREEZER_THAWED, 'S');
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer"]);
    assert_eq!(status(&report, "cgroup-freezer"), "ok", "{report}");
    assert_eq!(
        summary(&report, "cgroup-freezer"),
        "freezer v1 at /sys/fs/cgroup/freezer; 3 cgroups walked, none frozen"
    );
}

#[test]
fn freezer_v2_freeze_requested_but_never_frozen() {
    let scope = "sys/fs/cgroup/ECSTaskad2893519dc5418b9d3f32367b701155.slice/docker-6e511f9bc7a5f685ca8afec96d3978312d6f6184c5f50f3c5ee9bf7ece86d672.scope";
    let tree = Tree::new();
    tree.file("proc/1/mountinfo", fixtures::host_v2_xfs())
        .file(
            "proc/sys/kernel/osrelease",
            "5.14.0-284.11.1.el9_2.x86_64\n",
        )
        .file(
            "sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory pids\n",
        )
        .file(&format!("{scope}/cgroup.freeze"), "1\n")
        .file(
            &format!("{scope}/cgroup.events"),
            fixtures::CGROUP_EVENTS_POPULATED,
        )
        .file(&format!("{scope}/cgroup.procs"), "")
        .file("sys/fs/cgroup/user.slice/cgroup.freeze", "0\n");
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer,cgroup-version"]);
    assert_eq!(status(&report, "cgroup-version"), "ok");
    assert_eq!(status(&report, "cgroup-freezer"), "error", "{report}");
    let ev = check(&report, "cgroup-freezer")["evidence"].to_string();
    assert!(
        ev.contains("docker container 6e511f9bc7a5; 0 tasks"),
        "{ev}"
    );
    // A Docker container's cgroup is unfrozen through Docker, never behind its back (#16).
    let fix = &check(&report, "cgroup-freezer")["fixes"][0];
    assert_eq!(fix["steps"][0]["kind"], "exec", "{fix}");
    assert!(
        fix["steps"][0]["argv"].to_string().contains("unpause"),
        "{fix}"
    );

    // Frozen for real: a warning.
    tree.file(&format!("{scope}/cgroup.events"), "populated 1\nfrozen 1\n");
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer"]);
    assert_eq!(status(&report, "cgroup-freezer"), "warn", "{report}");

    // cgroup.freeze needs 5.2: on an older kernel there is no v2 freezer to walk.
    tree.file("proc/sys/kernel/osrelease", "4.18.0-305.el8.x86_64\n");
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer"]);
    assert_eq!(status(&report, "cgroup-freezer"), "warn", "{report}");
    assert!(
        summary(&report, "cgroup-freezer").starts_with("no freezer"),
        "{report}"
    );
}

#[test]
fn freezer_active_probe_is_not_possible_under_root() {
    let tree = v1_tree(fixtures::FREEZER_THAWED, 'S');
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer", "--active"]);
    assert_eq!(status(&report, "cgroup-freezer"), "unknown", "{report}");
    assert!(
        check(&report, "cgroup-freezer")["evidence"]
            .to_string()
            .contains("not available under --root")
    );
}

#[test]
fn freezer_walk_survives_thousands_of_cgroups_and_garbage() {
    let tree = v1_tree(fixtures::FREEZER_THAWED, 'S');
    for i in 0..3000 {
        tree.file(
            &format!("sys/fs/cgroup/freezer/many/cg{i}/freezer.state"),
            if i % 7 == 0 {
                "\u{0}garbage"
            } else {
                "THAWED\n"
            },
        );
    }
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer"]);
    assert_eq!(status(&report, "cgroup-freezer"), "ok", "{report}");
    assert!(
        summary(&report, "cgroup-freezer").contains("3004 cgroups walked"),
        "{report}"
    );
}

#[test]
fn criu_under_root_is_found_but_not_run() {
    let tree = Tree::new();
    let (_, report) = tree.run_json(&["--only", "criu-version"]);
    assert_eq!(status(&report, "criu-version"), "skipped");
    let (out, report) = tree.run_json(&["--only", "criu-version", "--require", "criu"]);
    assert_eq!(status(&report, "criu-version"), "error");
    assert_eq!(out.status.code(), Some(1));

    tree.file("usr/sbin/criu", "#!/bin/sh\necho Version: 3.17.1\n");
    std::fs::set_permissions(
        tree.path().join("usr/sbin/criu"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (_, report) = tree.run_json(&["--only", "criu-version"]);
    assert_eq!(status(&report, "criu-version"), "unknown", "{report}");
    assert!(
        summary(&report, "criu-version").contains("found /usr/sbin/criu, but"),
        "{report}"
    );

    // Its package names the version: Debian 12's CRIU on a 6.18 kernel cannot start, as live.
    tree.file(
        "proc/sys/kernel/osrelease",
        "6.18.44-fc-v657
",
    );
    tree.file(
        "var/lib/dpkg/status",
        "Package: criu\nStatus: install ok installed\nArchitecture: amd64\n\
         Version: 3.17.1-2+deb12u2\nDescription: checkpoint and restore in userspace\n\n",
    );
    tree.file(
        "var/lib/dpkg/info/criu.list",
        "/.\n/usr\n/usr/sbin\n/usr/sbin/criu\n",
    );
    let (out, report) = tree.run_json(&["--only", "criu-version"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(status(&report, "criu-version"), "error", "{report}");
    assert!(
        summary(&report, "criu-version").starts_with("CRIU 3.17.1 cannot start on kernel 6.18.44"),
        "{report}"
    );
    let evidence = check(&report, "criu-version")["evidence"].to_string();
    assert!(evidence.contains("Version: 3.17.1-2+deb12u2"), "{evidence}");
    assert!(
        evidence.contains("not available under --root"),
        "{evidence}"
    );

    // 4.1 starts on 6.13+, but cannot dump sockets on 6.16+ (criu#2705): still an error here.
    tree.file(
        "var/lib/dpkg/status",
        "Package: criu\nStatus: install ok installed\nVersion: 4.1-1~bpo12+1\n",
    );
    let (_, report) = tree.run_json(&["--only", "criu-version"]);
    assert_eq!(status(&report, "criu-version"), "error", "{report}");
    assert!(
        summary(&report, "criu-version")
            .starts_with("CRIU 4.1 cannot checkpoint processes with network sockets"),
        "{report}"
    );
    // A package without a known problem: the version is fine, and `criu check` is not claimed.
    tree.file(
        "var/lib/dpkg/status",
        "Package: criu\nStatus: install ok installed\nVersion: 4.2-1\n",
    );
    let (_, report) = tree.run_json(&["--only", "criu-version"]);
    assert_eq!(status(&report, "criu-version"), "unknown", "{report}");
    assert_eq!(
        summary(&report, "criu-version"),
        "CRIU 4.2; no known problem with this kernel, but criu check could not be run"
    );

    // A criu the package does not own (built into /usr/local) is not given the package's version.
    std::fs::remove_file(tree.path().join("usr/sbin/criu")).unwrap();
    tree.file("usr/local/sbin/criu", "#!/bin/sh\n");
    std::fs::set_permissions(
        tree.path().join("usr/local/sbin/criu"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (_, report) = tree.run_json(&["--only", "criu-version"]);
    assert_eq!(status(&report, "criu-version"), "unknown", "{report}");

    // Alpine: apk's database owns the file.
    tree.file(
        "lib/apk/db/installed",
        "C:Q1x=\nP:criu\nV:3.19-r2\nA:x86_64\nF:usr\nF:usr/local/sbin\nR:criu\n\n",
    );
    let (_, report) = tree.run_json(&["--only", "criu-version"]);
    assert_eq!(status(&report, "criu-version"), "error", "{report}");
    assert!(summary(&report, "criu-version").starts_with("CRIU 3.19 cannot start"));
}

/// Issue #15 item 1: a tree with a mount table but no /sys (a k8s node's /proc copied for a bug
/// report) cannot say "none frozen"; nor can a cgroup2 tree whose kernel version is unknown say
/// "no freezer".
#[test]
fn freezer_without_sys_or_kernel_is_unknown() {
    let tree = Tree::new();
    tree.file(
        "proc/1/mountinfo",
        "25 1 0:23 / / rw - ext4 /dev/sda1 rw\n31 25 0:27 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer\n",
    )
    .file("proc/sys/kernel/osrelease", "5.10.0-28-amd64\n");
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer"]);
    assert_eq!(status(&report, "cgroup-freezer"), "unknown", "{report}");
    let s = summary(&report, "cgroup-freezer");
    assert!(
        s.contains("/sys/fs/cgroup/freezer") && !s.contains("walked"),
        "{s}"
    );

    let tree = Tree::new();
    tree.file(
        "proc/1/mountinfo",
        "25 1 0:23 / / rw - ext4 /dev/sda1 rw\n30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n",
    )
    .file("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    let (_, report) = tree.run_json(&["--only", "cgroup-freezer"]);
    assert_eq!(status(&report, "cgroup-freezer"), "unknown", "{report}");
    assert!(
        summary(&report, "cgroup-freezer").contains("kernel version is unknown"),
        "{report}"
    );
}
