//! `buildkit-usage`: BuildKit's cache against its GC policy, for standalone buildkitd and for
//! Docker's embedded builder. The incident: a cache that grew to 539 GB with `keepBytes = "200GB"`
//! configured, every record `Reclaimable: false` (moby/buildkit#5583) — GC cannot delete records in
//! use, and only a daemon restart released them.

use std::collections::BTreeMap;

use super::{Check, Options};
use crate::facts::Facts;
use crate::host::{DEFAULT_TIMEOUT, DOCKER_SOCKET, DirSize, DiskStat, DockerCall, Host, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step, Unit, Visual};
use crate::parse::buildkit::{
    self, DiskSpace, GcConfig, Record, Rule, human_binary, human_decimal,
};
use crate::parse::docker::{self as docker_args, DaemonArgs, DaemonFlags};

/// Where standalone buildkitd keeps its config and state (rootful; rootless comes from $HOME).
const BUILDKITD_TOML: &str = "/etc/buildkit/buildkitd.toml";
const BUILDKIT_STATE: &str = "/var/lib/buildkit";
const DAEMON_JSON: &str = "/etc/docker/daemon.json";
const DOCKER_DATA_ROOT: &str = "/var/lib/docker";
/// Where buildkitd listens, and so where buildctl asks, unless BUILDKIT_HOST says otherwise.
const BUILDKITD_SOCKET: &str = "/run/buildkit/buildkitd.sock";
/// Records listed as evidence.
const LARGEST: usize = 10;
/// A cache this large with nothing reclaimable is worth a warning even under its limit.
const STUCK_BYTES: i64 = 1_000_000_000;

/// One builder found on the host.
struct Builder {
    name: &'static str,
    /// Its state directory (the disk its percentages refer to).
    state: String,
    /// The config file the daemon reads (the default one unless its command line names another).
    config_path: String,
    /// How the config file and state were found (the daemon's command line, the engine's answer).
    located: Vec<(String, String)>,
    /// Where its GC settings come from, or why they are unreadable.
    config: Result<Option<(String, GcConfig)>, String>,
    /// Usage records, when the builder could list them.
    records: Option<Vec<Record>>,
    /// Total bytes, from the records or from the state directory.
    used: Option<i64>,
    used_from: String,
    /// Docker's embedded builder before the reserved/max/min options: the old default cap.
    legacy_default: bool,
    /// The engine's socket refused us or did not answer: nothing can be judged.
    refused: Option<String>,
    /// Docker Engine version (major, minor), when the engine said.
    docker_version: Option<(u32, u32)>,
    /// daemon.json's `builder.gc.enabled`, when set (any letter case: Go's encoding/json
    /// matches keys case-insensitively).
    gc_enabled_key: Option<bool>,
    restart: Vec<String>,
    prune: fn(i64) -> Vec<String>,
}

pub const CHECK: Check = Check {
    id: "buildkit-usage",
    title: "BuildKit cache usage against its GC policy",
    area: "BuildKit",
    explanation: super::explanation!("buildkit-usage"),
    in_container: Some(
        "reaches an engine only through a socket mounted into the container, and reads only this container's files",
    ),
    requires_tool: None,
    active_probe: false,
    run,
};

fn run(host: &Facts, _: &Options) -> Outcome {
    let builders: Vec<Builder> = [docker_builder(host), buildkitd(host)]
        .into_iter()
        .flatten()
        .collect();
    if builders.is_empty() {
        return Outcome::new(
            Status::Skipped,
            "no BuildKit: no Docker engine answering, no buildkitd config or state",
        );
    }
    let mut out = Outcome::new(Status::Ok, String::new());
    let mut summaries = Vec::new();
    for b in &builders {
        let (status, summary) = judge(host, b, &mut out);
        out.status = out.status.max(status);
        summaries.push(format!("{}: {summary}", b.name));
    }
    out.summary = summaries.join("; ");
    out
}

/// The running daemon named `comm` that answers on `socket`, and what its command line says.
/// Several engines may run side by side (each with its own socket): the one the doctor talks to
/// is the one whose settings count.
fn daemon_on(
    host: &Facts,
    comm: &str,
    flags: &DaemonFlags,
    socket: &str,
    default_socket: &str,
) -> Option<(u32, DaemonArgs)> {
    let procs = host.processes().ok()?;
    procs.iter().filter(|p| p.comm == comm).find_map(|p| {
        let raw = host.read(&format!("/proc/{}/cmdline", p.pid)).ok()?;
        let argv: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let args = docker_args::daemon_args(&argv, flags);
        docker_args::listens_on(&args.hosts, socket, default_socket).then_some((p.pid, args))
    })
}

/// The socket behind `variable` (DOCKER_HOST, BUILDKIT_HOST) when it names a unix socket.
fn socket_from_env(host: &Host, variable: &str, default: &str) -> String {
    match host.env(variable) {
        Ok(Some(h)) if h.starts_with("unix://") => h.trim_start_matches("unix://").to_string(),
        _ => default.to_string(),
    }
}

