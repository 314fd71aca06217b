//! `buildkit-usage`: BuildKit's cache against its GC policy, for standalone buildkitd and for
//! Docker's embedded builder. The incident: a cache that grew to 539 GB with `keepBytes = "200GB"`
//! configured, every record `Reclaimable: false` (moby/buildkit#5583) — GC cannot delete records in
//! use, and only a daemon restart released them.

use std::collections::BTreeMap;

use super::buildkit_disk::{self, Layout, Measured};
use super::{Check, Options};
use crate::facts::Facts;
use crate::host::{DEFAULT_TIMEOUT, DOCKER_SOCKET, DirSize, DiskStat, DockerCall, Host, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step, Unit, Visual};
use crate::parse::buildkit::{self, CacheSummary, DiskSpace, GcConfig, Record, Rule};
use crate::parse::docker::{self as docker_args, DaemonArgs, DaemonFlags};
use crate::units::{human_binary, human_decimal};

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
    /// The engine's own totals (API 1.52+ `BuildCacheUsage`).
    summary: Option<CacheSummary>,
    /// Records measured on disk where their reported size cannot be trusted.
    measured: Measured,
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
    /// The builder's own prune (without `--all`), down to a keep when given.
    prune: fn(Option<i64>) -> Vec<String>,
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
/// engine's own word (`/info` `DockerRootDir`), daemon.json's `data-root`, then the defaults;
/// and the engine's `/info`, when it answered.
fn docker_locations(
    host: &Facts,
    out: &mut Vec<(String, String)>,
) -> (String, String, Option<serde_json::Value>) {
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
    let info = host.docker(DockerCall::Info).ok();
    let info_root = info
        .as_ref()
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
    (config, root, info)
}

/// Where the engine's builder keeps its snapshots: the graphdriver's layers, unless the engine
/// uses the containerd image store (`/info` DriverStatus `driver-type`
/// `io.containerd.snapshotter.v1`, moby daemon/containerd/service.go).
fn docker_layout(info: Option<&serde_json::Value>, root: &str) -> Layout {
    let Some(info) = info else {
        return Layout::Unmapped(
            "the engine's storage driver is unknown (GET /info failed)".into(),
        );
    };
    let containerd = info
        .get("DriverStatus")
        .and_then(|s| s.as_array())
        .is_some_and(|rows| {
            rows.iter().any(|row| {
                row.get(0).and_then(|k| k.as_str()) == Some("driver-type")
                    && row.get(1).and_then(|v| v.as_str()) == Some("io.containerd.snapshotter.v1")
            })
        });
    match info.get("Driver").and_then(|d| d.as_str()) {
        _ if containerd => Layout::Unmapped(
            "with the containerd image store, build snapshots are containerd's, named only in its meta.db (BoltDB, not read yet)".into(),
        ),
        Some(driver) if !driver.is_empty() => Layout::Graphdriver {
            root: root.to_string(),
            driver: driver.to_string(),
        },
        _ => Layout::Unmapped("GET /info names no storage driver".into()),
    }
}

