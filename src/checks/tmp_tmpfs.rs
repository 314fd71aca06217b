//! `tmp-tmpfs`: is /tmp a tmpfs? Container tools' test suites put overlay mounts and state under
//! /tmp; on a disk filesystem that survives reboots they leak and stay "target is busy"
//! (Buildah's mkcw-convert flake). Live, statfs decides; under `--root`, the host's mount table.

use crate::fsmagic;
use super::{Check, Options};
use crate::facts::Facts;
use crate::host::{Host, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::mountinfo::{MountTable, escape};

/// The fstab line that makes /tmp a tmpfs at boot.
const FSTAB_LINE: &str = "tmpfs /tmp tmpfs rw,nosuid,nodev,size=50%,mode=1777 0 0\n";
/// Where systemd ships its tmp.mount unit.
const TMP_MOUNT_UNITS: &[&str] = &[
    "/usr/lib/systemd/system/tmp.mount",
    "/lib/systemd/system/tmp.mount",
];

/// What one directory lives on.
struct Placement {
    fstype: String,
    /// "on /dev/vda (mounted at /)"; empty when the mount table did not say.
    mount: String,
}

impl Placement {
    fn is_memory(&self) -> bool {
        matches!(self.fstype.as_str(), "tmpfs" | "ramfs")
    }

    fn describe(&self) -> String {
        format!("{}{}", self.fstype, self.mount)
    }
}

pub const CHECK: Check = Check {
    id: "tmp-tmpfs",
    title: "/tmp on tmpfs",
    area: "Filesystems",
    explanation: super::explanation!("tmp-tmpfs"),
    in_container: Some("judges this container's /tmp, not the host's"),
    requires_tool: None,
    active_probe: false,
    run,
};

fn run(host: &Facts, _: &Options) -> Outcome {
    let table = host.mount_table();
    // Without statfs the mount table is the only witness.
    if let (false, Err(e)) = (host.is_live(), &table) {
        return Outcome::unknown(format!("cannot read the mount table: {e}"));
    }
    let tmp = match place(host, "/tmp", table.ok()) {
        Ok(p) => p,
        Err(e) => return Outcome::unknown(format!("cannot tell what /tmp is on: {e}")),
    };
    let mut out = if tmp.is_memory() {
        Outcome::new(Status::Ok, format!("/tmp is {}", tmp.describe()))
    } else {
        Outcome::new(
            Status::Warn,
            format!(
                "/tmp is on {}, not tmpfs: leaked test mounts and state survive reboots",
                tmp.describe()
            ),
        )
    };
    out = out.evidence(source(host, "/tmp"), tmp.describe());

    // /var/tmp is meant to persist; it is reported, never judged.
    if let Ok(p) = place(host, "/var/tmp", table.ok()) {
        out = out.evidence(source(host, "/var/tmp"), p.describe());
    }
    match host.env("TMPDIR") {
        Ok(Some(dir)) if !dir.is_empty() && dir.trim_end_matches('/') != "/tmp" => {
            match place(host, &dir, table.ok()) {
                Ok(p) => {
                    out = out.evidence(format!("$TMPDIR={}", escape(&dir)), p.describe());
                    if !p.is_memory() && out.status == Status::Ok {
                        out.status = Status::Warn;
                        out.summary = format!(
                            "/tmp is tmpfs, but TMPDIR={} is on {}, and tools use TMPDIR first",
                            escape(&dir),
                            p.describe()
                        );
                    }
                }
                Err(e) => out = out.evidence(format!("$TMPDIR={}", escape(&dir)), e.to_string()),
            }
        }
        Ok(_) => out = out.evidence("$TMPDIR", "not set"),
        Err(e) => out = out.evidence("$TMPDIR", e.to_string()),
    }
    if out.status == Status::Warn && !tmp.is_memory() {
        out = out
            .fix(mount_now_fix())
            .fix(persistent_fix(host))
            .fix(tmpdir_fix());
    }
    out
}

fn source(host: &Host, path: &str) -> String {
    if host.is_live() {
        format!("statfs {path}")
    } else {
        format!("mountinfo {path}")
    }
}

/// What `path` lives on: statfs when live (the kernel's word), else the mount table.
fn place(host: &Host, path: &str, table: Option<&MountTable>) -> Result<Placement, HostError> {
    let mount = table.and_then(|t| t.containing(path));
    let where_ = mount
        .map(|m| {
            let src = if m.source.is_empty() {
                "none".into()
            } else {
                escape(&m.source)
            };
            if m.mount_point == path {
                format!(" ({src}, its own mount)")
            } else {
                format!(" ({src}, part of the mount at {})", escape(&m.mount_point))
            }
        })
        .unwrap_or_default();
    match host.statfs_magic(path) {
        Ok(magic) => Ok(Placement {
            // The mount table names ext4 where the magic only says ext2/3/4; statfs decides.
            fstype: match mount {
                Some(m) if fsmagic::matches(magic, &m.fstype) => m.fstype.clone(),
                _ => fsmagic::name(magic),
            },
            mount: where_,
        }),
        Err(HostError::Unsupported(_)) => match mount {
            Some(m) => Ok(Placement {
                fstype: m.fstype.clone(),
                mount: where_,
            }),
            None => Err(HostError::NotFound(format!(
                "no mount holding {}",
                escape(path)
            ))),
        },
        Err(e) => Err(e),
    }
}

fn persistent_fix(host: &Host) -> FixPlan {
    let unit = TMP_MOUNT_UNITS.iter().any(|u| host.read(u).is_ok());
    let systemd = host.list_dir("/run/systemd/system").is_ok();
    if unit && systemd {
        FixPlan {
            id: "tmp-mount-unit".into(),
            title: "Mount a tmpfs on /tmp at boot (systemd tmp.mount)".into(),
            risk: Risk::Disruptive,
            needs_root: true,
            steps: vec![
                Step::Exec {
                    argv: vec!["systemctl".into(), "enable".into(), "tmp.mount".into()],
                },
                Step::Manual {
                    instruction:
                        "Reboot (or `systemctl start tmp.mount`, which hides what is in /tmp now)"
                            .into(),
                },
            ],
        }
    } else {
        FixPlan {
            id: "tmp-fstab".into(),
            title: "Mount a tmpfs on /tmp at boot (/etc/fstab)".into(),
            risk: Risk::Disruptive,
            needs_root: true,
            steps: vec![
                Step::AppendFile {
                    path: "/etc/fstab".into(),
                    content: FSTAB_LINE.into(),
                },
                Step::Manual {
                    instruction: "Reboot (or `mount /tmp`, which hides what is in /tmp now)".into(),
                },
            ],
        }
    }
}

/// Mounting over /tmp now hides what is in it; the executor refuses while files there are open.
fn mount_now_fix() -> FixPlan {
    FixPlan {
        id: "tmp-mount-now".into(),
        title: "Mount a tmpfs on /tmp now (what /tmp holds now is hidden until it is unmounted)"
            .into(),
        risk: Risk::Disruptive,
        needs_root: true,
        steps: vec![Step::Mount {
            source: "tmpfs".into(),
            target: "/tmp".into(),
            fstype: "tmpfs".into(),
            options: "mode=1777,nosuid,nodev".into(),
        }],
    }
}

fn tmpdir_fix() -> FixPlan {
    FixPlan {
        id: "tmpdir-on-tmpfs".into(),
        title: "Point test suites at a tmpfs with TMPDIR".into(),
        risk: Risk::Safe,
        needs_root: false,
        steps: vec![Step::Manual {
            instruction:
                "export TMPDIR=/dev/shm (or another tmpfs) before running container test suites"
                    .into(),
        }],
    }
}
