//! `runtime-versions`: the container stack's versions (the Docker Engine and the components its
//! API names, runc, crun, containerd, BuildKit, Podman, Buildah, CRIU, the kernel) against the
//! known bugs and advisories of assets/known-issues.toml, and CRIU against the CRIU × kernel
//! matrix of `criu-version`. Distribution packages patch without changing the upstream number,
//! so a distribution build in an affected range is "may be affected" (warn) unless the table
//! records the package version that fixed it.

use super::known_issues::{self, Finding, Subject, Verdict};
use super::{Check, Options, criu_matrix, criu_version, plural};
use crate::facts::{Facts, Family, Package};
use crate::host::{DockerCall, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step, Table};
use crate::parse::version::Version;
use crate::parse::{criu, docker, go_version, oci_runtime, packages};

use super::first_line;

pub const CHECK: Check = Check {
    id: "runtime-versions",
    title: "Container stack versions against known issues",
    area: "Runtimes",
    explanation: super::explanation!("runtime-versions"),
    in_container: Some(
        "runs the tools of this container's image and asks the engine its socket reaches; the host's own binaries are not seen",
    ),
    requires_tool: None,
    active_probe: false,
    run,
};

/// Packages a vendor builds from upstream sources without backporting (Docker's repository): their
/// versions are upstream versions.
const VENDOR_PACKAGES: &[&str] = &[
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "docker-buildx-plugin",
];

/// One installed component and where its version came from.
#[derive(Debug, Clone)]
struct Found {
    /// The table's component name (`runc`, `docker-engine`, …; `criu`, `kernel`, `docker-init`
    /// have no rows there).
    component: &'static str,
    /// As people call it: `runc`, `Docker Engine`.
    label: &'static str,
    /// The version as the tool printed it (`1.1.5+ds1`), or why there is none.
    shown: String,
    version: Option<Version>,
    sources: Vec<String>,
    /// The distribution's package version (`1.1.5+ds1-1+deb12u1`): from the package database,
    /// or from the commit field Debian's builds print.
    package: Option<String>,
    /// The package that owns the binary, for the upgrade command.
    package_name: Option<String>,
    /// Built by a distribution that may backport fixes.
    distribution: bool,
    /// Not judged against the table, and why (`buildctl` is a client).
    not_judged: Option<&'static str>,
}

impl Found {
    fn new(component: &'static str, label: &'static str, shown: &str, source: String) -> Found {
        let version = Version::parse(shown);
        Found {
            component,
            label,
            shown: shown.to_string(),
            distribution: version.as_ref().is_some_and(|v| v.distribution),
            version,
            sources: vec![source],
            package: None,
            package_name: None,
            not_judged: None,
        }
    }

    /// Takes the owning package into account: a distribution's package version (for the table's
    /// fixed packages) and, for a vendor's, nothing more than its name.
    fn with_package(mut self, pkg: Option<&Package>) -> Found {
        if let Some(p) = pkg {
            self.package_name = Some(p.name.clone());
            if !VENDOR_PACKAGES.contains(&p.name.as_str()) && self.same_upstream(&p.version) {
                self.package = Some(p.version.clone());
                self.distribution = true;
            }
        }
        self
    }

    /// A commit field that is really the distribution's package version (Debian's runc and
    /// containerd print `1.1.5+ds1-1+deb12u1` there).
    fn with_commit(mut self, commit: Option<&str>) -> Found {
        if let Some(c) = commit
            && self.package.is_none()
            && c.contains('-')
            && Version::parse(c).is_some_and(|v| v.distribution)
            && self.same_upstream(c)
        {
            self.package = Some(c.to_string());
            self.distribution = true;
        }
        self
    }

    fn same_upstream(&self, package_version: &str) -> bool {
        let theirs = Version::parse(packages::upstream(package_version)).map(|v| v.upstream());
        match (&self.version, theirs) {
            (Some(v), Some(t)) => v.upstream() == t,
            _ => false,
        }
    }
}

