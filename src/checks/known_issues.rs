//! The known bugs and advisories of the container stack (assets/known-issues.toml) and how an
//! installed version is judged against them. A distribution package that may carry a backported
//! fix under the same upstream number is never called affected outright: it is "may be affected"
//! at warn unless the table lists the package version that fixed it (then it is fixed, or known
//! not to be).

use serde::Deserialize;

use crate::model::Status;
use crate::parse::kernel::KernelRelease;
use crate::parse::packages;
use crate::parse::version::Version;

const TABLE: &str = include_str!("../../assets/known-issues.toml");

/// The components the table may have rows for, as the check names them.
#[cfg(test)]
const COMPONENTS: &[&str] = &[
    "docker-engine",
    "docker-buildkit",
    "containerd",
    "runc",
    "buildkit",
    "crun",
    "podman",
    "buildah",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    issue: Vec<Issue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    pub id: String,
    pub component: String,
    affected: Vec<Range>,
    fixed: Option<String>,
    severity: String,
    pub effect: String,
    pub refs: Vec<String>,
    #[serde(default)]
    fixed_packages: Vec<String>,
    kernel_before: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    from: Option<String>,
    before: String,
    /// The first day the range applies (`YYYY-MM-DD`): a branch's announced end of life.
    since: Option<String>,
}

/// The table, parsed per call: a few kilobytes of TOML.
pub fn issues() -> Result<Vec<Issue>, String> {
    toml::from_str::<File>(TABLE)
        .map(|f| f.issue)
        .map_err(|e| format!("assets/known-issues.toml: {e}"))
}

/// What is installed, as the table judges it.
pub struct Subject<'a> {
    pub component: &'a str,
    pub version: &'a Version,
    /// The distribution's package: (distribution id as os-release names it, package version).
    pub package: Option<(&'a str, &'a str)>,
    /// Built by a distribution, which may patch without changing the upstream number.
    pub distribution: bool,
    pub kernel: Option<&'a KernelRelease>,
    /// Today (`YYYY-MM-DD`); without it no dated range applies.
    pub today: Option<&'a str>,
}

/// How a row applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An upstream build in an affected range.
    Affected,
    /// A distribution package older than the one the distribution fixed it in.
    PackageNotFixed { fixed_package: String },
    /// A distribution build in an affected range, with no record of its backports.
    MaybeBackported,
    /// A distribution package at or past the version that fixed it: not a finding.
    PackageFixed { fixed_package: String },
}

#[derive(Debug, Clone)]
pub struct Finding<'a> {
    pub issue: &'a Issue,
    pub verdict: Verdict,
    pub status: Status,
    /// The release to upgrade to: the affected range's end, or the row's `fixed`.
    pub fixed_in: String,
}

impl Finding<'_> {
    /// The row's references, comma-separated, for evidence.
    pub fn refs(&self) -> String {
        self.issue.refs.join(", ")
    }
}

impl Issue {
    pub fn severity(&self) -> Status {
        match self.severity.as_str() {
            "error" => Status::Error,
            _ => Status::Warn,
        }
    }

    /// The range `v` falls in, if any.
    fn range_of(&self, v: &Version, today: Option<&str>) -> Option<&Range> {
        self.affected.iter().find(|r| {
            // ISO dates compare as text.
            let day_ok = match (r.since.as_deref(), today) {
                (None, _) => true,
                (Some(since), Some(today)) => today >= since,
                (Some(_), None) => false,
            };
            let from_ok = r
                .from
                .as_deref()
                .and_then(Version::parse)
                .is_none_or(|from| v >= &from);
            day_ok && from_ok && Version::parse(&r.before).is_some_and(|before| v < &before)
        })
    }

    /// Whether upstream version `v` is in an affected range, on a day when every dated range
    /// has begun.
    #[cfg(test)]
    fn affects(&self, v: &Version) -> bool {
        self.range_of(v, Some("9999-12-31")).is_some()
    }

    fn kernel_applies(&self, kernel: Option<&KernelRelease>) -> bool {
        let Some(before) = &self.kernel_before else {
            return true;
        };
        match (major_minor(before), kernel) {
            (Some((major, minor)), Some(k)) => !k.at_least(major, minor),
            // Without the kernel the condition cannot be judged: the evidence is missing.
            _ => false,
        }
    }
}

