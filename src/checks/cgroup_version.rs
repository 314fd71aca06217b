//! `cgroup-version`: v1, hybrid or v2. v1 and hybrid hosts keep the legacy freezer, whose
//! FREEZING state can hang checkpoints for ever; runc and systemd have deprecated v1.

use super::{Check, Options};
use crate::facts::{Facts, Family};
use crate::host::Host;
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::cgroup::{self, Mode};

use crate::facts::CgroupLayout as Layout;

/// The inode of the initial cgroup namespace (PROC_CGROUP_INIT_INO).
const INITIAL_CGROUP_NS: &str = "cgroup:[4026531835]";

pub const CHECK: Check = Check {
    id: "cgroup-version",
    title: "cgroup v1, hybrid or v2",
    area: "cgroups",
    explanation: super::explanation!("cgroup-version"),
    in_container: Some(
        "sees only the cgroup mounts the engine gave this container: a hybrid host can look like v1",
    ),
    requires_tool: None,
    active_probe: false,
    run,
};

fn run(host: &Facts, _: &Options) -> Outcome {
    let layout = match host.cgroups() {
        Ok(l) => l,
        Err(reason) => return Outcome::unknown(reason),
    };
    let who = if host.is_live() { "self" } else { "1" };

    let legacy: Vec<String> = layout
        .legacy
        .iter()
        .map(|h| h.controllers.join(","))
        .collect();
    let unified_controllers = layout
        .unified
        .as_ref()
        .and_then(|u| host.read_text(&format!("{u}/cgroup.controllers")).ok())
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "));
    let namespaced = host
        .read_link(&format!("/proc/{who}/ns/cgroup"))
        .is_ok_and(|l| l != INITIAL_CGROUP_NS);
    let inside = if namespaced {
        " — seen from inside a cgroup namespace: only this container's subtree is visible"
    } else {
        ""
    };

    let mut out = match layout.mode {
        Mode::V2 => Outcome::new(
            Status::Ok,
            format!(
                "v2: one unified hierarchy at {}{inside}",
                layout.unified.as_deref().unwrap_or("/sys/fs/cgroup")
            ),
        ),
        Mode::Hybrid => Outcome::new(
            Status::Warn,
            format!(
                "hybrid: {} v1 hierarchies plus cgroup2 at {}; the v1 freezer can hang checkpoints{inside}",
                layout.legacy.len(),
                layout.unified.as_deref().unwrap_or("?")
            ),
        ),
        Mode::V1 => Outcome::new(
            Status::Warn,
            format!(
                "v1: {} legacy hierarchies, no cgroup2; runc and systemd have deprecated v1{inside}",
                layout.legacy.len()
            ),
        ),
    };
    out = out.evidence(layout.decided_by.clone(), layout.mode.to_string());
    if !legacy.is_empty() {
        out = out.evidence("mountinfo: v1 hierarchies", legacy.join(" "));
    }
    if let (Some(u), Some(c)) = (&layout.unified, unified_controllers) {
        let c = if c.is_empty() {
            "no controllers".to_string()
        } else {
            c
        };
        out = out.evidence(format!("{u}/cgroup.controllers"), c);
    }
    out = cross_check(host, who, layout, out);
    if namespaced {
        out = out.evidence(
            format!("/proc/{who}/ns/cgroup"),
            "not the initial cgroup namespace",
        );
    }
    if layout.mode != Mode::V2 {
        out = out.fix(move_to_v2(host));
    }
    out
}