fn run(host: &Facts, _opts: &Options) -> Outcome {
    let table = match known_issues::issues() {
        Ok(t) => t,
        Err(e) => return Outcome::unknown(e),
    };
    let mut out = Outcome::new(Status::Ok, String::new());
    let live = host.is_live();
    let mut stack = engine_components(host, &mut out);
    // Go binaries take a tenth of a second or more to print a version: ask them all at once.
    let mut dockerd = None;
    for (tool, found, evidence) in in_parallel(host, TOOLS) {
        out.evidence.extend(evidence.evidence);
        match (tool, found) {
            ("dockerd", f) => dockerd = f,
            (_, Some(f)) => merge(&mut stack, f),
            (_, None) => {}
        }
    }
    // The engine's binary, when its API did not answer.
    if !stack.iter().any(|f| f.component == "docker-engine")
        && let Some(f) = dockerd
    {
        stack.insert(0, f);
    }
    if let Some(engine) = stack.iter().find(|f| f.component == "docker-engine")
        && engine.version.is_some()
    {
        // The engine's BuildKit is vendored: its version follows the engine's.
        let mut bk = engine.clone();
        bk.component = "docker-buildkit";
        bk.label = "BuildKit (in Docker Engine)";
        bk.shown = format!("in Engine {}", engine.shown);
        bk.sources = vec![format!(
            "vendored in Docker Engine {} (judged by the engine's version)",
            engine.shown
        )];
        let at = stack
            .iter()
            .position(|f| f.component == "docker-engine")
            .map_or(0, |i| i + 1);
        stack.insert(at, bk);
    }
    let criu = criu_row(host, &mut out);
    let kernel = host.kernel().ok();
    if stack.is_empty() && criu.is_none() {
        return Outcome::new(
            Status::Skipped,
            "no container runtime found: no engine answering, no runc, crun, containerd, BuildKit, Podman, Buildah or CRIU",
        );
    }

    let dist = distribution_id(host);
    let today = match host.today() {
        Ok(d) => Some(d),
        Err(e) => {
            out.push(
                "today's date",
                format!("unknown: {e}; dated rows (ends of life) not applied"),
            );
            None
        }
    };
    let mut rows = Table::new(&["component", "version", "source", "findings"]);
    let mut affected: Vec<String> = Vec::new();
    let mut judged = 0usize;
    let mut issues_found = 0usize;
    for f in &stack {
        out.push(f.sources.join("; "), format!("{} {}", f.label, describe(f)));
        let (cell, fix) = match (&f.version, f.not_judged) {
            (_, Some(why)) => (why.to_string(), None),
            (None, _) => ("version unknown: not judged".to_string(), None),
            (Some(v), None) => {
                judged += 1;
                let subject = Subject {
                    component: f.component,
                    version: v,
                    package: f.package.as_deref().map(|p| (dist.as_str(), p)),
                    distribution: f.distribution,
                    kernel,
                    today: today.as_deref(),
                };
                let findings = known_issues::judge(&subject, &table);
                let j = report(host, f, &findings, &mut out);
                if j.status >= Status::Warn {
                    issues_found += findings.iter().filter(|x| x.status >= Status::Warn).count();
                    affected.push(format!("{} {}: {}", f.label, f.shown, j.short));
                    out.status = out.status.max(j.status);
                }
                (j.cell, j.fix)
            }
        };
        let fix_ids = fix.iter().map(|p| p.id.clone()).collect();
        if let Some(plan) = fix
            && !out.fixes.iter().any(|p| p.id == plan.id)
        {
            out.push_fix(plan);
        }
        rows.row(
            vec![
                f.label.to_string(),
                f.shown.clone(),
                f.sources.join("; "),
                cell,
            ],
            fix_ids,
        );
    }
    if let Some(c) = &criu {
        judged += 1;
        let fix_ids: Vec<String> = c.fix.iter().map(|p| p.id.clone()).collect();
        if c.status >= Status::Warn {
            issues_found += c.findings;
            affected.push(format!("CRIU {}: {}", c.shown, c.short));
            out.status = out.status.max(c.status);
        }
        if let Some(plan) = &c.fix
            && !out.fixes.iter().any(|p| p.id == plan.id)
        {
            out.push_fix(plan.clone());
        }
        rows.row(
            vec![
                "CRIU".into(),
                c.shown.clone(),
                c.source.clone(),
                c.cell.clone(),
            ],
            fix_ids,
        );
    }
    match host.kernel() {
        Ok(k) => rows.row(
            vec![
                "kernel".into(),
                k.to_string(),
                "/proc/sys/kernel/osrelease".into(),
                if criu.is_some() {
                    "see CRIU".into()
                } else {
                    "none listed".into()
                },
            ],
            Vec::new(),
        ),
        Err(e) => out.push(
            "kernel",
            format!("unknown: {e}; kernel conditions not applied"),
        ),
    }
    let components = rows.rows.len();
    out.table = Some(rows);
    out.count(
        "runtime_known_issues",
        "Known bugs and advisories that apply or may apply to the installed container stack",
        issues_found as f64,
    );
    if judged == 0 {
        out.status = Status::Unknown;
        out.summary = format!(
            "found {} component{} but could read none of their versions{}",
            stack.len(),
            plural(stack.len()),
            if live {
                ""
            } else {
                " (not run under --root; no package names them)"
            }
        );
        return out;
    }
    out.summary = if affected.is_empty() {
        format!(
            "{components} components, no known issue applies: {}",
            stack
                .iter()
                .filter(|f| f.version.is_some() && f.not_judged.is_none())
                .map(|f| format!("{} {}", f.label, f.shown))
                .chain(criu.as_ref().map(|c| format!("CRIU {}", c.shown)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "{} of {components} component{} with known issues: {}",
            affected.len(),
            plural(components),
            affected.join("; ")
        )
    };
    out
}

/// The tools asked for their version: (binary, table component, label).
const TOOLS: &[(&str, &str, &str)] = &[
    ("dockerd", "docker-engine", "Docker Engine"),
    ("containerd", "containerd", "containerd"),
    ("runc", "runc", "runc"),
    ("crun", "crun", "crun"),
    ("buildkitd", "buildkit", "BuildKit (buildkitd)"),
    ("buildctl", "buildkit", "buildctl"),
    ("podman", "podman", "Podman"),
    ("buildah", "buildah", "Buildah"),
];

/// Runs [`from_tool`] for each tool on its own thread, named like the check's so the scan's
/// deadline can still say which command it waits on; results in the order given.
fn in_parallel(
    host: &Facts,
    tools: &'static [(&'static str, &'static str, &'static str)],
) -> Vec<(&'static str, Option<Found>, Outcome)> {
    let name = std::thread::current().name().map(str::to_string);
    let one = |(tool, component, label): (&'static str, &'static str, &'static str)| {
        let mut evidence = Outcome::new(Status::Ok, "");
        let found = from_tool(host, tool, component, label, &mut evidence);
        (tool, found, evidence)
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = tools
            .iter()
            .map(|&t| {
                let mut b = std::thread::Builder::new();
                if let Some(n) = &name {
                    b = b.name(n.clone());
                }
                b.spawn_scoped(s, move || one(t)).map_err(|_| t)
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    let mut o = Outcome::new(Status::Ok, "");
                    o.push("runtime-versions", "a version probe failed internally");
                    ("", None, o)
                }),
                // No thread to be had: ask here.
                Err(t) => one(t),
            })
            .collect()
    })
}