/// dockerd's config file and data root: its command line (`--config-file`, `--data-root`), the
/// engine's own word (`/info` `DockerRootDir`), daemon.json's `data-root`, then the defaults.
fn docker_locations(host: &Facts, out: &mut Vec<(String, String)>) -> (String, String) {
    let socket = socket_from_env(host, "DOCKER_HOST", DOCKER_SOCKET);
    let daemon = daemon_on(
        host,
        "dockerd",
        &docker_args::DOCKERD,
        &socket,
        DOCKER_SOCKET,
    );
    if let Some((pid, a)) = &daemon {
        out.push((
            format!("/proc/{pid}/cmdline"),
            format!(
                "dockerd answering on {socket}: --config-file {}, --data-root {}",
                a.config_file.as_deref().unwrap_or("(default)"),
                a.data_root.as_deref().unwrap_or("(default)")
            ),
        ));
    }
    let args = daemon.map(|(_, a)| a).unwrap_or_default();
    let config = args.config_file.unwrap_or_else(|| DAEMON_JSON.to_string());
    let info_root = host
        .docker(DockerCall::Info)
        .ok()
        .and_then(|v| v.get("DockerRootDir")?.as_str().map(str::to_string));
    if let Some(r) = &info_root {
        out.push(("GET /info".into(), format!("DockerRootDir {r}")));
    }
    let json_root = || {
        let v: serde_json::Value = serde_json::from_str(&host.read_text(&config).ok()?).ok()?;
        get_ci(&v, "data-root")?.as_str().map(str::to_string)
    };
    let root = info_root
        .or(args.data_root)
        .or_else(json_root)
        .unwrap_or_else(|| DOCKER_DATA_ROOT.to_string());
    (config, root)
}

