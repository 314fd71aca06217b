//! `pidfd`: can this system hand out race-free process handles? Without them runc and test
//! suites fall back to `kill -0` / poll loops that race with PID reuse and with reaping.

use super::{Check, Options};
use crate::facts::Facts;
use crate::host::HostError;
use crate::model::{Outcome, Status};
use crate::host::{PidfdProbe, SyscallOutcome};

pub const CHECK: Check = Check {
    id: "pidfd",
    title: "pidfd support (race-free process handles)",
    area: "Kernel",
    explanation: super::explanation!("pidfd"),
    in_container: Some(
        "answers for this container's seccomp profile, which may block calls the host allows",
    ),
    requires_tool: None,
    active_probe: false,
    run,
};

fn run(host: &Facts, _: &Options) -> Outcome {
    match host.probe_pidfd() {
        Ok(probe) => {
            let mut out = judge_probe(host, &probe);
            // A replayed bundle answers with the probe of the machine it was made on.
            if host.replayed_from().is_some() {
                out.summary += " (recorded)";
            }
            out
        }
        Err(HostError::Unsupported(why)) => infer(host, &why),
        Err(e) => Outcome::unknown(format!("pidfd probe failed: {e}")),
    }
}

fn judge_probe(host: &Facts, p: &PidfdProbe) -> Outcome {
    let calls = [
        ("pidfd_open", &p.pidfd_open),
        ("pidfd_send_signal", &p.pidfd_send_signal),
        ("waitid(P_PIDFD)", &p.waitid_p_pidfd),
    ];
    let failed: Vec<(&str, i32, &str)> = calls
        .iter()
        .filter_map(|(n, o)| match o {
            SyscallOutcome::Failed { errno, name } => Some((*n, *errno, name.as_str())),
            _ => None,
        })
        .collect();
    let mut out = match failed.first() {
        None => Outcome::new(
            Status::Ok,
            "pidfd_open, pidfd_send_signal and waitid(P_PIDFD) work",
        ),
        Some((call, errno, name)) => Outcome::new(
            Status::Warn,
            format!("{call} fails with {name}: {}", cause(host, *errno)),
        ),
    };
    for (name, o) in calls {
        let text = match o {
            SyscallOutcome::Works => "works".to_string(),
            SyscallOutcome::Failed { name, .. } => format!("fails: {name}"),
            SyscallOutcome::NotTried => "not tried".to_string(),
        };
        out = out.evidence(format!("syscall {name}"), text);
    }
    out
}

/// Why a pidfd syscall fails, told apart by errno and by what the kernel version promises.
fn cause(host: &Facts, errno: i32) -> String {
    let kernel = host.kernel().ok();
    let new_enough = kernel.as_ref().is_some_and(|k| k.at_least(5, 4));
    match errno {
        libc::ENOSYS if new_enough => {
            "the kernel has it, so a seccomp filter answers ENOSYS (a container runtime's profile); \
             runtimes fall back to racy kill/poll loops"
                .into()
        }
        libc::ENOSYS => "the kernel is older than 5.3; runtimes fall back to racy kill/poll loops".into(),
        libc::EPERM | libc::EACCES => {
            "blocked by a seccomp filter or LSM; runtimes fall back to racy kill/poll loops".into()
        }
        libc::EINVAL if !new_enough => "the kernel is older than 5.4 (no P_PIDFD)".into(),
        _ => "unexpected; runtimes may fall back to racy kill/poll loops".into(),
    }
}

/// Without a live probe (`--root`, a bundle from elsewhere) the kernel version is all we have.
fn infer(host: &Facts, why: &str) -> Outcome {
    let k = match host.kernel() {
        Ok(k) => k,
        Err(reason) => {
            return Outcome::unknown(format!(
                "{why}, and the kernel version is unknown: {reason}"
            ));
        }
    };
    let out = if k.at_least(5, 4) {
        Outcome::new(
            Status::Ok,
            format!(
                "inferred from kernel {k}: pidfd_open (5.3) and waitid(P_PIDFD) (5.4) exist; not probed"
            ),
        )
    } else if k.at_least(5, 3) {
        Outcome::new(
            Status::Warn,
            format!(
                "inferred from kernel {k}: pidfd_open exists but waitid(P_PIDFD) needs 5.4; not probed"
            ),
        )
    } else {
        Outcome::new(
            Status::Warn,
            format!(
                "inferred from kernel {k}: no pidfd_open before 5.3, so runtimes use racy kill/poll loops; not probed"
            ),
        )
    };
    out.evidence("/proc/sys/kernel/osrelease", k.release.clone())
        .evidence("live probe", why.to_string())
}
