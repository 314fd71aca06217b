//! After a plan ran: is what it targeted now as the plan meant? The mount it unmounted gone from
//! its namespace's table, the process it stopped gone, the file it wrote holding the new content.
//! A fix is judged by its own target, not by the check's other findings (another leaked overlay
//! does not make a successful unmount "still failing").

use crate::host::Host;
use crate::model::{FixPlan, Step};
use crate::parse::{mountinfo, proc_stat};

/// One targeted thing and whether it is done; `None` when its effect cannot be read back (an
/// exec, a step left to a person).
pub struct Target {
    pub what: String,
    pub done: Option<bool>,
}

pub fn targets(plan: &FixPlan, host: &Host) -> Vec<Target> {
    plan.steps.iter().filter_map(|s| target(s, host)).collect()
}

/// Whether every target that can be read back is done, and at least one could be.
pub fn all_done(targets: &[Target]) -> Option<bool> {
    let known: Vec<bool> = targets.iter().filter_map(|t| t.done).collect();
    (!known.is_empty()).then(|| known.iter().all(|d| *d))
}

fn target(step: &Step, host: &Host) -> Option<Target> {
    let esc = mountinfo::escape;
    Some(match step {
        Step::Unmount {
            path,
            mount_id,
            namespace,
            ..
        } => {
            // The table of the namespace the mount lived in: ours, or its process's.
            let who = namespace
                .as_ref()
                .map_or_else(|| "self".to_string(), |ns| ns.pid.to_string());
            let table = host
                .read_text(&format!("/proc/{who}/mountinfo"))
                .ok()
                .map(|t| mountinfo::parse(&t));
            let gone = table.map(|t| {
                !t.mounts.iter().any(|m| match mount_id {
                    Some(id) => m.id == *id,
                    None => m.mount_point == *path,
                })
            });
            Target {
                what: format!("{} unmounted", esc(path)),
                // The namespace's last process gone takes the namespace and its mounts along.
                done: gone.or(namespace.as_ref().map(|_| true)),
            }
        }
        Step::Signal {
            pid,
            start_ticks,
            comm,
            ..
        } => {
            let still = host
                .read_text(&format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|t| proc_stat::parse(&t))
                .is_some_and(|s| s.start_ticks == *start_ticks && s.state != 'Z');
            Target {
                what: format!(
                    "pid {pid} ({}) stopped",
                    crate::escape::escape_control(comm)
                ),
                done: Some(!still),
            }
        }
        Step::Mount { target, fstype, .. } => {
            let table = host
                .read_text("/proc/self/mountinfo")
                .ok()
                .map(|t| mountinfo::parse(&t));
            Target {
                what: format!("{fstype} mounted on {}", esc(target)),
                done: table.map(|t| t.at(target).is_some_and(|m| m.fstype == *fstype)),
            }
        }
        Step::WriteFile { path, content, .. } => Target {
            what: format!("{} written", esc(path)),
            done: host
                .read_text(path)
                .ok()
                .map(|now| now.trim_end() == content.trim_end()),
        },
        Step::AppendFile { path, content } => Target {
            what: format!("{} appended to", esc(path)),
            done: host
                .read_text(path)
                .ok()
                .map(|now| now.contains(content.trim_end())),
        },
        Step::Exec { .. } | Step::Manual { .. } => return None,
    })
}
