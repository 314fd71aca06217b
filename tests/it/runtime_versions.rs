//! runtime-versions over hosts as they are: Debian 12's packages under --root (versions from
//! dpkg, backports honoured), Docker's own repository packages (upstream versions, judged by the
//! ranges), Alpine's apk; and live against a real engine (Debian's docker.io started here),
//! Debian's runc, containerd and CRIU.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::common::dockerd::Dockerd;
use crate::common::{Tree, assert_success, check, doctor, require_root, status, summary};

const ID: &str = "runtime-versions";

/// A Debian-like tree with `files` (path → owning package) installed by dpkg at `packages`
/// (name → version).
fn dpkg_host(os: &str, packages: &[(&str, &str)], files: &[(&str, &str)]) -> Tree {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.1.0-25-amd64\n")
        .file("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
        .file("etc/os-release", os);
    let mut status = String::new();
    for (name, version) in packages {
        status += &format!("Package: {name}\nStatus: install ok installed\nVersion: {version}\n\n");
        let list: String = files
            .iter()
            .filter(|(_, p)| p == name)
            .map(|(f, _)| format!("{f}\n"))
            .collect();
        tree.file(&format!("var/lib/dpkg/info/{name}.list"), list);
    }
    tree.file("var/lib/dpkg/status", status);
    for (path, _) in files {
        tree.file(path, "#!/bin/sh\nexit 1\n");
        std::fs::set_permissions(
            tree.path().join(path.trim_start_matches('/')),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    tree
}

const BOOKWORM: &str =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

/// Debian 12 with its docker.io, containerd and runc as on this machine (their changelogs name
/// the CVEs each security upload fixed).
fn bookworm(runc: &str) -> Tree {
    dpkg_host(
        BOOKWORM,
        &[
            ("docker.io", "20.10.24+dfsg1-1+deb12u1+b6"),
            ("containerd", "1.6.20~ds1-1+deb12u3"),
            ("runc", runc),
        ],
        &[
            ("/usr/sbin/dockerd", "docker.io"),
            ("/usr/bin/containerd", "containerd"),
            ("/usr/sbin/runc", "runc"),
        ],
    )
}

fn table(report: &Value) -> Vec<Vec<String>> {
    check(report, ID)["table"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no table: {report:#}"))
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn row(report: &Value, component: &str) -> Vec<String> {
    table(report)
        .into_iter()
        .find(|r| r[0] == component)
        .unwrap_or_else(|| panic!("no row {component}: {report:#}"))
}

fn evidence(report: &Value) -> String {
    check(report, ID)["evidence"].to_string()
}

#[test]
fn debian_packages_are_warned_never_flatly_failed() {
    let (out, report) = bookworm("1.1.5+ds1-1+deb12u1").run_json(&["--only", ID]);
    assert_eq!(status(&report, ID), "warn", "{report:#}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "warn does not fail --fail-on error"
    );
    let runc = row(&report, "runc");
    assert_eq!(runc[1], "1.1.5+ds1");
    assert!(runc[2].contains("version from the package"), "{runc:?}");
    assert!(runc[2].contains("runc 1.1.5+ds1-1+deb12u1"), "{runc:?}");
    // CVE-2024-21626 is fixed by Debian's +deb12u1; the 2025 advisories may or may not be.
    assert!(
        runc[3].contains("fixed by the distribution: CVE-2024-21626"),
        "{runc:?}"
    );
    assert!(
        runc[3].contains("may be affected by 5 (distribution package, backport unknown"),
        "{runc:?}"
    );
    assert!(runc[3].contains("CVE-2025-31133"), "{runc:?}");
    let ev = evidence(&report);
    assert!(
        ev.contains("known issue CVE-2025-52565 (CVE-2025-52565, GHSA-qw9x-cqr3-wc7r"),
        "{ev}"
    );
    assert!(ev.contains("fixed upstream in 1.2.8"), "{ev}");
    // containerd +deb12u3 carries both 2025 fixes; the RAPL advisory is not in its changelog.
    let containerd = row(&report, "containerd");
    assert!(
        containerd[3].contains("fixed by the distribution: CVE-2024-25621, CVE-2025-64329"),
        "{containerd:?}"
    );
    assert!(
        containerd[3].contains("GHSA-7ww5-4wqc-m92c"),
        "{containerd:?}"
    );
    // docker.io: CVE-2024-41110 fixed in +deb12u1 (+b6 is a rebuild of it); 20.10 is past its end.
    let engine = row(&report, "Docker Engine");
    assert!(engine[3].contains("CVE-2024-41110"), "{engine:?}");
    assert!(engine[3].contains("engine-end-of-life"), "{engine:?}");
    assert!(row(&report, "BuildKit (in Docker Engine)")[3].contains("backport unknown"));
    // Upgrade plans in Debian's words, one per component, referenced by the rows.
    let fixes = &check(&report, ID)["fixes"];
    let runc_fix = fixes
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "upgrade-runc")
        .unwrap_or_else(|| panic!("{fixes:#}"));
    let instruction = runc_fix["steps"][0]["instruction"].as_str().unwrap();
    assert!(
        instruction.starts_with("apt-get update && apt-get install --only-upgrade runc"),
        "{instruction}"
    );
    let rows = &check(&report, ID)["table"]["row_fixes"];
    assert!(rows.to_string().contains("upgrade-runc"), "{rows}");
    assert!(rows.to_string().contains("upgrade-docker-engine"), "{rows}");
}

#[test]
fn a_debian_package_before_its_security_upload_is_affected() {
    // runc 1.1.5+ds1-1 is the package before bookworm-security's +deb12u1 (CVE-2024-21626).
    let (out, report) = bookworm("1.1.5+ds1-1").run_json(&["--only", ID]);
    assert_eq!(status(&report, ID), "error", "{report:#}");
    assert_eq!(out.status.code(), Some(1));
    let ev = evidence(&report);
    assert!(
        ev.contains("the distribution fixed it in package 1.1.5+ds1-1+deb12u1 (upstream 1.1.12), this is 1.1.5+ds1-1"),
        "{ev}"
    );
    assert!(
        summary(&report, ID).contains("runc 1.1.5+ds1: CVE-2024-21626"),
        "{report:#}"
    );
}

#[test]
fn dockers_own_packages_are_judged_as_upstream_builds() {
    // Docker's apt repository on Debian 12: docker-ce 24.0.7, containerd.io 1.6.24 (which also
    // ships runc: its version is containerd's, not runc's).
    let tree = dpkg_host(
        BOOKWORM,
        &[
            ("docker-ce", "5:24.0.7-1~debian.12~bookworm"),
            ("containerd.io", "1.6.24-1"),
        ],
        &[
            ("/usr/bin/dockerd", "docker-ce"),
            ("/usr/bin/containerd", "containerd.io"),
            ("/usr/bin/runc", "containerd.io"),
        ],
    );
    let (out, report) = tree.run_json(&["--only", ID]);
    assert_eq!(status(&report, ID), "error", "{report:#}");
    assert_eq!(out.status.code(), Some(1));
    let engine = row(&report, "Docker Engine");
    assert_eq!(engine[1], "24.0.7");
    assert!(engine[3].contains("CVE-2024-41110"), "{engine:?}");
    assert!(!engine[3].contains("backport"), "{engine:?}");
    // Docker 24.0.7 embeds a BuildKit before the 2024 fixes (24.0.8 vendors them).
    let bk = row(&report, "BuildKit (in Docker Engine)");
    assert!(
        bk[3].contains("buildkit-2024-advisories-in-engine"),
        "{bk:?}"
    );
    assert!(bk[3].contains("fixed upstream in 24.0.8"), "{bk:?}");
    let containerd = row(&report, "containerd");
    assert!(
        containerd[3].contains("GHSA-7ww5-4wqc-m92c"),
        "{containerd:?}"
    );
    assert!(containerd[3].contains("CVE-2024-25621"), "{containerd:?}");
    // runc's version is not known from containerd.io: shown, not guessed.
    let runc = row(&report, "runc");
    assert_eq!(runc[1], "unknown");
    assert!(runc[3].contains("not judged"), "{runc:?}");
    let fixes = check(&report, ID)["fixes"].to_string();
    assert!(
        fixes.contains("apt-get install --only-upgrade docker-ce")
            && fixes.contains("apt-get install --only-upgrade containerd.io"),
        "{fixes}"
    );
    assert!(!fixes.contains("security tracker"), "{fixes}");
}

#[test]
fn alpine_packages_and_a_host_without_a_stack() {
    // Alpine 3.19: runc 1.1.12-r0 owned through apk's database.
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.6.7-0-lts\n")
        .file("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
        .file("etc/os-release", "ID=alpine\nVERSION_ID=3.19.0\n")
        .file("usr/bin/runc", "")
        .file(
            "lib/apk/db/installed",
            "P:runc\nV:1.1.12-r0\nA:x86_64\nF:usr/bin\nR:runc\n\n",
        );
    std::fs::set_permissions(
        tree.path().join("usr/bin/runc"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let (_, report) = tree.run_json(&["--only", ID]);
    assert_eq!(status(&report, ID), "warn", "{report:#}");
    let runc = row(&report, "runc");
    assert_eq!(runc[1], "1.1.12");
    assert!(
        runc[2].starts_with("/lib/apk/db/installed (runc 1.1.12-r0: version from the package)")
    );
    // 1.1.12 has the Leaky Vessels fix upstream, not the later ones.
    assert!(!runc[3].contains("CVE-2024-21626"), "{runc:?}");
    assert!(runc[3].contains("CVE-2024-45310"), "{runc:?}");
    let fixes = check(&report, ID)["fixes"].to_string();
    assert!(fixes.contains("apk upgrade runc"), "{fixes}");

    // Nothing installed: skipped.
    let empty = Tree::new();
    empty
        .file("proc/sys/kernel/osrelease", "6.1.0\n")
        .file("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
    let (out, report) = empty.run_json(&["--only", ID]);
    assert_eq!(status(&report, ID), "skipped", "{report:#}");
    assert_eq!(out.status.code(), Some(0));
}

/// The live stack: a real engine (Debian's docker.io), Debian's runc, containerd and CRIU.
#[test]
fn live_against_a_real_engine_and_debians_packages() {
    if !require_root() {
        return;
    }
    let engine = Dockerd::start();
    // What the engine itself says, through Debian's docker client.
    let said: Value =
        serde_json::from_str(&engine.ok(&["version", "--format", "{{json .Server}}"]))
            .expect("docker version JSON");
    let component = |name: &str| {
        said["Components"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["Name"] == name))
            .and_then(|c| c["Version"].as_str())
            .unwrap_or_else(|| panic!("no {name} in {said}"))
            .to_string()
    };
    let out = doctor()
        .env("DOCKER_HOST", engine.docker_host())
        .args(["--format", "json", "--only", ID])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let engine_row = row(&report, "Docker Engine");
    assert_eq!(engine_row[1], component("Engine"), "{engine_row:?}");
    assert!(
        engine_row[2].starts_with("Engine API GET /version"),
        "{engine_row:?}"
    );
    // The engine's runc is the runc on $PATH: one row, both sources.
    let runc = row(&report, "runc");
    assert_eq!(runc[1], component("runc"));
    assert!(
        runc[2].contains("Engine API GET /version") && runc[2].contains("runc --version"),
        "{runc:?}"
    );
    let containerd = row(&report, "containerd");
    assert_eq!(containerd[1], component("containerd"));
    assert_eq!(row(&report, "docker-init")[1], component("docker-init"));

    // Each Debian package's changelog on this machine decides what is fixed by the distribution.
    let installed = |pkg: &str| {
        let out = std::process::Command::new("dpkg-query")
            .args(["-W", "-f=${Version}", pkg])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let changelog_names = |pkg: &str, cve: &str| {
        let out = std::process::Command::new("zcat")
            .arg(format!("/usr/share/doc/{pkg}/changelog.Debian.gz"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains(cve)
    };
    for (pkg, label, cve) in [
        ("runc", "runc", "CVE-2024-21626"),
        ("docker.io", "Docker Engine", "CVE-2024-41110"),
        ("containerd", "containerd", "CVE-2024-25621"),
    ] {
        let cell = &row(&report, label)[3];
        if changelog_names(pkg, cve) {
            assert!(
                cell.contains(&format!("fixed by the distribution: {cve}")),
                "{pkg} {}: {cell}",
                installed(pkg)
            );
        }
    }
    // CRIU's row says what criu-version's matrix says.
    let criu = row(&report, "CRIU");
    let criu_report: Value = serde_json::from_slice(
        &doctor()
            .args(["--format", "json", "--only", "criu-version"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let matrix = check(&criu_report, "criu-version")["evidence"].to_string();
    for id in ["vvar-vclock", "so-passcred", "do-change-type", "v1-freezer"] {
        assert_eq!(
            criu[3].contains(id),
            matrix.contains(&format!("known problem {id} ")),
            "{id}: {criu:?} vs {matrix}"
        );
    }
    // The kernel is listed as the system reports it.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let kernel = row(&report, "kernel");
    assert!(release.starts_with(&kernel[1]), "{kernel:?} vs {release}");
    // The verdict is the worst row's.
    let worst = if criu[3].contains("vvar-vclock") || criu[3].contains("so-passcred") {
        "error"
    } else {
        "warn"
    };
    assert_eq!(status(&report, ID), worst, "{report:#}");
}

/// Compiles a runc look-alike that prints `version` (an ELF, as the version cache requires).
fn fake_runc(dir: &std::path::Path, version: &str) {
    let src = dir.join("runc.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\nint main(void) {{ puts(\"runc version {version}\\ncommit: v{version}-0-g1234567\\nspec: 1.0.2-dev\"); return 0; }}\n"
        ),
    )
    .unwrap();
    // Built beside it and renamed over it: like a package upgrade, a new inode.
    let tmp = dir.join("runc.new");
    let cc = std::process::Command::new("cc")
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .output()
        .expect("cc (Rust's linker)");
    assert_success(&cc);
    std::fs::rename(&tmp, dir.join("runc")).unwrap();
}

/// Waits until `path` last changed over two seconds ago: only a binary that has settled is
/// remembered (a rewrite within a coarse timestamp would keep its identity).
fn settle(path: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    let changed =
        std::time::UNIX_EPOCH + std::time::Duration::new(m.ctime() as u64, m.ctime_nsec() as u32);
    let settled = changed + std::time::Duration::from_millis(2100);
    while let Ok(left) = settled.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(left);
    }
}

/// `--version` of an unchanged binary is remembered between runs (Go tools take up to 200 ms
/// to print it); a replaced binary, or a cache directory others may write, is asked again.
#[test]
fn versions_are_remembered_only_while_the_binary_is_unchanged() {
    let bin = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("container-doctor");
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    let run_with = |cache: &std::ffi::OsStr| {
        let out = doctor()
            .env("PATH", &path)
            .env("CONTAINER_DOCTOR_CACHE_DIR", cache)
            .args(["--format", "json", "--only", ID])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        row(&report, "runc")
    };
    let run = || run_with(cache_dir.as_os_str());
    let ours = format!("{}/runc --version", bin.path().display());

    fake_runc(bin.path(), "1.1.4");
    settle(&bin.path().join("runc"));
    let first = run();
    assert_eq!(first[1], "1.1.4", "{first:?}");
    assert_eq!(first[2], ours, "asked, not remembered: {first:?}");
    let second = run();
    assert_eq!(second[1], "1.1.4", "{second:?}");
    assert!(
        second[2].starts_with(&format!("{ours} (remembered from ")),
        "{second:?}"
    );
    assert_eq!(second[3], first[3], "the same verdict either way");

    // Switched off: asked every time.
    assert_eq!(run_with("off".as_ref())[2], ours);

    // Upgraded in place of the old one: asked again, and the new answer is what counts.
    fake_runc(bin.path(), "1.1.12");
    let upgraded = run();
    assert_eq!(upgraded[1], "1.1.12", "{upgraded:?}");
    assert_eq!(upgraded[2], ours, "{upgraded:?}");

    // A directory anyone may write could dictate our verdicts: not trusted.
    std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let open = run();
    assert_eq!(open[2], ours, "{open:?}");
    // A script is never remembered: what it prints may depend on what it runs.
    std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(
        bin.path().join("runc"),
        "#!/bin/sh\necho runc version 1.1.13\n",
    )
    .unwrap();
    for _ in 0..2 {
        let script = run();
        assert_eq!(script[1], "1.1.13", "{script:?}");
        assert_eq!(script[2], ours, "{script:?}");
    }
}

/// A binary rewritten in place within the second it was written, on a filesystem that keeps
/// whole seconds (ext2/ext3, and ext4 made with 128-byte inodes, which have no room for the
/// nanosecond fields: Documentation/filesystems/ext4/inodes.rst), keeps its inode, size, mtime
/// and ctime: a version remembered in between would be the old binary's.
#[test]
fn a_rewrite_within_a_coarse_timestamp_is_not_answered_from_memory() {
    if !require_root() {
        return;
    }
    let scene = crate::common::scratch();
    let s = scene.path();
    for (dir, version) in [("v1", "1.1.4"), ("v2", "1.1.5")] {
        std::fs::create_dir(s.join(dir)).unwrap();
        fake_runc(&s.join(dir), version);
    }
    let size = |d: &str| std::fs::metadata(s.join(d).join("runc")).unwrap().len();
    assert_eq!(
        size("v1"),
        size("v2"),
        "the two builds differ only in a digit"
    );
    std::fs::create_dir(s.join("mnt")).unwrap();
    std::fs::File::create(s.join("img"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let mkfs = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-I", "128"])
        .arg(s.join("img"))
        .output()
        .expect("mkfs.ext4 (e2fsprogs)");
    assert!(mkfs.status.success(), "{mkfs:?}");
    // One namespace for the whole scene: the binary is written, asked, rewritten in place and
    // asked again. A rewrite that landed in the next second has another ctime and proves
    // nothing, so the scene is played until one keeps every field the cache compares.
    let script = r#"
set -e
mount -o loop "$S/img" "$S/mnt"
id() { stat -c '%d %i %s %y %z' "$S/mnt/runc"; }
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    cat "$S/v1/runc" > "$S/mnt/runc"; chmod 755 "$S/mnt/runc"
    before=$(id)
    # Exit 1 is findings (runc 1.1.4 has some), not a failure of the scene.
    "$DOCTOR" --timeout 120 --format json --only runtime-versions > "$S/first.json" || true
    cat "$S/v2/runc" > "$S/mnt/runc"
    if [ "$(id)" = "$before" ]; then
        "$DOCTOR" --timeout 120 --format json --only runtime-versions > "$S/second.json" || true
        umount "$S/mnt"
        exit 0
    fi
done
umount "$S/mnt"
exit 3
"#;
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("S", s)
        .env("DOCTOR", crate::common::doctor_path())
        .env("PATH", format!("{}:/usr/bin:/bin", s.join("mnt").display()))
        .env("CONTAINER_DOCTOR_CACHE_DIR", s.join("cache"))
        .env_remove("TMPDIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "no rewrite within one second in 10 tries: {out:?}"
    );
    let read =
        |f: &str| -> Value { serde_json::from_slice(&std::fs::read(s.join(f)).unwrap()).unwrap() };
    assert_eq!(row(&read("first.json"), "runc")[1], "1.1.4");
    let second = row(&read("second.json"), "runc");
    assert_eq!(second[1], "1.1.5", "the binary there now: {second:?}");
}

/// Snap's commands are symlinks to one ELF, /usr/bin/snap, that runs the current revision of
/// the snap named by argv[0] (snapd: cmd/snap/main.go, /snap/bin/NAME -> /usr/bin/snap): a
/// refresh re-points `current` and leaves the ELF that was asked untouched.
#[test]
fn a_dispatcher_symlink_is_asked_again_after_its_target_moves_on() {
    let scene = tempfile::tempdir().unwrap();
    let s = scene.path();
    let src = s.join("snap.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n#include <string.h>\n#include <unistd.h>\n\
             int main(int argc, char **argv) {{\n\
               const char *name = strrchr(argv[0], '/'); name = name ? name + 1 : argv[0];\n\
               char target[4096];\n\
               snprintf(target, sizeof target, \"{}/current/%s\", name);\n\
               (void)argc; execv(target, argv); perror(target); return 127;\n}}\n",
            s.display()
        ),
    )
    .unwrap();
    let cc = std::process::Command::new("cc")
        .arg("-o")
        .arg(s.join("snap"))
        .arg(&src)
        .output()
        .expect("cc");
    assert!(cc.status.success(), "{cc:?}");
    // Settled, so that only its being a dispatcher keeps it from being remembered.
    settle(&s.join("snap"));
    for (rev, version) in [("1", "1.1.4"), ("2", "1.1.12")] {
        std::fs::create_dir(s.join(rev)).unwrap();
        let runc = s.join(rev).join("runc");
        std::fs::write(
            &runc,
            format!("#!/bin/sh\necho 'runc version {version}'\necho 'spec: 1.0.2-dev'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&runc, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir(s.join("bin")).unwrap();
    std::os::unix::fs::symlink(s.join("snap"), s.join("bin/runc")).unwrap();
    std::os::unix::fs::symlink("1", s.join("current")).unwrap();
    let path = format!("{}:/usr/bin:/bin", s.join("bin").display());
    let cache_dir = s.join("cache");
    let run = || {
        let out = doctor()
            .env("PATH", &path)
            .env("CONTAINER_DOCTOR_CACHE_DIR", &cache_dir)
            .args(["--format", "json", "--only", ID])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        row(&report, "runc")
    };
    assert_eq!(run()[1], "1.1.4");
    // The refresh: `current` now names revision 2.
    std::fs::remove_file(s.join("current")).unwrap();
    std::os::unix::fs::symlink("2", s.join("current")).unwrap();
    let refreshed = run();
    assert_eq!(refreshed[1], "1.1.12", "{refreshed:?}");
}

/// Root with a user's HOME (`sudo -E`, or a sudo that keeps HOME) makes no cache there: a
/// root-owned ~/.cache would leave the user unable to write their own cache directory.
#[test]
fn root_with_a_users_home_leaves_it_alone() {
    if !require_root() {
        return;
    }
    let scene = crate::common::scratch();
    let home = scene.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let out = doctor()
        .env("HOME", &home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("CONTAINER_DOCTOR_CACHE_DIR")
        .args(["--format", "json", "--only", ID])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(status(&report, ID), "", "{report:#}");
    let made: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(made.is_empty(), "made in the user's home: {made:?}");
}