/// What /proc/PID/cgroup and /proc/cgroups say, next to what the mounts say.
fn cross_check(host: &Host, who: &str, layout: &Layout, mut out: Outcome) -> Outcome {
    let path = format!("/proc/{who}/cgroup");
    if let Ok(text) = host.read_text(&path) {
        let lines = cgroup::parse_memberships(&text);
        let own = lines
            .iter()
            .find(|l| l.hierarchy == 0)
            .or_else(|| {
                lines
                    .iter()
                    .find(|l| l.controllers.iter().any(|c| c == "name=systemd"))
            })
            .or(lines.first())
            .map(|l| l.path.clone())
            .unwrap_or_default();
        match cgroup::mode_of_memberships(&lines) {
            Some(m) if m == layout.mode => {
                out = out.evidence(path, format!("agrees ({m}); own cgroup {own}"))
            }
            Some(m) => {
                out = out.evidence(
                    path,
                    format!(
                        "says {m} while the mounts say {}; own cgroup {own}",
                        layout.mode
                    ),
                )
            }
            None => out = out.evidence(path, "no cgroup lines"),
        }
    }
    if let Ok(text) = host.read_text("/proc/cgroups") {
        let subs = cgroup::parse_subsystems(&text);
        let off: Vec<&str> = subs
            .iter()
            .filter(|s| !s.enabled)
            .map(|s| s.name.as_str())
            .collect();
        let unmounted: Vec<&str> = subs
            .iter()
            .filter(|s| s.enabled && s.hierarchy == 0)
            .map(|s| s.name.as_str())
            .collect();
        let mut note = format!("{} controllers", subs.len());
        if !unmounted.is_empty() {
            note += &format!(
                "; on no v1 hierarchy (v2 or unused): {}",
                unmounted.join(" ")
            );
        }
        if !off.is_empty() {
            note += &format!("; disabled: {}", off.join(" "));
        }
        out = out.evidence("/proc/cgroups", note);
    }
    if let Ok(cmdline) = host.read_text("/proc/cmdline") {
        let flags: Vec<&str> = cmdline
            .split_whitespace()
            .filter(|w| {
                w.starts_with("systemd.unified_cgroup_hierarchy")
                    || w.starts_with("systemd.legacy")
                    || w.starts_with("cgroup_no_v1")
            })
            .collect();
        if !flags.is_empty() {
            out = out.evidence("/proc/cmdline", flags.join(" "));
        }
    }
    out
}

fn move_to_v2(host: &Facts) -> FixPlan {
    let boot = match host.os_release().family() {
        Family::RedHat => {
            "grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1".to_string()
        }
        Family::Debian => "add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub".into(),
        _ => "add systemd.unified_cgroup_hierarchy=1 to the kernel command line in your boot loader"
            .into(),
    };
    FixPlan {
        id: "cgroup-v2".into(),
        title: "Boot with the unified cgroup hierarchy (cgroup v2)".into(),
        risk: Risk::Disruptive,
        needs_root: true,
        steps: vec![
            Step::Manual { instruction: boot },
            Step::Manual {
                instruction: "remove systemd.legacy_systemd_cgroup_controller and any \
                              systemd.unified_cgroup_hierarchy=0 from the command line, then reboot"
                    .into(),
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Script;

    fn judge(script: Script) -> Outcome {
        (CHECK.run)(&Facts::of(script.host()), &Options::default())
    }

    #[test]
    fn modes_from_the_mount_table() {
        let v2 = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let o = judge(Script::new().file("/proc/1/mountinfo", v2));
        assert_eq!(o.status, Status::Ok, "{}", o.summary);
        assert!(o.summary.starts_with("v2"), "{}", o.summary);
        let hybrid = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
                      30 1 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                      31 1 0:27 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
        let o = judge(
            Script::new()
                .file("/proc/1/mountinfo", hybrid)
                .file("/etc/os-release", "ID=ubuntu\n"),
        );
        assert_eq!(o.status, Status::Warn, "{}", o.summary);
        assert!(o.summary.starts_with("hybrid"), "{}", o.summary);
        // Ubuntu's boot loader instruction.
        let fix = serde_json::to_string(&o.fixes).unwrap_or_default();
        assert!(fix.contains("update-grub"), "{fix}");
        let o =
            judge(Script::new().file("/proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"));
        assert_eq!(o.status, Status::Unknown, "{}", o.summary);
    }
}