/// How a component's version came to be known, for its evidence line.
fn describe(f: &Found) -> String {
    let mut s = f.shown.clone();
    if let Some(p) = &f.package {
        s += &format!(" (package {p})");
    } else if let Some(v) = &f.version
        && v.git_build
    {
        s += " (a git build past the tag: it may hold later fixes)";
    }
    s
}

/// Evidence for each row that applies, the table cell, the upgrade plan and the component's
/// status.
fn report(host: &Facts, f: &Found, findings: &[Finding], out: &mut Outcome) -> Judged {
    let subject = format!("{} {}", f.label, f.shown);
    let mut fixed_by_package = Vec::new();
    for x in findings {
        let source = format!("known issue {} ({})", x.issue.id, x.refs());
        let excerpt = match &x.verdict {
            Verdict::Affected => format!(
                "{subject}: affected: {}; fixed in {}",
                x.issue.effect, x.fixed_in
            ),
            Verdict::PackageNotFixed { fixed_package } => format!(
                "{subject}: affected: {}; the distribution fixed it in package {fixed_package} (upstream {}), this is {}",
                x.issue.effect,
                x.fixed_in,
                f.package.as_deref().unwrap_or("older")
            ),
            Verdict::MaybeBackported => format!(
                "{subject}: may be affected (distribution package, backport unknown): {}; fixed upstream in {}",
                x.issue.effect, x.fixed_in
            ),
            Verdict::PackageFixed { fixed_package } => {
                fixed_by_package.push(x.issue.id.clone());
                format!(
                    "{subject}: upstream range affected, but the distribution fixed it in package {fixed_package}"
                )
            }
        };
        out.push(source, excerpt);
    }
    let applying: Vec<&Finding> = findings
        .iter()
        .filter(|x| x.status >= Status::Warn)
        .collect();
    let status = applying
        .iter()
        .map(|x| x.status)
        .max()
        .unwrap_or(Status::Ok);
    let fixed_note = if fixed_by_package.is_empty() {
        String::new()
    } else {
        format!(
            "; fixed by the distribution: {}",
            fixed_by_package.join(", ")
        )
    };
    if applying.is_empty() {
        let cell = if fixed_by_package.is_empty() {
            "none known".to_string()
        } else {
            format!("none open{fixed_note}")
        };
        return Judged {
            cell,
            short: String::new(),
            fix: None,
            status: Status::Ok,
        };
    }
    let needed = applying
        .iter()
        .filter_map(|x| Version::parse(&x.fixed_in))
        .max()
        .map(|v| v.text)
        .unwrap_or_default();
    let ids: Vec<&str> = applying.iter().map(|x| x.issue.id.as_str()).collect();
    let known: Vec<&str> = applying
        .iter()
        .filter(|x| x.verdict != Verdict::MaybeBackported)
        .map(|x| x.issue.id.as_str())
        .collect();
    let maybe = applying.len() - known.len();
    let mut said = Vec::new();
    if !known.is_empty() {
        said.push(format!(
            "{} ({})",
            count(known.len(), "known issue"),
            known.join(", ")
        ));
    }
    if maybe > 0 {
        let maybe_ids: Vec<&str> = ids.iter().copied().filter(|i| !known.contains(i)).collect();
        said.push(format!(
            "may be affected by {} (distribution package, backport unknown: {})",
            maybe,
            maybe_ids.join(", ")
        ));
    }
    let cell = format!(
        "{}; fixed upstream in {needed}{fixed_note}",
        said.join("; ")
    );
    // The summary names up to two known issues, then counts.
    let named = match known.as_slice() {
        [] => String::new(),
        [a] => a.to_string(),
        [a, b] => format!("{a}, {b}"),
        [a, rest @ ..] => format!("{a} and {} more", rest.len()),
    };
    let short = match (named.is_empty(), maybe) {
        (true, m) => format!(
            "may be affected by {} (backport unknown)",
            count(m, "known issue")
        ),
        (false, 0) => named,
        (false, m) => format!("{named}; {m} more may apply (backport unknown)"),
    };
    Judged {
        cell,
        short,
        fix: Some(upgrade_plan(host, f, &needed, &ids)),
        status,
    }
}

