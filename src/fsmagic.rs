//! Filesystem magic numbers (statfs f_type, from linux/magic.h) and their names.

pub const TMPFS: u64 = 0x0102_1994;
pub const RAMFS: u64 = 0x8584_58f6;
pub const CGROUP2: u64 = 0x6367_7270;
pub const OVERLAY: u64 = 0x794c_7630;

const NAMES: &[(u64, &str)] = &[
    (TMPFS, "tmpfs"),
    (RAMFS, "ramfs"),
    (0xef53, "ext2/3/4"),
    (0x5846_5342, "xfs"),
    (0x9123_683e, "btrfs"),
    (OVERLAY, "overlay"),
    (0x2fc1_2fc1, "zfs"),
    (0x6969, "nfs"),
    (0xff53_4d42, "cifs"),
    (0x0102_1997, "9p"),
    (0x6573_5546, "fuse"),
    (0x0027_e0eb, "cgroup"),
    (CGROUP2, "cgroup2"),
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x7371_7368, "squashfs"),
    (0x5346_544e, "ntfs"),
    (0x4d44, "vfat"),
];

/// The filesystem's name, or its magic in hex when we do not know it.
pub fn name(magic: u64) -> String {
    NAMES
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("magic {magic:#x}"))
}

/// Whether a mount table's fstype is the filesystem this magic denotes.
pub fn matches(magic: u64, fstype: &str) -> bool {
    let name = name(magic);
    name == fstype || (name == "ext2/3/4" && fstype.starts_with("ext"))
}