/// The rows that apply to `s`, worst first, including those a distribution package has fixed
/// (their status is ok: evidence, not findings).
pub fn judge<'a>(s: &Subject, issues: &'a [Issue]) -> Vec<Finding<'a>> {
    let mut found: Vec<Finding> = issues
        .iter()
        .filter(|i| i.component == s.component && i.kernel_applies(s.kernel))
        .filter_map(|i| {
            let range = i.range_of(s.version, s.today)?;
            let fixed_in = i.fixed.clone().unwrap_or_else(|| range.before.clone());
            let verdict = package_verdict(i, s).unwrap_or(if s.distribution {
                Verdict::MaybeBackported
            } else {
                Verdict::Affected
            });
            let status = match verdict {
                Verdict::Affected | Verdict::PackageNotFixed { .. } => i.severity(),
                Verdict::MaybeBackported => Status::Warn,
                Verdict::PackageFixed { .. } => Status::Ok,
            };
            Some(Finding {
                issue: i,
                verdict,
                status,
                fixed_in,
            })
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.status));
    found
}

/// What the table's distribution packages say of the installed one: only a package built on the
/// same upstream version can be compared (Debian 13's containerd 1.7 says nothing about 12's 1.6
/// backports, and vice versa).
fn package_verdict(i: &Issue, s: &Subject) -> Option<Verdict> {
    let (dist, installed) = s.package?;
    let upstream_of = |v: &str| Version::parse(packages::upstream(v)).map(|v| v.upstream());
    i.fixed_packages.iter().find_map(|entry| {
        let (want_dist, want) = entry.split_once(':')?;
        if want_dist != dist || upstream_of(want)? != upstream_of(installed)? {
            return None;
        }
        let (have, want_v) = (
            installed.parse::<debversion::Version>().ok()?,
            want.parse::<debversion::Version>().ok()?,
        );
        let fixed_package = want.to_string();
        Some(if have >= want_v {
            Verdict::PackageFixed { fixed_package }
        } else {
            Verdict::PackageNotFixed { fixed_package }
        })
    })
}

