//! The binary with `--root` over small trees made from the fixtures (and, as corpus tests, from
//! the real-world files they reproduce), and over bad input.

use crate::common::{Tree, check, doctor, fixtures, realdata_text, status, summary};

/// A /proc/PID/stat line in the kernel's format.
fn stat(pid: u32, comm: &str, state: char, ppid: u32, start_ticks: u64) -> String {
    format!(
        "{pid} ({comm}) {state} {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 {start_ticks} \
         0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
}

/// tmp-tmpfs over each mount table: (name, mountinfo, status, words of the summary).
fn tmp_verdicts(cases: Vec<(String, String, &str, &str)>) {
    for (file, text, want, says) in cases {
        let tree = Tree::new();
        tree.file("proc/1/mountinfo", text);
        let (out, report) = tree.run_json(&["--only", "tmp-tmpfs"]);
        assert_eq!(status(&report, "tmp-tmpfs"), want, "{file}: {report}");
        assert!(
            summary(&report, "tmp-tmpfs").contains(says),
            "{file}: {}",
            summary(&report, "tmp-tmpfs")
        );
        // Warnings do not fail the default --fail-on error.
        assert_eq!(out.status.code(), Some(0), "{file}");
        if want == "warn" {
            let fixes = check(&report, "tmp-tmpfs")["fixes"].as_array().unwrap();
            assert!(fixes.iter().any(|f| f["id"] == "tmp-fstab"), "{file}");
        }
    }
}

#[test]
fn tmp_verdicts_from_every_fixture_mount_table() {
    tmp_verdicts(
        fixtures::mount_tables()
            .into_iter()
            .map(|(name, text, [want, says, ..])| (name.to_string(), text, want, says))
            .collect(),
    );
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn tmp_verdicts_from_every_real_mountinfo() {
    let cases = [
        (
            "util-linux_column_mountinfo.txt",
            "ok",
            "/tmp is tmpfs (tmpfs, its own mount)",
        ),
        (
            "moby-sys_gentooMountinfo.txt",
            "ok",
            "/tmp is tmpfs (tmpfs, its own mount)",
        ),
        (
            "systemd_rhbug-1554943.mountinfo",
            "warn",
            "/tmp is on ext4 (/dev/sdc1, its own mount)",
        ),
        (
            "util-linux_libmount_mountinfo.txt",
            "warn",
            "/tmp is on ext3 (/dev/sda4, part of the mount at /)",
        ),
        (
            "util-linux_libmount_mountinfo_nosrc.txt",
            "warn",
            "/tmp is on ext3 (/dev/sda4, part of the mount at /)",
        ),
        ("runc_cgroup2Mountinfo.txt", "warn", "/tmp is on ext4"),
        (
            "jenkins_rhel_host_cgroupv2.mountinfo",
            "warn",
            "/tmp is on xfs",
        ),
        (
            "pre-commit_docker_cgroupv1_container.mountinfo",
            "warn",
            "/tmp is on overlay (overlay, part of the mount at /)",
        ),
        (
            "pre-commit_podman_rootless_cgroupv1_container.mountinfo",
            "warn",
            "/tmp is on overlay",
        ),
        (
            "moby-sys_mountInfoWithSpaces.txt",
            "unknown",
            "the mount table has no line for /",
        ),
        (
            "systemd_garbled.mountinfo",
            "unknown",
            "the mount table has no line for /",
        ),
    ];
    tmp_verdicts(
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
fn tmp_prefers_the_systemd_unit_when_systemd_runs_the_host() {
    let tree = Tree::new();
    tree.file("proc/1/mountinfo", fixtures::host_v2_xfs())
        .file("usr/lib/systemd/system/tmp.mount", "[Mount]\nWhat=tmpfs\n")
        .file("run/systemd/system/.keep", "");
    let (_, report) = tree.run_json(&["--only", "tmp-tmpfs"]);
    // Mount now first, then make it last: the systemd unit where systemd runs the host.
    assert_eq!(
        check(&report, "tmp-tmpfs")["fixes"][0]["id"],
        "tmp-mount-now"
    );
    let fix = &check(&report, "tmp-tmpfs")["fixes"][1];
    assert_eq!(fix["id"], "tmp-mount-unit");
    assert_eq!(
        fix["steps"][0]["argv"],
        serde_json::json!(["systemctl", "enable", "tmp.mount"])
    );
}

/// kernel-version and pidfd under --root for one release string given as `kind`
/// (uname_r, uname_a, proc_version).
fn kernel_verdict(kind: &str, string: &str, release: &str, (major, minor): (u32, u32), want: &str) {
    let tree = Tree::new();
    match kind {
        // A /proc/version line alone: the check must find the release inside it.
        "proc_version" => tree.file("proc/version", format!("{string}\n")),
        _ => tree.file("proc/sys/kernel/osrelease", format!("{release}\n")),
    };
    let (_, report) = tree.run_json(&["--only", "kernel-version,pidfd"]);
    assert_eq!(
        status(&report, "kernel-version"),
        want,
        "{string}: {report}"
    );
    let s = summary(&report, "kernel-version");
    assert!(
        s.starts_with(&format!("Linux {major}.{minor}.")),
        "{string}: {s}"
    );
    // pidfd cannot be probed under --root: it is inferred, and says so.
    let p = summary(&report, "pidfd");
    assert!(
        p.starts_with("inferred from kernel") && p.ends_with("not probed"),
        "{p}"
    );
    let want_pidfd = if (major, minor) >= (5, 4) {
        "ok"
    } else {
        "warn"
    };
    assert_eq!(status(&report, "pidfd"), want_pidfd, "{string}");
}

#[test]
fn kernel_version_for_every_fixture_release_string() {
    for &(kind, string, release, major, minor, want) in fixtures::KERNEL_RELEASES {
        kernel_verdict(kind, string, release, (major, minor), want);
    }
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository)"]
fn kernel_version_for_every_real_release_string() {
    let tsv = realdata_text("proc_version/kernel_versions.tsv");
    for line in tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        let (major, minor): (u32, u32) = (f[3].parse().unwrap(), f[4].parse().unwrap());
        // error below 3.10 or on WSL1, warn below 5.3 (no pidfds)
        let wsl1 = f.get(8).is_some_and(|n| n.starts_with("WSL1"));
        let want = if wsl1 || (major, minor) < (3, 10) {
            "error"
        } else if (major, minor) < (5, 3) {
            "warn"
        } else {
            "ok"
        };
        kernel_verdict(f[0], f[1], f[2], (major, minor), want);
    }
}

#[test]
fn kernel_version_states_the_debian_upstream_version() {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.1.0-25-amd64\n").file(
        "proc/version",
        "Linux version 6.1.0-25-amd64 (debian-kernel@lists.debian.org) (x86_64-linux-gnu-gcc-12 (Debian 12.2.0-14) \
         12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.106-3 (2024-08-26)\n",
    );
    let (_, report) = tree.run_json(&["--only", "kernel-version"]);
    assert!(
        summary(&report, "kernel-version").starts_with("Linux 6.1.0 (amd64, upstream 6.1.106)")
    );
}

#[test]
fn zombies_left_to_pid_1_in_a_tree() {
    let tree = Tree::new();
    tree.file("proc/uptime", "1000.00 1800.00\n")
        .file("proc/1/stat", stat(1, "bash", 'S', 0, 100))
        .file("proc/7/stat", stat(7, "make", 'S', 1, 50_000))
        .file("proc/8/stat", stat(8, "sleep", 'Z', 1, 2_000))
        .file("proc/9/stat", stat(9, "sh) Z 1 (x", 'Z', 1, 90_000))
        .file("proc/10/stat", stat(10, "cc1", 'Z', 7, 99_900))
        .file("proc/11/stat", "garbage")
        .file("proc/self/stat", "not a pid directory");
    let (_, report) = tree.run_json(&["--only", "zombies", "--fail-on", "warn"]);
    assert_eq!(status(&report, "zombies"), "warn");
    // The tree is seen twice (the files do not change): the same zombies are still there.
    assert_eq!(
        summary(&report, "zombies"),
        "2 zombies left to PID 1 (bash), not reaped after 300 ms"
    );
    let ev = check(&report, "zombies")["evidence"].to_string();
    // The zombie of `make` is listed as its own; the unreadable process is counted.
    assert!(
        ev.contains("pid 8 (sleep) zombie, still there after 300 ms"),
        "{ev}"
    );
    assert!(ev.contains("pid 9 (sh) Z 1 (x) zombie"), "{ev}");
    assert!(
        ev.contains("pid 10 (cc1) zombie, still there after 300 ms; parent 7 (make)"),
        "{ev}"
    );
    assert!(ev.contains("1 could not be read"), "{ev}");
    assert_eq!(report["failed"], true);
}

#[test]
fn zombies_of_other_parents_and_of_a_containers_init() {
    // A zombie of dockerd (not an init) waits for its parent: its age cannot be known (its start
    // time says when it was born, not when it died), so that is no finding.
    let tree = Tree::new();
    tree.file("proc/1/stat", stat(1, "systemd", 'S', 0, 1))
        .file("proc/40/stat", stat(40, "dockerd", 'S', 1, 500))
        .file("proc/40/status", "Name:\tdockerd\nNSpid:\t40\n")
        .file("proc/41/stat", stat(41, "runc", 'Z', 40, 600));
    let (_, report) = tree.run_json(&["--only", "zombies"]);
    assert_eq!(status(&report, "zombies"), "ok");
    assert_eq!(
        summary(&report, "zombies"),
        "1 zombie waiting for its parent (not inits), PID 1 is systemd"
    );
    assert!(
        check(&report, "zombies")["evidence"]
            .to_string()
            .contains("parent 40 (dockerd)")
    );

    // The parent is PID 1 of its own PID namespace (NSpid ends in 1): a container's init, as
    // `docker top` shows a container started without --init (runc#4163's flake).
    tree.file("proc/40/stat", stat(40, "node", 'S', 1, 500))
        .file("proc/40/status", "Name:\tnode\nNSpid:\t40\t1\n");
    let (_, report) = tree.run_json(&["--only", "zombies"]);
    assert_eq!(status(&report, "zombies"), "warn");
    assert_eq!(
        summary(&report, "zombies"),
        "1 zombie left to the container init node (pid 40), not reaped after 300 ms"
    );

    tree.file("proc/41/stat", stat(41, "runc", 'S', 40, 99_500));
    let (_, report) = tree.run_json(&["--only", "zombies"]);
    assert_eq!(
        summary(&report, "zombies"),
        "no zombie processes; PID 1 is systemd"
    );
}

#[test]
fn an_empty_root_gives_unknown_with_reasons_not_guesses() {
    let tree = Tree::new();
    let (out, report) = tree.run_json(&[]);
    assert_eq!(out.status.code(), Some(0));
    for c in report["checks"].as_array().unwrap() {
        // Nothing installed under an empty root (no criu, no container runtime, no BuildKit, no
        // Dockerfile given): those checks are skipped; the rest cannot tell.
        let skipped = [
            "criu-version",
            "runtime-versions",
            "buildkit-usage",
            "dockerfile-cache-mounts",
        ];
        let want = if skipped.iter().any(|id| c["id"] == *id) {
            "skipped"
        } else {
            "unknown"
        };
        assert_eq!(c["status"], want, "{c}");
        assert!(c["summary"].as_str().unwrap().len() > 10, "{c}");
    }
    assert_eq!(
        report["totals"]["unknown"],
        container_doctor::checks::ALL.len() - 4
    );
    assert!(summary(&report, "kernel-version").contains("not found"));
    let (out, _) = tree.run_json(&["--fail-on", "unknown"]);
    assert_eq!(out.status.code(), Some(1));
    let (out, _) = tree.run_json(&["--fail-on", "never"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn garbled_binary_and_huge_files_are_unknown_with_the_reason() {
    let tree = Tree::new();
    tree.file(
        "proc/sys/kernel/osrelease",
        [0u8, 159, 146, 150, 0xff, b'\n'],
    )
    .file("proc/version", b"\x7fELF\x02\x01\x01\0\0\0")
    .file("proc/1/mountinfo", vec![b'7'; 17 << 20]);
    let (out, report) = tree.run_json(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(status(&report, "kernel-version"), "unknown");
    assert!(
        summary(&report, "kernel-version").contains("cannot parse"),
        "{report}"
    );
    assert_eq!(status(&report, "tmp-tmpfs"), "unknown");
    assert!(
        summary(&report, "tmp-tmpfs").contains("larger than"),
        "{report}"
    );
}

#[test]
fn a_line_over_a_megabyte_does_not_hide_the_rest_of_the_table() {
    let tree = Tree::new();
    let mut text = format!("99 1 0:1 / /{} rw - ext4 /dev/x rw\n", "a".repeat(1 << 20));
    text.push_str(&"x".repeat(2 << 20));
    text.push('\n');
    text.push_str(&fixtures::host_v1_tmpfs());
    tree.file("proc/1/mountinfo", text);
    let (_, report) = tree.run_json(&["--only", "tmp-tmpfs"]);
    assert_eq!(status(&report, "tmp-tmpfs"), "ok", "{report}");
}

#[test]
fn a_fifo_or_a_directory_in_place_of_a_file_neither_hangs_nor_panics() {
    let tree = Tree::new();
    std::fs::create_dir_all(tree.path().join("proc/sys/kernel/osrelease")).unwrap();
    std::fs::create_dir_all(tree.path().join("proc/1")).unwrap();
    let fifo = tree.path().join("proc/version");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::process::Command::new("mkfifo")
        .arg(tree.path().join("proc/1/mountinfo"))
        .status()
        .unwrap();
    let (out, report) = tree.run_json(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(status(&report, "kernel-version"), "unknown");
    assert!(
        summary(&report, "kernel-version").contains("not a regular file"),
        "{report}"
    );
    assert!(
        summary(&report, "tmp-tmpfs").contains("not a regular file"),
        "{report}"
    );
    assert_eq!(status(&report, "zombies"), "unknown", "{report}");
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let out = doctor()
        .args(["--root", "/nonexistent/sysroot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/sysroot: not a directory"));

    let out = doctor()
        .args(["--only", "kernel-version,no-such-check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-check"));

    let out = doctor().args(["--fail-on", "sometimes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fail-on"));

    let out = doctor().args(["--frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frobnicate"));

    let out = doctor().args(["explain", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn ids(report: &serde_json::Value) -> Vec<&str> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

#[test]
fn only_and_skip_select_in_registry_order() {
    let tree = Tree::new();
    let (_, report) = tree.run_json(&["--only", "tmp-tmpfs,kernel-version"]);
    assert_eq!(ids(&report), vec!["kernel-version", "tmp-tmpfs"]);
    // Skip everything else, split over two --skip flags.
    let others: Vec<&str> = container_doctor::checks::ALL
        .iter()
        .map(|c| c.id)
        .filter(|id| !["kernel-version", "tmp-tmpfs"].contains(id))
        .collect();
    let (first, second) = others.split_at(others.len() / 2);
    let (_, report) = tree.run_json(&["--skip", &first.join(","), "--skip", &second.join(",")]);
    assert_eq!(ids(&report), vec!["kernel-version", "tmp-tmpfs"]);
}

#[test]
fn host_summary_under_root() {
    let tree = Tree::new();
    tree.file(
        "etc/os-release",
        "NAME=\"Rocky Linux\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n",
    )
    .file("proc/sys/kernel/hostname", "build-07\n")
    .file("proc/sys/kernel/osrelease", "5.14.0-362.8.1.el9_3.x86_64\n")
    .file("proc/1/environ", b"PATH=/bin\0container=podman\0HOME=/\0");
    let (_, report) = tree.run_json(&[]);
    let h = &report["host"];
    assert_eq!(h["hostname"], "build-07");
    assert_eq!(h["os"], "Rocky Linux 9.3 (Blue Onyx)");
    assert_eq!(h["kernel"], "5.14.0-362.8.1.el9_3.x86_64");
    assert_eq!(h["container"], "podman");
    assert!(h["source"].as_str().unwrap().starts_with("root:"));
}

#[test]
fn absolute_symlinks_resolve_inside_the_root() {
    // A Debian tree whose os-release is the usual absolute link (/etc/os-release ->
    // /usr/lib/os-release, as many images ship it) must read the tree's file, not the reader's.
    let tree = Tree::new();
    tree.file(
        "usr/lib/os-release",
        "ID=alpine\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
    )
    .file("proc/sys/kernel/osrelease", "6.6.32-0-lts\n");
    std::fs::create_dir_all(tree.path().join("etc")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/os-release", tree.path().join("etc/os-release")).unwrap();
    // A link that climbs: ../../../../usr/lib/os-release stops at the root.
    std::os::unix::fs::symlink(
        "../../../../../usr/lib/os-release",
        tree.path().join("etc/climb"),
    )
    .unwrap();
    let (_, report) = tree.run_json(&["--only", "kernel-version"]);
    assert_eq!(report["host"]["os"], "Alpine Linux v3.20", "{report}");
    let host = container_doctor::host::Host::new(Box::new(
        container_doctor::host::Rooted::new(tree.path().to_path_buf()).unwrap(),
    ));
    assert!(host.read_text("/etc/climb").unwrap().contains("ID=alpine"));
    // readlink gives the link itself.
    assert_eq!(
        host.read_link("/etc/os-release").unwrap(),
        "/usr/lib/os-release"
    );
}

#[test]
fn tmp_without_a_root_line_is_unknown_with_the_reason() {
    // A container's mountinfo with neither / nor /tmp (as docker's `--read-only` tables captured
    // from inside a chroot show): /tmp is on the root filesystem, whose type is not listed.
    let tree = Tree::new();
    tree.file(
        "proc/1/mountinfo",
        "600 590 0:60 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n\
         601 590 0:61 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n",
    );
    let (_, report) = tree.run_json(&["--only", "tmp-tmpfs"]);
    assert_eq!(status(&report, "tmp-tmpfs"), "unknown", "{report}");
    assert!(
        summary(&report, "tmp-tmpfs").contains("the mount table has no line for /"),
        "{report}"
    );
    // With the root line, /tmp is judged from it.
    tree.file(
        "proc/1/mountinfo",
        "590 1 0:55 / / rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n\
         600 590 0:60 / /proc rw - proc proc rw\n",
    );
    let (_, report) = tree.run_json(&["--only", "tmp-tmpfs"]);
    assert_eq!(status(&report, "tmp-tmpfs"), "warn", "{report}");
    assert!(summary(&report, "tmp-tmpfs").contains("/tmp is on overlay"));
    // An empty or garbage table says nothing: unknown.
    tree.file("proc/1/mountinfo", "\u{1}\u{2} garbage\n\n");
    let (_, report) = tree.run_json(&["--only", "tmp-tmpfs"]);
    assert_eq!(status(&report, "tmp-tmpfs"), "unknown", "{report}");
}
