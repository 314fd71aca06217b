//! Which CRIU versions cannot work on which kernels: the rules of assets/criu-matrix.toml, each
//! proved by an upstream issue or pull request, and what `criu check` output says about the
//! kernel itself (where upgrading CRIU would not help).

use serde::Deserialize;

use crate::model::Status;
use crate::parse::criu::CriuVersion;
use crate::parse::kernel::KernelRelease;

const MATRIX: &str = include_str!("../../assets/criu-matrix.toml");

#[derive(Debug, Deserialize)]
struct Matrix {
    rule: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    kernel_from: Option<String>,
    #[serde(default)]
    arch: Vec<String>,
    freezer: Option<String>,
    criu_before: String,
    #[serde(default)]
    fixed_packages: Vec<String>,
    status: String,
    effect: String,
    pub refs: Vec<String>,
}

/// What the verdict depends on.
pub struct Situation<'a> {
    pub kernel: Option<&'a KernelRelease>,
    /// `uname -m`; `None` when not known.
    pub arch: Option<&'a str>,
    /// Whether the cgroup v1 freezer is mounted (v1 and hybrid hosts).
    pub v1_freezer: bool,
    pub criu: &'a CriuVersion,
    /// The distribution package criu came from: (family, version), e.g. ("debian", "3.17.1-2+deb12u2").
    pub package: Option<(&'a str, &'a str)>,
}

/// A rule that applies, with its effect filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    pub status: Status,
    /// The first CRIU release without the problem.
    pub fixed_in: String,
    pub effect: String,
    pub refs: Vec<String>,
}

/// The rules, parsed once per call: a few hundred bytes of TOML.
pub fn rules() -> Result<Vec<Rule>, String> {
    toml::from_str::<Matrix>(MATRIX)
        .map(|m| m.rule)
        .map_err(|e| format!("assets/criu-matrix.toml: {e}"))
}

/// The rules that apply here, worst first. A rule whose kernel condition cannot be judged (the
/// kernel is unknown) does not apply: the evidence for it is missing.
pub fn judge(s: &Situation, rules: &[Rule]) -> Vec<Finding> {
    let mut found: Vec<Finding> = rules.iter().filter_map(|r| applies(r, s)).collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.status));
    found
}

fn applies(r: &Rule, s: &Situation) -> Option<Finding> {
    if let Some(from) = &r.kernel_from {
        let (major, minor) = major_minor(from)?;
        if !s.kernel?.at_least(major, minor) {
            return None;
        }
    }
    if !r.arch.is_empty() && !r.arch.iter().any(|a| Some(a.as_str()) == s.arch) {
        return None;
    }
    if r.freezer.as_deref() == Some("v1") && !s.v1_freezer {
        return None;
    }
    let before = crate::parse::criu::parse_bare_version(&r.criu_before)?;
    if (s.criu.major, s.criu.minor, s.criu.patch) >= (before.major, before.minor, before.patch) {
        return None;
    }
    if r.fixed_packages.iter().any(|f| package_fixed(f, s.package)) {
        return None;
    }
    let kernel = s.kernel.map(|k| k.to_string()).unwrap_or_default();
    Some(Finding {
        id: r.id.clone(),
        fixed_in: r.criu_before.clone(),
        status: match r.status.as_str() {
            "error" => Status::Error,
            _ => Status::Warn,
        },
        effect: r.effect.replace("{kernel}", &kernel),
        refs: r.refs.clone(),
    })
}

fn major_minor(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Whether the installed package is at or past a distribution's fixed version (`debian:3.17.1-2+deb12u2`).
fn package_fixed(fixed: &str, installed: Option<(&str, &str)>) -> bool {
    let (Some((family, version)), Some((want_family, want))) = (installed, fixed.split_once(':'))
    else {
        return false;
    };
    if family != want_family {
        return false;
    }
    match (
        version.parse::<debversion::Version>(),
        want.parse::<debversion::Version>(),
    ) {
        (Ok(have), Ok(want)) => have >= want,
        _ => false,
    }
}

/// What a failed `criu check` says about the kernel, from its Error lines: the feature that
/// failed, and whether a newer CRIU would help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelProblem {
    pub what: String,
    /// A newer CRIU fixes it (vvar_vclock); otherwise the kernel or the environment must change.
    pub upgrade_helps: bool,
}

