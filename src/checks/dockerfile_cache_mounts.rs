//! `dockerfile-cache-mounts`: cache mounts that parallel stages share. With runc 1.2.0–1.2.2,
//! parallel stages mounting the same cache fail at random with "mkdirat …: file exists" (the
//! securejoin MkdirAll race, moby/buildkit#5566, fixed in runc 1.2.3), worst when one cache target
//! is nested in another. Package-manager caches shared without `sharing=locked` race on their
//! locks (moby/buildkit#1662).

use crate::host::{DEFAULT_TIMEOUT, Host};
use crate::model::{FixPlan, Outcome, Risk, Status, Step};
use crate::parse::dockerfile::{self, CacheMount, Dockerfile};

/// Targets of package managers that need exclusive access to their cache.
const LOCKING_CACHES: &[&str] = &[
    "/var/cache/apt",
    "/var/lib/apt",
    "/var/lib/dpkg",
    "/var/cache/debconf",
];

/// One flagged mount, for the fix.
struct Flagged {
    line: usize,
    raw: String,
}

pub fn run(host: &Host, opts: &super::Options) -> Outcome {
    if opts.dockerfiles.is_empty() {
        return Outcome::new(Status::Skipped, "no Dockerfile given (--dockerfile PATH)");
    }
    let runc = runc_version(host);
    let racy_runc = runc
        .as_ref()
        .is_some_and(|v| (1, 2, 0) <= *v && *v <= (1, 2, 2));
    let mut out = Outcome::new(Status::Ok, String::new());
    let mut findings = 0;
    let mut summaries = Vec::new();
    for path in &opts.dockerfiles {
        let text = match host.read_local(path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
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
        let mut flagged = Vec::new();
        let (status, n) = judge(path, &df, racy_runc, &mut out, &mut flagged);
        out.status = out.status.max(status);
        findings += n;
        for (line, problem) in &df.problems {
            out.push_at(path, *line, format!("parse: {problem}"));
        }
        if !flagged.is_empty() {
            out.push_fix(lock_plan(path, &text, &flagged));
        }
        summaries.push(format!(
            "{path}: {} stage(s), {n} finding(s)",
            df.stages.len()
        ));
    }
    let runc_note = match &runc {
        Some((a, b, c)) => format!("runc {a}.{b}.{c}"),
        None => "runc version unknown".into(),
    };
    out.push("runc --version", runc_note);
    out.summary = if findings == 0 && out.status == Status::Ok {
        format!("no cache mount races ({})", summaries.join("; "))
    } else {
        summaries.join("; ")
    };
    if racy_runc && findings > 0 {
        out.summary += "; this runc (1.2.0–1.2.2) has the mountpoint race: upgrade to 1.2.3+";
    }
    out
}

/// Flags shared caches in parallel stages and unlocked package-manager caches.
fn judge(
    path: &str,
    df: &Dockerfile,
    racy_runc: bool,
    out: &mut Outcome,
    flagged: &mut Vec<Flagged>,
) -> (Status, usize) {
    let mut status = Status::Ok;
    let mut n = 0;
    let shared_status = if racy_runc {
        Status::Error
    } else {
        Status::Warn
    };
    for a in 0..df.stages.len() {
        for b in a + 1..df.stages.len() {
            if !df.parallel(a, b) {
                continue;
            }
            for ma in &df.stages[a].mounts {
                for mb in df.stages[b].mounts.iter().filter(|mb| mb.id == ma.id) {
                    if safe_pair(ma, mb) {
                        continue;
                    }
                    let nested =
                        nested_in(&df.stages[a].mounts, ma) || nested_in(&df.stages[b].mounts, mb);
                    n += 1;
                    status = status.max(shared_status);
                    out.push_at(
                        path,
                        ma.line,
                        format!(
                            "cache id {:?} ({}) shared by parallel stages {} and {} (line {}){}, without sharing=locked",
                            ma.id,
                            ma.target,
                            df.stage_label(a),
                            df.stage_label(b),
                            mb.line,
                            if nested { ", with a cache mount nested inside it (the mkdirat race)" } else { "" }
                        ),
                    );
                    for m in [ma, mb] {
                        flagged.push(Flagged {
                            line: m.line,
                            raw: m.raw.clone(),
                        });
                    }
                }
            }
        }
    }
    for stage in &df.stages {
        for m in &stage.mounts {
            let target = m.target.trim_end_matches('/');
            if LOCKING_CACHES.contains(&target) && m.sharing != "locked" {
                n += 1;
                status = status.max(Status::Warn);
                out.push_at(
                    path,
                    m.line,
                    format!(
                        "{} cache without sharing=locked: concurrent builds race on its lock",
                        m.target
                    ),
                );
                flagged.push(Flagged {
                    line: m.line,
                    raw: m.raw.clone(),
                });
            }
        }
    }
    (status, n)
}

/// `locked` on both sides serialises; `private` gives each user its own directory.
fn safe_pair(a: &CacheMount, b: &CacheMount) -> bool {
    (a.sharing == "locked" && b.sharing == "locked")
        || a.sharing == "private"
        || b.sharing == "private"
}

/// Whether another cache mount of the same stage sits inside `m`'s target.
fn nested_in(mounts: &[CacheMount], m: &CacheMount) -> bool {
    let base = m.target.trim_end_matches('/');
    mounts.iter().any(|o| {
        o.target.trim_end_matches('/') != base && o.target.starts_with(&format!("{base}/"))
    })
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
fn lock_plan(path: &str, text: &str, flagged: &[Flagged]) -> FixPlan {
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
        }],
    }
}
