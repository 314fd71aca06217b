//! Filesystem magic numbers (statfs f_type, from linux/magic.h) and their names.

/// libc's constant as statfs(2)'s f_type compares: c_long on most targets, c_uint on some.
macro_rules! magic {
    ($c:ident) => {
        libc::$c as u32 as u64
    };
}

pub const TMPFS: u64 = magic!(TMPFS_MAGIC);
pub const CGROUP2: u64 = magic!(CGROUP2_SUPER_MAGIC);
pub const OVERLAY: u64 = magic!(OVERLAYFS_SUPER_MAGIC);
/// Not in libc: linux/magic.h.
pub const RAMFS: u64 = 0x8584_58f6;

/// Names of the filesystems a container host shows; the ones libc lacks are from linux/magic.h
/// (xfs, squashfs, cifs, 9p, ntfs) and from OpenZFS (zfs).
const NAMES: &[(u64, &str)] = &[
    (TMPFS, "tmpfs"),
    (RAMFS, "ramfs"),
    (magic!(EXT4_SUPER_MAGIC), "ext2/3/4"),
    (0x5846_5342, "xfs"),
    (magic!(BTRFS_SUPER_MAGIC), "btrfs"),
    (OVERLAY, "overlay"),
    (0x2fc1_2fc1, "zfs"),
    (magic!(NFS_SUPER_MAGIC), "nfs"),
    (0xff53_4d42, "cifs"),
    (0x0102_1997, "9p"),
    (magic!(FUSE_SUPER_MAGIC), "fuse"),
    (magic!(CGROUP_SUPER_MAGIC), "cgroup"),
    (CGROUP2, "cgroup2"),
    (magic!(PROC_SUPER_MAGIC), "proc"),
    (magic!(SYSFS_MAGIC), "sysfs"),
    (0x7371_7368, "squashfs"),
    (0x5346_544e, "ntfs"),
    (magic!(MSDOS_SUPER_MAGIC), "vfat"),
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
