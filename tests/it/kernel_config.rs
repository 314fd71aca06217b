//! kernel-config: hand-written configurations (each reproducing the facts of a real one, named in
//! the test) for every verdict in the default run; and the peer test against Debian's
//! check-config.sh over this machine's configuration and the real ones in
//! corpus (realdata/kconfig), option by option, where every difference is listed with its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{Tree, assert_success, check, doctor, realdata, status, summary};

/// Ubuntu 22.04.5's 5.15.0-144-generic: the values it has for every option graded (read from
/// the corpus file realdata/kconfig/ubuntu-22.04.5_5.15.0-144-generic.config; `n` is "is not set").
const UBUNTU_2204: &str = "NAMESPACES=y NET_NS=y PID_NS=y IPC_NS=y UTS_NS=y CGROUPS=y \
    CGROUP_CPUACCT=y CGROUP_DEVICE=y CGROUP_FREEZER=y CGROUP_SCHED=y CPUSETS=y MEMCG=y KEYS=y \
    VETH=m BRIDGE=m BRIDGE_NETFILTER=m IP_NF_FILTER=m IP_NF_MANGLE=m IP_NF_TARGET_MASQUERADE=m \
    IP6_NF_FILTER=m IP6_NF_MANGLE=m IP6_NF_TARGET_MASQUERADE=m NETFILTER_XT_MATCH_ADDRTYPE=m \
    NETFILTER_XT_MATCH_CONNTRACK=m NETFILTER_XT_MATCH_IPVS=m NETFILTER_XT_MARK=m IP_NF_RAW=m \
    IP_NF_NAT=m NF_NAT=m IP6_NF_RAW=m IP6_NF_NAT=m POSIX_MQUEUE=y CGROUP_BPF=y USER_NS=y \
    SECCOMP=y SECCOMP_FILTER=y SECURITY_SELINUX=y SECURITY_APPARMOR=y LEGACY_VSYSCALL_EMULATE=n \
    LEGACY_VSYSCALL_XONLY=y LEGACY_VSYSCALL_NONE=n CGROUP_PIDS=y MEMCG_SWAP=y MEMCG_KMEM=y \
    BLK_CGROUP=y BLK_DEV_THROTTLING=y CGROUP_PERF=y CGROUP_HUGETLB=y NET_CLS_CGROUP=m \
    CGROUP_NET_PRIO=y CFS_BANDWIDTH=y FAIR_GROUP_SCHED=y RT_GROUP_SCHED=n IP_NF_TARGET_REDIRECT=m \
    IP_SCTP=m IP_VS=m IP_VS_NFCT=y IP_VS_PROTO_TCP=y IP_VS_PROTO_UDP=y IP_VS_RR=m NF_TABLES=m \
    NFT_CT=m NFT_FIB=m NFT_FIB_IPV4=m NFT_FIB_IPV6=m NFT_MASQ=m NFT_NAT=m EXT3_FS=n EXT4_FS=y \
    EXT4_FS_POSIX_ACL=y EXT4_FS_SECURITY=y VXLAN=m BRIDGE_VLAN_FILTERING=y CRYPTO=y CRYPTO_AEAD=y \
    CRYPTO_GCM=y CRYPTO_SEQIV=y CRYPTO_GHASH=y XFRM=y XFRM_USER=m XFRM_ALGO=m INET_ESP=m \
    NETFILTER_XT_MATCH_BPF=m IPVLAN=m MACVLAN=m DUMMY=m NF_NAT_FTP=m NF_CONNTRACK_FTP=m \
    NF_NAT_TFTP=m NF_CONNTRACK_TFTP=m OVERLAY_FS=m BTRFS_FS=m BTRFS_FS_POSIX_ACL=y AUFS_FS=n \
    BLK_DEV_DM=y DM_THIN_PROVISIONING=m VLAN_8021Q=m NETFILTER_ADVANCED=y \
    NETFILTER_XT_TARGET_CHECKSUM=m NETFILTER_XT_MATCH_COMMENT=m FUSE_FS=y CHECKPOINT_RESTORE=y \
    FHANDLE=y EVENTFD=y EPOLL=y UNIX_DIAG=m INET_DIAG=m PACKET_DIAG=m NETLINK_DIAG=m \
    EXT4_USE_FOR_EXT2=y SMP=y";