fn docker_builder(host: &Facts) -> Option<Builder> {
    let df = host.docker(DockerCall::SystemDf);
    let mut located = Vec::new();
    let (config_path, data_root, info) = docker_locations(host, &mut located);
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
    let summary = df.as_ref().ok().and_then(buildkit::docker_df_summary);
    let mut measured = Measured::default();
    let listed = df.as_ref().ok().and_then(buildkit::docker_df_records);
    let (records, used, used_from) = match (&df, listed, summary) {
        (Ok(_), Some(mut r), _) => {
            let layout = docker_layout(info.as_ref(), &data_root);
            measured = buildkit_disk::measure(host, &layout, &mut r);
            let total = counted(&r);
            let from = format!(
                "GET /system/df (build cache, shared records excluded{})",
                measured_note(&measured)
            );
            (Some(r), Some(total), from)
        }
        (Ok(_), None, Some(s)) => (
            None,
            Some(s.total),
            "GET /system/df BuildCacheUsage.TotalSize (shared records included: the engine listed no records)".to_string(),
        ),
        (Ok(_), None, None) => {
            let e = HostError::Io("GET /system/df: no build cache in the answer".into());
            let (used, from) = dir_usage(host, &buildkit_state, &e);
            (None, used, from)
        }
        (Err(e), _, _) => {
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
        summary,
        measured,
        used,
        used_from,
        // The reserved/max/min defaults reached Docker with BuildKit 0.17 (Engine 28).
        legacy_default: major < 28,
        refused,
        docker_version,
        gc_enabled_key,
        restart: restart_argv(host, "docker"),
        prune: |keep| {
            let mut argv = vec![
                "docker".into(),
                "builder".into(),
                "prune".into(),
                "--force".into(),
            ];
            argv.extend(keep.map(|k| format!("--keep-storage={k}")));
            argv
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
        let mut measured = Measured::default();
        let (records, used, used_from) = match du {
            Ok(o) if o.success() => {
                let mut r = buildkit::du_verbose(&o.stdout);
                let layout = Layout::Unmapped(BUILDKITD_UNMAPPED.into());
                measured = buildkit_disk::measure(host, &layout, &mut r);
                // buildctl's own total, corrected where a record was measured on disk.
                let total = buildkit::du_total(&o.stdout)
                    .unwrap_or_else(|| r.iter().map(|x| x.size).sum())
                    + r.iter().map(|x| x.bytes() - x.size).sum::<i64>();
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
            summary: None,
            measured,
            used,
            used_from,
            legacy_default: false,
            refused,
            docker_version: None,
            gc_enabled_key: None,
            restart: restart_argv(host, "buildkit"),
            prune: |keep| {
                let mut argv = vec!["buildctl".into(), "prune".into()];
                // buildctl takes --keep-storage in MB (10⁶ bytes).
                argv.extend(keep.map(|k| format!("--keep-storage={}", k / 1_000_000)));
                argv
            },
        });
    }
    None
}

/// Why buildkitd's records are not measured on disk: its worker names a record's snapshot
/// directory (`runc-<snapshotter>/snapshots/snapshots/<n>`) only through two BoltDB files,
/// `containerdmeta.db` (record → snapshotter key) and `snapshots/metadata.db` (key → n)
/// (buildkit worker/runc/runc.go). Reading them is the seam for a BoltDB reader.
const BUILDKITD_UNMAPPED: &str = "buildkitd names a record's snapshot directory only in containerdmeta.db and snapshots/metadata.db (BoltDB, not read yet)";

/// Bytes the non-shared records take (as `docker system df` and BuildKit's GC count them:
/// records shared with images are the images' size), measured on disk where that was needed.
fn counted(records: &[Record]) -> i64 {
    records
        .iter()
        .filter(|r| !r.shared)
        .map(Record::bytes)
        .sum()
}

/// ", 2 measured on disk" for the usage line's source.
fn measured_note(m: &Measured) -> String {
    match m.held.0 + m.stale.0 {
        0 => String::new(),
        n => format!(", {n} record(s) measured on disk"),
    }
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
    if let Some(s) = &b.summary {
        out.push(
            "GET /system/df BuildCacheUsage",
            format!(
                "TotalSize {}, Reclaimable {}, {} of {} record(s) active (the engine's own totals: shared records in TotalSize, internal and frontend records in Reclaimable)",
                human_decimal(s.total),
                human_decimal(s.reclaimable),
                s.active,
                s.count
            ),
        );
    }
    for (dir, what) in &b.measured.evidence {
        out.push(dir.clone(), what.clone());
    }
    if let (n @ 1.., Some(why)) = &b.measured.unmeasured {
        out.push(
            "not measured on disk",
            format!("{n} held record(s) reported as 0 B: {why}"),
        );
    }
    if let (n @ 1.., Some(why)) = &b.measured.unchecked {
        out.push(
            "not measured on disk",
            format!("{n} cache mount(s) not checked for a stale size: {why}"),
        );
    }
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
    let freeable = match (&b.records, &b.summary) {
        (Some(r), _) => Some(Freeable::of(r)),
        (None, Some(s)) => Some(Freeable::of_summary(s)),
        (None, None) => None,
    };
    if b.measured.stale.0 > 0 {
        let (n, reported, disk) = b.measured.stale;
        notes.push(format!(
            "{n} record(s) reported as {} take {} on disk (a stale size: BuildKit keeps a cache mount's first measure), counted as measured",
            human_decimal(reported),
            human_decimal(disk)
        ));
    }
    if let Some(l) = limit.bytes
        && used > l
    {
        status = Status::Warn;
        notes.push(format!("over the limit by {}", human_decimal(used - l)));
        // BuildKit's GC and its prune down to a keep weigh the sizes it reports, stale ones
        // too, and stop at once when their total is under the keep (cache/manager.go pruneOnce).
        let reported = b.records.as_ref().map_or(used, |r| {
            r.iter().filter(|r| !r.shared).map(|r| r.size).sum()
        });
        let under_by_its_count = reported <= l;
        if under_by_its_count && b.measured.stale.0 > 0 {
            notes.push(format!(
                "BuildKit counts only {} by its stale sizes, under its limit: its GC will not act",
                human_decimal(reported)
            ));
        }
        // Never offer a prune that frees nothing, or may: say what holds the cache instead.
        match &freeable {
            Some(f) if f.bytes <= 0 => notes.push(format!("a prune frees nothing: {}", f.why())),
            Some(f) => {
                if f.bytes < used - l {
                    notes.push(format!(
                        "a prune frees at most {} ({})",
                        human_decimal(f.bytes),
                        f.why()
                    ));
                }
                let keep = (!under_by_its_count).then_some(l);
                out.push_fix(prune_plan(b, keep, f.bytes));
            }
            None => notes
                .push("what a prune would free is unknown: the builder listed no records".into()),
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
        if used >= STUCK_BYTES && f.bytes <= 0 && !records.is_empty() {
            status = status.max(Status::Warn);
            notes.push(format!(
                "nothing is reclaimable, GC cannot help: {}",
                f.why()
            ));
            for r in records.iter().filter(|r| r.in_use).take(5) {
                out.push(
                    format!("in use: {}", r.id),
                    format!("{} {} {}", r.kind, human_decimal(r.bytes()), r.description),
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
#[derive(Default)]
struct Freeable {
    bytes: i64,
    /// Records held by a build or by the daemon: count, bytes.
    in_use: (usize, i64),
    /// Held records reported as 0 B and measured on disk.
    in_use_measured: usize,
    /// Held records reported as 0 B and not measured: Docker reports a held cache mount so.
    in_use_unsized: usize,
    /// Records shared with images: `builder prune` leaves them to the images.
    shared: (usize, i64),
    /// `internal` and `frontend` records: only `--all` deletes them.
    kept_types: usize,
    /// Neither in use nor shared, yet not reclaimable by the builder's own word.
    kept: usize,
    /// Only the engine's `Reclaimable` is known (no records listed).
    engine_only: bool,
}

impl Freeable {
    fn of(records: &[Record]) -> Freeable {
        let mut f = Freeable::default();
        for r in records {
            if r.frees() {
                f.bytes += r.bytes();
            } else if r.in_use {
                f.in_use.0 += 1;
                f.in_use.1 += r.bytes();
                if r.size == 0 && !r.shared {
                    match r.on_disk {
                        Some(_) => f.in_use_measured += 1,
                        None => f.in_use_unsized += 1,
                    }
                }
            } else if r.shared {
                f.shared.0 += 1;
                f.shared.1 += r.bytes();
            } else if r.reclaimable && r.kept_without_all() {
                f.kept_types += 1;
            } else {
                f.kept += 1;
            }
        }
        f
    }

    /// From the engine's totals alone (API 1.52+ without records): its `Reclaimable` also counts
    /// internal and frontend records, which a prune without `--all` keeps.
    fn of_summary(s: &CacheSummary) -> Freeable {
        Freeable {
            bytes: s.reclaimable,
            in_use: (usize::try_from(s.active).unwrap_or(0), 0),
            engine_only: true,
            ..Freeable::default()
        }
    }

    fn why(&self) -> String {
        if self.engine_only {
            return format!(
                "the engine's Reclaimable, with {} record(s) in use",
                self.in_use.0
            );
        }
        let mut parts = Vec::new();
        if self.in_use.0 > 0 {
            parts.push(format!(
                "{} record(s) in use ({}) — held by a running build, or by a daemon that never released them",
                self.in_use.0,
                human_decimal(self.in_use.1)
            ));
        }
        if self.in_use_measured > 0 {
            parts.push(format!(
                "{} of them reported as 0 B while held, measured on disk",
                self.in_use_measured
            ));
        }
        if self.in_use_unsized > 0 {
            parts.push(format!(
                "{} of them reported as 0 B: the engine does not size a record while a build holds it",
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
        if self.kept_types > 0 {
            parts.push(format!(
                "{} internal or frontend record(s), which only a prune with --all deletes",
                self.kept_types
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
        e.1 += r.bytes();
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
    largest.sort_by_key(|r| std::cmp::Reverse(r.bytes()));
    for r in largest.into_iter().take(LARGEST) {
        let flags = match (r.in_use, r.shared, r.reclaimable) {
            (true, true, _) => "in use, shared with images",
            (true, _, _) if r.size == 0 && r.on_disk.is_some() => {
                "in use (0 B reported while held; measured on disk)"
            }
            (true, _, _) if r.size == 0 => "in use (size not reported while held)",
            (true, _, _) => "in use",
            (false, true, _) => "shared with images",
            (false, false, false) => "not reclaimable",
            (false, false, true) if r.kept_without_all() => "reclaimable only by prune --all",
            (false, false, true) => "reclaimable",
        };
        let stale = match r.on_disk {
            Some(_) if r.size != 0 => {
                format!(" (reported {}, measured on disk)", human_decimal(r.size))
            }
            _ => String::new(),
        };
        out.push(
            format!("record {}", r.id.chars().take(25).collect::<String>()),
            format!(
                "{} {}{stale}, {flags} {}",
                r.kind,
                human_decimal(r.bytes()),
                r.description
            ),
        );
    }
}

/// The builder's prune down to `keep`; without one (its own count is already under the limit,
/// where a prune down to it would free nothing), of every reclaimable record.
fn prune_plan(b: &Builder, keep: Option<i64>, frees: i64) -> FixPlan {
    let title = match keep {
        Some(l) => format!(
            "Prune the {} cache down to its limit ({})",
            b.name,
            human_decimal(l)
        ),
        None => format!(
            "Prune the {} cache's reclaimable records ({}): by BuildKit's own count it is under its limit, so a prune down to the limit would free nothing",
            b.name,
            human_decimal(frees)
        ),
    };
    FixPlan {
        id: "prune-build-cache".into(),
        title,
        risk: Risk::Disruptive,
        needs_root: true,
        steps: vec![Step::Exec {
            argv: (b.prune)(keep),
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
                    apparent: 1000,
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
                            apparent: 1000,
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

    /// `buildctl du -v` says `Reclaimable: true` for shared records (it prints `!InUse`); they
    /// are still not what a prune frees. `Reclaimable: false` is a record in use.
    #[test]
    fn buildctl_reclaimable_shared_records_are_not_freed() {
        let du = "ID:\t\tabc\nCreated at:\t2026-12-01 12:00:00 +0000 UTC\nMutable:\tfalse\nReclaimable:\ttrue\nShared:\t\ttrue\nSize:\t\t2.50GB\nType:\t\tregular\n\nID:\t\tdef\nMutable:\ttrue\nReclaimable:\tfalse\nShared:\t\tfalse\nSize:\t\t0B\nType:\t\texec.cachemount\n\n";
        let records = buildkit::du_verbose(du);
        let f = Freeable::of(&records);
        assert_eq!(f.bytes, 0);
        assert_eq!(f.shared, (1, 2_500_000_000));
        assert_eq!(f.in_use, (1, 0));
        assert_eq!(f.in_use_unsized, 1);
    }
}

/// #16 item 11, continued: records measured on disk, the engine's own totals, and the prune
/// offered only where it frees something, in every path.
#[cfg(test)]
mod disk_tests {
    use super::*;
    use crate::host::{Answer, Request, Script};
    use serde_json::json;

    const ROOT: &str = "/var/lib/docker";
    const HELD: &str = "9h4t09uw3uouprso7st4b5q4x";
    const STALE: &str = "3d6ss5b38yoj7n8e5oisyq2ld";

    /// Docker 20.10 on overlay2 (its `/info` as this project's test engine answers it) with a
    /// 1 MB limit and this `/system/df` answer.
    fn engine(df: serde_json::Value) -> Script {
        Script::new()
            .file(
                "/etc/docker/daemon.json",
                r#"{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "1MB"}}}"#,
            )
            .answer(
                Request::Docker(DockerCall::SystemDf),
                Ok(Answer::Json(df)),
            )
            .answer(
                Request::Docker(DockerCall::Version),
                Ok(Answer::Json(json!({"Version": "20.10.24+dfsg1"}))),
            )
            .answer(
                Request::Docker(DockerCall::Info),
                Ok(Answer::Json(json!({"Driver": "overlay2", "DockerRootDir": ROOT,
                    "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]]}))),
            )
    }

    fn on_disk(script: Script, id: &str, bytes: i64, apparent: i64) -> Script {
        script.answer(
            Request::DirSize(format!("{ROOT}/overlay2/{id}/diff")),
            Ok(Answer::DirSize(DirSize {
                bytes,
                apparent,
                entries: 3,
                truncated: false,
            })),
        )
    }

    fn run(script: Script) -> Outcome {
        (CHECK.run)(&Facts::of(script.host()), &Options::default())
    }

    fn item(id: &str, kind: &str, size: i64, in_use: bool, shared: bool) -> serde_json::Value {
        json!({"ID": id, "Parent": "", "Type": kind, "Description": format!("{kind} {id}"),
               "InUse": in_use, "Shared": shared, "Size": size, "CreatedAt": "2026-12-01T12:00:00Z",
               "LastUsedAt": null, "UsageCount": 1})
    }

    fn evidence(o: &Outcome) -> String {
        o.evidence
            .iter()
            .map(|e| format!("{}: {}\n", e.source, e.excerpt))
            .collect()
    }

    fn pruned(o: &Outcome) -> bool {
        o.fixes.iter().any(|f| f.id == "prune-build-cache")
    }

    /// Docker 20.10 while `RUN --mount=type=cache,target=/c dd … && sleep` runs: the held cache
    /// mount is reported as 0 B; its layer directory holds 5 MiB.
    #[test]
    fn a_held_cache_mount_is_measured_and_still_not_pruned() {
        let o = run(on_disk(
            engine(json!({"BuildCache": [
                item(HELD, "exec.cachemount", 0, true, false),
                item("sr8g7i2nq4d49m9zji5tg438z", "regular", 0, true, true),
            ]})),
            HELD,
            5_251_072,
            5_242_880,
        ));
        let ev = evidence(&o);
        assert!(
            ev.contains(&format!(
                "{ROOT}/overlay2/{HELD}/diff: record {HELD} (exec.cachemount): 5.243 MB on disk (5.251 MB allocated); reported as 0 B while a build holds it"
            )),
            "{ev}"
        );
        assert!(
            ev.contains("GET /system/df (build cache, shared records excluded, 1 record(s) measured on disk): 5.243 MB"),
            "{ev}"
        );
        assert!(
            ev.contains(
                "exec.cachemount 5.243 MB, in use (0 B reported while held; measured on disk)"
            ),
            "{ev}"
        );
        // Over the 1 MiB limit by what is held: nothing to prune, and said why.
        assert_eq!(o.status, Status::Warn);
        assert!(
            o.summary
                .contains("a prune frees nothing: 2 record(s) in use (5.243 MB)"),
            "{}",
            o.summary
        );
        assert!(
            o.summary
                .contains("1 of them reported as 0 B while held, measured on disk"),
            "{}",
            o.summary
        );
        assert!(!pruned(&o), "{:?}", o.fixes);
    }

    /// A cache mount first sized at 1 MiB, then written 4 MiB more by a later build: Docker
    /// 20.10 still reports 1.05 MB (seen on this project's test engine).
    #[test]
    fn a_stale_size_is_corrected_and_the_prune_frees_the_disks_figure() {
        let o = run(on_disk(
            engine(
                json!({"BuildCache": [item(STALE, "exec.cachemount", 1_048_667, false, false)]}),
            ),
            STALE,
            5_255_168,
            5_242_880,
        ));
        let ev = evidence(&o);
        assert!(
            ev.contains(&format!("record {STALE} (exec.cachemount): 5.243 MB on disk (5.255 MB allocated); reported as 1.049 MB: a stale size, counted as measured")),
            "{ev}"
        );
        assert!(
            ev.contains(
                "exec.cachemount 5.243 MB (reported 1.049 MB, measured on disk), reclaimable"
            ),
            "{ev}"
        );
        assert!(
            o.summary
                .contains("1 record(s) reported as 1.049 MB take 5.243 MB on disk"),
            "{}",
            o.summary
        );
        assert!(o.summary.contains("over the limit by"), "{}", o.summary);
        // 1.049 MB is just over 1 MiB: BuildKit's GC does see it over.
        assert!(!o.summary.contains("its GC will not act"), "{}", o.summary);
        assert!(pruned(&o));

        let argv = |o: &Outcome| match &o
            .fixes
            .iter()
            .find(|f| f.id == "prune-build-cache")
            .unwrap()
            .steps[0]
        {
            Step::Exec { argv } => argv.join(" "),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            argv(&o),
            "docker builder prune --force --keep-storage=1048576"
        );

        // Reported under the limit, over it on disk: the GC will not act, and a prune down to
        // the limit would stop at once; a prune of the reclaimable records frees them.
        let o = run(on_disk(
            engine(json!({"BuildCache": [item(STALE, "exec.cachemount", 900_000, false, false)]})),
            STALE,
            5_255_168,
            5_242_880,
        ));
        assert!(
            o.summary.contains(
                "BuildKit counts only 900 kB by its stale sizes, under its limit: its GC will not act"
            ),
            "{}",
            o.summary
        );
        assert_eq!(argv(&o), "docker builder prune --force");

        // Reported 5 MB, its directory emptied: what a prune frees is nothing.
        let o = run(on_disk(
            engine(
                json!({"BuildCache": [item(STALE, "exec.cachemount", 5_000_000, false, false)]}),
            ),
            STALE,
            4096,
            0,
        ));
        assert!(!o.summary.contains("over the limit"), "{}", o.summary);
        assert!(!pruned(&o));
    }

    /// The containerd image store (Docker 29's default for new installs): build snapshots are
    /// containerd's, reached only through its BoltDB metadata.
    #[test]
    fn the_containerd_image_store_is_not_measured_and_says_why() {
        let o = run(
            engine(json!({"BuildCache": [item(HELD, "exec.cachemount", 0, true, false)]})).answer(
                Request::Docker(DockerCall::Info),
                Ok(Answer::Json(
                    json!({"Driver": "overlayfs", "DockerRootDir": ROOT,
                    "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}),
                )),
            ),
        );
        let ev = evidence(&o);
        assert!(
            ev.contains("not measured on disk: 1 held record(s) reported as 0 B: with the containerd image store, build snapshots are containerd's"),
            "{ev}"
        );
        assert!(ev.contains("in use (size not reported while held)"), "{ev}");
    }

    /// API 1.52+ (Docker 29): the engine's `BuildCacheUsage`; without records (1.53+ unless
    /// asked `verbose`), its `Reclaimable` decides, and 0 (left out: `omitempty`) offers nothing.
    #[test]
    fn the_engines_totals_without_records() {
        let o = run(engine(
            json!({"BuildCacheUsage": {"ActiveCount": 2, "TotalCount": 2, "TotalSize": 8_000_000}}),
        ));
        let ev = evidence(&o);
        assert!(ev.contains("GET /system/df BuildCacheUsage: TotalSize 8 MB, Reclaimable 0 B, 2 of 2 record(s) active"), "{ev}");
        assert!(
            ev.contains("BuildCacheUsage.TotalSize (shared records included"),
            "{ev}"
        );
        assert!(
            o.summary.contains(
                "a prune frees nothing: the engine's Reclaimable, with 2 record(s) in use"
            ),
            "{}",
            o.summary
        );
        assert!(!pruned(&o));

        let o = run(engine(
            json!({"BuildCacheUsage": {"ActiveCount": 1, "TotalCount": 2, "TotalSize": 8_000_000, "Reclaimable": 3_000_000}}),
        ));
        assert!(
            o.summary.contains("a prune frees at most 3 MB"),
            "{}",
            o.summary
        );
        assert!(pruned(&o));

        // With records (verbose), they decide; the totals are shown.
        let o = run(engine(
            json!({"BuildCacheUsage": {"ActiveCount": 0, "TotalCount": 1, "TotalSize": 2_000_000, "Reclaimable": 2_000_000,
            "Items": [item("fe", "frontend", 2_000_000, false, false)]}}),
        ));
        assert!(evidence(&o).contains("Reclaimable 2 MB"));
        assert!(
            o.summary.contains("a prune frees nothing: 1 internal or frontend record(s), which only a prune with --all deletes"),
            "{}",
            o.summary
        );
        assert!(!pruned(&o));
    }

    /// Every path to a prune: offered exactly when the records show something it frees.
    #[test]
    fn a_prune_is_offered_only_when_it_frees_something() {
        let cases = [
            (json!({"BuildCache": null}), false),
            (
                json!({"BuildCache": [item("a", "regular", 3_000_000, false, true)]}),
                false,
            ),
            (
                json!({"BuildCache": [item("a", "regular", 3_000_000, true, false)]}),
                false,
            ),
            (
                json!({"BuildCache": [item("a", "internal", 3_000_000, false, false)]}),
                false,
            ),
            (
                json!({"BuildCache": [item("a", "regular", 3_000_000, false, false)]}),
                true,
            ),
            (
                json!({"BuildCacheUsage": {"TotalSize": 3_000_000, "TotalCount": 1}}),
                false,
            ),
            (
                json!({"BuildCacheUsage": {"TotalSize": 3_000_000, "TotalCount": 1, "Reclaimable": 5}}),
                true,
            ),
            // No build cache in the answer at all: what a prune frees is unknown.
            (json!({"Images": []}), false),
        ];
        for (df, offered) in cases {
            let o = run(engine(df.clone()));
            assert_eq!(pruned(&o), offered, "{df}: {} {:?}", o.summary, o.fixes);
        }
    }

    /// buildkitd listing its records (`buildctl du -v` as buildctl 0.12 prints it): the prune is
    /// buildctl's own, in MB; a held cache mount stays unmeasured, and the evidence says why.
    #[test]
    fn buildkitd_prunes_with_buildctl_and_says_why_held_records_are_unmeasured() {
        let du = "ID:\t\tw1xq8c2v0h3kz5rj7n4m6p9ta\nMutable:\ttrue\nReclaimable:\tfalse\nShared:\t\tfalse\nSize:\t\t0B\nDescription:\tcached mount /root/.cache from exec /bin/sh -c make\nUsage count:\t3\nType:\t\texec.cachemount\n\nID:\t\tz8y7x6w5v4u3t2s1r0q9p8o7n\nMutable:\tfalse\nReclaimable:\ttrue\nShared:\t\tfalse\nSize:\t\t3.5MB\nDescription:\tmount / from exec /bin/sh -c make\nUsage count:\t1\nType:\t\tregular\n\nShared:\t\t0B\nPrivate:\t3.5MB\nReclaimable:\t3.5MB\nTotal:\t\t3.5MB\n";
        let o = run(Script::new()
            .file(
                "/etc/buildkit/buildkitd.toml",
                "[worker.oci]\nreservedSpace = 1000\n",
            )
            .command(&["buildctl", "du", "-v"], 0, du, ""));
        let ev = evidence(&o);
        assert!(
            ev.contains("not measured on disk: 1 held record(s) reported as 0 B: buildkitd names a record's snapshot directory only in containerdmeta.db and snapshots/metadata.db (BoltDB, not read yet)"),
            "{ev}"
        );
        let prune = o
            .fixes
            .iter()
            .find(|f| f.id == "prune-build-cache")
            .unwrap_or_else(|| panic!("{} {:?}", o.summary, o.fixes));
        assert!(
            matches!(&prune.steps[0], Step::Exec { argv } if argv == &["buildctl", "prune", "--keep-storage=0"]),
            "{prune:?}"
        );
    }

    /// moby/buildkit#5583: every record `Reclaimable: false` (buildctl's word for in use) in a
    /// cache far over `keepBytes`: GC cannot help, a restart releases them; no prune.
    #[test]
    fn buildkitd_records_held_by_the_daemon_get_a_restart_not_a_prune() {
        let du = "ID:\t\tq1w2e3r4t5y6u7i8o9p0a1s2d\nMutable:\tfalse\nReclaimable:\tfalse\nShared:\t\tfalse\nSize:\t\t172.82GB\nType:\t\tregular\n\nID:\t\tz1x2c3v4b5n6m7l8k9j0h1g2f\nMutable:\ttrue\nReclaimable:\tfalse\nShared:\t\tfalse\nSize:\t\t366.2GB\nType:\t\tsource.local\n\nTotal:\t\t539.02GB\n";
        let o = run(Script::new()
            .file(
                "/etc/buildkit/buildkitd.toml",
                "[worker.oci]\n[[worker.oci.gcpolicy]]\nkeepBytes = \"200GB\"\nall = true\n",
            )
            .command(&["buildctl", "du", "-v"], 0, du, ""));
        assert!(o.summary.contains("over the limit by"), "{}", o.summary);
        assert!(
            o.summary.contains(
                "nothing is reclaimable, GC cannot help: 2 record(s) in use (539.020 GB)"
            ),
            "{}",
            o.summary
        );
        assert!(!pruned(&o), "{:?}", o.fixes);
        assert!(
            o.fixes.iter().any(|f| f.id == "restart-builder"),
            "{:?}",
            o.fixes
        );
    }

    /// buildkitd whose records could not be listed (buildctl refused): its state directory's size
    /// is over the limit, but what a prune would free is unknown, so none is offered.
    #[test]
    fn no_prune_when_the_records_are_unknown() {
        let o = run(Script::new()
            .file(
                "/etc/buildkit/buildkitd.toml",
                "[worker.oci]\nreservedSpace = 1000\n",
            )
            .command(
                &["buildctl", "du", "-v"],
                1,
                "",
                "error: failed to list workers: Unavailable",
            )
            .answer(
                Request::DirSize(BUILDKIT_STATE.into()),
                Ok(Answer::DirSize(DirSize {
                    bytes: 64 << 20,
                    apparent: 64 << 20,
                    entries: 9,
                    truncated: false,
                })),
            ));
        assert_eq!(o.status, Status::Warn);
        assert!(o.summary.contains("over the limit by"), "{}", o.summary);
        assert!(
            o.summary
                .contains("what a prune would free is unknown: the builder listed no records"),
            "{}",
            o.summary
        );
        assert!(!pruned(&o), "{:?}", o.fixes);
    }
}
