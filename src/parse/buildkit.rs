//! BuildKit's garbage-collection settings and cache usage, read the way BuildKit reads them.
//!
//! Units follow BuildKit (see [`crate::units`]): a disk space in buildkitd.toml or daemon.json is
//! an integer of bytes, `"N%"` of the state disk, or a go-units `RAMInBytes` size ("512MB" =
//! 512 × 1024²). A percentage becomes bytes as BuildKit rounds it: (total × N / 100 / GiB + 1) ×
//! 10⁹. Sizes *printed* by `buildctl du` and `docker buildx du` are decimal.

use std::time::Duration;

use serde_json::Value;

use crate::units::{human_binary, human_size, ram_in_bytes};

/// A BuildKit disk space setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskSpace {
    Bytes(i64),
    Percent(i64),
}

impl DiskSpace {
    /// Bytes for a disk of `total` bytes, rounded as BuildKit rounds percentages.
    pub fn as_bytes(self, total: i64) -> i64 {
        match self {
            DiskSpace::Bytes(b) => b,
            DiskSpace::Percent(0) => 0,
            DiskSpace::Percent(_) if total == 0 => DEFAULT_CAP,
            DiskSpace::Percent(p) => {
                (total.saturating_mul(p) / 100 / (1 << 30) + 1) * 1_000_000_000
            }
        }
    }

    pub fn describe(self) -> String {
        match self {
            DiskSpace::Bytes(b) => human_binary(b),
            DiskSpace::Percent(p) => format!("{p}% of the disk"),
        }
    }
}

/// What BuildKit falls back to when the disk size is unknown.
const DEFAULT_CAP: i64 = 2_000_000_000;

/// A disk space from a TOML or JSON value: integer bytes, "N%", or a RAMInBytes size.
pub fn disk_space(text: &str) -> Result<DiskSpace, String> {
    let t = text.trim().trim_matches('"');
    if let Some(p) = t.strip_suffix('%') {
        return p
            .trim()
            .parse::<i64>()
            .map(DiskSpace::Percent)
            .map_err(|_| format!("invalid percentage {text:?}"));
    }
    ram_in_bytes(t).map(DiskSpace::Bytes)
}

/// A duration as BuildKit reads it: Go's time.ParseDuration ("48h", "1h30m", "1.5h"), else seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim().trim_matches('"');
    if let Ok(secs) = t.parse::<i64>() {
        return u64::try_from(secs)
            .map(Duration::from_secs)
            .map_err(|_| format!("negative duration {text:?}"));
    }
    let mut total = 0f64;
    let mut rest = t;
    if rest.is_empty() {
        return Err(format!("invalid duration {text:?}"));
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..n_end]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(format!("invalid duration {text:?}")),
        };
        total += n * secs;
        rest = &rest[u_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// One GC rule, old and new keys folded together as BuildKit does (keepBytes ≡ reservedSpace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub all: bool,
    pub filters: Vec<String>,
    pub keep_duration: Option<Duration>,
    pub reserved: Option<DiskSpace>,
    pub max_used: Option<DiskSpace>,
    pub min_free: Option<DiskSpace>,
}

impl Rule {
    /// A rule with no filter and no age limit bounds the whole cache: the ceiling.
    pub fn is_ceiling(&self) -> bool {
        self.filters.is_empty() && self.keep_duration.is_none()
    }

    /// BuildKit's calculateKeepBytes: how much cache this rule lets stay, for a disk of `total`
    /// bytes with `free` bytes free and a cache of `used` bytes. `None`: no size cap at all.
    pub fn keep_bytes(&self, total: i64, free: i64, used: i64) -> Option<i64> {
        let b = |d: Option<DiskSpace>| d.map(|d| d.as_bytes(total)).unwrap_or(0);
        let (reserved, max_used, min_free) = (b(self.reserved), b(self.max_used), b(self.min_free));
        if reserved == 0 && max_used == 0 && min_free == 0 {
            return None;
        }
        let mut keep = max_used;
        let excess = min_free - free;
        if excess > 0 {
            keep = if keep == 0 {
                used - excess
            } else {
                keep.min(used - excess)
            };
        } else if min_free != 0 && keep == 0 {
            keep = used;
        }
        Some(keep.max(reserved))
    }
}