fn docker_builder(host: &Facts) -> Option<Builder> {
    let df = host.docker(DockerCall::SystemDf);
    let mut located = Vec::new();
    let (config_path, data_root) = docker_locations(host, &mut located);
    let buildkit_state = format!("{}/buildkit", data_root.trim_end_matches('/'));
    let state_exists = host.stat(&buildkit_state).is_ok_and(|m| m.is_dir);
    // Permission is not absence: a socket that refuses us (not root, not in the docker group) or
    // an engine that does not answer leaves the builder unknown, never "no engine".
    let refused = match &df {
        Err(HostError::PermissionDenied(socket)) => Some(format!("permission denied on {socket}")),
        Err(e @ (HostError::Timeout(..) | HostError::Io(_))) => {
            Some(format!("the Docker engine did not answer: {e}"))
        }
        _ => None,
    };
    if df.is_err() && !state_exists && refused.is_none() {
        return None;
    }
    let config = match host.read_text(&config_path) {
        Ok(text) => buildkit::daemon_json_builder(&text)
            .map(|c| c.map(|c| (config_path.clone(), c)))
            .map_err(|e| format!("{config_path}: {e}")),
        Err(HostError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
    };
    let gc_enabled_key = host
        .read_text(&config_path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            let gc = get_ci(get_ci(&v, "builder")?, "gc")?;
            get_ci(gc, "enabled")?.as_bool()
        });
    let version = host.docker(DockerCall::Version).ok().and_then(|v| {
        v.get("Version")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    let docker_version = version.as_deref().and_then(|v| {
        let mut parts = v.trim_start_matches('v').split(['.', '-', '+', '~']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    });
    let major: u32 = docker_version.map(|v| v.0).unwrap_or(0);
    let (records, used, used_from) = match &df {
        Ok(v) => {
            let r = buildkit::docker_df_records(v);
            // As `docker system df` counts it: records shared with images are the images' size.
            let total = r.iter().filter(|x| !x.shared).map(|x| x.size).sum();
            (
                Some(r),
                Some(total),
                "GET /system/df (build cache, shared records excluded)".to_string(),
            )
        }
        Err(e) => {
            let (used, from) = dir_usage(host, &buildkit_state, e);
            (None, used, from)
        }
    };
    Some(Builder {
        name: "docker builder",
        state: data_root,
        config_path,
        located,
        config,
        records,
        used,
        used_from,
        // The reserved/max/min defaults reached Docker with BuildKit 0.17 (Engine 28).
        legacy_default: major < 28,
        refused,
        docker_version,
        gc_enabled_key,
        restart: restart_argv(host, "docker"),
        prune: |keep| {
            vec![
                "docker".into(),
                "builder".into(),
                "prune".into(),
                "--force".into(),
                format!("--keep-storage={keep}"),
            ]
        },
    })
}

fn buildkitd(host: &Facts) -> Option<Builder> {
    // The running buildkitd that buildctl reaches: its --config and --root come first.
    let socket = socket_from_env(host, "BUILDKIT_HOST", BUILDKITD_SOCKET);
    let daemon = daemon_on(
        host,
        "buildkitd",
        &docker_args::BUILDKITD,
        &socket,
        BUILDKITD_SOCKET,
    );
    let mut located = Vec::new();
    if let Some((pid, a)) = &daemon {
        located.push((
            format!("/proc/{pid}/cmdline"),
            format!(
                "buildkitd answering on {socket}: --config {}, --root {}",
                a.config_file.as_deref().unwrap_or("(default)"),
                a.data_root.as_deref().unwrap_or("(default)")
            ),
        ));
    }
    let daemon_running = daemon.is_some();
    let args = daemon.map(|(_, a)| a).unwrap_or_default();
    // Rootless buildkitd reads $XDG_CONFIG_HOME (or ~/.config) and keeps state in ~/.local/share.
    let home = host.env("HOME").ok().flatten();
    let xdg = host
        .env("XDG_CONFIG_HOME")
        .ok()
        .flatten()
        .or_else(|| home.as_ref().map(|h| format!("{h}/.config")));
    let default_root = args
        .data_root
        .clone()
        .unwrap_or_else(|| BUILDKIT_STATE.to_string());
    let mut candidates = vec![(
        args.config_file
            .clone()
            .unwrap_or_else(|| BUILDKITD_TOML.to_string()),
        default_root,
    )];
    if args.config_file.is_none()
        && let (Some(x), Some(h)) = (&xdg, &home)
    {
        candidates.push((
            format!("{x}/buildkit/buildkitd.toml"),
            format!("{h}/.local/share/buildkit"),
        ));
    }
    // Permission is not absence: a socket that refuses us (not root, not in buildkitd's group)
    // is a buildkitd there, whether or not buildctl is installed to ask it.
    let reached = host.connect(&socket);
    let refused_socket = match &reached {
        Err(HostError::PermissionDenied(s)) => Some(format!("permission denied on {s}")),
        _ => None,
    };
    let answering = reached.is_ok() || refused_socket.is_some();
    // A config or state directory we may not read is there all the same.
    let there = |r: Result<bool, HostError>| !matches!(r, Ok(false) | Err(HostError::NotFound(_)));
    let found = candidates.iter().position(|(toml_path, state)| {
        there(host.read_text(toml_path).map(|_| true)) || there(host.stat(state).map(|m| m.is_dir))
    });
    let chosen = found.or((daemon_running || answering).then_some(0))?;
    if let Some((toml_path, default_state)) = candidates.into_iter().nth(chosen) {
        let text = host.read_text(&toml_path);
        let parsed = match &text {
            Ok(t) => buildkit::buildkitd_toml(t).map_err(|e| format!("{toml_path}: {e}")),
            Err(HostError::NotFound(_)) => Ok((None, Vec::new())),
            Err(e) => Err(e.to_string()),
        };
        // --root on the command line overrides the file's `root`.
        let state = args
            .data_root
            .clone()
            .or_else(|| parsed.as_ref().ok().and_then(|(root, _)| root.clone()))
            .unwrap_or(default_state);
        let config =
            parsed.map(|(_, workers)| workers.into_iter().next().map(|w| (toml_path.clone(), w)));
        let du = match &refused_socket {
            Some(why) => Err(HostError::PermissionDenied(why.clone())),
            None => host.run(&["buildctl", "du", "-v"], DEFAULT_TIMEOUT),
        };
        // buildctl: "dial unix /run/buildkit/buildkitd.sock: connect: permission denied".
        let refused = refused_socket.clone().or_else(|| {
            du.as_ref().ok().filter(|o| !o.success()).and_then(|o| {
                let at = o.stderr.find("connect: permission denied")?;
                let before = &o.stderr[..at];
                let socket = before
                    .rfind("dial unix ")
                    .map(|i| before[i + 10..].trim_end_matches([':', ' ']).to_string())
                    .unwrap_or_else(|| "buildkitd's socket".into());
                Some(format!("permission denied on {socket}"))
            })
        });
        let (records, used, used_from) = match du {
            Ok(o) if o.success() => {
                let r = buildkit::du_verbose(&o.stdout);
                let total =
                    buildkit::du_total(&o.stdout).unwrap_or_else(|| r.iter().map(|x| x.size).sum());
                (Some(r), Some(total), "buildctl du -v".to_string())
            }
            Ok(o) => {
                let e = HostError::Io(format!(
                    "buildctl du -v: {}",
                    super::first_line(&o.stderr, 100)
                ));
                let (used, from) = dir_usage(host, &state, &e);
                (None, used, from)
            }
            Err(e) => {
                let (used, from) = dir_usage(host, &state, &e);
                (None, used, from)
            }
        };
        return Some(Builder {
            name: "buildkitd",
            state,
            config_path: toml_path.clone(),
            located,
            config,
            records,
            used,
            used_from,
            legacy_default: false,
            refused,
            docker_version: None,
            gc_enabled_key: None,
            restart: restart_argv(host, "buildkit"),
            prune: |keep| {
                // buildctl takes --keep-storage in MB (10⁶ bytes).
                vec![
                    "buildctl".into(),
                    "prune".into(),
                    format!("--keep-storage={}", keep / 1_000_000),
                ]
            },
        });
    }
    None
}

/// Without records, the state directory's size stands in, and the evidence says why.
fn dir_usage(host: &Host, dir: &str, why: &HostError) -> (Option<i64>, String) {
    match host.dir_size(dir) {
        Ok(DirSize {
            bytes, truncated, ..
        }) => (
            Some(bytes),
            format!(
                "size of {dir}{} (records unavailable: {why})",
                if truncated { ", walk cut short" } else { "" }
            ),
        ),
        Err(e) => (None, format!("usage unknown: {why}; {e}")),
    }
}

fn restart_argv(host: &Host, unit: &str) -> Vec<String> {
    if host.stat("/run/systemd/system").is_ok_and(|m| m.is_dir) {
        vec!["systemctl".into(), "restart".into(), unit.into()]
    } else {
        Vec::new()
    }
}

/// The effective limit and how it was derived.
struct Limit {
    bytes: Option<i64>,
    how: String,
}

fn effective_limit(b: &Builder, gc: Option<&GcConfig>, disk: Option<DiskStat>, used: i64) -> Limit {
    let (total, free) = disk.map(|d| (d.total, d.free)).unwrap_or((0, 0));
    let disk_note = disk
        .map(|d| {
            format!(
                " of a {} disk with {} free",
                human_binary(d.total),
                human_binary(d.free)
            )
        })
        .unwrap_or_else(|| " (disk size unknown: BuildKit then assumes 2 GB)".into());
    let rules = gc.map(|g| g.rules.as_slice()).unwrap_or(&[]);
    if !rules.is_empty() {
        return match rules.iter().rposition(Rule::is_ceiling) {
            Some(i) => {
                let keep = rules[i].keep_bytes(total, free, used);
                Limit {
                    bytes: keep,
                    how: format!(
                        "rule #{i} (no filter, no age) {}{disk_note}",
                        describe_rule(&rules[i])
                    ),
                }
            }
            None => Limit {
                bytes: None,
                how: "every rule has a filter or an age limit: nothing bounds the whole cache"
                    .into(),
            },
        };
    }
    let default = gc.map(|g| g.default.clone()).unwrap_or_default();
    let unset =
        default.reserved.is_none() && default.max_used.is_none() && default.min_free.is_none();
    if unset && b.legacy_default {
        // Docker before Engine 28: the cap is 10% of the disk, rounded as BuildKit rounds.
        let cap = DiskSpace::Percent(10).as_bytes(total);
        return Limit {
            bytes: Some(cap),
            how: format!(
                "Docker's default, 10% of the disk = {}{disk_note}",
                human_decimal(cap)
            ),
        };
    }
    let rule = if unset {
        // BuildKit ≥ 0.17 defaults: reserved min(10%, 10 GB), minFree 20%, maxUsed min(80%, 100 GB).
        let cap = |pct: i64, max: i64| {
            let p = DiskSpace::Percent(pct);
            if p.as_bytes(total) > max {
                DiskSpace::Bytes(max)
            } else {
                p
            }
        };
        Rule {
            reserved: Some(cap(10, 10_000_000_000)),
            min_free: Some(DiskSpace::Percent(20)),
            max_used: Some(cap(80, 100_000_000_000)),
            ..Default::default()
        }
    } else {
        default
    };
    let keep = rule.keep_bytes(total, free, used);
    Limit {
        bytes: keep,
        how: format!(
            "{} {}{disk_note}",
            if unset {
                "BuildKit's defaults"
            } else {
                "the configured defaults"
            },
            describe_rule(&rule)
        ),
    }
}

fn describe_rule(r: &Rule) -> String {
    let mut parts = Vec::new();
    if let Some(d) = r.reserved {
        parts.push(format!("reservedSpace {}", d.describe()));
    }
    if let Some(d) = r.max_used {
        parts.push(format!("maxUsedSpace {}", d.describe()));
    }
    if let Some(d) = r.min_free {
        parts.push(format!("minFreeSpace {}", d.describe()));
    }
    if parts.is_empty() {
        "(no size settings)".into()
    } else {
        format!("({})", parts.join(", "))
    }
}

fn judge(host: &Host, b: &Builder, out: &mut Outcome) -> (Status, String) {
    for (source, excerpt) in &b.located {
        out.push(source.clone(), excerpt.clone());
    }
    if let Some(why) = &b.refused {
        out.push(b.name, why.clone());
        return (Status::Unknown, why.clone());
    }
    let gc = match &b.config {
        Ok(c) => c.as_ref().map(|(_, g)| g),
        Err(e) => {
            out.push(b.name, e.clone());
            return (Status::Unknown, format!("GC settings unreadable: {e}"));
        }
    };
    if let Ok(Some((path, g))) = &b.config {
        out.push(
            path.clone(),
            format!(
                "{}: {} rule(s), gc {}",
                g.scope,
                g.rules.len(),
                if g.enabled { "on" } else { "off" }
            ),
        );
    }
    let Some(used) = b.used else {
        out.push(b.name, b.used_from.clone());
        return (Status::Unknown, "cache usage unknown".into());
    };
    out.push(b.used_from.clone(), human_decimal(used));
    let disk = host.disk_stat(&b.state).ok();
    let limit = effective_limit(b, gc, disk, used);
    out.push(
        format!("{} effective GC limit", b.name),
        match limit.bytes {
            Some(l) => format!("{} from {}", human_decimal(l), limit.how),
            None => limit.how.clone(),
        },
    );

    let label = if b.name == "buildkitd" {
        "buildkitd"
    } else {
        "docker"
    };
    out.measure(
        "buildkit_cache_bytes",
        &[("builder", label)],
        "BuildKit build cache size.",
        Unit::Bytes,
        used as f64,
    );
    if let Some(l) = limit.bytes {
        out.measure(
            "buildkit_limit_bytes",
            &[("builder", label)],
            "The effective BuildKit GC limit.",
            Unit::Bytes,
            l as f64,
        );
        out.visuals.push(Visual::Gauge {
            label: label.to_string(),
            value: used as f64,
            limit: l as f64,
            unit: Unit::Bytes,
        });
    }
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    let shown_limit = limit
        .bytes
        .map(human_decimal)
        .unwrap_or_else(|| "no limit".into());
    let mut summary = format!("{} of {shown_limit}", human_decimal(used));
    if gc.is_some_and(|g| !g.enabled) {
        status = Status::Warn;
        notes.push("GC is disabled".to_string());
    } else if let Some(off) = docker_gc_off(b) {
        // Docker 18.09–28.1: builder GC runs only with `builder.gc.enabled: true`
        // (moby@v20.10.27 builder/builder-next/controller.go `if conf.GC.Enabled`); on by
        // default from 28.2.0 (moby/moby#49899, closing #49826).
        status = Status::Warn;
        notes.push(off);
        out.push_fix(enable_gc_plan(host, &b.config_path));
    }
    if let (Some((major, _)), Some(g)) = (b.docker_version, gc)
        && major < 28
    {
        // Docker before 28.0 knows only keepStorage/defaultKeepStorage (moby@v27.5.1
        // daemon/config/builder.go); a rule without keepStorage stops dockerd at start:
        // "could not get builder GC policy: invalid size: ''" (units.RAMInBytes(\"\")).
        if g.enabled
            && let Some(i) = g.rules.iter().position(|r| r.reserved.is_none())
        {
            status = Status::Error;
            notes.push(format!(
                "builder.gc.policy[{i}] has no keepStorage: Docker {major}.x refuses to start with it (\"could not get builder GC policy: invalid size: ''\"); the reservedSpace/maxUsedSpace/minFreeSpace keys need Docker 28.0+"
            ));
        }
    }
    let freeable = b.records.as_deref().map(Freeable::of);
    if let Some(l) = limit.bytes
        && used > l
    {
        status = Status::Warn;
        notes.push(format!("over the limit by {}", human_decimal(used - l)));
        match &freeable {
            // Never offer a prune that frees nothing: say what holds the cache instead.
            Some(f) if f.bytes == 0 => notes.push(format!("a prune frees nothing: {}", f.why())),
            Some(f) => {
                if f.bytes < used - l {
                    notes.push(format!(
                        "a prune frees at most {} ({})",
                        human_decimal(f.bytes),
                        f.why()
                    ));
                }
                out.push_fix(prune_plan(b, l));
            }
            None => out.push_fix(prune_plan(b, l)),
        }
    }
    if limit.bytes.is_none() && gc.is_some_and(|g| !g.rules.is_empty()) {
        status = status.max(Status::Warn);
        notes.push("no rule bounds the whole cache".into());
    }
    if let Some(d) = disk
        && d.total > 0
    {
        let full = 100 - d.free * 100 / d.total;
        if full > 90 {
            status = Status::Error;
            notes.push(format!("the state filesystem is {full}% full"));
        }
    }
    if let Some(records) = &b.records {
        let f = Freeable::of(records);
        if used >= STUCK_BYTES && f.bytes == 0 && !records.is_empty() {
            status = status.max(Status::Warn);
            notes.push(format!(
                "nothing is reclaimable, GC cannot help: {}",
                f.why()
            ));
            for r in records.iter().filter(|r| r.in_use).take(5) {
                out.push(
                    format!("in use: {}", r.id),
                    format!("{} {} {}", r.kind, human_decimal(r.size), r.description),
                );
            }
            if f.in_use.0 > 0 {
                out.push_fix(restart_plan(b));
            }
        }
        records_evidence(records, out);
    }
    // Old keys are deprecated only for engines that read the new ones: Docker 28.0+ (moby PR
    // #48720) and buildkitd 0.17+; on older Docker the old keys are the only ones it reads.
    let reads_new_keys = b.name == "buildkitd" || b.docker_version.is_some_and(|(m, _)| m >= 28);
    if let Some(g) = gc
        && !g.deprecated.is_empty()
        && !reads_new_keys
    {
        out.push(
            "renamed keys",
            match b.docker_version {
                Some((m, n)) => format!(
                    "keepStorage/defaultKeepStorage kept: Docker {m}.{n} reads only these (the new names need Docker 28.0+)"
                ),
                None => "keepStorage/defaultKeepStorage not flagged: the engine's version is unknown, and Docker before 28.0 reads only these".into(),
            },
        );
    }
    if let Some(g) = gc
        && !g.deprecated.is_empty()
        && reads_new_keys
    {
        status = status.max(Status::Warn);
        let list: Vec<String> = g
            .deprecated
            .iter()
            .map(|(at, old, new)| format!("{at}.{old} → {new}"))
            .collect();
        notes.push(format!("deprecated keys: {}", list.join(", ")));
        if let Ok(Some((path, _))) = &b.config
            && let Ok(bytes) = host.read(path)
            && let Ok(text) = std::str::from_utf8(&bytes)
        {
            match rename_plan(path, text, crate::files::sha256_hex(&bytes), g) {
                Some(plan) => out.push_fix(plan),
                None => out.push(
                    path.clone(),
                    "the keys cannot be renamed structurally: rename them by hand".to_string(),
                ),
            }
        }
    }
    if !notes.is_empty() {
        summary = format!("{summary}; {}", notes.join("; "));
    }
    (status, summary)
}

/// What a prune (without `--all`) can free, and what keeps the rest.
struct Freeable {
    bytes: i64,
    /// Records held by a build or by the daemon: count, bytes.
    in_use: (usize, i64),
    /// In-use records reported as 0 B: Docker reports a cache mount held by a running build so.
    in_use_unsized: usize,
    /// Records shared with images: `builder prune` leaves them to the images.
    shared: (usize, i64),
    /// Neither in use nor shared, yet not reclaimable by the builder's own word.
    kept: usize,
}

impl Freeable {
    fn of(records: &[Record]) -> Freeable {
        let mut f = Freeable {
            bytes: 0,
            in_use: (0, 0),
            in_use_unsized: 0,
            shared: (0, 0),
            kept: 0,
        };
        for r in records {
            if r.frees() {
                f.bytes += r.size;
            } else if r.in_use {
                f.in_use.0 += 1;
                f.in_use.1 += r.size;
                f.in_use_unsized += usize::from(r.size == 0);
            } else if r.shared {
                f.shared.0 += 1;
                f.shared.1 += r.size;
            } else {
                f.kept += 1;
            }
        }
        f
    }

    fn why(&self) -> String {
        let mut parts = Vec::new();
        if self.in_use.0 > 0 {
            parts.push(format!(
                "{} record(s) in use ({}) — held by a running build, or by a daemon that never released them",
                self.in_use.0,
                human_decimal(self.in_use.1)
            ));
        }
        if self.in_use_unsized > 0 {
            parts.push(format!(
                "{} of them reported as 0 B: the engine does not size a cache mount while a build holds it",
                self.in_use_unsized
            ));
        }
        if self.shared.0 > 0 {
            parts.push(format!(
                "{} record(s) shared with images ({}): `builder prune` leaves them, removing the images frees them",
                self.shared.0,
                human_decimal(self.shared.1)
            ));
        }
        if self.kept > 0 {
            parts.push(format!(
                "{} record(s) the builder marks not reclaimable",
                self.kept
            ));
        }
        if parts.is_empty() {
            "the cache has no records".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Why nothing bounds Docker's build cache, when builder GC is off by this engine's default.
fn docker_gc_off(b: &Builder) -> Option<String> {
    let (major, minor) = b.docker_version?;
    let on_by_default = (major, minor) >= (28, 2);
    match b.gc_enabled_key {
        Some(true) => None,
        Some(false) => Some("builder GC is disabled (builder.gc.enabled: false)".into()),
        None if on_by_default => None,
        None => Some(format!(
            "nothing bounds this cache: Docker {major}.{minor} runs builder GC only with \"builder\": {{\"gc\": {{\"enabled\": true}}}} in daemon.json (on by default from 28.2)"
        )),
    }
}

/// The engine's daemon.json with `builder.gc.enabled: true`, edited as JSON (other keys kept).
fn enable_gc_plan(host: &Host, path: &str) -> FixPlan {
    let read = host.read_text(path).ok();
    // The write is refused if the file changes between this read and the fix.
    let seen = read
        .as_deref()
        .map(|t| crate::files::sha256_hex(t.as_bytes()));
    let mut v: serde_json::Value = read
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    if !v.is_object() {
        v = serde_json::json!({});
    }
    let builder = v
        .as_object_mut()
        .map(|o| o.entry("builder").or_insert_with(|| serde_json::json!({})));
    if let Some(b) = builder
        && let Some(b) = b.as_object_mut()
    {
        let gc = b.entry("gc").or_insert_with(|| serde_json::json!({}));
        if let Some(gc) = gc.as_object_mut() {
            gc.insert("enabled".into(), serde_json::Value::Bool(true));
        }
    }
    let content = serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
    FixPlan {
        id: "enable-builder-gc".into(),
        title: format!("Turn on Docker's builder GC in {path} (then restart dockerd)"),
        risk: Risk::Disruptive,
        needs_root: true,
        steps: vec![
            Step::WriteFile {
                path: path.into(),
                content,
                seen_sha256: seen,
            },
            Step::Manual {
                instruction:
                    "restart dockerd (e.g. systemctl restart docker) so it reads the new setting"
                        .into(),
            },
        ],
    }
}

/// A JSON object's member by key, any letter case, as Go's encoding/json matches them.
fn get_ci<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    let o = v.as_object()?;
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Usage by record type and the largest records.
fn records_evidence(records: &[Record], out: &mut Outcome) {
    let mut by_type: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
    for r in records {
        let e = by_type
            .entry(if r.kind.is_empty() {
                "unknown"
            } else {
                r.kind.as_str()
            })
            .or_default();
        e.0 += 1;
        e.1 += r.size;
    }
    for (kind, (_, bytes)) in &by_type {
        out.measure(
            "buildkit_type_bytes",
            &[("type", kind)],
            "BuildKit build cache size by record type.",
            Unit::Bytes,
            *bytes as f64,
        );
    }
    if !by_type.is_empty() {
        out.visuals.push(Visual::Bars {
            title: "cache by record type".into(),
            unit: Unit::Bytes,
            bars: by_type
                .iter()
                .map(|(k, (_, b))| (k.to_string(), *b as f64))
                .collect(),
        });
    }
    let types: Vec<String> = by_type
        .iter()
        .map(|(k, (n, b))| format!("{k} {} ({n})", human_decimal(*b)))
        .collect();
    if !types.is_empty() {
        out.push("by type", types.join(", "));
    }
    let mut largest: Vec<&Record> = records.iter().collect();
    largest.sort_by_key(|r| std::cmp::Reverse(r.size));
    for r in largest.into_iter().take(LARGEST) {
        let flags = match (r.in_use, r.shared, r.reclaimable) {
            (true, _, _) if r.size == 0 => "in use (size not reported while held)",
            (true, _, _) => "in use",
            (false, true, _) => "shared with images",
            (false, false, false) => "not reclaimable",
            (false, false, true) => "reclaimable",
        };
        out.push(
            format!("record {}", &r.id[..r.id.len().min(25)]),
            format!(
                "{} {}, {flags} {}",
                r.kind,
                human_decimal(r.size),
                r.description
            ),
        );
    }
}

fn prune_plan(b: &Builder, limit: i64) -> FixPlan {
    FixPlan {
        id: "prune-build-cache".into(),
        title: format!(
            "Prune the {} cache down to its limit ({})",
            b.name,
            human_decimal(limit)
        ),
        risk: Risk::Disruptive,
        needs_root: true,
        steps: vec![Step::Exec {
            argv: (b.prune)(limit),
        }],
    }
}

fn restart_plan(b: &Builder) -> FixPlan {
    let step = if b.restart.is_empty() {
        Step::Manual {
            instruction: format!(
                "restart {} (it is not run by systemd here): in-use records are released on restart",
                b.name
            ),
        }
    } else {
        Step::Exec {
            argv: b.restart.clone(),
        }
    };
    FixPlan {
        id: "restart-builder".into(),
        title: format!("Restart {} to release records it holds in use", b.name),
        risk: Risk::Disruptive,
        needs_root: true,
        steps: vec![step],
    }
}

/// Rewrites old GC keys to their new spelling in the parsed file (TOML with its comments kept,
/// JSON member order kept), shown as a diff before it happens; a file that cannot be edited
/// structurally gets no plan rather than a mangled one.
fn rename_plan(path: &str, text: &str, seen: String, g: &GcConfig) -> Option<FixPlan> {
    let new = if path.ends_with(".json") {
        buildkit::rename_json_keys(text, &g.deprecated)
    } else {
        buildkit::rename_toml_keys(text, &g.deprecated)
    }
    .ok()?;
    Some(FixPlan {
        id: "rename-deprecated-gc-keys".into(),
        title: format!("Rename deprecated GC keys in {path}"),
        risk: Risk::Safe,
        needs_root: true,
        steps: vec![Step::WriteFile {
            path: path.to_string(),
            content: new,
            seen_sha256: Some(seen),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Answer, Request, Script};
    use serde_json::json;

    pub(super) const STAT: &str = "42 (dockerd) S 1 42 42 0 -1 4194560 1000 0 0 0 10 5 0 0 20 0 12 0 3000 1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";

    /// Docker 20.10 answering on the default socket with an empty build cache.
    fn engine(cmdline: &str) -> Script {
        Script::new()
            .file("/proc/42/stat", STAT)
            .file("/proc/42/cmdline", &cmdline.replace(' ', "\0"))
            .answer(
                Request::Docker(DockerCall::SystemDf),
                Ok(Answer::Json(json!({"BuildCache": []}))),
            )
            .answer(
                Request::Docker(DockerCall::Version),
                Ok(Answer::Json(json!({"Version": "20.10.24+dfsg1"}))),
            )
    }

    fn run(script: Script) -> Outcome {
        (CHECK.run)(&Facts::of(script.host()), &Options::default())
    }

    fn evidence(o: &Outcome) -> String {
        o.evidence
            .iter()
            .map(|e| format!("{}: {}\n", e.source, e.excerpt))
            .collect()
    }

    const ENABLED: &str = r#"{"builder": {"gc": {"enabled": true}}}"#;

    #[test]
    fn the_daemons_config_file_decides_not_the_default_one() {
        // /etc/docker/daemon.json turns GC on, but the running dockerd reads another file.
        let o = run(
            engine("/usr/bin/dockerd -H fd:// --config-file /srv/d/daemon.json")
                .file("/etc/docker/daemon.json", ENABLED)
                .file("/srv/d/daemon.json", "{}"),
        );
        assert_eq!(o.status, Status::Warn, "{}", evidence(&o));
        assert!(
            o.summary.contains("nothing bounds this cache"),
            "{}",
            o.summary
        );
        let fix = o
            .fixes
            .iter()
            .find(|f| f.id == "enable-builder-gc")
            .unwrap();
        assert!(
            matches!(&fix.steps[0], Step::WriteFile { path, .. } if path == "/srv/d/daemon.json"),
            "{fix:?}"
        );
        assert!(evidence(&o).contains("/proc/42/cmdline: dockerd answering on /var/run/docker.sock: --config-file /srv/d/daemon.json"));

        let o = run(
            engine("/usr/bin/dockerd -H fd:// --config-file=/srv/d/daemon.json")
                .file("/srv/d/daemon.json", ENABLED),
        );
        assert_eq!(o.status, Status::Ok, "{}\n{}", o.summary, evidence(&o));
    }

    #[test]
    fn a_daemon_on_another_socket_is_not_the_one_asked() {
        let o = run(
            engine("dockerd -H unix:///tmp/other.sock --config-file /srv/d/daemon.json")
                .file("/srv/d/daemon.json", ENABLED),
        );
        assert_eq!(o.status, Status::Warn, "{}", evidence(&o));
        assert!(
            !evidence(&o).contains("/proc/42/cmdline"),
            "{}",
            evidence(&o)
        );
    }

    #[test]
    fn the_data_root_comes_from_the_engine_then_the_command_line() {
        let o = run(engine("dockerd --data-root /srv/flag")
            .file("/etc/docker/daemon.json", ENABLED)
            .answer(
                Request::Docker(DockerCall::Info),
                Ok(Answer::Json(json!({"DockerRootDir": "/srv/engine"}))),
            )
            .answer(
                Request::DiskStat("/srv/engine".into()),
                Ok(Answer::DiskStat(DiskStat {
                    total: 100_000_000_000,
                    free: 5_000_000_000,
                    available: 5_000_000_000,
                })),
            ));
        // 95% full: judged on the engine's data root, which only /info names.
        assert_eq!(o.status, Status::Error, "{}", evidence(&o));
        assert!(evidence(&o).contains("GET /info: DockerRootDir /srv/engine"));

        // No engine answering: the command line's data root is where the cache is measured.
        let o = run(Script::new()
            .file("/proc/42/stat", STAT)
            .file("/proc/42/cmdline", "dockerd\0--data-root\0/srv/flag\0")
            .answer(
                Request::Stat("/srv/flag/buildkit".into()),
                Ok(Answer::Meta(crate::host::Meta {
                    is_dir: true,
                    is_file: false,
                    mode: 0o700,
                    size: 0,
                    dev: (8, 1),
                })),
            )
            .answer(
                Request::DirSize("/srv/flag/buildkit".into()),
                Ok(Answer::DirSize(DirSize {
                    bytes: 1234,
                    entries: 3,
                    truncated: false,
                })),
            ));
        assert!(
            evidence(&o).contains("size of /srv/flag/buildkit"),
            "{}",
            evidence(&o)
        );
    }
}

#[cfg(test)]
mod buildkitd_tests {
    use super::*;
    use crate::host::{Answer, Request, Script};

    #[test]
    fn buildkitds_config_and_root_come_from_its_command_line() {
        let stat = super::tests::STAT.replace("(dockerd)", "(buildkitd)");
        let o = (CHECK.run)(
            &Facts::of(
                Script::new()
                    .file("/proc/42/stat", &stat)
                    .file(
                        "/proc/42/cmdline",
                        "buildkitd\0--config\0/srv/bk.toml\0--root=/srv/bk\0",
                    )
                    .file("/srv/bk.toml", "[worker.oci]\ngc = false\n")
                    .answer(
                        Request::DirSize("/srv/bk".into()),
                        Ok(Answer::DirSize(DirSize {
                            bytes: 1234,
                            entries: 3,
                            truncated: false,
                        })),
                    )
                    .host(),
            ),
            &Options::default(),
        );
        let ev: String = o
            .evidence
            .iter()
            .map(|e| format!("{}: {}\n", e.source, e.excerpt))
            .collect();
        assert!(ev.contains("/srv/bk.toml: worker.oci"), "{ev}");
        assert!(ev.contains("size of /srv/bk "), "{ev}");
        assert!(o.summary.contains("GC is disabled"), "{}", o.summary);
    }
}

/// #15 item 8: permission is not absence, for buildkitd too.
#[cfg(test)]
mod refusal_tests {
    use super::*;
    use crate::host::{Request, Script};

    fn buildkitd_part(o: &Outcome) -> &str {
        o.summary
            .split("; ")
            .find(|p| p.starts_with("buildkitd: "))
            .unwrap_or_else(|| panic!("no buildkitd in {:?}", o.summary))
    }

    fn run(script: Script) -> Outcome {
        (CHECK.run)(&Facts::of(script.host()), &Options::default())
    }

    #[test]
    fn a_running_buildkitd_whose_root_we_may_not_read_is_there() {
        // Not root: buildkitd's --root is under a 0700 directory; no config file; no buildctl.
        let stat = super::tests::STAT.replace("(dockerd)", "(buildkitd)");
        let o = run(Script::new()
            .file("/proc/42/stat", &stat)
            .file("/proc/42/cmdline", "buildkitd\0--root\0/srv/private/bk\0")
            .answer(
                Request::Stat("/srv/private/bk".into()),
                Err(HostError::PermissionDenied("/srv/private/bk".into())),
            )
            .euid(1000));
        assert_eq!(o.status, Status::Unknown, "{}", o.summary);
        assert!(
            buildkitd_part(&o).contains("cache usage unknown"),
            "{}",
            o.summary
        );
    }

    #[test]
    fn a_socket_that_refuses_us_is_a_buildkitd_there_without_buildctl() {
        // BUILDKIT_HOST names a socket that refuses us; nothing else of buildkitd is visible.
        let o = run(Script::new()
            .answer(
                Request::Env("BUILDKIT_HOST".into()),
                Ok(crate::host::Answer::Env(Some(
                    "unix:///run/user/0/bk.sock".into(),
                ))),
            )
            .answer(
                Request::Connect("/run/user/0/bk.sock".into()),
                Err(HostError::PermissionDenied("/run/user/0/bk.sock".into())),
            )
            .euid(1000));
        assert_eq!(o.status, Status::Unknown, "{}", o.summary);
        assert_eq!(
            buildkitd_part(&o),
            "buildkitd: permission denied on /run/user/0/bk.sock"
        );
        // Nothing there at all: no buildkitd, and no word of one.
        let o = run(Script::new());
        assert_eq!(o.status, Status::Skipped, "{}", o.summary);
    }
}

/// #16 item 11: what a prune can free decides whether one is offered.
#[cfg(test)]
mod reclaim_tests {
    use super::*;
    use crate::host::{Answer, Request, Script};
    use serde_json::json;

    /// Docker 20.10 with a 1 MB limit and these `/system/df` build-cache items (API 1.41 shape).
    fn docker(items: serde_json::Value) -> Outcome {
        let script = Script::new()
            .file(
                "/etc/docker/daemon.json",
                r#"{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "1MB"}}}"#,
            )
            .answer(
                Request::Docker(DockerCall::SystemDf),
                Ok(Answer::Json(json!({ "BuildCache": items }))),
            )
            .answer(
                Request::Docker(DockerCall::Version),
                Ok(Answer::Json(json!({"Version": "20.10.24"}))),
            );
        (CHECK.run)(&Facts::of(script.host()), &Options::default())
    }

    fn item(id: &str, kind: &str, size: i64, in_use: bool, shared: bool) -> serde_json::Value {
        json!({"ID": id, "Parent": "", "Type": kind, "Description": "mount / from exec /bin/sh -c sleep 600",
               "InUse": in_use, "Shared": shared, "Size": size, "CreatedAt": "2026-12-01T12:00:00Z",
               "LastUsedAt": null, "UsageCount": 1})
    }

    #[test]
    fn a_prune_that_frees_nothing_is_not_offered() {
        // A build holds its cache mount (reported as 0 B) and the rest is an image's layers.
        let o = docker(json!([
            item("held", "exec.cachemount", 0, true, false),
            item("layer", "regular", 3_000_000, false, true),
            item("base", "regular", 2_000_000, false, false),
            item("held2", "regular", 4_000_000, true, false),
        ]));
        // 6 MB counted (shared excluded, as docker system df does), 2 MB of it freeable.
        assert!(
            o.summary.contains("a prune frees at most 2 MB"),
            "{}",
            o.summary
        );
        assert!(o.fixes.iter().any(|f| f.id == "prune-build-cache"));

        let o = docker(json!([
            item("held", "exec.cachemount", 0, true, false),
            item("layer", "regular", 3_000_000, false, true),
            item("held2", "regular", 4_000_000, true, false),
        ]));
        assert_eq!(o.status, Status::Warn);
        assert!(o.summary.contains("a prune frees nothing"), "{}", o.summary);
        assert!(o.summary.contains("2 record(s) in use"), "{}", o.summary);
        assert!(
            o.summary.contains("1 of them reported as 0 B"),
            "{}",
            o.summary
        );
        assert!(
            o.summary.contains("1 record(s) shared with images"),
            "{}",
            o.summary
        );
        assert!(
            !o.fixes.iter().any(|f| f.id == "prune-build-cache"),
            "{:?}",
            o.fixes
        );
        let ev: String = o
            .evidence
            .iter()
            .map(|e| e.excerpt.clone() + "\n")
            .collect();
        assert!(ev.contains("in use (size not reported while held)"), "{ev}");
        assert!(ev.contains("regular 3 MB, shared with images"), "{ev}");
    }

    /// `buildctl du -v` says `Reclaimable: true` for shared records (it counts only InUse);
    /// they are still not what a prune frees.
    #[test]
    fn buildctl_reclaimable_shared_records_are_not_freed() {
        let du = "ID:\t\tabc\nCreated at:\t2026-12-01 12:00:00 +0000 UTC\nMutable:\tfalse\nReclaimable:\ttrue\nShared:\t\ttrue\nSize:\t\t2.50GB\nType:\t\tregular\n\nID:\t\tdef\nMutable:\ttrue\nReclaimable:\tfalse\nShared:\t\tfalse\nSize:\t\t0B\nType:\t\texec.cachemount\n\n";
        let records = buildkit::du_verbose(du);
        let f = Freeable::of(&records);
        assert_eq!(f.bytes, 0);
        assert_eq!(f.shared, (1, 2_500_000_000));
        assert_eq!(f.kept, 1);
    }
}