/// A configuration file from `NAME=v` tokens, with `# Linux/ARCH RELEASE` header; `edits`
/// override or add (`NAME=-` drops the line altogether, as a kernel without the option has).
fn config(release: &str, base: &str, edits: &str) -> String {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for tok in base.split_whitespace().chain(edits.split_whitespace()) {
        let (k, v) = tok.split_once('=').unwrap();
        if v == "-" {
            values.remove(k);
        } else {
            values.insert(k.into(), v.into());
        }
    }
    let mut text = format!(
        "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 {release} Kernel Configuration\n#\n"
    );
    for (k, v) in values {
        if v == "n" {
            text += &format!("# CONFIG_{k} is not set\n");
        } else {
            text += &format!("CONFIG_{k}={v}\n");
        }
    }
    text
}

const HYBRID: &str = "30 1 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
    31 1 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
    32 1 0:28 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n\
    33 1 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
    34 1 0:30 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n";
const V2: &str = "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";

/// A host tree: kernel release, cgroup layout, nothing else.
fn host(release: &str, cgroups: &str) -> Tree {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", format!("{release}\n"))
        .file(
            "proc/1/mountinfo",
            format!("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n{cgroups}"),
        );
    tree
}

fn run(tree: &Tree, extra: &[&str]) -> Value {
    let mut args = vec!["--only", "kernel-config"];
    args.extend_from_slice(extra);
    tree.run_json(&args).1
}

/// The table rows by option: (state, verdict, needed for).
fn rows(report: &Value) -> BTreeMap<String, (String, String, String)> {
    let c = check(report, "kernel-config");
    let cols: Vec<&str> = c["table"]["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no table: {c}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        cols[..5],
        ["option", "group", "state", "verdict", "needed for"]
    );
    c["table"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cell = |i: usize| r[i].as_str().unwrap().to_string();
            (cell(0), (cell(2), cell(3), cell(4)))
        })
        .collect()
}

fn row(report: &Value, option: &str) -> (String, String, String) {
    rows(report)
        .remove(option)
        .unwrap_or_else(|| panic!("no row {option}: {report}"))
}

#[test]
fn ubuntu_2204_is_ok() {
    const REL: &str = "5.15.0-144-generic";
    let tree = host(REL, HYBRID);
    tree.file(&format!("boot/config-{REL}"), config(REL, UBUNTU_2204, ""));
    let report = run(&tree, &[]);
    assert_eq!(status(&report, "kernel-config"), "ok", "{report}");
    assert!(
        summary(&report, "kernel-config").starts_with(&format!(
            "Linux 5.15.0, /boot/config-{REL}: every necessary option present"
        )),
        "{report}"
    );
    // check-config.sh prints no vsyscall line for XONLY, the default since 5.3.
    assert_eq!(row(&report, "CONFIG_LEGACY_VSYSCALL_XONLY").1, "ok");
    assert!(!rows(&report).contains_key("CONFIG_LEGACY_VSYSCALL_NONE"));
    // ext4 serves ext3: the ext3 options are not graded.
    assert_eq!(row(&report, "CONFIG_EXT3_FS").1, "n/a");
    // Options of kernels before 5.8 are not graded on 5.15.
    assert!(
        row(&report, "CONFIG_MEMCG_SWAP_ENABLED")
            .0
            .starts_with("not checked: gone in 5.8")
    );
    // Without modules.dep, a module is taken as available, and says it was not verified.
    assert_eq!(
        row(&report, "CONFIG_OVERLAY_FS").0,
        "module (no modules.dep to verify)"
    );
    // Missing optional features are notes that name the setup they are for.
    let rt = row(&report, "CONFIG_RT_GROUP_SCHED");
    assert_eq!((rt.0.as_str(), rt.1.as_str()), ("not set", "note"));
    assert_eq!(
        row(&report, "CONFIG_AUFS_FS").2,
        "only for the aufs storage driver (no engine found)"
    );
    // Read from the examined system, and the table is complete.
    assert!(rows(&report).len() > 100, "{}", rows(&report).len());
    let metrics = &check(&report, "kernel-config")["metrics"];
    assert_eq!(metrics["kernel_config_necessary_missing"], 0.0);
}