/// Reads the cause out of `criu check`'s error lines; `None` when no known cause is named.
pub fn kernel_problem(errors: &[String]) -> Option<KernelProblem> {
    let has = |needle: &str| errors.iter().find(|l| l.contains(needle));
    if has("Unexpected rt vDSO area bounds").is_some() {
        return Some(KernelProblem {
            what: "the vDSO layout of kernel 6.13+ (vvar_vclock) is unknown to this CRIU".into(),
            upgrade_helps: true,
        });
    }
    if let Some(l) = has("sysctl is inaccessible").or_else(|| has("sem_next_id is inaccessible")) {
        return Some(if l.contains("Read-only file system") {
            KernelProblem {
                what: "/proc/sys is read-only here (CRIU runs in an unprivileged container)".into(),
                upgrade_helps: false,
            }
        } else {
            KernelProblem {
                what: "the kernel has no CONFIG_CHECKPOINT_RESTORE (ns_last_pid / sem_next_id missing)"
                    .into(),
                upgrade_helps: false,
            }
        });
    }
    if has("map_files").is_some() {
        return Some(KernelProblem {
            what: "the kernel does not expose /proc/PID/map_files as CRIU needs".into(),
            upgrade_helps: false,
        });
    }
    if has("clone3").is_some() {
        return Some(KernelProblem {
            what: "the kernel's clone3 with set_tid misbehaves (a broken backport, as on Oracle UEK 5.4)"
                .into(),
            upgrade_helps: false,
        });
    }
    // "kerndat_FOO failed when initializing kerndat." names the probe that failed.
    let probe = errors.iter().find_map(|l| {
        let before = l.split(" failed when initializing kerndat").next()?;
        (before.len() < l.len()).then(|| before.rsplit(' ').next().unwrap_or(before).to_string())
    })?;
    Some(KernelProblem {
        what: format!("the kernel feature probe {probe} failed"),
        upgrade_helps: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::criu::parse_bare_version;
    use crate::parse::kernel::parse_release;

    fn verdict(kernel: &str, arch: &str, v1: bool, criu: &str, pkg: Option<&str>) -> Vec<String> {
        let k = parse_release(kernel).unwrap();
        let c = parse_bare_version(criu).unwrap();
        let s = Situation {
            kernel: Some(&k),
            arch: Some(arch),
            v1_freezer: v1,
            criu: &c,
            package: pkg.map(|p| ("debian", p)),
        };
        judge(&s, &rules().unwrap())
            .into_iter()
            .map(|f| format!("{}:{}", f.id, f.status.as_str()))
            .collect()
    }

    #[test]
    fn every_rule_parses_and_names_its_proof() {
        let rules = rules().unwrap();
        assert!(rules.len() >= 5);
        for r in &rules {
            assert!(matches!(r.status.as_str(), "error" | "warn"), "{}", r.id);
            assert!(parse_bare_version(&r.criu_before).is_some(), "{}", r.id);
            assert!(
                r.kernel_from
                    .as_deref()
                    .is_none_or(|k| major_minor(k).is_some())
            );
            assert!(
                r.refs
                    .iter()
                    .all(|x| x.contains('#') || x.contains("commit")),
                "{}",
                r.id
            );
        }
    }

    #[test]
    fn vvar_vclock_at_its_boundaries() {
        // Kernel 6.12 / 6.13 × CRIU 4.0 / 4.1 on x86_64.
        assert!(verdict("6.12.9", "x86_64", false, "4.0", None).is_empty());
        assert_eq!(
            verdict("6.13.0", "x86_64", false, "4.0", None),
            ["vvar-vclock:error"]
        );
        assert!(verdict("6.13.0", "x86_64", false, "4.1", None).is_empty());
        // Other architectures are not verified: a warning.
        assert_eq!(
            verdict("6.13.0", "aarch64", false, "3.19", None),
            ["vvar-vclock-other-arch:warn"]
        );
    }

    #[test]
    fn kernel_6_16_sockets_and_mount_propagation() {
        assert!(verdict("6.15.2", "x86_64", false, "4.1", None).is_empty());
        assert_eq!(
            verdict("6.16.0", "x86_64", false, "4.1", None),
            ["so-passcred:error", "do-change-type:warn"]
        );
        assert_eq!(
            verdict("6.16.0", "x86_64", false, "4.1.1", None),
            ["so-passcred:error"]
        );
        assert!(verdict("6.16.0", "x86_64", false, "4.2", None).is_empty());
        // This machine: Debian 12's CRIU on 6.18, all three, worst first.
        assert_eq!(
            verdict(
                "6.18.44",
                "x86_64",
                true,
                "3.17.1",
                Some("3.17.1-2+deb12u1")
            ),
            [
                "vvar-vclock:error",
                "so-passcred:error",
                "do-change-type:warn",
                "v1-freezer:warn"
            ]
        );
        // Debian's +deb12u2 carries the 4.1.1 mount fix.
        assert!(
            !verdict(
                "6.18.44",
                "x86_64",
                false,
                "3.17.1",
                Some("3.17.1-2+deb12u2")
            )
            .contains(&"do-change-type:warn".to_string())
        );
    }

    #[test]
    fn stock_distributions_do_not_fail() {
        // Debian 12 (3.17.1 on 6.1, cgroup v2), Ubuntu 22.04 (3.16.1 on 5.15), 24.04 (3.17.1 on 6.8).
        assert!(
            verdict(
                "6.1.0-25-amd64",
                "x86_64",
                false,
                "3.17.1",
                Some("3.17.1-2+deb12u2")
            )
            .is_empty()
        );
        assert!(verdict("5.15.0-144-generic", "x86_64", false, "3.16.1", None).is_empty());
        assert!(verdict("6.8.0-45-generic", "x86_64", false, "3.17.1", None).is_empty());
        // The same host with the v1 freezer in use: a warning, never an error.
        assert_eq!(
            verdict("5.15.0-144-generic", "x86_64", true, "3.16.1", None),
            ["v1-freezer:warn"]
        );
        assert!(verdict("5.15.0-144-generic", "x86_64", true, "4.1", None).is_empty());
    }

    #[test]
    fn unknown_kernel_applies_no_kernel_rule() {
        let c = parse_bare_version("3.17.1").unwrap();
        let s = Situation {
            kernel: None,
            arch: None,
            v1_freezer: false,
            criu: &c,
            package: None,
        };
        assert!(judge(&s, &rules().unwrap()).is_empty());
    }

    #[test]
    fn causes_read_from_criu_check() {
        let lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
        // Debian 12's CRIU 3.17.1 on this 6.18 machine (captured here).
        let vdso = kernel_problem(&lines(
            "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n\
             Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.",
        ))
        .unwrap();
        assert!(vdso.upgrade_helps);
        // checkpoint-restore/criu#1904: CentOS 7.1's 3.10.0-229 kernel.
        let map_files = kernel_problem(&lines(
            "Error (criu/kerndat.c:210): Can't stat self map_files 2: No such file or directory\n\
             Error (criu/kerndat.c:1509): kerndat_get_shmemdev failed when initializing kerndat.",
        ))
        .unwrap();
        assert!(!map_files.upgrade_helps && map_files.what.contains("map_files"));
        // checkpoint-restore/criu#2026: a kernel without CONFIG_CHECKPOINT_RESTORE.
        let no_cr = kernel_problem(&lines(
            "Error (criu/cr-check.c:157): sys/kernel/ns_last_pid sysctl is inaccessible: No such file or directory",
        ))
        .unwrap();
        assert!(no_cr.what.contains("CONFIG_CHECKPOINT_RESTORE"));
        // The same line with a read-only /proc/sys: the environment, not the kernel.
        let ro = kernel_problem(&lines(
            "Error (criu/cr-check.c:157): sys/kernel/ns_last_pid sysctl is inaccessible: Read-only file system",
        ))
        .unwrap();
        assert!(ro.what.contains("read-only"));
        // checkpoint-restore/criu#1592: Oracle UEK 5.4's clone3 backport.
        let uek = kernel_problem(&lines(
            "Error (criu/kerndat.c:1048): Unexpected error from clone3\n\
             Error (criu/kerndat.c:1181): kerndat_has_clone3_set_tid failed when initializing kerndat.",
        ))
        .unwrap();
        assert!(uek.what.contains("clone3") && !uek.upgrade_helps);
        // An unknown probe is named.
        let other = kernel_problem(&lines(
            "Error (criu/kerndat.c:9): kerndat_frob failed when initializing kerndat.",
        ))
        .unwrap();
        assert_eq!(other.what, "the kernel feature probe kerndat_frob failed");
        assert!(kernel_problem(&lines("Warn  (criu/x.c:1): something")).is_none());
    }
}
