//! Hand-written fixtures for the default test run. Each one is written for this repository and
//! reproduces the *facts* of a real-world file (named above it: project, path, issue) that the
//! corpus tests read in place (see `corpus()`): the same format, the same odd corners, the same
//! verdict. None is a copy; numbers, ids and paths are our own unless the case depends on them.

/// Joins lines with a newline after each.
fn lines(l: &[&str]) -> String {
    let mut s = l.join("\n");
    s.push('\n');
    s
}

/// The cgroup v1 controller mounts of a systemd host (`ro` tmpfs at /sys/fs/cgroup above them),
/// with `shared:N` peer groups from `first_peer` on, ids from `first_id`, under parent `parent`.
fn v1_controllers(first_id: u32, parent: u32, first_peer: u32, peers: bool) -> Vec<String> {
    [
        "name=systemd",
        "cpu,cpuacct",
        "freezer",
        "memory",
        "pids",
        "blkio",
        "devices",
        "cpuset",
        "net_cls,net_prio",
        "perf_event",
    ]
    .iter()
    .enumerate()
    .map(|(i, c)| {
        let id = first_id + i as u32;
        let dir = c.trim_start_matches("name=");
        let peer = if peers {
            format!(" shared:{}", first_peer + i as u32)
        } else {
            String::new()
        };
        let xattr = if c.starts_with("name=") { "xattr," } else { "" };
        format!(
            "{id} {parent} 0:{} / /sys/fs/cgroup/{dir} rw,nosuid,nodev,noexec,relatime{peer} - cgroup cgroup rw,{xattr}{c}",
            40 + i
        )
    })
    .collect()
}

/// A desktop host: cgroup v1 only (10 controller hierarchies), /tmp a tmpfs mount of its own,
/// every line with a `shared:N` peer group, the root mount's parent id 0.
/// Reproduces the facts of util-linux's tests/ts/column/files/mountinfo (an Arch-like desktop).
pub fn host_v1_tmpfs() -> String {
    let mut l: Vec<String> = [
        "21 0 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw",
        "22 21 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw",
        "23 21 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw",
        "24 21 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,mode=755",
        "25 23 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,mode=755",
        "26 21 0:25 / /run rw,nosuid,nodev shared:11 - tmpfs tmpfs rw,mode=755",
        "64 21 0:33 / /tmp rw,nosuid,nodev shared:30 - tmpfs tmpfs rw",
        "65 21 259:3 / /home rw,relatime shared:31 - ext4 /dev/nvme0n1p3 rw",
    ]
    .map(String::from)
    .to_vec();
    l.extend(v1_controllers(30, 25, 8, true));
    lines(&l.iter().map(String::as_str).collect::<Vec<_>>())
}

