//! `criu-version`: can this CRIU work on this kernel, and what does `criu check` say? Versions are
//! judged by a matrix of known problems (assets/criu-matrix.toml: CRIU before 4.1 cannot start on
//! 6.13+, before 4.2 cannot dump sockets on 6.16+, …), never by a bare threshold: an old CRIU on
//! the kernel it was made for works.

use super::{Check, Options, criu_matrix};
use crate::facts::{Facts, Family, Package, Tool};
use crate::host::{DEFAULT_TIMEOUT, Host, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::cgroup::Mode;
use crate::parse::criu::{self, Verdict};
use crate::parse::packages;

use super::first_line;

/// The CRIU to advise when only `criu check` complains: the first with the freeze fixes and
/// vvar_vclock support.
const MINIMUM: &str = "4.1";
/// Error and warning lines of `criu check` shown as evidence.
const LINES_SHOWN: usize = 4;

pub const CHECK: Check = Check {
    id: "criu-version",
    title: "CRIU version and criu check",
    area: "Checkpoint/restore",
    explanation: super::explanation!("criu-version"),
    in_container: Some("looks for criu in this container's image, not on the host"),
    requires_tool: Some("criu"),
    active_probe: false,
    run,
};

fn run(host: &Facts, opts: &Options) -> Outcome {
    let Some(tool) = host.find_tool("criu") else {
        return if opts.requires("criu") {
            Outcome::new(
                Status::Error,
                "criu is not installed, and --require criu says it must be",
            )
            .fix(upgrade_plan(host, MINIMUM))
        } else {
            Outcome::new(Status::Skipped, "criu is not installed")
        };
    };
    let path = tool.path.clone();
    let argv_version = [path.as_str(), "--version"];
    let mut out = Outcome::new(Status::Ok, String::new());
    let version = match host.tool_version(&path) {
        Ok(output) => {
            let Some(version) = criu::parse_version(&output.stdout) else {
                let said = first_line(&format!("{}{}", output.stdout, output.stderr), 80);
                return Outcome::unknown(format!("{path} --version printed no version: {said:?}"));
            };
            out.push(
                output.source(&argv_version.join(" ")),
                match &version.gitid {
                    Some(g) => format!("Version: {version} (GitID {g})"),
                    None => format!("Version: {version}"),
                },
            );
            version
        }
        // Under --root the binary is not ours to run; its package says which version it is.
        Err(HostError::Unsupported(why)) => match packaged(&tool) {
            Some((version, pkg)) => {
                out.push(pkg.source.clone(), pkg.excerpt.clone());
                version
            }
            None => {
                return Outcome::unknown(format!(
                    "found {path}, but {why}, and no package database names its version"
                ))
                .evidence(path.clone(), "present, not run");
            }
        },
        Err(e) => return Outcome::unknown(format!("criu --version: {e}")),
    };
    let check = criu_check(host, &path, &mut out);
    let findings = match matrix_findings(host, &version, &tool) {
        Ok(f) => f,
        Err(e) => return Outcome::unknown(e),
    };
    let kernel = host.kernel().ok();
    for f in &findings {
        out.push(
            format!("known problem {} ({})", f.id, f.refs.join(", ")),
            f.effect.clone(),
        );
    }
    if kernel.is_none() {
        out.push(
            "kernel",
            "unknown: the kernel rules of the CRIU matrix were not applied",
        );
    }
    let problem = check
        .as_ref()
        .filter(|c| matches!(c.verdict, Verdict::None | Verdict::NotGood))
        .and_then(|c| criu_matrix::kernel_problem(&c.errors));
    // The worst of what the matrix knows and what criu check says, the matrix's own words first.
    let from_check = match check.as_ref().map(|c| c.verdict) {
        Some(Verdict::Good) => Some((Status::Ok, "criu check: looks good".to_string())),
        Some(Verdict::MissingFeatures) => Some((
            Status::Warn,
            "criu check: some kernel features are missing, some dumps or restores may fail".into(),
        )),
        Some(Verdict::NotGood) => Some((
            Status::Error,
            match &problem {
                Some(p) => format!("criu check: does not look good: {}", p.what),
                None => "criu check: does not look good".into(),
            },
        )),
        Some(Verdict::None) => Some((
            Status::Error,
            match &problem {
                Some(p) => format!("cannot start on this kernel: {}", p.what),
                None => match &check {
                    Some(c) if c.signal.is_some() => format!(
                        "criu check was killed by {}",
                        c.signal.as_deref().unwrap_or("a signal")
                    ),
                    _ => "criu check printed no verdict".into(),
                },
            },
        )),
        None => None,
    };
    let worst_rule = findings.first();
    (out.status, out.summary) = match (worst_rule, from_check) {
        (Some(f), Some((s, said))) if s > f.status => (s, format!("CRIU {version}: {said}")),
        (Some(f), _) => (f.status, format!("CRIU {version} {}", f.effect)),
        (None, Some((s, said))) => (s, format!("CRIU {version}; {said}")),
        (None, None) => (
            Status::Unknown,
            format!(
                "CRIU {version}; no known problem with this kernel, but criu check could not be run"
            ),
        ),
    };
    // Upgrade advice only where a newer CRIU helps: not when the kernel lacks what CRIU needs.
    let upgrade_helps = match &problem {
        Some(p) => p.upgrade_helps,
        None => !findings.is_empty() || out.status == Status::Error,
    };
    if out.status >= Status::Warn {
        if upgrade_helps {
            // The release that fixes every finding (4.1 when only criu check complains).
            let needed = findings
                .iter()
                .filter_map(|f| criu::parse_bare_version(&f.fixed_in))
                .max_by_key(|v| (v.major, v.minor, v.patch))
                .map_or_else(|| MINIMUM.to_string(), |v| v.to_string());
            out = out.fix(upgrade_plan(host, &needed));
        } else if let Some(p) = &problem {
            out = out.fix(kernel_plan(&p.what));
        }
    }
    out
}

/// The CRIU matrix's findings for this CRIU on the examined host (kernel, architecture, v1
/// freezer, the distribution package it came from), worst first. `runtime-versions` asks the same
/// for its CRIU row.
pub(super) fn matrix_findings(
    host: &Facts,
    version: &criu::CriuVersion,
    tool: &Tool,
) -> Result<Vec<criu_matrix::Finding>, String> {
    let rules = criu_matrix::rules()?;
    let arch = machine(host).or_else(|| tool.package.as_ref().and_then(|p| p.machine.clone()));
    let v1_freezer = host
        .cgroups()
        .is_ok_and(|l| l.mode != Mode::V2 && l.freezer().is_some());
    let family = match host.os_release().family() {
        Family::Debian => "debian",
        _ => "other",
    };
    let situation = criu_matrix::Situation {
        kernel: host.kernel().ok(),
        arch: arch.as_deref(),
        v1_freezer,
        criu: version,
        package: tool.package.as_ref().map(|p| (family, p.version.as_str())),
    };
    Ok(criu_matrix::judge(&situation, &rules))
}

/// `uname -m` of the examined system: /proc/sys/kernel/arch (6.1+), else the release string's
/// suffix (`.x86_64`, `.aarch64`), else, live, the architecture this binary runs on (under
/// `--root`, the caller falls back to the architecture criu's package was built for).
fn machine(host: &Facts) -> Option<String> {
    if let Ok(a) = host.read_text("/proc/sys/kernel/arch") {
        let a = a.trim();
        if !a.is_empty() {
            return Some(a.to_string());
        }
    }
    let release = host.kernel().ok()?.to_string();
    for arch in ["x86_64", "aarch64", "ppc64le", "s390x", "riscv64"] {
        if release.ends_with(arch) {
            return Some(arch.into());
        }
    }
    host.is_live().then(|| std::env::consts::ARCH.to_string())
}

/// The version of the package that installed criu, when a package database names one.
pub(super) fn packaged(tool: &Tool) -> Option<(criu::CriuVersion, &Package)> {
    let pkg = tool.package.as_ref()?;
    Some((
        criu::parse_bare_version(packages::upstream(&pkg.version))?,
        pkg,
    ))
}

/// Runs `criu check` (root only) and adds its verdict and first error lines as evidence.
fn criu_check(host: &Host, path: &str, out: &mut Outcome) -> Option<CheckRun> {
    let source = format!("{path} check");
    if host.euid() != 0 {
        out.push(source, "not run: needs root");
        return None;
    }
    let result = host.run(&[path, "check"], DEFAULT_TIMEOUT);
    let output = match result {
        Ok(o) => o,
        Err(e) => {
            out.push(source, e.to_string());
            return None;
        }
    };
    // CRIU logs to stderr; the verdict goes to stdout.
    let report = criu::parse_check(&format!("{}\n{}", output.stdout, output.stderr));
    let verdict = match report.verdict {
        Verdict::Good => "Looks good.",
        Verdict::MissingFeatures => "Looks good but some kernel features are missing",
        Verdict::NotGood => "Does not look good.",
        Verdict::None => "no verdict",
    };
    let code = output
        .code
        .map(|c| format!(", exit {c}"))
        .unwrap_or_default();
    out.push(source.clone(), format!("{verdict}{code}"));
    let mut shown: Vec<&String> = Vec::new();
    for line in report.errors.iter().chain(&report.warnings) {
        if shown.len() < LINES_SHOWN && !shown.contains(&line) {
            shown.push(line);
            out.push(source.clone(), line.clone());
        }
    }
    Some(CheckRun {
        verdict: report.verdict,
        errors: report.errors,
        signal: output.signal.map(signal_name),
    })
}

/// What `criu check` said, and the signal that killed it, if one did.
struct CheckRun {
    verdict: Verdict,
    errors: Vec<String>,
    signal: Option<String>,
}

/// A signal's name as `kill -l` gives it.
fn signal_name(n: i32) -> String {
    match n {
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGSEGV => "SIGSEGV (a crash)".into(),
        libc::SIGABRT => "SIGABRT (an assertion)".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        other => format!("signal {other}"),
    }
}

/// Where the kernel, not CRIU, lacks what checkpointing needs.
fn kernel_plan(what: &str) -> FixPlan {
    FixPlan {
        id: "kernel-for-criu".into(),
        title: "Run CRIU on a kernel that supports it".into(),
        risk: Risk::Safe,
        needs_root: true,
        steps: vec![Step::Manual {
            instruction: format!(
                "{what}: a newer CRIU does not change that. Boot a kernel built with \
                 CONFIG_CHECKPOINT_RESTORE (every major distribution's stock kernel has it), or run \
                 CRIU where /proc/sys is writable"
            ),
        }],
    }
}

pub(super) fn upgrade_plan(host: &Facts, needed: &str) -> FixPlan {
    let instruction = match host.os_release().family() {
        Family::RedHat => {
            format!(
                "dnf upgrade criu (CRIU {needed} or later; on older EL releases from the criu COPR or a rebuild)"
            )
        }
        Family::Debian => format!(
            "install CRIU {needed} or later: the distribution's criu package may be older (Debian 12 ships 3.17.1, \
             Debian 13 4.1); use the criu packages from the openSUSE Build Service (devel:tools:criu) or build from source"
        ),
        Family::Arch => "pacman -Syu criu".into(),
        Family::Alpine => "apk upgrade criu".into(),
        Family::Suse => "zypper update criu".into(),
        Family::Other => format!(
            "install CRIU {needed} or later from your distribution, or build it from source (criu.org)"
        ),
    };
    FixPlan {
        id: "upgrade-criu".into(),
        title: format!("Upgrade CRIU to {needed} or later"),
        risk: Risk::Safe,
        needs_root: true,
        steps: vec![Step::Manual { instruction }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Script;

    fn judge(script: Script, opts: &Options) -> Outcome {
        (CHECK.run)(&Facts::of(script.host()), opts)
    }

    /// A tree with Debian's criu package on `kernel`.
    fn debian(kernel: &str, version: &str) -> Script {
        Script::new()
            .file("/proc/sys/kernel/osrelease", kernel)
            .file("/proc/sys/kernel/arch", "x86_64\n")
            .file("/etc/os-release", "ID=debian\n")
            .executable("/usr/sbin/criu")
            .file(
                "/var/lib/dpkg/status",
                &format!("Package: criu\nStatus: install ok installed\nVersion: {version}\n\n"),
            )
            .file("/var/lib/dpkg/info/criu.list", "/usr/sbin/criu\n")
    }

    #[test]
    fn version_from_the_package_against_the_matrix() {
        let o = judge(debian("6.18.44\n", "3.17.1-2+deb12u2"), &Options::default());
        assert_eq!(o.status, Status::Error);
        assert!(
            o.summary
                .starts_with("CRIU 3.17.1 cannot start on kernel 6.18.44"),
            "{}",
            o.summary
        );
        assert_eq!(o.fixes[0].title, "Upgrade CRIU to 4.2 or later");
        let o = judge(
            debian("6.1.0-25-amd64\n", "3.17.1-2+deb12u2"),
            &Options::default(),
        );
        assert_eq!(o.status, Status::Unknown, "{}", o.summary);
        assert!(o.fixes.is_empty());
    }

    #[test]
    fn missing_criu_is_skipped_unless_required() {
        let o = judge(Script::new(), &Options::default());
        assert_eq!(o.status, Status::Skipped);
        let required = Options {
            require: vec!["criu".into()],
            ..Options::default()
        };
        let o = judge(Script::new(), &required);
        assert_eq!(o.status, Status::Error);
    }
}