/// A component judged against the table.
struct Judged {
    /// The table's findings cell.
    cell: String,
    /// The summary's words for it.
    short: String,
    fix: Option<FixPlan>,
    status: Status,
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", plural(n))
}

/// What CRIU's row says, from the CRIU × kernel matrix of `criu-version`.
struct CriuRow {
    shown: String,
    source: String,
    cell: String,
    /// The worst finding's effect, for the summary.
    short: String,
    status: Status,
    findings: usize,
    fix: Option<FixPlan>,
}

fn criu_row(host: &Facts, out: &mut Outcome) -> Option<CriuRow> {
    let tool = host.find_tool("criu")?;
    let argv = [tool.path.as_str(), "--version"];
    let (version, source) = match host.tool_version(&tool.path) {
        Ok(o) => match criu::parse_version(&o.stdout) {
            Some(v) => (v, o.source(&argv.join(" "))),
            None => {
                out.push(
                    argv.join(" "),
                    first_line(&format!("{}{}", o.stdout, o.stderr), 80),
                );
                return Some(unknown_criu(argv.join(" ")));
            }
        },
        Err(HostError::Unsupported(_)) => match criu_version::packaged(&tool) {
            Some((v, pkg)) => (v, format!("{} (version from the package)", pkg.source)),
            None => return Some(unknown_criu(format!("{} (not run)", tool.path))),
        },
        Err(e) => {
            out.push(argv.join(" "), e.to_string());
            return Some(unknown_criu(argv.join(" ")));
        }
    };
    out.push(source.clone(), format!("CRIU {version}"));
    let findings = match criu_version::matrix_findings(host, &version, &tool) {
        Ok(f) => f,
        Err(e) => {
            out.push("assets/criu-matrix.toml", e);
            return Some(CriuRow {
                shown: version.to_string(),
                source,
                cell: "the CRIU matrix could not be read".into(),
                short: String::new(),
                status: Status::Unknown,
                findings: 0,
                fix: None,
            });
        }
    };
    for f in &findings {
        out.push(
            format!("known problem {} ({})", f.id, f.refs.join(", ")),
            format!("CRIU {version} {}", f.effect),
        );
    }
    let status = findings.first().map_or(Status::Ok, |f| f.status);
    let cell = match findings.as_slice() {
        [] => "none known on this kernel".to_string(),
        [first, rest @ ..] => format!(
            "{}{}; fixed in {}",
            first.id,
            rest.iter()
                .map(|f| format!(", {}", f.id))
                .collect::<String>(),
            newest(&findings)
        ),
    };
    let fix = (!findings.is_empty()).then(|| criu_version::upgrade_plan(host, &newest(&findings)));
    let short = match findings.as_slice() {
        [] => String::new(),
        // The effect's first clause: "cannot start on kernel 6.18.44".
        [first] => clause(&first.effect),
        [first, rest @ ..] => format!("{} (and {} more)", clause(&first.effect), rest.len()),
    };
    Some(CriuRow {
        shown: version.to_string(),
        source,
        cell,
        short,
        status,
        findings: findings.len(),
        fix,
    })
}

