//! CRIU on hosts as they really are, under --root (the binary is not run: the package database
//! names the version): stock distributions must not fail `--fail-on error`; an old CRIU on a
//! kernel it cannot handle must. Hand-written trees reproducing the hosts named in each case.

use crate::common::{Tree, check, status, summary};

/// A tree with a kernel, a cgroup layout, an os-release and a dpkg-installed criu.
fn host(kernel: &str, cgroup_v2: bool, os_id: &str, criu: &str) -> Tree {
    let tree = Tree::new();
    let cgroups = if cgroup_v2 {
        "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
    } else {
        "30 1 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
         31 1 0:27 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
    };
    tree.file("proc/sys/kernel/osrelease", format!("{kernel}\n"))
        .file("proc/sys/kernel/arch", "x86_64\n")
        .file(
            "proc/1/mountinfo",
            format!("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n{cgroups}"),
        )
        .file("etc/os-release", format!("ID={os_id}\n"))
        .file("usr/sbin/criu", "#!/bin/sh\n")
        .file(
            "var/lib/dpkg/status",
            format!("Package: criu\nStatus: install ok installed\nVersion: {criu}\n\n"),
        )
        .file("var/lib/dpkg/info/criu.list", "/usr/sbin/criu\n");
    std::fs::set_permissions(
        tree.path().join("usr/sbin/criu"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    tree
}

#[test]
fn stock_debian_and_ubuntu_do_not_fail() {
    // Debian 12: CRIU 3.17.1-2+deb12u2 on 6.1, cgroup v2 (packages.debian.org; criu#2314 for jammy).
    for (kernel, os, criu) in [
        ("6.1.0-25-amd64", "debian", "3.17.1-2+deb12u2"),
        ("5.15.0-144-generic", "ubuntu", "3.16.1-2"),
        ("6.8.0-45-generic", "ubuntu", "3.17.1-3"),
    ] {
        let (out, report) = host(kernel, true, os, criu).run_json(&["--only", "criu-version"]);
        assert_ne!(
            status(&report, "criu-version"),
            "error",
            "{kernel}: {report}"
        );
        assert_eq!(out.status.code(), Some(0), "{kernel}: {report}");
        // Without criu check (not run under --root), no known problem is not "ok".
        assert!(
            summary(&report, "criu-version").contains("no known problem"),
            "{report}"
        );
    }
}

#[test]
fn an_old_criu_on_a_new_kernel_cannot_start() {
    // Debian 12's CRIU on a 6.13+ kernel (a backports or VM kernel, as on this machine).
    let (out, report) = host("6.13.2-1-amd64", true, "debian", "3.17.1-2+deb12u2")
        .run_json(&["--only", "criu-version"]);
    assert_eq!(status(&report, "criu-version"), "error", "{report}");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        summary(&report, "criu-version").starts_with("CRIU 3.17.1 cannot start on kernel 6.13.2"),
        "{report}"
    );
    let fix = &check(&report, "criu-version")["fixes"][0];
    assert_eq!(fix["id"], "upgrade-criu");
    assert_eq!(fix["title"], "Upgrade CRIU to 4.1 or later");
}

#[test]
fn the_v1_freezer_is_a_warning_at_most() {
    // Ubuntu 22.04 booted hybrid (systemd.unified_cgroup_hierarchy=0) with its CRIU 3.16.1:
    // checkpoints may time out on the v1 freezer (runc#4273), which CRIU 4.1 handles better.
    let (out, report) = host("5.15.0-144-generic", false, "ubuntu", "3.16.1-2")
        .run_json(&["--only", "criu-version"]);
    assert_eq!(status(&report, "criu-version"), "warn", "{report}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "warn does not fail --fail-on error"
    );
    assert!(summary(&report, "criu-version").contains("cgroup v1 freezer"));
}

#[test]
fn debians_backport_of_the_mount_fix_counts() {
    // Kernel 6.16+ with CRIU 4.1.1's mount fix missing: restores fail (criu#2694); Debian's
    // 3.17.1-2+deb12u2 carries the fix (Debian #1110096), +deb12u1 does not.
    let ids = |criu: &str| {
        let (_, report) =
            host("6.16.3-1-amd64", true, "debian", criu).run_json(&["--only", "criu-version"]);
        check(&report, "criu-version")["evidence"].to_string()
    };
    assert!(ids("3.17.1-2+deb12u1").contains("known problem do-change-type"));
    assert!(!ids("3.17.1-2+deb12u2").contains("known problem do-change-type"));
}
