//! Where the cgroup hierarchies are mounted, shared by `cgroup-version`, `cgroup-freezer` and the
//! report header.
//! Live, statfs of /sys/fs/cgroup has the final word on the mode; the mount table names the
//! hierarchies either way.

use crate::fsmagic;
use crate::host::{Host, HostError};
use crate::parse::cgroup::Mode;
use crate::parse::mountinfo::MountTable;

/// Mount options of a v1 cgroup mount that are not controllers.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "clone_children",
    "noprefix",
    "none",
    "cpuset_v2_mode",
];

/// One v1 hierarchy as mounted.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub mount_point: String,
    /// `cpu`, `freezer`, `name=systemd`, …
    pub controllers: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub mode: Mode,
    pub legacy: Vec<Hierarchy>,
    /// The cgroup2 mount, if any (/sys/fs/cgroup on v2, /sys/fs/cgroup/unified on hybrid).
    pub unified: Option<String>,
    /// How the mode was decided, for evidence.
    pub decided_by: String,
}

impl Layout {
    pub fn freezer(&self) -> Option<&Hierarchy> {
        self.legacy
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "freezer"))
    }
}

/// Reads the layout from the mount table, and live also from statfs.
pub(super) fn read(host: &Host, table: Result<&MountTable, &HostError>) -> Result<Layout, String> {
    let table = table.map_err(|e| format!("cannot read the mount table: {e}"))?;
    let mut layout = from_table(table);
    match host.statfs_magic("/sys/fs/cgroup") {
        Ok(magic) => {
            let live = if magic == fsmagic::CGROUP2 {
                Mode::V2
            } else if host.statfs_magic("/sys/fs/cgroup/unified").ok() == Some(fsmagic::CGROUP2) {
                Mode::Hybrid
            } else {
                Mode::V1
            };
            let by = format!("statfs /sys/fs/cgroup: {}", fsmagic::name(magic));
            match &mut layout {
                Some(l) => {
                    l.mode = live;
                    l.decided_by = by;
                }
                None => {
                    layout = Some(Layout {
                        mode: live,
                        legacy: Vec::new(),
                        unified: (live == Mode::V2).then(|| "/sys/fs/cgroup".into()),
                        decided_by: by,
                    })
                }
            }
        }
        Err(HostError::Unsupported(_)) => {}
        Err(e) if layout.is_none() => return Err(format!("no cgroup mounts, and {e}")),
        Err(_) => {}
    }
    layout.ok_or_else(|| "no cgroup or cgroup2 mounts in the mount table".into())
}

fn from_table(table: &MountTable) -> Option<Layout> {
    let mut legacy: Vec<Hierarchy> = Vec::new();
    let mut unified: Vec<&str> = Vec::new();
    for m in &table.mounts {
        match m.fstype.as_str() {
            "cgroup" => {
                let controllers: Vec<String> = m
                    .super_options
                    .split(',')
                    .filter(|o| !NOT_CONTROLLERS.contains(o) && !o.starts_with("release_agent="))
                    .map(str::to_string)
                    .collect();
                // A hierarchy bind-mounted twice is still one hierarchy.
                if !legacy.iter().any(|h| h.controllers == controllers) {
                    legacy.push(Hierarchy {
                        mount_point: m.mount_point.clone(),
                        controllers,
                    });
                }
            }
            "cgroup2" => unified.push(&m.mount_point),
            _ => {}
        }
    }
    let unified = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .find(|p| unified.contains(p))
        .map(|p| p.to_string())
        .or_else(|| unified.first().map(|p| p.to_string()));
    let mode = match (!legacy.is_empty(), unified.is_some()) {
        (true, true) => Mode::Hybrid,
        (true, false) => Mode::V1,
        (false, true) => Mode::V2,
        (false, false) => return None,
    };
    Some(Layout {
        mode,
        legacy,
        unified,
        decided_by: "mountinfo: cgroup and cgroup2 mounts".into(),
    })
}