fn clause(effect: &str) -> String {
    effect
        .split(':')
        .next()
        .unwrap_or(effect)
        .trim()
        .to_string()
}

/// The release that fixes every finding of the CRIU matrix.
fn newest(findings: &[criu_matrix::Finding]) -> String {
    findings
        .iter()
        .filter_map(|f| Version::parse(&f.fixed_in))
        .max()
        .map(|v| v.text)
        .unwrap_or_default()
}

fn unknown_criu(source: String) -> CriuRow {
    CriuRow {
        shown: "unknown".into(),
        source,
        cell: "version unknown: not judged".into(),
        short: String::new(),
        status: Status::Ok,
        findings: 0,
        fix: None,
    }
}

/// The engine and the components its `/version` names.
fn engine_components(host: &Facts, out: &mut Outcome) -> Vec<Found> {
    let answer = match host.docker(DockerCall::Version) {
        Ok(v) => v,
        // No engine: the binaries and packages still tell.
        Err(HostError::NotFound(_)) => return Vec::new(),
        Err(e) => {
            out.push("Engine API GET /version", e.to_string());
            return Vec::new();
        }
    };
    let source = "Engine API GET /version".to_string();
    docker::version_components(&answer)
        .into_iter()
        .filter_map(|c| {
            let (component, label, tool) = match c.name.as_str() {
                "Engine" => ("docker-engine", "Docker Engine", "dockerd"),
                "Podman Engine" => ("podman", "Podman (Docker API)", "podman"),
                "containerd" => ("containerd", "containerd", "containerd"),
                "runc" => ("runc", "runc", "runc"),
                "docker-init" => ("docker-init", "docker-init", "docker-init"),
                _ => return None,
            };
            let found = Found::new(component, label, &c.version, source.clone())
                .with_commit(c.commit.as_deref());
            // The package that installed the binary of that name, when it is the same version.
            let pkg = host.find_tool(tool).and_then(|t| t.package);
            Some(found.with_package(pkg.as_ref()))
        })
        .collect()
}