/// GC settings of one builder (a buildkitd worker, or Docker's embedded builder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcConfig {
    /// `worker.oci`, `worker.containerd`, or `builder.gc`.
    pub scope: String,
    pub enabled: bool,
    pub rules: Vec<Rule>,
    /// Worker-level defaults, used only when there are no rules.
    pub default: Rule,
    /// Deprecated keys in use: (where, old key, new key).
    pub deprecated: Vec<(String, String, String)>,
}

/// The old spelling of each key and its replacement.
const RENAMED: &[(&str, &str)] = &[
    ("keepBytes", "reservedSpace"),
    ("gckeepstorage", "reservedSpace"),
    ("keepStorage", "reservedSpace"),
    ("defaultKeepStorage", "defaultReservedSpace"),
];

fn renamed(key: &str) -> Option<&'static str> {
    RENAMED
        .iter()
        .find(|(old, _)| *old == key)
        .map(|(_, new)| *new)
}

/// The text of a TOML or JSON scalar, the way a Go TextUnmarshaler would see it.
fn scalar_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Reads the GC settings of every enabled worker in a buildkitd.toml.
pub fn buildkitd_toml(text: &str) -> Result<(Option<String>, Vec<GcConfig>), String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not TOML: {}", e.message()))?;
    let root = doc.get("root").and_then(|v| v.as_str()).map(str::to_string);
    let mut configs = Vec::new();
    let workers = doc.get("worker").and_then(|w| w.as_table());
    for kind in ["oci", "containerd"] {
        let Some(w) = workers.and_then(|w| w.get(kind)).and_then(|w| w.as_table()) else {
            continue;
        };
        if w.get("enabled").and_then(|e| e.as_bool()) == Some(false) {
            continue;
        }
        let scope = format!("worker.{kind}");
        let mut deprecated = Vec::new();
        let default = rule_from(
            w,
            &scope,
            &mut deprecated,
            &["reservedSpace", "gckeepstorage"],
            "maxUsedSpace",
            "minFreeSpace",
        )?;
        let mut rules = Vec::new();
        if let Some(list) = w.get("gcpolicy").and_then(|p| p.as_array()) {
            for (i, r) in list.iter().enumerate() {
                let t = r
                    .as_table()
                    .ok_or_else(|| format!("{scope}.gcpolicy[{i}] is not a table"))?;
                let at = format!("{scope}.gcpolicy[{i}]");
                rules.push(rule_from(
                    t,
                    &at,
                    &mut deprecated,
                    &["reservedSpace", "keepBytes"],
                    "maxUsedSpace",
                    "minFreeSpace",
                )?);
            }
        }
        configs.push(GcConfig {
            scope,
            enabled: w.get("gc").and_then(|g| g.as_bool()).unwrap_or(true),
            rules,
            default,
            deprecated,
        });
    }
    Ok((root, configs))
}

