//! `dockerfile-cache-mounts`: cache mounts that the stages of one build share. Two findings are
//! real, each verified upstream:
//! - runc 1.2.0–1.2.2 races when two containers create the same mount point inside a shared
//!   directory: parallel stages sharing a cache that has another cache mounted inside it fail at
//!   random with "mkdirat …: file exists" (moby/buildkit#5566, opencontainers/runc#4543; fixed in
//!   runc 1.2.3; BuildKit's regression test testCacheMountParallel builds exactly that).
//! - apt's caches shared by stages that run at the same time fail on apt's own locks ("Could not get
//!   lock /var/cache/apt/archives/lock"; moby/buildkit#1662); BuildKit's documentation uses
//!   `sharing=locked` for them.
//!
//! Everything else (Go caches shared by parallel stages, nested targets with a fixed runc) works,
//! and is said as a note, not a warning.

use std::collections::BTreeSet;

use super::{Check, Options};
use crate::facts::Facts;
use crate::host::{DEFAULT_TIMEOUT, Host};
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::dockerfile::{self, CacheMount, Dockerfile};

/// Targets of apt, which needs exclusive access to its caches (BuildKit's reference, "Example:
/// cache apt packages").
const APT_CACHES: &[&str] = &["/var/cache/apt", "/var/lib/apt", "/var/lib/apt/lists"];
/// The runc releases with the mountpoint race.
const RACY_RUNC: ((u32, u32, u32), (u32, u32, u32)) = ((1, 2, 0), (1, 2, 2));

/// One flagged mount, for the fix.
struct Flagged {
    line: usize,
    raw: String,
}

pub const CHECK: Check = Check {
    id: "dockerfile-cache-mounts",
    title: "Dockerfile cache mounts shared by parallel stages",
    area: "BuildKit",
    explanation: super::explanation!("dockerfile-cache-mounts"),
    in_container: None,
    requires_tool: None,
    active_probe: false,
    run,
};

fn run(host: &Facts, opts: &Options) -> Outcome {
    if opts.dockerfiles.is_empty() {
        return Outcome::new(Status::Skipped, "no Dockerfile given (--dockerfile PATH)");
    }
    let runc = runc_version(host);
    let mut out = Outcome::new(Status::Ok, String::new());
    let mut summaries = Vec::new();
    let mut races = 0;
    for path in &opts.dockerfiles {
        let (text, seen) = match host.read_local(path) {
            // A file that is not UTF-8 is examined, but never rewritten (its bytes would change).
            Ok(b) => (
                String::from_utf8_lossy(&b).into_owned(),
                std::str::from_utf8(&b)
                    .is_ok()
                    .then(|| crate::files::sha256_hex(&b)),
            ),
            Err(e) => {
                out.status = out.status.max(Status::Unknown);
                // Most host errors name the path already: say it once.
                let e = e.to_string();
                summaries.push(if e.starts_with(path.as_str()) {
                    e
                } else {
                    format!("{path}: {e}")
                });
                continue;
            }
        };
        let df = dockerfile::parse(&text);
        for (line, problem) in &df.problems {
            out.push_at(path, *line, format!("parse: {problem}"));
        }
        let Some(target) = df.target(opts.dockerfile_target.as_deref()) else {
            out.status = out.status.max(Status::Unknown);
            summaries.push(match &opts.dockerfile_target {
                Some(t) => format!("{path}: no stage named {t:?}"),
                None => format!("{path}: no stages"),
            });
            continue;
        };
        let built = df.reachable(target);
        let mut flagged = Vec::new();
        let j = judge(path, &df, &built, runc, &mut out, &mut flagged);
        out.status = out.status.max(j.status);
        races += j.races;
        if !flagged.is_empty()
            && let Some(seen) = seen
        {
            out.push_fix(lock_plan(path, &text, seen, &flagged));
        }
        summaries.push(format!(
            "{path}: {} of {} stage{} built for {}, {} finding{}",
            built.len(),
            df.stages.len(),
            super::plural(df.stages.len()),
            df.stage_label(target),
            j.findings,
            super::plural(j.findings)
        ));
    }
    out.push(
        "runc --version",
        match runc {
            Some((a, b, c)) => format!("runc {a}.{b}.{c}"),
            None => "runc version unknown".into(),
        },
    );
    out.summary = summaries.join("; ");
    if races > 0 && is_racy(runc) == Some(true) {
        out.summary += "; this runc (1.2.0–1.2.2) has the mountpoint race: upgrade to 1.2.3+";
        out.push_fix(runc_plan());
    }
    out
}

fn is_racy(runc: Option<(u32, u32, u32)>) -> Option<bool> {
    runc.map(|v| RACY_RUNC.0 <= v && v <= RACY_RUNC.1)
}

/// What one Dockerfile showed.
struct Judged {
    status: Status,
    findings: usize,
    /// Shared caches with a nested mount point in parallel stages: the runc race's pattern.
    races: usize,
}