/// A tool's version from its own output, or under `--root` from the package that owns it.
fn from_tool(
    host: &Facts,
    tool: &str,
    component: &'static str,
    label: &'static str,
    out: &mut Outcome,
) -> Option<Found> {
    let found = host.find_tool(tool)?;
    // `podman version` as root starts the runtime (conmon included) to ask the engine; `--version`
    // only prints, which is all a doctor should make it do.
    let argv = [found.path.as_str(), "--version"];
    let shown_argv = argv.join(" ");
    let mut f = match host.tool_version(&found.path) {
        Ok(o) => {
            let (version, commit) = parse_output(tool, &o.stdout);
            match version {
                Some(v) => Found::new(component, label, &v, o.source(&shown_argv))
                    .with_commit(commit.as_deref()),
                None => {
                    out.push(
                        shown_argv.clone(),
                        format!(
                            "no version in its output: {:?}",
                            first_line(&format!("{}{}", o.stdout, o.stderr), 80)
                        ),
                    );
                    from_package(component, label, found.package.as_ref())
                        .unwrap_or_else(|| unknown(component, label, shown_argv))
                }
            }
        }
        Err(HostError::Unsupported(_)) => from_package(component, label, found.package.as_ref())
            .unwrap_or_else(|| {
                unknown(
                    component,
                    label,
                    format!(
                        "{} (not run; no package database names its version)",
                        found.path
                    ),
                )
            }),
        Err(e) => {
            out.push(shown_argv.clone(), e.to_string());
            from_package(component, label, found.package.as_ref())
                .unwrap_or_else(|| unknown(component, label, shown_argv))
        }
    };
    f = f.with_package(found.package.as_ref());
    if tool == "buildctl" {
        f.not_judged = Some("the client: the daemon's version is what matters");
    }
    Some(f)
}

/// The packages whose version is the component's own (containerd.io's version is containerd's,
/// not that of the runc it also ships).
fn own_package(component: &str, package: &str) -> bool {
    let names: &[&str] = match component {
        "docker-engine" => &["docker.io", "docker-ce", "moby-engine", "docker"],
        "containerd" => &["containerd", "containerd.io", "moby-containerd"],
        "runc" => &["runc", "moby-runc"],
        "crun" => &["crun"],
        "buildkit" => &["buildkit", "moby-buildkit"],
        "podman" => &["podman"],
        "buildah" => &["buildah"],
        _ => &[],
    };
    names.contains(&package)
}

fn from_package(
    component: &'static str,
    label: &'static str,
    pkg: Option<&Package>,
) -> Option<Found> {
    let pkg = pkg.filter(|p| own_package(component, &p.name))?;
    let upstream = packages::upstream(&pkg.version);
    Version::parse(upstream)?;
    let mut f = Found::new(
        component,
        label,
        upstream,
        format!(
            "{} ({} {}: version from the package)",
            pkg.source, pkg.name, pkg.version
        ),
    );
    if !VENDOR_PACKAGES.contains(&pkg.name.as_str()) {
        f.package = Some(pkg.version.clone());
        f.distribution = true;
    }
    f.package_name = Some(pkg.name.clone());
    Some(f)
}

fn unknown(component: &'static str, label: &'static str, source: String) -> Found {
    Found {
        component,
        label,
        shown: "unknown".into(),
        version: None,
        sources: vec![source],
        package: None,
        package_name: None,
        distribution: false,
        not_judged: None,
    }
}

/// (version, commit) from a tool's output, by its format family.
fn parse_output(tool: &str, stdout: &str) -> (Option<String>, Option<String>) {
    match tool {
        "containerd" | "buildkitd" | "buildctl" => {
            go_version::parse(stdout).map_or((None, None), |g| (Some(g.version), g.revision))
        }
        _ => oci_runtime::parse(stdout).map_or((None, None), |r| (r.version, r.commit)),
    }
}