#[test]
fn firecracker_ci_kernel_misses_necessary_options() {
    // firecracker-microvm-ci_x86_64_4.14.336: no NETFILTER at all (so no NAT, no iptables
    // tables, no BRIDGE_NETFILTER), no KEYS, no SECCOMP.
    const REL: &str = "4.14.336";
    let netfilter = "BRIDGE_NETFILTER=- IP_NF_FILTER=- IP_NF_MANGLE=- IP_NF_TARGET_MASQUERADE=- \
        IP6_NF_FILTER=- IP6_NF_MANGLE=- IP6_NF_TARGET_MASQUERADE=- NETFILTER_XT_MATCH_ADDRTYPE=- \
        NETFILTER_XT_MATCH_CONNTRACK=- NETFILTER_XT_MATCH_IPVS=- NETFILTER_XT_MARK=- IP_NF_RAW=- \
        IP_NF_NAT=- NF_NAT=- IP6_NF_RAW=- IP6_NF_NAT=- NETFILTER=n KEYS=n SECCOMP=n SECCOMP_FILTER=- \
        VETH=y BRIDGE=y OVERLAY_FS=y";
    let tree = host(REL, HYBRID);
    tree.file("proc/config.gz", gzip(&config(REL, UBUNTU_2204, netfilter)));
    let report = run(&tree, &[]);
    assert_eq!(status(&report, "kernel-config"), "error", "{report}");
    let s = summary(&report, "kernel-config");
    assert!(
        s.starts_with("18 necessary options missing (Linux 4.14.336, /proc/config.gz): CONFIG_KEYS, CONFIG_BRIDGE_NETFILTER"),
        "{s}"
    );
    // On 4.14 the pre-5.2 NAT options are graded, through NF_NAT when the file lacks them.
    assert_eq!(
        row(&report, "CONFIG_NF_NAT_IPV4"),
        (
            "absent, and CONFIG_NF_NAT is not set".into(),
            "error".into(),
            "every container engine".into()
        )
    );
    // No engine installed: seccomp is a note. With dockerd installed, a warning.
    assert_eq!(row(&report, "CONFIG_SECCOMP").1, "note");
    tree.file("usr/bin/dockerd", "#!/bin/sh\n");
    std::fs::set_permissions(
        tree.path().join("usr/bin/dockerd"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let report = run(&tree, &[]);
    assert_eq!(row(&report, "CONFIG_SECCOMP").1, "warn");
    assert_eq!(row(&report, "CONFIG_SECCOMP").2, "dockerd is installed");
    let c = check(&report, "kernel-config");
    assert_eq!(c["fixes"][0]["id"], "kernel-with-options", "{c}");
    assert_eq!(c["metrics"]["kernel_config_necessary_missing"], 18.0);
}

#[test]
fn v1_controllers_matter_only_where_cgroup_v1_is_used() {
    // openSUSE MicroOS / Tumbleweed kernels build no v1-only controllers (moby/moby#49934).
    const REL: &str = "6.14.6-1-default";
    let edits = "CGROUP_FREEZER=n CGROUP_DEVICE=n CGROUP_CPUACCT=n";
    let v2 = host(REL, V2);
    v2.file(
        &format!("boot/config-{REL}"),
        config(REL, UBUNTU_2204, edits),
    );
    let report = run(&v2, &[]);
    assert_eq!(status(&report, "kernel-config"), "ok", "{report}");
    let freezer = row(&report, "CONFIG_CGROUP_FREEZER");
    assert_eq!(freezer.1, "note");
    assert_eq!(
        freezer.2,
        "a cgroup v1 controller; this host runs cgroup v2 only; check-config.sh calls it generally necessary"
    );
    // The same kernel booted hybrid needs them; and CGROUP_BPF only matters on v2.
    let hybrid = host(REL, HYBRID);
    hybrid.file(
        &format!("boot/config-{REL}"),
        config(REL, UBUNTU_2204, &format!("{edits} CGROUP_BPF=n")),
    );
    let report = run(&hybrid, &[]);
    assert_eq!(status(&report, "kernel-config"), "error", "{report}");
    assert!(summary(&report, "kernel-config").contains("3 necessary options missing"));
    assert_eq!(row(&report, "CONFIG_CGROUP_BPF").1, "note");
    // On v2 a missing CGROUP_BPF is an error: runc has no device controller.
    let v2 = host(REL, V2);
    v2.file(
        &format!("boot/config-{REL}"),
        config(REL, UBUNTU_2204, "CGROUP_BPF=n"),
    );
    let report = run(&v2, &[]);
    assert_eq!(row(&report, "CONFIG_CGROUP_BPF").1, "error", "{report}");
}

#[test]
fn rhel_85_backports_and_the_storage_driver_in_use() {
    // rhel-8.5_4.18.0-348.el8.x86_64: NF_NAT_IPV4, CFQ, MEMCG_SWAP_ENABLED and
    // INET_XFRM_MODE_TRANSPORT absent (merged or removed early by Red Hat); no btrfs.
    const REL: &str = "4.18.0-348.el8.x86_64";
    let edits = "NF_NAT_IPV4=- IOSCHED_CFQ=- CFQ_GROUP_IOSCHED=- MEMCG_SWAP_ENABLED=- \
        INET_XFRM_MODE_TRANSPORT=- BTRFS_FS=- BTRFS_FS_POSIX_ACL=- NF_NAT_NEEDED=y";
    let tree = host("6.1.0-25-amd64", HYBRID);
    let file = tree.path().join("rhel.config");
    std::fs::write(&file, config(REL, UBUNTU_2204, edits)).unwrap();
    let file = file.to_str().unwrap();
    let report = run(&tree, &["--kernel-config", file]);
    assert_eq!(status(&report, "kernel-config"), "ok", "{report}");
    assert_eq!(
        row(&report, "CONFIG_NF_NAT_IPV4").0,
        "not in this kernel (merged into CONFIG_NF_NAT: module)"
    );
    assert_eq!(row(&report, "CONFIG_NF_NAT_IPV4").1, "ok");
    assert_eq!(row(&report, "CONFIG_IOSCHED_CFQ").1, "n/a");
    // Graded by the file's version (4.18), not the examined host's (6.1).
    assert_eq!(row(&report, "CONFIG_NF_NAT_NEEDED").1, "ok");
    // Another kernel's file: its modules are not looked up.
    assert!(
        check(&report, "kernel-config")["evidence"]
            .to_string()
            .contains("not the running kernel's")
    );

    // An engine set to btrfs on this kernel: a warning naming where the driver was read.
    tree.file("etc/docker/daemon.json", r#"{"storage-driver": "btrfs"}"#);
    let report = run(&tree, &["--kernel-config", file]);
    assert_eq!(status(&report, "kernel-config"), "warn", "{report}");
    assert!(
        summary(&report, "kernel-config").ends_with(
            "CONFIG_BTRFS_FS (storage driver btrfs (/etc/docker/daemon.json)), CONFIG_BTRFS_FS_POSIX_ACL (storage driver btrfs (/etc/docker/daemon.json))"
        ),
        "{report}"
    );
    assert_eq!(
        row(&report, "CONFIG_OVERLAY_FS").2,
        "only for the overlay storage driver (this host: btrfs)"
    );
}

#[test]
fn centos_7_names_and_rhel_7_backports() {
    // centos-7_3.10.0-1160.102.1.el7.x86_64: NETPRIO_CGROUP (the pre-3.14 name), ext4 serving
    // ext3 under EXT4_USE_FOR_EXT23, RESOURCE_COUNTERS absent (page counters backported).
    const REL: &str = "3.10.0-1160.102.1.el7.x86_64";
    let edits = "CGROUP_NET_PRIO=- NETPRIO_CGROUP=y EXT4_USE_FOR_EXT2=- EXT4_USE_FOR_EXT23=y \
        DEVPTS_MULTIPLE_INSTANCES=y NF_NAT_IPV4=m NF_NAT_NEEDED=y IOSCHED_CFQ=y CFQ_GROUP_IOSCHED=y \
        MEMCG_SWAP_ENABLED=n CGROUP_BPF=- IPVLAN=n";
    let tree = host(
        REL,
        "31 1 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
    );
    tree.file(
        &format!("boot/config-{REL}"),
        config(REL, UBUNTU_2204, edits),
    );
    let report = run(&tree, &[]);
    assert_eq!(status(&report, "kernel-config"), "ok", "{report}");
    assert_eq!(row(&report, "CONFIG_NETPRIO_CGROUP").1, "ok");
    assert!(
        row(&report, "CONFIG_EXT3_FS")
            .0
            .contains("CONFIG_EXT4_USE_FOR_EXT23 is set")
    );
    assert_eq!(row(&report, "CONFIG_RESOURCE_COUNTERS").1, "n/a");
    assert_eq!(
        row(&report, "CONFIG_CGROUP_BPF").0,
        "not checked: only from 4.15"
    );
    assert_eq!(row(&report, "CONFIG_DEVPTS_MULTIPLE_INSTANCES").1, "ok");
    assert_eq!(row(&report, "CONFIG_MEMCG_SWAP_ENABLED").1, "note");
}

#[test]
fn modules_loaded_not_loaded_and_missing() {
    // Ubuntu 22.04 without linux-modules-extra: bridge.ko is not installed; overlay and veth are.
    const REL: &str = "5.15.0-144-generic";
    let tree = host(REL, HYBRID);
    tree.file(&format!("boot/config-{REL}"), config(REL, UBUNTU_2204, ""))
        .file(
            &format!("lib/modules/{REL}/modules.dep"),
            "kernel/fs/overlayfs/overlay.ko:\nkernel/drivers/net/veth.ko:\n",
        )
        .file(
            &format!("lib/modules/{REL}/modules.builtin"),
            "kernel/fs/ext4/ext4.ko\n",
        )
        .file("proc/modules", "veth 36864 0 - Live 0x0000000000000000\n");
    let report = run(&tree, &[]);
    assert_eq!(row(&report, "CONFIG_VETH").0, "module, loaded (veth)");
    assert_eq!(
        row(&report, "CONFIG_OVERLAY_FS").0,
        "module, not loaded (overlay; loads on demand)"
    );
    assert_eq!(
        row(&report, "CONFIG_BRIDGE"),
        (
            "module missing (bridge not in modules.dep)".into(),
            "error".into(),
            "every container engine".into()
        )
    );
    assert_eq!(status(&report, "kernel-config"), "error");
    let c = check(&report, "kernel-config");
    assert_eq!(c["fixes"][0]["id"], "install-kernel-modules", "{c}");
}

#[test]
fn host_limits_and_apparmor() {
    // Kernels before 3.x set root_maxkeys to 200 (moby fails at 10000 or fewer); RHEL 7 ships
    // user.max_user_namespaces = 0; Ubuntu with AppArmor on and apparmor_parser removed.
    const REL: &str = "5.15.0-144-generic";
    let tree = host(REL, HYBRID);
    tree.file(&format!("boot/config-{REL}"), config(REL, UBUNTU_2204, ""))
        .file("proc/sys/kernel/keys/root_maxkeys", "200\n")
        .file("proc/sys/user/max_user_namespaces", "0\n")
        .file("sys/module/apparmor/parameters/enabled", "Y\n");
    let report = run(&tree, &[]);
    assert_eq!(status(&report, "kernel-config"), "warn", "{report}");
    let keys = row(&report, "/proc/sys/kernel/keys/root_maxkeys");
    assert_eq!((keys.0.as_str(), keys.1.as_str()), ("200", "warn"));
    assert_eq!(row(&report, "/proc/sys/user/max_user_namespaces").1, "note");
    assert_eq!(row(&report, "apparmor_parser").1, "note");
    // With dockerd installed, a missing apparmor_parser stops every container: an error.
    tree.file("usr/bin/dockerd", "#!/bin/sh\n");
    std::fs::set_permissions(
        tree.path().join("usr/bin/dockerd"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let report = run(&tree, &[]);
    assert_eq!(status(&report, "kernel-config"), "error", "{report}");
    assert_eq!(
        row(&report, "apparmor_parser").2,
        "AppArmor is enabled and dockerd is installed"
    );
}

#[test]
fn no_configuration_says_where_it_looked() {
    const REL: &str = "6.1.0-25-amd64";
    let tree = host(REL, V2);
    tree.file(
        &format!("lib/modules/{REL}/modules.dep"),
        "kernel/kernel/configs.ko:\n",
    );
    let report = run(&tree, &[]);
    assert_eq!(status(&report, "kernel-config"), "unknown");
    assert_eq!(
        summary(&report, "kernel-config"),
        format!(
            "no configuration of the running kernel {REL} found: looked at /proc/config.gz, /boot/config-{REL}, \
             /lib/modules/{REL}/build/.config, /usr/src/linux-{REL}/.config, /usr/src/linux/.config"
        )
    );
    let evidence = check(&report, "kernel-config")["evidence"].to_string();
    assert!(
        evidence.contains("`modprobe configs` on that host provides /proc/config.gz"),
        "{evidence}"
    );

    // A user-named file that cannot be read is unknown too, with the reason.
    let report = run(&tree, &["--kernel-config", "/nonexistent/config"]);
    assert_eq!(status(&report, "kernel-config"), "unknown");
    assert!(
        summary(&report, "kernel-config")
            .starts_with("cannot read --kernel-config /nonexistent/config")
    );
}

#[test]
fn a_bundle_replays_the_named_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("candidate.config");
    std::fs::write(&file, config("6.12.0", UBUNTU_2204, "KEYS=n")).unwrap();
    let out = doctor()
        .current_dir(dir.path())
        .args(["bundle", "-o", "b.tar.gz", "--kernel-config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_success(&out);
    std::fs::remove_file(&file).unwrap();
    let replay = doctor()
        .arg("--from-bundle")
        .arg(dir.path().join("b.tar.gz"))
        .args(["--format", "json", "--only", "kernel-config"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(status(&report, "kernel-config"), "error", "{report}");
    assert!(
        summary(&report, "kernel-config").contains("CONFIG_KEYS"),
        "{report}"
    );
}

fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

// ------------------------------------------------------------------------------ peer test --

const CHECK_CONFIG: &str = "/usr/share/docker.io/contrib/check-config.sh";

/// What check-config.sh said of each CONFIG_ option: (section, result), section "necessary" or
/// "optional" (network and storage drivers included).
fn check_config(file: &Path, release: &str) -> BTreeMap<String, (String, String)> {
    assert!(
        Path::new(CHECK_CONFIG).is_file(),
        "{CHECK_CONFIG}: install docker.io"
    );
    // It grades by `uname -r`: give it the file's release, as SOURCES.md's own-uname runs do.
    let bin = tempfile::tempdir().unwrap();
    let uname = bin.path().join("uname");
    std::fs::write(
        &uname,
        format!(
            "#!/bin/sh\n[ \"$1\" = -r ] && {{ echo {release}; exit 0; }}\nexec /bin/uname \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&uname, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg(CHECK_CONFIG)
        .arg(file)
        .env("PATH", path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ansi = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    let line_re = regex::Regex::new(r"^\s*- CONFIG_([A-Z0-9_]+): (.*)$").unwrap();
    let mut section = "";
    let mut said = BTreeMap::new();
    for line in ansi.replace_all(&text, "").lines() {
        if line.starts_with("Generally Necessary:") {
            section = "necessary";
        } else if line.starts_with("Optional Features:") {
            section = "optional";
        } else if let Some(c) = line_re.captures(line) {
            said.insert(
                c[1].to_string(),
                (section.to_string(), c[2].trim().to_string()),
            );
        }
    }
    assert!(said.len() > 60, "check-config.sh said too little: {text}");
    said
}

/// Options only moby's current script grades (not Debian's 20.10 copy): we grade them, it does not.
const HEAD_ONLY: &[(&str, &str)] = &[
    ("IP_NF_MANGLE", "added to check-config.sh in 2023"),
    ("IP6_NF_FILTER", "added 2025-03 with the IPv6 rules"),
    ("IP6_NF_MANGLE", "added 2025-03"),
    ("IP6_NF_TARGET_MASQUERADE", "added 2025-03"),
    ("IP_NF_RAW", "added 2025-03 (Docker 28's raw-table rules)"),
    ("IP6_NF_RAW", "added 2025-03"),
    ("IP6_NF_NAT", "added 2025-03"),
    ("CGROUP_BPF", "added 2021-01 (PR #41897), not in 20.10"),
    ("SECCOMP_FILTER", "added 2021-03"),
    ("SECURITY_SELINUX", "added 2021-03"),
    ("SECURITY_APPARMOR", "added 2021-03"),
    ("IP_SCTP", "added 2025-09"),
    ("NF_TABLES", "nftables block added 2025-07"),
    ("NFT_CT", "nftables block added 2025-07"),
    ("NFT_FIB", "nftables block added 2025-07"),
    ("NFT_FIB_IPV4", "nftables block added 2025-07"),
    ("NFT_FIB_IPV6", "nftables block added 2025-07"),
    ("NFT_MASQ", "nftables block added 2025-07"),
    ("NFT_NAT", "nftables block added 2025-07"),
    (
        "NETFILTER_XT_MATCH_BPF",
        "added 2023-06 for encrypted overlays",
    ),
];

/// Where we and check-config.sh (given the file's own release) disagree on an option, on
/// purpose: (configuration, option, our verdict, theirs: "necessary" for missing under Generally
/// Necessary, else its word, why).
const INTENDED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "amazon-linux-2023",
        "MEMCG_SWAP",
        "n/a",
        "missing",
        "the option is gone in 6.1 (swap accounting always built in from 5.8); the 20.10 copy still checks it above 5.8",
    ),
    (
        "rhel-8.5",
        "NF_NAT_IPV4",
        "ok",
        "necessary",
        "Red Hat merged it into NF_NAT in 4.18 (no line in the file): NAT works, its kernel version is not the upstream one",
    ),
    (
        "rhel-8.5",
        "IOSCHED_CFQ",
        "n/a",
        "missing",
        "RHEL 8 has only blk-mq schedulers; CFQ is gone, not off",
    ),
    (
        "rhel-8.5",
        "CFQ_GROUP_IOSCHED",
        "n/a",
        "missing",
        "gone with CFQ",
    ),
    (
        "rhel-8.5",
        "MEMCG_SWAP_ENABLED",
        "n/a",
        "missing",
        "removed by the backport of the 5.8 swap accounting",
    ),
    (
        "rhel-8.5",
        "INET_XFRM_MODE_TRANSPORT",
        "n/a",
        "missing",
        "built in as in 5.4+ (backport): no such option",
    ),
    (
        "centos-7",
        "RESOURCE_COUNTERS",
        "n/a",
        "missing",
        "RHEL 7 backported page counters, which replaced it in 3.19",
    ),
    (
        "centos-7",
        "EXT3_FS",
        "n/a",
        "missing",
        "EXT4_USE_FOR_EXT23=y: ext4 serves ext3 (3.10's name, which check-config.sh does not know)",
    ),
    ("centos-7", "EXT3_FS_XATTR", "n/a", "missing", "as EXT3_FS"),
    (
        "centos-7",
        "EXT3_FS_POSIX_ACL",
        "n/a",
        "missing",
        "as EXT3_FS",
    ),
    (
        "centos-7",
        "EXT3_FS_SECURITY",
        "n/a",
        "missing",
        "as EXT3_FS",
    ),
    (
        "firecracker",
        "NETFILTER_XT_MATCH_IPVS",
        "note",
        "necessary",
        "only swarm's service load balancer uses the ipvs match; a bridge-only engine runs without it",
    ),
    (
        "this machine",
        "NETFILTER_XT_MATCH_IPVS",
        "note",
        "necessary",
        "only swarm's service load balancer uses the ipvs match; Docker runs on this machine without it",
    ),
    (
        "this machine",
        "MEMCG_SWAP",
        "n/a",
        "missing",
        "the option is gone in 6.1; the 20.10 copy still checks it above 5.8",
    ),
];

/// Compares our table with check-config.sh's lines for one configuration.
fn compare(label: &str, theirs: &BTreeMap<String, (String, String)>, report: &Value) {
    let ours = rows(report);
    let graded_by: BTreeMap<String, String> = check(report, "kernel-config")["table"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[6].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut problems = Vec::new();
    let mut intended_seen = BTreeSet::new();
    for (option, (section, result)) in theirs {
        let key = format!("CONFIG_{option}");
        let Some((state, verdict, _)) = ours.get(&key) else {
            problems.push(format!(
                "{option}: check-config.sh grades it ({result}), we have no row"
            ));
            continue;
        };
        if option.starts_with("LEGACY_VSYSCALL_") {
            continue; // printed only when set, as ours
        }
        let their_missing = result == "missing";
        let our_presence = if state == "built in" {
            "enabled"
        } else if state.starts_with("module") {
            "enabled (as module)"
        } else if state == "not set" || state == "absent" {
            "missing"
        } else {
            "" // not graded, or gone in this kernel: compared below through the verdict
        };
        if !our_presence.is_empty() && our_presence != result {
            problems.push(format!(
                "{option}: check-config.sh reads {result}, we read {state}"
            ));
        }
        let our_flag = match verdict.as_str() {
            "error" => "necessary",
            "warn" | "note" => "optional",
            v => v,
        };
        let their_flag = if their_missing {
            section.as_str()
        } else {
            "ok"
        };
        let agree = matches!(
            (their_flag, our_flag),
            ("ok", "ok" | "n/a") | ("necessary", "necessary") | ("optional", "optional")
        );
        if !agree {
            let intended = INTENDED
                .iter()
                .find(|(f, o, ..)| label.starts_with(f) && o == option);
            match intended {
                Some((f, o, want_ours, want_theirs, _)) => {
                    let theirs_word = if their_missing && section == "necessary" {
                        "necessary"
                    } else {
                        result.as_str()
                    };
                    assert!(
                        (verdict == want_ours) && (theirs_word == *want_theirs),
                        "{label} {option}: intended difference changed: ours {verdict}, theirs {theirs_word}"
                    );
                    intended_seen.insert((f.to_string(), o.to_string()));
                }
                None => problems.push(format!(
                    "{option}: check-config.sh {section} {result}, we {verdict} ({state})"
                )),
            }
        }
    }
    // What we flag that check-config.sh does not print at all: options only the current script or
    // lxc-checkconfig grade, or the vsyscall mode it does not know.
    for (option, (state, verdict, _)) in &ours {
        // Rows about the host rather than the file (keys limit, /dev/zfs): SOURCES.md's runs
        // describe the machine they ran on.
        let Some(name) = option.strip_prefix("CONFIG_") else {
            continue;
        };
        if theirs.contains_key(name) || !matches!(verdict.as_str(), "error" | "warn" | "note") {
            continue;
        }
        let by = &graded_by[option];
        let lxc_only = !by.contains("moby");
        let head_only = HEAD_ONLY.iter().any(|(o, _)| *o == name);
        let version_bound = state.starts_with("absent, and"); // graded through its successor
        if !(lxc_only || head_only || version_bound || name.starts_with("LEGACY_VSYSCALL_")) {
            problems.push(format!(
                "{option}: we flag it ({verdict}, {state}), check-config.sh does not grade it"
            ));
        }
    }
    for (f, o, _, _, _) in INTENDED {
        if label.starts_with(f) {
            assert!(
                intended_seen.contains(&(f.to_string(), o.to_string())),
                "{label}: listed difference {o} did not occur"
            );
        }
    }
    assert!(
        problems.is_empty(),
        "{label}: unintended differences:\n{}",
        problems.join("\n")
    );
}

#[test]
#[ignore = "needs the real-world corpus (CONTAINER_DOCTOR_CORPUS, or shared/ beside the repository) and Debian's docker.io"]
fn peer_check_config_sh_over_the_real_configurations() {
    let dir = realdata("kconfig");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "config"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "{}", dir.display());
    for file in files {
        let label = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let release = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("# Linux/")
                    .and_then(|r| r.strip_suffix(" Kernel Configuration"))
            })
            .and_then(|r| r.split_once(' '))
            .map(|(_, r)| r.to_string())
            .unwrap();
        let theirs = check_config(&file, &release);
        // The host the runs in SOURCES.md were made on: hybrid cgroups, no engine installed.
        let tree = host(&release, HYBRID);
        let report = run(&tree, &["--kernel-config", file.to_str().unwrap()]);
        compare(&label, &theirs, &report);
    }
}

#[test]
fn peer_check_config_sh_on_this_machine() {
    // This machine's own configuration, found where both look, graded live.
    let found = ["/proc/config.gz", "/boot/config"]
        .iter()
        .any(|p| Path::new(p).exists());
    assert!(found, "this machine has /proc/config.gz");
    let release =
        String::from_utf8(Command::new("uname").arg("-r").output().unwrap().stdout).unwrap();
    let theirs = check_config(Path::new("/proc/config.gz"), release.trim());
    let out = doctor()
        .args(["--check", "--only", "kernel-config", "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    compare("this machine", &theirs, &report);
}