/// Builds a rule from a table; `reserved_keys` lists the new key first, then its old spelling.
fn rule_from(
    t: &toml::Table,
    at: &str,
    deprecated: &mut Vec<(String, String, String)>,
    reserved_keys: &[&str],
    max_key: &str,
    free_key: &str,
) -> Result<Rule, String> {
    let space = |key: &str| -> Result<Option<DiskSpace>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(v) => {
                let text = scalar_text(v).ok_or_else(|| format!("{at}.{key}: not a size"))?;
                let d = disk_space(&text).map_err(|e| format!("{at}.{key}: {e}"))?;
                match d {
                    DiskSpace::Bytes(b) | DiskSpace::Percent(b) if b < 0 => {
                        Err(format!("{at}.{key}: negative"))
                    }
                    d => Ok(Some(d)),
                }
            }
        }
    };
    let mut reserved = None;
    for key in reserved_keys {
        if let Some(d) = space(key)? {
            if let Some(new) = renamed(key) {
                deprecated.push((at.to_string(), key.to_string(), new.to_string()));
            }
            reserved = reserved.or(Some(d));
        }
    }
    let keep_duration = match t.get("keepDuration") {
        None => None,
        Some(v) => {
            let text =
                scalar_text(v).ok_or_else(|| format!("{at}.keepDuration: not a duration"))?;
            Some(duration(&text).map_err(|e| format!("{at}.keepDuration: {e}"))?)
        }
    };
    let filters = match t.get("filters") {
        Some(toml::Value::Array(a)) => a
            .iter()
            .filter_map(|f| f.as_str())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    Ok(Rule {
        all: t.get("all").and_then(|a| a.as_bool()).unwrap_or(false),
        filters,
        keep_duration,
        reserved,
        max_used: space(max_key)?,
        min_free: space(free_key)?,
    })
}

/// Reads dockerd's `builder.gc` from daemon.json; `None` when it has none.
pub fn daemon_json_builder(text: &str) -> Result<Option<GcConfig>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(gc) = v.pointer("/builder/gc") else {
        return Ok(None);
    };
    let as_toml = |v: &Value| -> Option<toml::Value> {
        match v {
            Value::String(s) => Some(toml::Value::String(s.clone())),
            Value::Number(n) => n.as_i64().map(toml::Value::Integer),
            Value::Bool(b) => Some(toml::Value::Boolean(*b)),
            Value::Array(a) => Some(toml::Value::Array(
                a.iter()
                    .filter_map(|x| x.as_str().map(|s| toml::Value::String(s.into())))
                    .collect(),
            )),
            _ => None,
        }
    };
    let table = |obj: &Value| -> toml::Table {
        obj.as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), as_toml(v)?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let top = table(gc);
    let mut deprecated = Vec::new();
    let scope = "builder.gc".to_string();
    let default = rule_from(
        &top,
        &scope,
        &mut deprecated,
        &["defaultReservedSpace", "defaultKeepStorage"],
        "defaultMaxUsedSpace",
        "defaultMinFreeSpace",
    )?;
    let mut rules = Vec::new();
    if let Some(list) = gc.get("policy").and_then(Value::as_array) {
        for (i, p) in list.iter().enumerate() {
            let mut t = table(p);
            // daemon.json says `filter`, buildkitd.toml `filters`.
            if let Some(f) = t.remove("filter") {
                t.insert("filters".into(), f);
            }
            let at = format!("builder.gc.policy[{i}]");
            rules.push(rule_from(
                &t,
                &at,
                &mut deprecated,
                &["reservedSpace", "keepStorage"],
                "maxUsedSpace",
                "minFreeSpace",
            )?);
        }
    }
    Ok(Some(GcConfig {
        scope,
        enabled: top.get("enabled").and_then(|e| e.as_bool()).unwrap_or(true),
        rules,
        default,
        deprecated,
    }))
}

/// One build-cache record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    /// regular, source.local, exec.cachemount, source.git.checkout, frontend, internal.
    pub kind: String,
    /// The size the builder reports.
    pub size: i64,
    pub in_use: bool,
    pub shared: bool,
    pub reclaimable: bool,
    pub description: String,
    /// Bytes measured on disk, set where the reported size is 0 because a build holds the record,
    /// or is stale: counted instead of `size`.
    pub on_disk: Option<i64>,
}

impl Record {
    /// Whether `builder prune` / `buildctl prune` (without `--all`) can delete it: not held by a
    /// build (BuildKit never deletes a record with live references), not shared with an image
    /// (the engine's prune skips those; buildctl's own `Reclaimable` counts them, the engine's
    /// does not — moby daemon/internal/builder-next/builder.go, buildkit cache/manager.go), and
    /// not an `internal` or `frontend` record, which buildkit's pruneOnce keeps unless `--all`.
    pub fn frees(&self) -> bool {
        self.reclaimable && !self.in_use && !self.shared && !self.kept_without_all()
    }