/// An OpenRC host: cgroup v1 (the freezer at /sys/fs/cgroup/freezer), /tmp on tmpfs, *no*
/// optional fields on any line, and a removable disk whose mount point holds a space (`\040`).
/// Reproduces the facts of moby/sys mountinfo's test constant `gentooMountinfo`.
pub fn host_openrc_v1() -> String {
    let mut l: Vec<String> = [
        "15 1 8:3 / / rw,noatime - ext4 /dev/sda3 rw",
        "16 15 0:3 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
        "17 15 0:14 / /run rw,nosuid,nodev,relatime - tmpfs tmpfs rw,mode=755",
        "18 15 0:6 / /dev rw,nosuid,relatime - devtmpfs udev rw,mode=755",
        "19 15 0:15 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw",
        "20 19 0:16 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs cgroup_root rw,mode=755",
        "35 15 0:30 / /tmp rw,nosuid,nodev,relatime - tmpfs tmpfs rw",
    ]
    .map(String::from)
    .to_vec();
    l.extend(v1_controllers(21, 20, 0, false));
    l.push("90 15 8:17 / /media/USB\\040STICK rw,relatime - vfat /dev/sdb1 rw".into());
    lines(&l.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A RHEL host in hybrid mode (cgroup2 at /sys/fs/cgroup/unified beside the v1 controllers) whose
/// /tmp and /var/tmp are binds of `/.tmp` on an ext4 disk (/dev/sdc1): /tmp is its own mount but
/// not tmpfs, while many other places are tmpfs.
/// Reproduces the facts of systemd's test/test-umount/rhbug-1554943.mountinfo.
pub fn host_hybrid_tmp_on_ext4() -> String {
    let mut l: Vec<String> = [
        "63 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw",
        "18 63 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw",
        "19 63 0:4 / /proc rw,nosuid,nodev,noexec,relatime shared:3 - proc proc rw",
        "20 63 0:6 / /dev rw,nosuid shared:4 - devtmpfs devtmpfs rw,mode=755",
        "24 63 0:21 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,mode=755",
        "25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:6 - tmpfs tmpfs ro,mode=755",
        "26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:7 - cgroup2 cgroup rw",
        "75 63 0:39 / /srv/sessions rw,nosuid,noexec,noatime shared:40 - tmpfs tmpfs rw,size=1048576k",
        "83 63 8:33 /.tmp /var/tmp rw,relatime shared:41 - ext4 /dev/sdc1 rw",
        "89 63 8:33 /.tmp /tmp rw,relatime shared:41 - ext4 /dev/sdc1 rw",
        "90 24 0:50 / /run/user/0 rw,nosuid,nodev,relatime shared:60 - tmpfs tmpfs rw,mode=700",
    ]
    .map(String::from)
    .to_vec();
    l.extend(v1_controllers(27, 25, 8, true));
    lines(&l.iter().map(String::as_str).collect::<Vec<_>>())
}

/// An EL9 host on the unified hierarchy only (cgroup2 at /sys/fs/cgroup), an xfs root that holds
/// /tmp. Reproduces the facts of jenkinsci/docker-workflow-plugin's test resource
/// `mountinfo_not_containerized`.
pub fn host_v2_xfs() -> String {
    lines(&[
        "22 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/rhel-root rw,seclabel,attr2,inode64,noquota",
        "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc rw",
        "24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:3 - sysfs sysfs rw,seclabel",
        "25 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,seclabel,nsdelegate,memory_recursiveprot",
        "26 22 0:5 / /dev rw,nosuid shared:5 - devtmpfs devtmpfs rw,seclabel,mode=755",
        "27 22 0:24 / /run rw,nosuid,nodev shared:6 - tmpfs tmpfs rw,seclabel,mode=755",
        "28 27 0:40 / /run/credentials/systemd-sysctl.service ro,nosuid,nodev,noexec,relatime shared:7 - ramfs ramfs rw,mode=700",
        "29 22 8:1 / /boot rw,relatime shared:8 - xfs /dev/sda1 rw,seclabel",
    ])
}

/// Inside a Docker container on a cgroup v1 host: the root an overlay in /var/lib/docker/overlay2,
/// /tmp part of it, the controllers mounted read-only at the container's own cgroup.
/// Reproduces the facts of pre-commit's tests/languages/docker_test.py constant
/// `DOCKER_CGROUPS_V1_MOUNTINFO_EXAMPLE`.
pub fn docker_container_v1() -> String {
    let id = "5be1f0d8e2a64c1b9d0f6a7c3e2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a190";
    let layer = "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
    let mut l = vec![
        format!(
            "700 650 0:60 / / rw,relatime master:210 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/QWERTYUIOPASDFGHJKLZXCVB12,upperdir=/var/lib/docker/overlay2/{layer}/diff,workdir=/var/lib/docker/overlay2/{layer}/work"
        ),
        "701 700 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw".into(),
        "702 700 0:62 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755".into(),
        "703 700 0:63 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro".into(),
        "704 703 0:64 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755"
            .into(),
    ];
    for (i, c) in ["freezer", "memory", "pids", "cpu,cpuacct"]
        .iter()
        .enumerate()
    {
        l.push(format!(
            "{} 704 0:{} /docker/{id} /sys/fs/cgroup/{c} ro,nosuid,nodev,noexec,relatime master:{} - cgroup cgroup rw,{c}",
            705 + i,
            30 + i,
            20 + i
        ));
    }
    l.push(format!(
        "712 700 8:1 /var/lib/docker/containers/{id}/hosts /etc/hosts rw,relatime - ext4 /dev/sda1 rw"
    ));
    lines(&l.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Inside a rootless Podman container on a cgroup v1 host: the root an overlay under the user's
/// ~/.local/share/containers/storage/overlay with `volatile,userxattr`, no optional fields.
/// Reproduces the facts of pre-commit's tests/languages/docker_test.py constant
/// `PODMAN_CGROUPS_V1_MOUNTINFO_EXAMPLE`.
pub fn podman_rootless_container_v1() -> String {
    let layer = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9";
    let store = "/home/dev/.local/share/containers/storage/overlay";
    let l = [
        format!(
            "1300 1250 0:70 / / rw,relatime - overlay overlay rw,lowerdir={store}/l/ABCDEFGHIJKLMNOPQRSTUVWXYZ,upperdir={store}/{layer}/diff,workdir={store}/{layer}/work,volatile,userxattr"
        ),
        "1301 1300 0:71 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw".into(),
        "1302 1300 0:72 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro".into(),
        "1303 1302 0:73 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs cgroup rw,mode=755".into(),
        "1304 1303 0:31 / /sys/fs/cgroup/freezer ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,freezer".into(),
        "1305 1303 0:32 / /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory".into(),
        "1306 1300 0:74 /containers/overlay-containers/abc/userdata/hostname /etc/hostname rw,nosuid,nodev,relatime - tmpfs tmpfs rw,mode=700,uid=1000,gid=1000".into(),
    ];
    lines(&l.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A Kubernetes node running containerd's CRI (runtime v2): a pod sandbox's and a container's
/// roots at their bundles' `rootfs`, with lower dirs from the overlayfs snapshotter and
/// `index=off,nfs_export=off`, beside the sandbox's shm, a projected volume and a network
/// namespace. Reproduces the facts of the mount table pasted in opencontainers/runc#2404 (a node
/// whose containers' rootfs mounts leaked into other namespaces); ids and numbers are ours.
pub fn k8s_node_containerd() -> (String, [&'static str; 2]) {
    let sandbox = "3c1d9e0b5a7f46e2b8d4c6a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1";
    let container = "9f2e8d7c6b5a49381726354a4b3c2d1e0f9e8d7c6b5a49381726354a4b3c2d1e";
    let snap = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots";
    let task = "/run/containerd/io.containerd.runtime.v2.task/k8s.io";
    let l = [
        "25 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg0-root rw".to_string(),
        "26 25 0:24 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=1630436k,mode=755".into(),
        format!("1210 26 0:212 / /run/containerd/io.containerd.grpc.v1.cri/sandboxes/{sandbox}/shm rw,nosuid,nodev,noexec,relatime shared:640 - tmpfs shm rw,size=65536k"),
        format!("1232 26 0:215 / {task}/{sandbox}/rootfs rw,relatime shared:652 - overlay overlay rw,lowerdir={snap}/1/fs,upperdir={snap}/301/fs,workdir={snap}/301/work,index=off,nfs_export=off"),
        "1240 25 0:4 net:[4026533107] /run/netns/cni-5e0c6c1a-2b7d-8e4f-9a3b-1c2d3e4f5a6b rw shared:660 - nsfs nsfs rw".into(),
        "1251 25 0:218 / /var/lib/kubelet/pods/8b1f0c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d/volumes/kubernetes.io~projected/kube-api-access-x7k2p rw,relatime shared:671 - tmpfs tmpfs rw,size=3953544k".into(),
        format!("1266 26 0:221 / {task}/{container}/rootfs rw,relatime shared:680 - overlay overlay rw,lowerdir={snap}/278/fs:{snap}/244/fs:{snap}/15/fs,upperdir={snap}/302/fs,workdir={snap}/302/work,index=off,nfs_export=off"),
    ];
    (
        lines(&l.iter().map(String::as_str).collect::<Vec<_>>()),
        [sandbox, container],
    )
}

/// A k3s node (containerd under k3s's own root and state, the runtime v1 linux shim): roots at
/// /run/k3s/containerd/io.containerd.runtime.v1.linux/k8s.io/ID/rootfs, snapshots under
/// /var/lib/rancher/k3s/agent/containerd, `xino=off`. Reproduces the facts of the mount table
/// pasted in k3d-io/k3d#48; ids and numbers are ours.
pub fn k3s_node_containerd_v1() -> (String, [&'static str; 1]) {
    let id = "0b7e4d2c9a1f4e6b8d3c5a7f9e1b2d4c6a8f0e2b4d6c8a0f2e4b6d8c0a2f4e6b";
    let snap =
        "/var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots";
    let l = [
        "2061 1 0:71 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/K3DNODEROOTLAYER0000000000,upperdir=/var/lib/docker/overlay2/7a1b2c3d/diff,workdir=/var/lib/docker/overlay2/7a1b2c3d/work,xino=off".to_string(),
        format!("2536 2061 0:199 / /run/k3s/containerd/io.containerd.runtime.v1.linux/k8s.io/{id}/rootfs rw,relatime - overlay overlay rw,lowerdir={snap}/4/fs:{snap}/3/fs,upperdir={snap}/18/fs,workdir={snap}/18/work,xino=off"),
    ];
    (
        lines(&l.iter().map(String::as_str).collect::<Vec<_>>()),
        [id],
    )
}

/// A node with the stargz snapshotter, whose layers live outside containerd's root
/// (/var/lib/containerd-stargz-grpc/snapshotter/snapshots/N/fs) while the roots are containerd's
/// bundles. Reproduces the facts of the mount table in containerd/stargz-snapshotter#893.
pub fn stargz_node() -> (String, [&'static str; 1]) {
    let id = "5d4c3b2a19f8e7d6c5b4a3928170f6e5d4c3b2a19f8e7d6c5b4a3928170f6e5d";
    let snap = "/var/lib/containerd-stargz-grpc/snapshotter/snapshots";
    let l = [
        "22 1 259:1 / / rw,relatime shared:1 - xfs /dev/nvme0n1p1 rw".to_string(),
        "24 22 0:22 / /run rw,nosuid,nodev shared:6 - tmpfs tmpfs rw,mode=755".into(),
        format!(
            "913 24 0:187 / /run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/rootfs rw,relatime shared:402 - overlay overlay rw,lowerdir={snap}/16/fs:{snap}/15/fs:{snap}/14/fs,upperdir={snap}/17/fs,workdir={snap}/17/work"
        ),
    ];
    (
        lines(&l.iter().map(String::as_str).collect::<Vec<_>>()),
        [id],
    )
}

/// Three mounts whose paths need every escape the kernel writes (`\040` space, `\012` newline,
/// `\011` tab, `\134` backslash) and a CIFS source and options with spaces and backslashes; no
/// root mount, and the one under /tmp is not /tmp.
/// Reproduces the facts of moby/sys mountinfo's test constant `mountInfoWithSpaces`.
pub fn escapes() -> String {
    lines(&[
        "300 28 252:1 / /srv/my\\040share rw,relatime shared:50 - ext4 /dev/vdb1 rw",
        "301 21 0:40 / /data/office rw,relatime - cifs //nas/Team\\040Files/ rw,unc=\\\\nas\\Team Files,username=u,vers=3.0",
        "302 94 259:5 /tmp/a\\012b\\011c\\040d\\134e'f\" /tmp/a\\012b\\011c\\040d\\134e'f\" rw,relatime shared:51 - ext4 /dev/nvme0n1p5 rw",
    ])
}

/// Three junk lines between two mounts, one with a major:minor beyond 8 bits.
/// Reproduces the facts of systemd's test/test-umount/garbled.mountinfo.
pub fn garbled() -> String {
    lines(&[
        "30 60 1000777:220777 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw",
        "55 55",
        "not a mount line at all",
        "zzzz",
        "96 60 8:1 / /the-good-one rw,relatime shared:34 - ext4 /dev/sda1 rw",
    ])
}

/// A mount with an *empty* source field (`- tmpfs  rw`), on a host without cgroup mounts whose
/// /tmp is part of an ext3 root. Reproduces the facts of util-linux's
/// tests/ts/libmount/files/mountinfo_nosrc.
pub fn empty_source() -> String {
    lines(&[
        "15 20 0:3 / /proc rw,relatime - proc /proc rw",
        "20 1 8:4 / / rw,noatime - ext3 /dev/sda4 rw,data=ordered",
        "21 20 0:53 / /mnt/scratch rw,relatime shared:212 - tmpfs  rw",
    ])
}

/// The mount tables and what the doctor must say of each: (name, text, tmp-tmpfs status and words,
/// cgroup-version status and words). The verdict classes of the two checks, from the fixtures.
pub fn mount_tables() -> Vec<(&'static str, String, [&'static str; 4])> {
    vec![
        (
            "host_v1_tmpfs",
            host_v1_tmpfs(),
            [
                "ok",
                "/tmp is tmpfs (tmpfs, its own mount)",
                "warn",
                "v1: 10 legacy hierarchies",
            ],
        ),
        (
            "host_openrc_v1",
            host_openrc_v1(),
            ["ok", "/tmp is tmpfs (tmpfs, its own mount)", "warn", "v1:"],
        ),
        (
            "host_hybrid_tmp_on_ext4",
            host_hybrid_tmp_on_ext4(),
            [
                "warn",
                "/tmp is on ext4 (/dev/sdc1, its own mount)",
                "warn",
                "hybrid:",
            ],
        ),
        (
            "host_v2_xfs",
            host_v2_xfs(),
            [
                "warn",
                "/tmp is on xfs (/dev/mapper/rhel-root, part of the mount at /)",
                "ok",
                "v2: one unified hierarchy at /sys/fs/cgroup",
            ],
        ),
        (
            "docker_container_v1",
            docker_container_v1(),
            [
                "warn",
                "/tmp is on overlay (overlay, part of the mount at /)",
                "warn",
                "v1:",
            ],
        ),
        (
            "podman_rootless_container_v1",
            podman_rootless_container_v1(),
            ["warn", "/tmp is on overlay", "warn", "v1:"],
        ),
        (
            "empty_source",
            empty_source(),
            [
                "warn",
                "/tmp is on ext3 (/dev/sda4, part of the mount at /)",
                "unknown",
                "no cgroup or cgroup2 mounts",
            ],
        ),
        (
            "escapes",
            escapes(),
            [
                "unknown",
                "the mount table has no line for /",
                "unknown",
                "no cgroup or cgroup2 mounts",
            ],
        ),
        (
            "garbled",
            garbled(),
            [
                "unknown",
                "the mount table has no line for /",
                "unknown",
                "no cgroup or cgroup2 mounts",
            ],
        ),
    ]
}

/// /proc/self/cgroup of a process on a hybrid systemd host (the `0::` line and v1 lines at
/// /init.scope). Reproduces the facts of pre-commit's host hybrid example
/// (tests/languages/docker_test.py).
pub const PROC_CGROUP_HYBRID_INIT: &str = "12:pids:/init.scope\n\
    11:memory:/init.scope\n\
    10:freezer:/\n\
    9:cpu,cpuacct:/init.scope\n\
    1:name=systemd:/init.scope\n\
    0::/init.scope\n";

/// /proc/cgroups separated by spaces instead of tabs, with memory on hierarchy 0 (enabled but not
/// mounted on any v1 hierarchy). Reproduces the facts of balena-os/leviathan issue 99.
pub const PROC_CGROUPS_MEMORY_ON_NO_HIERARCHY: &str = "#subsys_name hierarchy num_cgroups enabled\n\
    cpuset 4 1 1\n\
    cpu 3 60 1\n\
    cpuacct 3 60 1\n\
    freezer 6 1 1\n\
    memory 0 1 1\n\
    devices 5 60 1\n\
    pids 7 61 1\n";

/// freezer.state contents: the three states the kernel documents
/// (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst).
pub const FREEZER_THAWED: &str = "THAWED\n";
pub const FREEZER_FREEZING: &str = "FREEZING\n";
pub const FREEZER_FROZEN: &str = "FROZEN\n";

/// A v2 cgroup.events of a populated, not frozen cgroup.
/// Reproduces the facts of aws/amazon-ecs-logs-collector issue 68 (a task slice's cgroup.events).
pub const CGROUP_EVENTS_POPULATED: &str = "populated 1\nfrozen 0\n";

/// `criu check` that warns about a stale cache and then passes.
/// Reproduces the facts of a CRIU `criu check` run with a stale /run/criu.kdat (CRIU's kerndat.c
/// warning, as quoted in checkpoint-restore/criu issues).
pub const CRIU_CHECK_LOOKS_GOOD_STALE: &str =
    "Warn  (criu/kerndat.c:900): Stale /run/criu.kdat file\nLooks good.\n";

/// `criu check --all` that passes with missing features: warnings, one error, then the verdict
/// over three lines. Reproduces the facts of `criu check --all` outputs quoted in
/// checkpoint-restore/criu issues (x86, CRIU 3.x).
pub const CRIU_CHECK_MISSING_FEATURES: &str =
    "Warn  (criu/cr-check.c:1250): clone3() with set_tid not supported
Error (criu/cr-check.c:1301): IFLA_NEW_IFINDEX isn't supported
Warn  (criu/cr-check.c:1320): Pidfd store requires pidfd_getfd syscall which is not supported
Looks good but some kernel features are missing
which, depending on your process tree, may cause
dump or restore failure.
";

/// An old CRIU's `criu check`: errors and missing pieces, no verdict line at all.
/// Reproduces the facts of CRIU 1.x `criu check --ms` output quoted in checkpoint-restore/criu issues.
pub const CRIU_CHECK_NO_VERDICT: &str = "/proc/<pid>/map_files directory is missing.
Error (libnetlink.c:37): ERROR -2 reported by netlink (No such file or directory)
System call kcmp is not supported
Error (cr-check.c:227): Can't fetch file owner UIDs: Invalid argument
Warn  (cr-check.c:296): Skipping mnt_id support check
";

/// `sudo criu check` whose output has a line of sudo's own before the verdict.
/// Reproduces the facts of a `sudo criu check` run quoted in checkpoint-restore/criu issues (3.18).
pub const CRIU_CHECK_GOOD_SUDO_NOISE: &str =
    "Warn  (criu/kerndat.c:1160): Stale /run/criu.kdat file
sudo: mon_handle_sigchld: waitpid: No child processes
Looks good.
";

/// buildkitd.toml in the current gc style: percentages and sizes on the worker, two gcpolicy
/// rules, the last `all = true` with a plain byte count (the ceiling), comments around them.
/// Reproduces the facts of moby/buildkit's docs/buildkitd.toml.md (new gc keys).
pub const BUILDKITD_TOML_NEW: &str = r#"# where buildkitd keeps its state
root = "/var/lib/buildkit"

[worker.oci]
  enabled = true
  gc = true
  # sizes are bytes, "512MB"-style strings or percentages of the disk
  reservedSpace = "30%"
  maxUsedSpace = "60%"
  minFreeSpace = "20GB"

  [[worker.oci.gcpolicy]]
    reservedSpace = "512MB"
    maxUsedSpace = "1GB"
    minFreeSpace = "10GB"
    keepDuration = "48h"
    filters = [ "type==source.local", "type==exec.cachemount" ]
  [[worker.oci.gcpolicy]]
    all = true
    reservedSpace = 1024000000
"#;

/// buildkitd.toml in the old gc style: `gckeepstorage` on the worker and `keepBytes` in the rules
/// (renamed to reservedSpace in BuildKit 0.17), with comments that mention the old key.
/// Reproduces the facts of moby/buildkit's docs/buildkitd.toml.md before the rename.
pub const BUILDKITD_TOML_OLD: &str = r#"root = "/var/lib/buildkit"

[worker.oci]
  enabled = true
  gc = true
  # gckeepstorage is the storage limit of the default gc profile
  gckeepstorage = 9000

  [[worker.oci.gcpolicy]]
    # keepBytes can be a number of bytes or a size string
    keepBytes = "512MB"
    keepDuration = "48h"
    filters = [ "type==source.local" ]
  [[worker.oci.gcpolicy]]
    all = true
    keepBytes = 1024000000
"#;

/// Two gcpolicy rules: an aged tier, then a ceiling for the whole cache.
/// Reproduces the facts of KBVE/kbve issue 13573 (a two-tier policy).
pub const BUILDKITD_TOML_TWO_TIER: &str = "[[worker.oci.gcpolicy]]\n  keepBytes = \"40GB\"\n  keepDuration = \"168h\"\n[[worker.oci.gcpolicy]]\n  keepBytes = \"100GB\"\n";

/// daemon.json with Docker's builder gc: two policies in the old `keepStorage` spelling, the
/// second one `all`. Reproduces the facts of moby/moby issue 37846.
pub const DAEMON_JSON_BUILDER_GC: &str = r#"{
  "builder": {
    "gc": {
      "enabled": true,
      "policy": [
        {"keepStorage": "1GB", "filter": ["unused-for=720h"]},
        {"keepStorage": "30GB", "all": true}
      ]
    }
  }
}
"#;

/// Two stages that run in parallel and share the cache id `pnpm` (at /pnpm/store) with the
/// default sharing, the last stage copying from both: stage `deps` at line 8 (its mount at line
/// 9), `build` at line 11 (its mount at line 12).
/// Reproduces the facts of pnpm's docs (docker.md, example 1: prod-deps and build).
pub const DOCKERFILE_PARALLEL_SHARED_CACHE: &str = "FROM node:22-slim AS base
ENV PNPM_HOME=/pnpm
ENV CI=true
RUN corepack enable
COPY . /src
WORKDIR /src

FROM base AS prod-deps
RUN --mount=type=cache,id=pnpm,target=/pnpm/store pnpm install --prod --frozen-lockfile

FROM base AS build
RUN --mount=type=cache,id=pnpm,target=/pnpm/store pnpm install --frozen-lockfile
RUN pnpm run build

FROM base
COPY --from=prod-deps /src/node_modules /src/node_modules
COPY --from=build /src/dist /src/dist
CMD [\"pnpm\", \"start\"]
";

/// apt caches mounted with `sharing=locked`: nothing to flag.
/// Reproduces the facts of the BuildKit Dockerfile reference (RUN --mount=type=cache, the apt example).
pub const DOCKERFILE_APT_LOCKED: &str = "FROM debian:12
RUN rm -f /etc/apt/apt.conf.d/docker-clean
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\
  --mount=type=cache,target=/var/lib/apt,sharing=locked \\
  apt-get update && apt-get install -y --no-install-recommends make
";

/// apt caches mounted without `sharing=locked` (one RUN line; needs a FROM before it).
/// Reproduces the facts of moby/buildkit issue 1662.
pub const DOCKERFILE_APT_UNLOCKED_RUN: &str =
    "RUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt \\
  apt-get update && apt-get install -y make
";

/// Two parallel stages with the same cache target, and two mistakes: a continuation line that
/// leaves the command on a line of its own, and `COPY --stage=`.
/// Reproduces the facts of moby/buildkit issue 5566's minimal reproducer.
pub const DOCKERFILE_PARALLEL_BROKEN: &str = "FROM debian:12-slim AS base

FROM base AS left

RUN \\
--mount=type=cache,target=/cache/npm
npm ci

FROM base AS right

RUN \\
--mount=type=cache,target=/cache/npm
npm ci

FROM base AS last

COPY --stage=left / /
COPY --stage=right / /
";

/// Kernel release strings and what kernel-version must say: (how it is given, the string, the
/// release, major, minor, expected status). One per verdict class and per form.
/// Reproduces the facts of the kernel_versions.tsv corpus (uname -r, uname -a and /proc/version
/// lines collected from distributions' bug trackers).
pub const KERNEL_RELEASES: &[(&str, &str, &str, u32, u32, &str)] = &[
    ("uname_r", "6.1.0-25-amd64", "6.1.0-25-amd64", 6, 1, "ok"),
    (
        "uname_r",
        "4.18.0-513.5.1.el8_9.x86_64",
        "4.18.0-513.5.1.el8_9.x86_64",
        4,
        18,
        "warn",
    ),
    (
        "uname_r",
        "3.10.0-1160.el7.x86_64",
        "3.10.0-1160.el7.x86_64",
        3,
        10,
        "warn",
    ),
    (
        "uname_r",
        "2.6.32-754.el6.x86_64",
        "2.6.32-754.el6.x86_64",
        2,
        6,
        "error",
    ),
    ("uname_r", "6.10.0-rc3", "6.10.0-rc3", 6, 10, "ok"),
    (
        "uname_a",
        "Linux build 5.15.153.1-microsoft-standard-WSL2 #1 SMP Fri Mar 29 23:14:13 UTC 2024 x86_64 GNU/Linux",
        "5.15.153.1-microsoft-standard-WSL2",
        5,
        15,
        "ok",
    ),
    (
        "uname_r",
        "4.4.0-19041-Microsoft",
        "4.4.0-19041-Microsoft",
        4,
        4,
        "error",
    ),
    (
        "proc_version",
        "Linux version 5.10.0-28-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1 20210110) #1 SMP Debian 5.10.209-2 (2024-01-31)",
        "5.10.0-28-cloud-amd64",
        5,
        10,
        "ok",
    ),
];

/// Two stages running apt on one unlocked cache, built together: the race of moby/buildkit#1662
/// ("Could not get lock /var/lib/apt/lists/lock"). Findings on lines 4 and 6.
pub const APT_PARALLEL_DOCKERFILE: &str = "FROM debian:bookworm AS base\n\
FROM base AS tools\n\
# the lists and archives of apt, shared with the stage below\n\
RUN --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y make\n\
FROM base AS libs\n\
RUN --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y libc6-dev\n\
FROM scratch\n\
COPY --from=tools / /tools\n\
COPY --from=libs / /libs\n";
