//! `kernel-version`: which kernel runs, and which container-relevant features its version implies.

use super::{Check, Options};
use crate::facts::Facts;
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::kernel::{self, Flavour, KernelRelease};

use super::first_line;

/// Container-relevant kernel features and the upstream version that brought them.
const FEATURES: &[(u32, u32, &str)] = &[
    (5, 2, "cgroup v2 freezer (cgroup.freeze)"),
    (5, 3, "pidfd_open / pidfd_send_signal"),
    (5, 4, "waitid(P_PIDFD)"),
    (5, 11, "overlayfs in user namespaces"),
    (5, 12, "idmapped mounts"),
    (5, 14, "cgroup.kill"),
    (6, 9, "pidfs (pidfds with stable inode numbers)"),
];

/// The oldest kernel Docker, runc and containerd support at all.
const MINIMUM: (u32, u32) = (3, 10);
/// Older than this lacks pidfds: runtimes fall back to racy kill/poll loops.
const RECOMMENDED: (u32, u32) = (5, 3);
/// From here on CRIU older than 4.1 cannot start (the vvar_vclock vDSO split).
const CRIU_41_NEEDED: (u32, u32) = (6, 13);

pub const CHECK: Check = Check {
    id: "kernel-version",
    title: "Kernel version and the features it implies",
    area: "Kernel",
    explanation: super::explanation!("kernel-version"),
    in_container: None,
    requires_tool: None,
    active_probe: false,
    run,
};

fn run(host: &Facts, _: &Options) -> Outcome {
    let k = match host.kernel() {
        Ok(k) => k,
        Err(reason) => return Outcome::unknown(reason),
    };
    let proc_version = host.read_text("/proc/version").ok();
    let upstream = proc_version.as_deref().and_then(kernel::upstream_version);
    let flavour = k.flavour();

    let (have, missing): (Vec<_>, Vec<_>) = FEATURES
        .iter()
        .partition(|(ma, mi, _)| k.at_least(*ma, *mi));
    let named = |v: &[&(u32, u32, &str)]| {
        v.iter()
            .map(|(ma, mi, n)| format!("{n} ({ma}.{mi})"))
            .collect::<Vec<_>>()
            .join(", ")
    };

    let label = describe(k, flavour.as_ref(), upstream);
    let (status, summary) = if flavour == Some(Flavour::Wsl1) {
        (
            Status::Error,
            format!(
                "{label}: WSL1 translates syscalls and is not a Linux kernel; containers need WSL2"
            ),
        )
    } else if !k.at_least(MINIMUM.0, MINIMUM.1) {
        (
            Status::Error,
            format!(
                "{label}: older than {}.{}, the minimum for Docker and runc",
                MINIMUM.0, MINIMUM.1
            ),
        )
    } else if !k.at_least(RECOMMENDED.0, RECOMMENDED.1) {
        let backport = match &flavour {
            Some(Flavour::Enterprise(tag)) => {
                format!(" ({tag} backports features, so the live probes have the final word)")
            }
            _ => String::new(),
        };
        (
            Status::Warn,
            format!(
                "{label}: older than {}.{}, so no pidfds; {} listed features missing{backport}",
                RECOMMENDED.0,
                RECOMMENDED.1,
                missing.len()
            ),
        )
    } else if missing.is_empty() {
        (
            Status::Ok,
            format!(
                "{label}: all {} listed container features present",
                have.len()
            ),
        )
    } else {
        (
            Status::Ok,
            format!(
                "{label}: {} of {} listed container features present",
                have.len(),
                FEATURES.len()
            ),
        )
    };

    let mut out = Outcome::new(status, summary);
    if let Ok(osrelease) = host.read_text("/proc/sys/kernel/osrelease") {
        out = out.evidence("/proc/sys/kernel/osrelease", first_line(&osrelease, 200));
    }
    if let Some(v) = &proc_version {
        out = out.evidence("/proc/version", first_line(v, 200));
    }
    if !have.is_empty() {
        out = out.evidence(
            "implied by the version",
            format!("present: {}", named(&have)),
        );
    }
    if !missing.is_empty() {
        out = out.evidence(
            "implied by the version",
            format!("missing: {}", named(&missing)),
        );
    }
    if k.at_least(CRIU_41_NEEDED.0, CRIU_41_NEEDED.1) {
        out = out.evidence(
            "implied by the version",
            "6.13 or later: CRIU older than 4.1 cannot start here (vvar_vclock vDSO split)",
        );
    }
    if status != Status::Ok {
        out = out.fix(FixPlan {
            id: "upgrade-kernel".into(),
            title: "Upgrade the kernel".into(),
            risk: Risk::Disruptive,
            needs_root: true,
            steps: vec![Step::Manual {
                instruction: if flavour == Some(Flavour::Wsl1) {
                    "Convert the distribution to WSL2: `wsl --set-version <distro> 2` in Windows"
                        .into()
                } else {
                    format!(
                        "Install a kernel {}.{} or newer from your distribution and reboot",
                        RECOMMENDED.0, RECOMMENDED.1
                    )
                },
            }],
        });
    }
    out
}

/// "Linux 6.1.0 (amd64, upstream 6.1.106)".
fn describe(
    k: &KernelRelease,
    flavour: Option<&Flavour>,
    upstream: Option<(u32, u32, u32)>,
) -> String {
    let mut notes = Vec::new();
    if let Some(f) = flavour {
        notes.push(f.to_string());
    }
    if let Some((a, b, c)) = upstream
        && (a, b, c) != (k.major, k.minor, k.patch)
    {
        notes.push(format!("upstream {a}.{b}.{c}"));
    }
    if notes.is_empty() {
        format!("Linux {k}")
    } else {
        format!("Linux {k} ({})", notes.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Script;
    use crate::model::Status;

    fn judge(script: Script) -> Outcome {
        (CHECK.run)(&Facts::of(script.host()), &Options::default())
    }

    #[test]
    fn verdicts_by_release() {
        let o = judge(Script::new().file("/proc/sys/kernel/osrelease", "6.1.0-25-amd64\n"));
        assert_eq!(o.status, Status::Ok, "{}", o.summary);
        // CentOS 7: older than 5.3, no pidfds; its backports are named.
        let o = judge(Script::new().file(
            "/proc/sys/kernel/osrelease",
            "3.10.0-1160.102.1.el7.x86_64\n",
        ));
        assert_eq!(o.status, Status::Warn, "{}", o.summary);
        assert!(o.summary.contains("backports"), "{}", o.summary);
        // WSL1 is no Linux kernel.
        let o = judge(Script::new().file("/proc/sys/kernel/osrelease", "4.4.0-18985-Microsoft\n"));
        assert_eq!(o.status, Status::Error, "{}", o.summary);
    }

    #[test]
    fn no_release_is_unknown() {
        let o = judge(Script::new());
        assert_eq!(o.status, Status::Unknown);
        let o = judge(Script::new().file("/proc/sys/kernel/osrelease", "\u{1}garbage"));
        assert_eq!(o.status, Status::Unknown, "{}", o.summary);
    }
}