    /// `internal` and `frontend` records: only `prune --all` deletes them.
    pub fn kept_without_all(&self) -> bool {
        matches!(self.kind.as_str(), "internal" | "frontend")
    }

    /// The bytes it takes: measured on disk where that was needed, else as reported.
    pub fn bytes(&self) -> i64 {
        self.on_disk.unwrap_or(self.size)
    }
}

/// The engine's own account of its build cache (API 1.52+ `BuildCacheUsage`), summed over the
/// same records as `Items` (moby daemon/internal/builder-next/builder.go `DiskUsage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSummary {
    /// Every record's size, shared ones included.
    pub total: i64,
    /// Records neither in use nor shared (internal and frontend records included).
    pub reclaimable: i64,
    pub active: i64,
    pub count: i64,
}

/// `BuildCacheUsage` of Docker's `/system/df`, when the engine (API 1.52+, Docker 29) sends it.
/// Its fields are `omitempty`: a missing one is zero.
pub fn docker_df_summary(df: &Value) -> Option<CacheSummary> {
    let u = df.get("BuildCacheUsage")?.as_object()?;
    let n = |k: &str| u.get(k).and_then(Value::as_i64).unwrap_or(0);
    Some(CacheSummary {
        total: n("TotalSize"),
        reclaimable: n("Reclaimable"),
        active: n("ActiveCount"),
        count: n("TotalCount"),
    })
}

/// The build-cache records of Docker's `/system/df`: `BuildCache` up to API 1.51,
/// `BuildCacheUsage.Items` after (1.52 sends both unless asked `verbose`). `None` when the answer
/// lists no records (1.53+ without `verbose`).
pub fn docker_df_records(df: &Value) -> Option<Vec<Record>> {
    let items = match (df.get("BuildCache"), df.pointer("/BuildCacheUsage/Items")) {
        (Some(Value::Array(items)), _) | (_, Some(Value::Array(items))) => items,
        // Before API 1.52 an empty cache is `"BuildCache": null` (a nil Go slice).
        (Some(Value::Null), _) => return Some(Vec::new()),
        // Since 1.52 an empty list is left out: a summary without records is an empty cache
        // only when it counts none.
        _ => match docker_df_summary(df) {
            Some(s) if s.count == 0 => return Some(Vec::new()),
            _ => return None,
        },
    };
    Some(
        items
            .iter()
            .filter_map(|r| {
                let in_use = r.get("InUse").and_then(Value::as_bool).unwrap_or(false);
                let shared = r.get("Shared").and_then(Value::as_bool).unwrap_or(false);
                Some(Record {
                    id: r.get("ID")?.as_str()?.to_string(),
                    kind: r
                        .get("Type")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    size: r.get("Size").and_then(Value::as_i64).unwrap_or(0),
                    in_use,
                    shared,
                    // As the engine counts it (API 1.52 `Reclaimable`): not in use, not shared.
                    reclaimable: !in_use && !shared,
                    description: r
                        .get("Description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    on_disk: None,
                })
            })
            .collect(),
    )
}

/// Records from `buildctl du -v` / `docker buildx du --verbose` (key: value blocks).
pub fn du_verbose(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut cur: Option<Record> = None;
    for line in text.lines() {
        // A blank line ends a record: the Shared/Total footer is not part of it.
        if line.trim().is_empty() {
            out.extend(cur.take());
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "ID" => {
                out.extend(cur.take());
                cur = Some(Record {
                    id: v.to_string(),
                    kind: String::new(),
                    size: 0,
                    in_use: false,
                    shared: false,
                    reclaimable: true,
                    description: String::new(),
                    on_disk: None,
                });
            }
            key => {
                let Some(r) = cur.as_mut() else { continue };
                match key {
                    // buildctl prints `Reclaimable` as "not in use" (cmd/buildctl/diskusage.go
                    // `!di.InUse`): the one word it gives of a record held by a build.
                    "Reclaimable" => {
                        r.reclaimable = v == "true";
                        r.in_use = !r.reclaimable;
                    }
                    "Shared" => r.shared = v == "true",
                    "In use" | "InUse" => r.in_use = v == "true",
                    "Size" => r.size = human_size(v).unwrap_or(0),
                    "Type" => r.kind = v.to_string(),
                    "Description" => r.description = v.to_string(),
                    _ => {}
                }
            }
        }
    }
    out.extend(cur);
    out
}

/// Records from the `du` table (`ID  RECLAIMABLE  SIZE  LAST ACCESSED`); a `*` after a size marks
/// shared data, after an id a mutable record.
pub fn du_table(text: &str) -> Vec<Record> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (id, reclaimable, size) = (f.first()?, f.get(1)?, f.get(2)?);
            let reclaimable = match *reclaimable {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            Some(Record {
                id: id.trim_end_matches('*').to_string(),
                kind: String::new(),
                size: human_size(size)?,
                // RECLAIMABLE is `!InUse` (cmd/buildctl/diskusage.go printTableRow).
                in_use: !reclaimable,
                shared: size.ends_with('*'),
                reclaimable,
                description: String::new(),
                on_disk: None,
            })
        })
        .collect()
}

