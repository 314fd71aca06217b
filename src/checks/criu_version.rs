//! `criu-version`: is CRIU new enough for this kernel, and what does `criu check` say?
//! CRIU before 4.1 cannot even start on 6.13+ (the vDSO's vvar area was split: "Unexpected rt vDSO
//! area bounds"), and its freeze loop gave up on cgroups stuck FREEZING, which 4.1 reworked.

use super::{Check, Options};
use crate::facts::{Facts, Family, Package, Tool};
use crate::host::{DEFAULT_TIMEOUT, Host, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::criu::{self, Verdict};
use crate::parse::packages;

use super::first_line;

/// The first CRIU with the freeze fixes and the vvar_vclock support.
const MINIMUM: (u32, u32) = (4, 1);
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
            .fix(upgrade_plan(host))
        } else {
            Outcome::new(Status::Skipped, "criu is not installed")
        };
    };
    let path = tool.path.clone();
    let argv_version = [path.as_str(), "--version"];
    let mut out = Outcome::new(Status::Ok, String::new());
    let version = match host.run(&argv_version, DEFAULT_TIMEOUT) {
        Ok(output) => {
            let Some(version) = criu::parse_version(&output.stdout) else {
                let said = first_line(&format!("{}{}", output.stdout, output.stderr), 80);
                return Outcome::unknown(format!("{path} --version printed no version: {said:?}"));
            };
            out.push(
                format!("{path} --version"),
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
    let kernel = host.kernel().ok();
    let new_kernel = kernel.as_ref().filter(|k| k.at_least(6, 13));

    (out.status, out.summary) = if !version.at_least(MINIMUM.0, MINIMUM.1) {
        let summary = match new_kernel {
            Some(k) => format!(
                "CRIU {version} cannot start on kernel {k}: 6.13 split the vDSO's vvar area; CRIU 4.1 or later is needed"
            ),
            None => format!(
                "CRIU {version} is older than 4.1: no fixes for freezes stuck in FREEZING, no frozen-container checkpoints"
            ),
        };
        (Status::Error, summary)
    } else {
        match check {
            Some(Verdict::Good) => (
                Status::Ok,
                format!("CRIU {version}; criu check: looks good"),
            ),
            Some(Verdict::MissingFeatures) => (
                Status::Warn,
                format!(
                    "CRIU {version}; criu check: some kernel features are missing, some dumps or restores may fail"
                ),
            ),
            Some(Verdict::NotGood) => (
                Status::Error,
                format!("CRIU {version}; criu check: does not look good"),
            ),
            Some(Verdict::None) => (
                Status::Error,
                format!("CRIU {version}; criu check failed without a verdict"),
            ),
            None => (
                Status::Unknown,
                format!("CRIU {version}; criu check could not be run"),
            ),
        }
    };
    if out.status == Status::Error {
        out = out.fix(upgrade_plan(host));
    }
    out
}

/// The version of the package that installed criu, when a package database names one.
fn packaged(tool: &Tool) -> Option<(criu::CriuVersion, &Package)> {
    let pkg = tool.package.as_ref()?;
    Some((
        criu::parse_bare_version(packages::upstream(&pkg.version))?,
        pkg,
    ))
}

/// Runs `criu check` (root only) and adds its verdict and first error lines as evidence.
fn criu_check(host: &Host, path: &str, out: &mut Outcome) -> Option<Verdict> {
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
    Some(report.verdict)
}

fn upgrade_plan(host: &Facts) -> FixPlan {
    let instruction = match host.os_release().family() {
        Family::RedHat => {
            "dnf upgrade criu (CRIU 4.1 or later; on older EL releases from the criu COPR or a rebuild)"
        }
        Family::Debian => {
            "install CRIU 4.1 or later: the distribution's criu package may be older (Debian 12 ships 3.17.1); \
             use the criu packages from the openSUSE Build Service (devel:tools:criu) or build from source"
        }
        Family::Arch => "pacman -Syu criu",
        Family::Alpine => "apk upgrade criu",
        Family::Suse => "zypper update criu",
        Family::Other => {
            "install CRIU 4.1 or later from your distribution, or build it from source (criu.org)"
        }
    };
    FixPlan {
        id: "upgrade-criu".into(),
        title: "Upgrade CRIU to 4.1 or later".into(),
        risk: Risk::Safe,
        needs_root: true,
        steps: vec![Step::Manual {
            instruction: instruction.into(),
        }],
    }
}