fn major_minor(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Whether a reference names its source in one of the forms the table allows: an advisory id,
/// an issue or pull request, a release, a file at a commit, a commit, or a distribution's
/// changelog entry or bug.
#[cfg(test)]
fn reference_ok(r: &str) -> bool {
    const FORMS: &[&str] = &[
        r"^CVE-\d{4}-\d{4,7}$",
        r"^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$",
        r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+#[1-9]\d*$",
        r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/(releases/tag/v?\d[0-9A-Za-z.+-]*|blob/[0-9a-f]{7,40}/[A-Za-z0-9_./-]+|commit/[0-9a-f]{7,40})$",
        r"^Debian #[1-9]\d*$",
        r"^Debian [a-z0-9][a-z0-9.+-]* [0-9][0-9A-Za-z.+~:-]* changelog$",
    ];
    FORMS
        .iter()
        .any(|f| regex::Regex::new(f).is_ok_and(|re| re.is_match(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::kernel::parse_release;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    /// Each row at its boundaries: (id, last affected, first fixed), one pair per range. A row
    /// added to the table without a line here fails `every_row_is_tested_at_its_boundaries`.
    const BOUNDARIES: &[(&str, &str, &str)] = &[
        ("CVE-2019-5736", "1.0.0-rc6", "1.0.0-rc7"),
        ("CVE-2021-30465", "1.0.0-rc94", "1.0.0-rc95"),
        ("CVE-2022-29162", "1.1.1", "1.1.2"),
        ("CVE-2023-25809", "1.1.4", "1.1.5"),
        ("CVE-2023-27561", "1.1.4", "1.1.5"),
        ("CVE-2023-28642", "1.1.4", "1.1.5"),
        ("CVE-2024-21626", "1.1.11", "1.1.12"),
        ("CVE-2024-45310", "1.1.13", "1.1.14"),
        ("CVE-2024-45310", "1.2.0-rc.2", "1.2.0-rc.3"),
        ("runc-mkdirat-race", "1.2.2", "1.2.3"),
        ("runc-rootless-delete", "1.2.1", "1.2.2"),
        ("runc-ebpf-old-kernel", "1.2.2", "1.2.3"),
        ("CVE-2025-31133", "1.2.7", "1.2.8"),
        ("CVE-2025-31133", "1.3.2", "1.3.3"),
        ("CVE-2025-31133", "1.4.0-rc.2", "1.4.0-rc.3"),
        ("CVE-2025-52565", "1.2.7", "1.2.8"),
        ("CVE-2025-52565", "1.3.2", "1.3.3"),
        ("CVE-2025-52565", "1.4.0-rc.2", "1.4.0-rc.3"),
        ("CVE-2025-52881", "1.2.7", "1.2.8"),
        ("CVE-2025-52881", "1.3.2", "1.3.3"),
        ("CVE-2025-52881", "1.4.0-rc.2", "1.4.0-rc.3"),
        ("runc-tmpfs-mode", "1.2.8", "1.2.9"),
        ("runc-tmpfs-mode", "1.3.3", "1.3.4"),
        ("runc-tmpfs-mode", "1.4.0-rc.3", "1.4.0"),
        ("runc-exec-hang", "1.3.5", "1.3.6"),
        ("runc-exec-hang", "1.4.1", "1.4.2"),
        ("CVE-2026-41579", "1.3.5", "1.3.6"),
        ("CVE-2026-41579", "1.4.2", "1.4.3"),
        ("CVE-2026-41579", "1.5.0-rc.2", "1.5.0-rc.3"),
        ("CVE-2020-15257", "1.4.2", "1.4.3"),
        ("CVE-2021-21334", "1.4.3", "1.4.4"),
        ("CVE-2021-32760", "1.4.7", "1.4.8"),
        ("CVE-2021-32760", "1.5.3", "1.5.4"),
        ("CVE-2021-41103", "1.4.10", "1.4.11"),
        ("CVE-2021-41103", "1.5.6", "1.5.7"),
        ("CVE-2021-41190", "1.4.11", "1.4.12"),
        ("CVE-2021-41190", "1.5.7", "1.5.8"),
        ("CVE-2021-43816", "1.5.8", "1.5.9"),
        ("CVE-2022-23648", "1.4.12", "1.4.13"),
        ("CVE-2022-23648", "1.5.9", "1.5.10"),
        ("CVE-2022-23648", "1.6.0", "1.6.1"),
        ("CVE-2022-24769", "1.5.10", "1.5.11"),
        ("CVE-2022-24769", "1.6.1", "1.6.2"),
        ("CVE-2022-31030", "1.5.12", "1.5.13"),
        ("CVE-2022-31030", "1.6.5", "1.6.6"),
        ("CVE-2022-23471", "1.5.15", "1.5.16"),
        ("CVE-2022-23471", "1.6.11", "1.6.12"),
        ("CVE-2023-25153", "1.5.17", "1.5.18"),
        ("CVE-2023-25153", "1.6.17", "1.6.18"),
        ("CVE-2023-25173", "1.5.17", "1.5.18"),
        ("CVE-2023-25173", "1.6.17", "1.6.18"),
        ("GHSA-7ww5-4wqc-m92c", "1.6.25", "1.6.26"),
        ("GHSA-7ww5-4wqc-m92c", "1.7.10", "1.7.11"),
        ("CVE-2025-47290", "2.1.0", "2.1.1"),
        ("CVE-2024-25621", "1.7.28", "1.7.29"),
        ("CVE-2024-25621", "2.0.6", "2.0.7"),
        ("CVE-2024-25621", "2.1.4", "2.1.5"),
        ("CVE-2024-25621", "2.2.0-rc.1", "2.2.0"),
        ("CVE-2025-64329", "1.7.28", "1.7.29"),
        ("CVE-2025-64329", "2.0.6", "2.0.7"),
        ("CVE-2025-64329", "2.1.4", "2.1.5"),
        ("CVE-2025-64329", "2.2.0-rc.1", "2.2.0"),
        ("CVE-2024-23650", "0.12.4", "0.12.5"),
        ("CVE-2024-23651", "0.12.4", "0.12.5"),
        ("CVE-2024-23652", "0.12.4", "0.12.5"),
        ("CVE-2024-23653", "0.12.4", "0.12.5"),
        ("buildkit-minfreespace-only", "0.20.2", "0.21.0"),
        ("buildkit-2024-advisories-in-engine", "24.0.7", "24.0.8"),
        ("buildkit-2024-advisories-in-engine", "25.0.1", "25.0.2"),
        ("engine-minfreespace-only", "28.0.4", "28.1.0"),
        ("CVE-2024-41110", "23.0.14", "23.0.15"),
        ("CVE-2024-41110", "25.0.5", "25.0.6"),
        ("CVE-2024-41110", "26.1.4", "26.1.5"),
        ("CVE-2024-41110", "27.1.0", "27.1.1"),
        ("engine-gc-keepduration", "23.0.8", "23.0.9"),
        ("engine-gc-keepduration", "24.0.7", "24.0.8"),
        ("engine-gc-default-limits", "28.5.0", "28.5.1"),
        // Judged here on a day when 25.0 is unmaintained too (the day itself: its own test).
        ("engine-end-of-life", "24.0.9", "29.0.0"),
        ("engine-end-of-life", "25.0.13", "29.0.0"),
        ("engine-end-of-life", "28.5.2", "29.0.0"),
    ];

    #[test]
    fn every_row_parses_with_valid_ranges_and_references() {
        let rows = issues().unwrap();
        assert!(rows.len() >= 40, "{}", rows.len());
        let mut ids = std::collections::HashSet::new();
        for r in &rows {
            assert!(ids.insert(r.id.as_str()), "duplicate id {}", r.id);
            assert!(COMPONENTS.contains(&r.component.as_str()), "{}", r.id);
            assert!(matches!(r.severity.as_str(), "error" | "warn"), "{}", r.id);
            assert!(
                !r.effect.trim().is_empty() && !r.effect.contains('\n'),
                "{}",
                r.id
            );
            assert!(!r.affected.is_empty(), "{}: no range", r.id);
            assert!(!r.refs.is_empty(), "{}: no reference", r.id);
            for x in &r.refs {
                assert!(reference_ok(x), "{}: malformed reference {x:?}", r.id);
            }
            // An advisory row names its advisory.
            if r.id.starts_with("CVE-") || r.id.starts_with("GHSA-") {
                assert!(r.refs.contains(&r.id), "{}", r.id);
            }
            for range in &r.affected {
                if let Some(day) = &range.since {
                    let ok = day.len() == 10
                        && day.bytes().enumerate().all(|(i, b)| match i {
                            4 | 7 => b == b'-',
                            _ => b.is_ascii_digit(),
                        });
                    assert!(ok, "{}: since {day:?} is not YYYY-MM-DD", r.id);
                }
                let before = Version::parse(&range.before)
                    .unwrap_or_else(|| panic!("{}: before {:?}", r.id, range.before));
                assert!(before.suffix.is_empty(), "{}: {}", r.id, range.before);
                if let Some(from) = &range.from {
                    let from = Version::parse(from).unwrap_or_else(|| panic!("{}: {from}", r.id));
                    assert!(from < before, "{}: empty range", r.id);
                    assert!(r.affects(&from), "{}: from is affected", r.id);
                }
                // `before` is fixed, unless another range (a dated one) starts right there.
                let continued = r
                    .affected
                    .iter()
                    .any(|o| o.from.as_deref() == Some(range.before.as_str()));
                assert!(
                    continued || !r.affects(&before),
                    "{}: before is fixed",
                    r.id
                );
            }
            // Ranges do not overlap: each version falls in at most one.
            for (i, a) in r.affected.iter().enumerate() {
                for b in &r.affected[i + 1..] {
                    let (a_before, b_before) = (v(&a.before), v(&b.before));
                    let a_from = a.from.as_deref().map(v);
                    let b_from = b.from.as_deref().map(v);
                    let disjoint = b_from.is_some_and(|bf| bf >= a_before)
                        || a_from.is_some_and(|af| af >= b_before);
                    assert!(disjoint, "{}: overlapping ranges", r.id);
                }
            }
            if let Some(f) = &r.fixed {
                assert!(Version::parse(f).is_some(), "{}", r.id);
            }
            for p in &r.fixed_packages {
                let (dist, version) = p.split_once(':').expect("dist:version");
                assert!(matches!(dist, "debian" | "ubuntu"), "{}: {p}", r.id);
                assert!(
                    version.parse::<debversion::Version>().is_ok(),
                    "{}: {p}",
                    r.id
                );
                // The package's own upstream version is in the affected range: that is what
                // makes it a backport.
                let upstream = Version::parse(packages::upstream(version)).unwrap();
                assert!(r.affects(&upstream), "{}: {p} is not a backport", r.id);
                // Its changelog is cited.
                assert!(
                    r.refs
                        .iter()
                        .any(|x| x.ends_with(&format!(" {version} changelog"))),
                    "{}: cite the changelog of {p}",
                    r.id
                );
            }
            assert!(
                r.kernel_before
                    .as_deref()
                    .is_none_or(|k| major_minor(k).is_some())
            );
        }
    }

    #[test]
    fn every_row_is_tested_at_its_boundaries() {
        let rows = issues().unwrap();
        for r in &rows {
            let pairs: Vec<_> = BOUNDARIES.iter().filter(|b| b.0 == r.id).collect();
            assert!(
                pairs.len() >= r.affected.len(),
                "{}: {} ranges, {} boundary pairs",
                r.id,
                r.affected.len(),
                pairs.len()
            );
        }
        for (id, last, first) in BOUNDARIES {
            let r = rows
                .iter()
                .find(|r| r.id == *id)
                .unwrap_or_else(|| panic!("no row {id}"));
            assert!(r.affects(&v(last)), "{id}: {last} is affected");
            assert!(!r.affects(&v(first)), "{id}: {first} is fixed");
        }
    }

    #[test]
    fn references_are_checked_for_form() {
        for good in [
            "CVE-2024-21626",
            "GHSA-xr7r-f8xq-vfvv",
            "moby/buildkit#5566",
            "https://github.com/opencontainers/runc/releases/tag/v1.1.12",
            "https://github.com/moby/moby/blob/9418053039/project/BRANCHES-AND-TAGS.md",
            "https://github.com/opencontainers/runc/commit/0a8e4117",
            "Debian #1084993",
            "Debian runc 1.1.5+ds1-1+deb12u1 changelog",
        ] {
            assert!(reference_ok(good), "{good}");
        }
        for bad in [
            "CVE-24-1",
            "GHSA-xr7r-f8xq",
            "GHSA-aaaa-bbbb-cccc",
            "buildkit#5566",
            "see the changelog",
            "https://example.com/advisory",
            "http://github.com/opencontainers/runc/releases/tag/v1.1.12",
            "Debian runc changelog",
            "",
        ] {
            assert!(!reference_ok(bad), "{bad}");
        }
    }

    fn verdicts(component: &str, version: &str, package: Option<(&str, &str)>) -> Vec<String> {
        let rows = issues().unwrap();
        let ver = v(version);
        let s = Subject {
            component,
            version: &ver,
            package,
            distribution: ver.distribution || package.is_some(),
            kernel: None,
            today: None,
        };
        judge(&s, &rows)
            .into_iter()
            .map(|f| format!("{}:{}", f.issue.id, f.status.as_str()))
            .collect()
    }

    /// Docker Engine 25.0's maintenance ended on 2026-12-04: its end-of-life row applies from the
    /// day after, and never when the date is unknown; 24.0 was already unmaintained.
    #[test]
    fn a_branch_is_end_of_life_from_its_announced_day() {
        let rows = issues().unwrap();
        let eol = |version: &str, today: Option<&str>| {
            let ver = v(version);
            let s = Subject {
                component: "docker-engine",
                version: &ver,
                package: None,
                distribution: false,
                kernel: None,
                today,
            };
            judge(&s, &rows)
                .iter()
                .any(|f| f.issue.id == "engine-end-of-life")
        };
        assert!(!eol("25.0.13", Some("2026-12-04")));
        assert!(eol("25.0.13", Some("2026-12-05")));
        assert!(eol("25.0.13", Some("2027-01-10")));
        assert!(!eol("25.0.13", None));
        assert!(eol("24.0.9", None));
        assert!(!eol("29.1.0", Some("2027-01-10")));
    }

    #[test]
    fn debian_backports_are_honoured_on_their_own_upstream_version() {
        // Debian 12's runc: CVE-2024-21626 fixed in +deb12u1 (its changelog), the rest unknown.
        let runc = verdicts("runc", "1.1.5+ds1", Some(("debian", "1.1.5+ds1-1+deb12u1")));
        assert!(runc.contains(&"CVE-2024-21626:ok".to_string()), "{runc:?}");
        assert!(
            runc.contains(&"CVE-2025-31133:warn".to_string()),
            "{runc:?}"
        );
        assert!(runc.iter().all(|f| !f.ends_with(":error")), "{runc:?}");
        // The package before the security upload is known not to carry the fix.
        let before = verdicts("runc", "1.1.5+ds1", Some(("debian", "1.1.5+ds1-1")));
        assert!(
            before.contains(&"CVE-2024-21626:error".to_string()),
            "{before:?}"
        );
        // containerd: +deb12u2 fixed CVE-2024-25621, +deb12u3 CVE-2025-64329.
        let u2 = verdicts(
            "containerd",
            "1.6.20~ds1",
            Some(("debian", "1.6.20~ds1-1+deb12u2")),
        );
        assert!(u2.contains(&"CVE-2024-25621:ok".to_string()), "{u2:?}");
        assert!(u2.contains(&"CVE-2025-64329:error".to_string()), "{u2:?}");
        let u3 = verdicts(
            "containerd",
            "1.6.20~ds1",
            Some(("debian", "1.6.20~ds1-1+deb12u3")),
        );
        assert!(u3.contains(&"CVE-2025-64329:ok".to_string()), "{u3:?}");
        // A binNMU (+b6) of the fixed docker.io is as fixed.
        let docker = verdicts(
            "docker-engine",
            "20.10.24+dfsg1",
            Some(("debian", "20.10.24+dfsg1-1+deb12u1+b6")),
        );
        assert!(
            docker.contains(&"CVE-2024-41110:ok".to_string()),
            "{docker:?}"
        );
        assert!(docker.contains(&"engine-end-of-life:warn".to_string()));
        // Another upstream version (Debian 13's containerd) is not judged by 12's backports.
        let trixie = verdicts("containerd", "1.7.24~ds1", Some(("debian", "1.7.24~ds1-1")));
        assert!(
            trixie.contains(&"CVE-2024-25621:warn".to_string()),
            "{trixie:?}"
        );
        // Ubuntu's packages are not Debian's.
        let ubuntu = verdicts("runc", "1.1.5", Some(("ubuntu", "1.1.5+ds1-1+deb12u1")));
        assert!(
            ubuntu.contains(&"CVE-2024-21626:warn".to_string()),
            "{ubuntu:?}"
        );
    }

    #[test]
    fn upstream_builds_are_judged_by_the_range() {
        // Docker's static runc 1.1.12 (Engine 25.0.2's bundle) and 1.2.2 with the mkdirat race.
        let r = verdicts("runc", "1.1.12", None);
        assert!(!r.iter().any(|f| f.starts_with("CVE-2024-21626")));
        assert!(r.contains(&"CVE-2024-45310:error".to_string()));
        assert!(verdicts("runc", "1.2.2", None).contains(&"runc-mkdirat-race:warn".to_string()));
        assert!(!verdicts("runc", "1.2.3", None).contains(&"runc-mkdirat-race:warn".to_string()));
        // A current runc has nothing.
        assert!(verdicts("runc", "1.4.3", None).is_empty());
        assert!(verdicts("containerd", "v2.2.1", None).is_empty());
        assert!(verdicts("buildkit", "v0.26.3", None).is_empty());
        assert!(verdicts("docker-engine", "29.1.0", None).is_empty());
        // Worst first.
        let old = verdicts("runc", "1.0.0-rc92", None);
        assert!(old[0].ends_with(":error"));
    }

    #[test]
    fn kernel_conditions() {
        let rows = issues().unwrap();
        let ver = v("1.2.1");
        let judge_on = |k: Option<&str>| {
            let kernel = k.and_then(parse_release);
            let s = Subject {
                component: "runc",
                version: &ver,
                package: None,
                distribution: false,
                kernel: kernel.as_ref(),
                today: None,
            };
            judge(&s, &rows)
                .iter()
                .any(|f| f.issue.id == "runc-ebpf-old-kernel")
        };
        assert!(judge_on(Some("5.4.0-216-generic")));
        assert!(!judge_on(Some("5.6.0")));
        assert!(!judge_on(None), "an unknown kernel applies no kernel rule");
    }
}