/// The `Total:` footer of a `du` listing, when it has one.
pub fn du_total(text: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Total:"))
        .and_then(human_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_buildkit_does() {
        // 10% of 100 GiB = 10 GiB → (10 + 1) × 10⁹.
        assert_eq!(DiskSpace::Percent(10).as_bytes(100 << 30), 11_000_000_000);
        // 80% of 1 TB (10¹²) = 800 × 10⁹ B = 745.05 GiB → 746 × 10⁹.
        assert_eq!(
            DiskSpace::Percent(80).as_bytes(1_000_000_000_000),
            746_000_000_000
        );
        assert_eq!(DiskSpace::Percent(20).as_bytes(0), DEFAULT_CAP);
        assert_eq!(DiskSpace::Bytes(5).as_bytes(0), 5);
    }

    #[test]
    fn durations() {
        assert_eq!(duration("48h"), Ok(Duration::from_secs(172_800)));
        assert_eq!(duration("172800"), Ok(Duration::from_secs(172_800)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("1.5h"), Ok(Duration::from_secs(5400)));
        for bad in ["", "-5", "5d", "h", "1.2.3h"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keep_bytes_follows_calculate_keep_bytes() {
        let gb = 1_000_000_000i64;
        let r = |reserved: Option<i64>, max: Option<i64>, free: Option<i64>| Rule {
            reserved: reserved.map(DiskSpace::Bytes),
            max_used: max.map(DiskSpace::Bytes),
            min_free: free.map(DiskSpace::Bytes),
            ..Default::default()
        };
        // Nothing set: no cap.
        assert_eq!(
            r(None, None, None).keep_bytes(100 * gb, 50 * gb, 10 * gb),
            None
        );
        // Old keepBytes / reservedSpace alone: prune down to it.
        assert_eq!(
            r(Some(200 * gb), None, None).keep_bytes(1000 * gb, 50 * gb, 539 * gb),
            Some(200 * gb)
        );
        // maxUsed, plenty free: the max.
        assert_eq!(
            r(Some(gb), Some(60 * gb), Some(20 * gb)).keep_bytes(100 * gb, 50 * gb, 70 * gb),
            Some(60 * gb)
        );
        // minFree not met: keep drops to used − excess, not below reserved.
        assert_eq!(
            r(Some(gb), Some(60 * gb), Some(20 * gb)).keep_bytes(100 * gb, 5 * gb, 70 * gb),
            Some(55 * gb)
        );
        assert_eq!(
            r(Some(68 * gb), Some(60 * gb), Some(20 * gb)).keep_bytes(100 * gb, 5 * gb, 70 * gb),
            Some(68 * gb)
        );
        // Only minFree, and it is met: nothing is deleted.
        assert_eq!(
            r(None, None, Some(20 * gb)).keep_bytes(100 * gb, 50 * gb, 70 * gb),
            Some(70 * gb)
        );
    }

    /// `/system/df` as moby's daemon/server/router/system/system_routes.go writes it: API 1.41
    /// (Docker 20.10: `BuildCache`, null when empty), 1.52 (Docker 29: `BuildCacheUsage` beside
    /// the legacy fields, or alone with `verbose`; its fields `omitempty`), and 1.53+ without
    /// `verbose` (totals, no records).
    #[test]
    fn docker_df_across_api_versions() {
        use serde_json::json;
        let item = json!({"ID": "9h4t09uw3uouprso7st4b5q4x", "Type": "exec.cachemount",
            "Description": "cached mount /c", "InUse": true, "Shared": false, "Size": 0});
        assert_eq!(
            docker_df_records(&json!({"BuildCache": null})),
            Some(vec![])
        );
        let old = docker_df_records(&json!({"BuildCache": [item]})).unwrap();
        assert_eq!(old.len(), 1);
        assert!(old[0].in_use && !old[0].reclaimable && old[0].on_disk.is_none());
        assert_eq!(docker_df_summary(&json!({"BuildCache": [item]})), None);

        let both = json!({"BuildCache": [item], "BuildCacheUsage": {"ActiveCount": 1,
            "TotalCount": 1, "TotalSize": 0, "Items": [item]}});
        assert_eq!(docker_df_records(&both).unwrap(), old);
        let verbose = json!({"BuildCacheUsage": {"ActiveCount": 1, "TotalCount": 1,
            "Reclaimable": 2_000_000, "TotalSize": 5_000_000, "Items": [item]}});
        assert_eq!(docker_df_records(&verbose).unwrap(), old);
        assert_eq!(
            docker_df_summary(&verbose),
            Some(CacheSummary {
                total: 5_000_000,
                reclaimable: 2_000_000,
                active: 1,
                count: 1
            })
        );
        // Totals only: the records are unknown, unless it counts none.
        let brief = json!({"BuildCacheUsage": {"ActiveCount": 1, "TotalCount": 1, "TotalSize": 5}});
        assert_eq!(docker_df_records(&brief), None);
        assert_eq!(
            docker_df_records(&json!({"BuildCacheUsage": {}})),
            Some(vec![])
        );
        assert_eq!(
            docker_df_summary(&json!({"BuildCacheUsage": {}}))
                .unwrap()
                .reclaimable,
            0
        );
        // Garbled answers: nothing, never a panic.
        assert_eq!(docker_df_records(&json!({"BuildCache": "x"})), None);
        assert_eq!(docker_df_summary(&json!({"BuildCacheUsage": [1]})), None);
        assert_eq!(docker_df_records(&json!([])), None);
    }

    /// buildkit cache/manager.go pruneOnce: without `--all`, internal and frontend records stay.
    #[test]
    fn a_prune_without_all_keeps_internal_and_frontend_records() {
        let du = "ID:\t\tf1\nReclaimable:\ttrue\nShared:\t\tfalse\nSize:\t\t2MB\nType:\t\tfrontend\n\nID:\t\tr1\nReclaimable:\ttrue\nShared:\t\tfalse\nSize:\t\t3MB\nType:\t\tregular\n\n";
        let r = du_verbose(du);
        assert!(!r[0].frees() && r[0].kept_without_all());
        assert!(r[1].frees());
        assert_eq!(r[1].bytes(), 3_000_000);
    }
}

/// Renames deprecated GC keys (`(at, old, new)` as [`GcConfig::deprecated`] lists them) in a
/// buildkitd.toml, structurally: standard and inline tables, arrays of tables and inline arrays
/// alike, keeping comments, formatting and key order (toml_edit). When the new key is already
/// there, it wins (BuildKit reads it first), so the old one is removed.
pub fn rename_toml_keys(
    text: &str,
    renames: &[(String, String, String)],
) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| format!("not TOML: {e}"))?;
    for (at, old, new) in renames {
        let mut cur = Cur::T(doc.as_table_mut());
        for seg in at.split('.') {
            let (name, index) = split_index(seg);
            let next = match cur {
                Cur::T(t) => t.get_mut(name).and_then(|i| descend(i, index)),
                Cur::I(t) => t.get_mut(name).and_then(|v| descend_value(v, index)),
            }
            .ok_or_else(|| format!("{at}: not found"))?;
            cur = next;
        }
        match cur {
            Cur::T(t) => {
                let order: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
                let Some(decor) = t.key(old).map(|k| k.leaf_decor().clone()) else {
                    continue;
                };
                let Some(item) = t.remove(old) else { continue };
                if !t.contains_key(new) {
                    t.insert_formatted(
                        &toml_edit::Key::new(new.as_str()).with_leaf_decor(decor),
                        item,
                    );
                }
                let pos = |k: &str| {
                    order
                        .iter()
                        .position(|o| o == if k == new { old } else { k })
                };
                t.sort_values_by(|a, _, b, _| pos(a.get()).cmp(&pos(b.get())));
            }
            Cur::I(t) => {
                let order: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
                let Some(decor) = t.key(old).map(|k| k.leaf_decor().clone()) else {
                    continue;
                };
                let Some(value) = t.remove(old) else { continue };
                if !t.contains_key(new) {
                    t.insert_formatted(
                        &toml_edit::Key::new(new.as_str()).with_leaf_decor(decor),
                        value,
                    );
                }
                let pos = |k: &str| {
                    order
                        .iter()
                        .position(|o| o == if k == new { old } else { k })
                };
                t.sort_values_by(|a, _, b, _| pos(a.get()).cmp(&pos(b.get())));
            }
        }
    }
    Ok(doc.to_string())
}

/// A table on the way down a TOML path: a `[section]` or an inline `{ … }`.
enum Cur<'a> {
    T(&'a mut toml_edit::Table),
    I(&'a mut toml_edit::InlineTable),
}

/// `gcpolicy[2]` → ("gcpolicy", Some(2)).
fn split_index(seg: &str) -> (&str, Option<usize>) {
    match seg.strip_suffix(']').and_then(|s| s.split_once('[')) {
        Some((name, i)) => (name, i.parse().ok()),
        None => (seg, None),
    }
}

fn descend(item: &mut toml_edit::Item, index: Option<usize>) -> Option<Cur<'_>> {
    use toml_edit::Item;
    match (item, index) {
        (Item::Table(t), None) => Some(Cur::T(t)),
        (Item::ArrayOfTables(a), Some(i)) => a.get_mut(i).map(Cur::T),
        (Item::Value(v), i) => descend_value(v, i),
        _ => None,
    }
}

fn descend_value(v: &mut toml_edit::Value, index: Option<usize>) -> Option<Cur<'_>> {
    use toml_edit::Value;
    match (v, index) {
        (Value::InlineTable(t), None) => Some(Cur::I(t)),
        (Value::Array(a), Some(i)) => match a.get_mut(i)? {
            Value::InlineTable(t) => Some(Cur::I(t)),
            _ => None,
        },
        _ => None,
    }
}

/// The same for daemon.json, whose keys Go matches in any letter case; members keep their order.
pub fn rename_json_keys(
    text: &str,
    renames: &[(String, String, String)],
) -> Result<String, String> {
    let mut v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    for (at, old, new) in renames {
        let mut cur = &mut v;
        for seg in at.split('.') {
            let (name, index) = split_index(seg);
            let o = cur
                .as_object_mut()
                .ok_or_else(|| format!("{at}: not an object"))?;
            let key = o
                .keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .cloned()
                .ok_or_else(|| format!("{at}: not found"))?;
            cur = o.get_mut(&key).ok_or_else(|| format!("{at}: not found"))?;
            if let Some(i) = index {
                cur = cur.get_mut(i).ok_or_else(|| format!("{at}: not found"))?;
            }
        }
        let Some(o) = cur.as_object_mut() else {
            continue;
        };
        let has_new = o.keys().any(|k| k.eq_ignore_ascii_case(new));
        let old_keys: Vec<String> = o
            .keys()
            .filter(|k| k.eq_ignore_ascii_case(old))
            .cloned()
            .collect();
        let entries: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
        let mut renamed = false;
        for (k, val) in entries {
            if old_keys.contains(&k) {
                if !has_new && !renamed {
                    o.insert(new.clone(), val);
                    renamed = true;
                }
            } else {
                o.insert(k, val);
            }
        }
    }
    Ok(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n")
}

#[cfg(test)]
mod rename_tests {
    use super::*;

    fn renames(text: &str) -> Vec<(String, String, String)> {
        buildkitd_toml(text)
            .unwrap()
            .1
            .into_iter()
            .flat_map(|g| g.deprecated)
            .collect()
    }

    #[test]
    fn toml_inline_tables_and_comments() {
        let text = "# buildkitd\n[worker.oci]\n  # the cap\n  gckeepstorage = \"5GB\" # old name\n  gc = true\n  gcpolicy = [ { keepBytes = \"1GB\", filters = [\"type==source.local\"] }, {all = true, keepBytes = 1000} ]\n";
        let r = renames(text);
        assert_eq!(r.len(), 3, "{r:?}");
        let new = rename_toml_keys(text, &r).unwrap();
        assert_eq!(
            new,
            "# buildkitd\n[worker.oci]\n  # the cap\n  reservedSpace = \"5GB\" # old name\n  gc = true\n  gcpolicy = [ { reservedSpace = \"1GB\", filters = [\"type==source.local\"] }, {all = true, reservedSpace = 1000} ]\n"
        );
        assert!(renames(&new).is_empty(), "a second run finds nothing");
        assert_eq!(rename_toml_keys(&new, &renames(&new)).unwrap(), new);
    }

    #[test]
    fn toml_array_of_tables_and_inline_worker() {
        let text = "worker = { oci = { gckeepstorage = 1000, reservedSpace = 2000 } }\n";
        let new = rename_toml_keys(text, &renames(text)).unwrap();
        assert_eq!(new, "worker = { oci = { reservedSpace = 2000 } }\n");
        let text = "[worker.oci]\n[[worker.oci.gcpolicy]]\n  keepBytes = 1\n  all = true\n";
        let new = rename_toml_keys(text, &renames(text)).unwrap();
        assert_eq!(
            new,
            "[worker.oci]\n[[worker.oci.gcpolicy]]\n  reservedSpace = 1\n  all = true\n"
        );
    }

    #[test]
    fn json_keys_in_place() {
        let text = r#"{"debug": true, "builder": {"gc": {"enabled": true, "defaultKeepStorage": "20GB", "policy": [{"keepStorage": "10GB", "all": true}]}}}"#;
        let r = daemon_json_builder(text).unwrap().unwrap().deprecated;
        let new = rename_json_keys(text, &r).unwrap();
        let v: Value = serde_json::from_str(&new).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"debug": true, "builder": {"gc": {"enabled": true, "defaultReservedSpace": "20GB", "policy": [{"reservedSpace": "10GB", "all": true}]}}})
        );
        assert!(
            new.find("defaultReservedSpace") < new.find("policy"),
            "order kept"
        );
        assert!(
            daemon_json_builder(&new)
                .unwrap()
                .unwrap()
                .deprecated
                .is_empty()
        );
    }
}