/// Judges the cache mounts of the stages one build runs.
fn judge(
    path: &str,
    df: &Dockerfile,
    built: &BTreeSet<usize>,
    runc: Option<(u32, u32, u32)>,
    out: &mut Outcome,
    flagged: &mut Vec<Flagged>,
) -> Judged {
    let mut j = Judged {
        status: Status::Ok,
        findings: 0,
        races: 0,
    };
    let stages: Vec<usize> = built.iter().copied().collect();
    for (i, &a) in stages.iter().enumerate() {
        for &b in &stages[i + 1..] {
            if !df.parallel(a, b) {
                continue;
            }
            for ma in &df.stages[a].mounts {
                for mb in df.stages[b].mounts.iter().filter(|mb| mb.id == ma.id) {
                    if ma.sharing == "private" || mb.sharing == "private" {
                        continue;
                    }
                    let pair = format!(
                        "cache id {:?} ({}) used by parallel stages {} and {} (line {})",
                        ma.id,
                        ma.target,
                        df.stage_label(a),
                        df.stage_label(b),
                        mb.line
                    );
                    let nested =
                        nested_in(&df.stages[a].mounts, ma) || nested_in(&df.stages[b].mounts, mb);
                    let apt = is_apt(ma) && !(ma.sharing == "locked" && mb.sharing == "locked");
                    if nested {
                        j.races += 1;
                        let (status, said) = match is_racy(runc) {
                            Some(true) => (
                                Status::Error,
                                "a cache is mounted inside it, and this runc (1.2.0–1.2.2) races creating that mount point: builds fail at random with \"mkdirat …: file exists\"",
                            ),
                            Some(false) => (
                                Status::Ok,
                                "a cache is mounted inside it; fine with this runc (the mkdirat race was fixed in 1.2.3)",
                            ),
                            None => (
                                Status::Warn,
                                "a cache is mounted inside it: with runc 1.2.0–1.2.2 builds fail at random with \"mkdirat …: file exists\", and runc's version is unknown",
                            ),
                        };
                        if status > Status::Ok {
                            j.findings += 1;
                        }
                        j.status = j.status.max(status);
                        out.push_at(path, ma.line, format!("{pair}; {said}"));
                    } else if apt {
                        j.findings += 1;
                        j.status = j.status.max(Status::Warn);
                        out.push_at(
                            path,
                            ma.line,
                            format!(
                                "{pair}: apt locks its caches, so one stage fails with \"Could not get lock\" while the other runs; use sharing=locked"
                            ),
                        );
                        for m in [ma, mb] {
                            flagged.push(Flagged {
                                line: m.line,
                                raw: m.raw.clone(),
                            });
                        }
                    } else {
                        out.push_at(
                            path,
                            ma.line,
                            format!("{pair}: fine, a shared cache is meant to be used at once"),
                        );
                    }
                }
            }
        }
    }
    j
}

fn is_apt(m: &CacheMount) -> bool {
    APT_CACHES.contains(&dockerfile::clean_path(&m.target).as_str())
}

/// Whether another cache mount of the same stage sits inside `m`'s target.
fn nested_in(mounts: &[CacheMount], m: &CacheMount) -> bool {
    let base = dockerfile::clean_path(&m.target);
    mounts.iter().any(|o| {
        let t = dockerfile::clean_path(&o.target);
        t != base && crate::parse::mountinfo::is_within(&t, &base)
    })
}

fn runc_plan() -> FixPlan {
    FixPlan {
        id: "upgrade-runc".into(),
        title: "Upgrade runc to 1.2.3 or later".into(),
        risk: Risk::Safe,
        needs_root: true,
        steps: vec![Step::Manual {
            instruction: "upgrade runc (containerd.io / runc package) to 1.2.3 or later, which fixed the \
                          racing mkdirat (opencontainers/runc#4550); until then, build the stages one at a \
                          time or give the nested caches distinct ids"
                .into(),
        }],
    }
}

/// `runc --version` → (major, minor, patch).
fn runc_version(host: &Host) -> Option<(u32, u32, u32)> {
    let out = host.run(&["runc", "--version"], DEFAULT_TIMEOUT).ok()?;
    let v = out.stdout.lines().next()?.strip_prefix("runc version ")?;
    let core = v.split(['+', '-', '~']).next()?;
    let mut n = core.split('.').map(|x| x.parse::<u32>().ok());
    Some((n.next()??, n.next()??, n.next().flatten().unwrap_or(0)))
}

/// Adds `sharing=locked` to each flagged mount (or turns `sharing=shared` into it), in place.
fn lock_plan(path: &str, text: &str, seen: String, flagged: &[Flagged]) -> FixPlan {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for f in flagged {
        if f.raw.contains("sharing=locked") {
            continue;
        }
        let Some(line) = lines.get_mut(f.line - 1) else {
            continue;
        };
        let fixed = if f.raw.contains("sharing=") {
            f.raw.replace("sharing=shared", "sharing=locked")
        } else {
            format!("{},sharing=locked", f.raw)
        };
        // The flag as a whole word: `target=/a` must not match inside `target=/a/b`.
        let at = line.match_indices(&f.raw).map(|(i, _)| i).find(|i| {
            line[i + f.raw.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == '\\')
        });
        if let Some(i) = at {
            line.replace_range(i..i + f.raw.len(), &fixed);
        }
    }
    FixPlan {
        id: "cache-mount-sharing-locked".into(),
        title: format!("Add sharing=locked to the flagged cache mounts in {path}"),
        risk: Risk::Safe,
        needs_root: false,
        steps: vec![Step::WriteFile {
            path: path.to_string(),
            content: lines.join("\n"),
            seen_sha256: Some(seen),
        }],
    }
}