/// Adds a tool's finding to the stack, folding it into the same component at the same version
/// (the engine's runc is usually the runc on $PATH).
fn merge(stack: &mut Vec<Found>, f: Found) {
    let same = stack.iter_mut().find(|s| {
        s.component == f.component
            && s.not_judged == f.not_judged
            && match (&s.version, &f.version) {
                (Some(a), Some(b)) => a.upstream() == b.upstream() && a.suffix == b.suffix,
                _ => false,
            }
    });
    match same {
        Some(s) => {
            s.sources.extend(f.sources);
            if s.package.is_none() {
                s.package = f.package;
            }
            if s.package_name.is_none() {
                s.package_name = f.package_name;
            }
            s.distribution |= f.distribution;
        }
        None => stack.push(f),
    }
}

/// The distribution the package versions belong to, as the table's `fixed_packages` name it.
fn distribution_id(host: &Facts) -> String {
    let os = host.os_release();
    match os.id.as_str() {
        "" => os.id_like.first().cloned().unwrap_or_default(),
        id => id.to_string(),
    }
}

/// Manual upgrade advice for a component, in the distribution's words.
fn upgrade_plan(host: &Facts, f: &Found, needed: &str, ids: &[&str]) -> FixPlan {
    let engine = matches!(f.component, "docker-engine" | "docker-buildkit");
    let (id, what) = if engine {
        ("upgrade-docker-engine".to_string(), "Docker Engine")
    } else {
        (format!("upgrade-{}", f.component), f.label)
    };
    let default_pkg = match f.component {
        "docker-engine" | "docker-buildkit" => match host.os_release().family() {
            Family::Debian => "docker.io",
            Family::RedHat => "moby-engine",
            _ => "docker",
        },
        other => other,
    };
    let pkg = f.package_name.as_deref().unwrap_or(default_pkg);
    let how = match host.os_release().family() {
        Family::Debian => format!("apt-get update && apt-get install --only-upgrade {pkg}"),
        Family::RedHat => format!("dnf upgrade {pkg}"),
        Family::Alpine => format!("apk upgrade {pkg}"),
        Family::Suse => format!("zypper update {pkg}"),
        Family::Arch => format!("pacman -Syu {pkg}"),
        Family::Other => format!("install {what} {needed} or later from its upstream releases"),
    };
    let backport = if f.distribution {
        format!(
            "; this is a distribution package: its security tracker says whether {} {} fixed in a newer package of the same version",
            ids.join(", "),
            if ids.len() == 1 { "is" } else { "are" }
        )
    } else {
        String::new()
    };
    FixPlan {
        id,
        title: format!("Upgrade {what} ({needed} or later upstream)"),
        risk: Risk::Safe,
        needs_root: true,
        steps: vec![Step::Manual {
            instruction: format!(
                "{how} (fixed upstream in {needed}: {}){backport}",
                ids.join(", ")
            ),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_that_are_package_versions() {
        // Debian's runc and containerd print the package version as their commit.
        let runc = Found::new("runc", "runc", "1.1.5+ds1", "runc --version".into())
            .with_commit(Some("1.1.5+ds1-1+deb12u1"));
        assert_eq!(runc.package.as_deref(), Some("1.1.5+ds1-1+deb12u1"));
        assert!(runc.distribution);
        // Upstream's commit is a git describe, not a package.
        let upstream = Found::new("runc", "runc", "1.1.12", "runc --version".into())
            .with_commit(Some("v1.1.12-0-g51d5e946"));
        assert_eq!(upstream.package, None);
        assert!(!upstream.distribution);
        // Docker's containerd.io: a vendor package, upstream numbers.
        let pkg = Package {
            name: "containerd.io".into(),
            version: "1.6.24-1".into(),
            machine: None,
            source: "/var/lib/dpkg/status".into(),
            excerpt: String::new(),
        };
        let c = Found::new(
            "containerd",
            "containerd",
            "1.6.24",
            "containerd --version".into(),
        )
        .with_package(Some(&pkg));
        assert!(!c.distribution && c.package.is_none());
        assert_eq!(c.package_name.as_deref(), Some("containerd.io"));
        // containerd.io also ships runc: its version is not runc's.
        assert!(from_package("runc", "runc", Some(&pkg)).is_none());
        assert!(
            from_package("containerd", "containerd", Some(&pkg)).is_some_and(|f| !f.distribution)
        );
    }
}
