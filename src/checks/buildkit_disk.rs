//! BuildKit records measured on disk, where the builder's own `Size` cannot be trusted:
//! - a record a build holds is reported as 0 B (buildkit cache/manager.go `DiskUsage`: "size can
//!   not be determined because it is changing");
//! - once computed, a record's size is kept in its metadata (and, in Docker, again in the
//!   snapshotter's `snapshots.db`) and reset only when a snapshot is committed, so a cache mount
//!   reused and written to by later builds keeps the size it had when first measured.

use crate::host::{DirSize, Host, HostError};
use crate::parse::buildkit::Record;
use crate::units::human_decimal;

/// Directories measured per builder: each walk is bounded by the Host (entries and time), and so
/// is their number, so that a scan stays within its deadline.
const AT_MOST: usize = 4;
/// Entries walked in all before measuring stops (a deterministic bound: replays stop there too).
const ENTRY_BUDGET: u64 = 1_000_000;
/// A reported size within this of the disk's is never called stale.
const STALE_FLOOR: i64 = 1_000_000;

/// Where a builder keeps its records' data.
pub enum Layout {
    /// Docker's graphdriver adapter (moby builder-next/adapters/snapshot/snapshot.go): the cache
    /// manager prepares a mutable record's snapshot under the record's own ID (`New`:
    /// `snapshotID := id`), and `Prepare` creates the graphdriver layer of that name. So a cache
    /// mount, or a held build's working layer, is the layer directory named by its record ID;
    /// an immutable record has no directory of its name.
    Graphdriver { root: String, driver: String },
    /// A record reaches its directory only through files this doctor does not read (BoltDB
    /// metadata): why. Records then stay as reported, and the evidence says so.
    Unmapped(String),
}

impl Layout {
    /// The directory holding record `id`'s own data (moby daemon/graphdriver: overlay2 and
    /// fuse-overlayfs `<home>/<id>/diff`, vfs `<home>/dir/<id>`, btrfs `<home>/subvolumes/<id>`).
    fn dir(&self, id: &str) -> Result<String, String> {
        let (root, driver) = match self {
            Layout::Graphdriver { root, driver } => (root, driver),
            Layout::Unmapped(why) => return Err(why.clone()),
        };
        // identity.NewID: 25 base-36 characters; anything else is not joined to a path.
        if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("{id:?} is not a BuildKit record ID"));
        }
        let home = format!("{}/{driver}", root.trim_end_matches('/'));
        match driver.as_str() {
            "overlay2" | "fuse-overlayfs" => Ok(format!("{home}/{id}/diff")),
            "vfs" => Ok(format!("{home}/dir/{id}")),
            "btrfs" => Ok(format!("{home}/subvolumes/{id}")),
            other => Err(format!(
                "the {other} storage driver keeps layers where they are not measured as directories"
            )),
        }
    }
}

/// What measuring one builder's records found, for its evidence and summary.
#[derive(Debug, Default)]
pub struct Measured {
    /// (directory, what it showed), one per measured record.
    pub evidence: Vec<(String, String)>,
    /// Held records reported as 0 B and now measured: count, bytes.
    pub held: (usize, i64),
    /// Records whose reported size is far from their directory's: count, reported, on disk.
    pub stale: (usize, i64, i64),
    /// Held records reported as 0 B left unmeasured, and the first reason.
    pub unmeasured: (usize, Option<String>),
    /// Cache mounts not held left unchecked for a stale size, and the first reason.
    pub unchecked: (usize, Option<String>),
}

/// Measures held records reported as 0 B, then cache mounts (the records whose size goes stale),
/// within [`AT_MOST`] directories and [`ENTRY_BUDGET`] entries; sets `on_disk` where the disk
/// is what counts.
pub fn measure(host: &Host, layout: &Layout, records: &mut [Record]) -> Measured {
    let mut m = Measured::default();
    let held = |r: &Record| r.in_use && r.size == 0 && !r.shared;
    let mut order: Vec<usize> = (0..records.len())
        .filter(|&i| {
            held(&records[i]) || records[i].kind == "exec.cachemount" && !records[i].shared
        })
        .collect();
    // Held ones first (their size is otherwise nothing), cache mounts before other held records,
    // then the largest.
    order.sort_by_key(|&i| {
        let r = &records[i];
        (
            !held(r),
            r.kind != "exec.cachemount",
            std::cmp::Reverse(r.size),
        )
    });
    let mut walks = 0;
    let mut entries = 0u64;
    let mut stop: Option<String> = None;
    for i in order {
        let r = &mut records[i];
        let is_held = held(r);
        let skip = |m: &mut Measured, why: String| {
            let (n, first) = if is_held {
                &mut m.unmeasured
            } else {
                &mut m.unchecked
            };
            *n += 1;
            first.get_or_insert(why);
        };
        if let Some(why) = &stop {
            skip(&mut m, why.clone());
            continue;
        }
        let dir = match layout.dir(&r.id) {
            Ok(d) => d,
            Err(why) => {
                skip(&mut m, why);
                continue;
            }
        };
        if walks == AT_MOST {
            let why = format!("at most {AT_MOST} directories are measured per scan");
            skip(&mut m, why.clone());
            stop = Some(why);
            continue;
        }
        walks += 1;
        let size = match host.dir_size(&dir) {
            Ok(s) => s,
            Err(HostError::NotFound(_)) => {
                // An immutable record: its data is an image layer, or the directory of the
                // mutable record it was committed from. (A cache mount is mutable: none is here.)
                walks -= 1;
                if is_held {
                    skip(
                        &mut m,
                        format!("no directory {dir} (its data lies under another snapshot's name)"),
                    );
                }
                continue;
            }
            Err(e) => {
                skip(&mut m, e.to_string());
                continue;
            }
        };
        entries += size.entries;
        if size.truncated {
            stop = Some(format!("the walk of {dir} was cut short"));
        } else if entries >= ENTRY_BUDGET {
            stop = Some(format!("{entries} entries walked, the most a scan walks"));
        }
        // The graphdriver counts a layer by its files' sizes (moby pkg/directory Size).
        let disk = size.apparent;
        let at_least = if size.truncated { "at least " } else { "" };
        let du = format!(
            "{at_least}{} on disk ({} allocated)",
            human_decimal(disk),
            human_decimal(size.bytes)
        );
        if is_held {
            m.held.0 += 1;
            m.held.1 += disk;
            r.on_disk = Some(disk);
            m.evidence.push((
                dir,
                format!(
                    "record {} ({}): {du}; reported as 0 B while a build holds it",
                    r.id, r.kind
                ),
            ));
        } else if stale(r.size, &size) {
            m.stale.0 += 1;
            m.stale.1 += r.size;
            m.stale.2 += disk;
            r.on_disk = Some(disk);
            m.evidence.push((
                dir,
                format!(
                    "record {} ({}): {du}; reported as {}: a stale size, counted as measured",
                    r.id,
                    r.kind,
                    human_decimal(r.size)
                ),
            ));
        }
    }
    m
}

/// Whether a reported size is far from what its directory holds by either measure (files' sizes,
/// as Docker's graphdriver counts; allocated blocks, as containerd's snapshotters count): off by
/// at least [`STALE_FLOOR`] and by a quarter of the larger. A walk cut short gives only a lower
/// bound, so it can only show a size reported too small.
fn stale(reported: i64, s: &DirSize) -> bool {
    let (lo, hi) = (s.apparent.min(s.bytes), s.apparent.max(s.bytes));
    let gap = if reported < lo {
        lo - reported
    } else if reported > hi && !s.truncated {
        reported - hi
    } else {
        0
    };
    gap >= STALE_FLOOR && gap.saturating_mul(4) >= reported.max(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Answer, Request, Script};

    const ROOT: &str = "/var/lib/docker";

    fn record(id: &str, kind: &str, size: i64, in_use: bool, shared: bool) -> Record {
        Record {
            id: id.into(),
            kind: kind.into(),
            size,
            in_use,
            shared,
            reclaimable: !in_use && !shared,
            description: String::new(),
            on_disk: None,
        }
    }

    fn size(bytes: i64, apparent: i64, entries: u64, truncated: bool) -> Answer {
        Answer::DirSize(DirSize {
            bytes,
            apparent,
            entries,
            truncated,
        })
    }

    fn overlay2() -> Layout {
        Layout::Graphdriver {
            root: ROOT.into(),
            driver: "overlay2".into(),
        }
    }

    #[test]
    fn layer_directories_by_driver() {
        let l = |d: &str| Layout::Graphdriver {
            root: "/srv/docker/".into(),
            driver: d.into(),
        };
        let id = "9h4t09uw3uouprso7st4b5q4x";
        assert_eq!(
            l("overlay2").dir(id).unwrap(),
            "/srv/docker/overlay2/9h4t09uw3uouprso7st4b5q4x/diff"
        );
        assert_eq!(
            l("vfs").dir(id).unwrap(),
            "/srv/docker/vfs/dir/9h4t09uw3uouprso7st4b5q4x"
        );
        assert_eq!(
            l("btrfs").dir(id).unwrap(),
            "/srv/docker/btrfs/subvolumes/9h4t09uw3uouprso7st4b5q4x"
        );
        assert!(l("zfs").dir(id).unwrap_err().contains("zfs"));
        // An ID from the engine is never a path.
        for bad in ["", "../../etc", "a/b", "x y"] {
            assert!(l("overlay2").dir(bad).is_err(), "{bad:?}");
        }
    }

    /// Docker 20.10 while `RUN --mount=type=cache,target=/c dd … && sleep` runs (seen on this
    /// project's test engine): the held cache mount and the build's working layer are reported
    /// as 0 B; the image's layer (shared) and the Dockerfile's context record (91 B) are not
    /// measured.
    #[test]
    fn held_records_are_measured_in_their_layer_directories() {
        let mut records = vec![
            record("sr8g7i2nq4d49m9zji5tg438z", "regular", 0, true, true),
            record("g7056fjd96x73f0w4648a1g84", "regular", 0, true, false),
            record(
                "9h4t09uw3uouprso7st4b5q4x",
                "exec.cachemount",
                0,
                true,
                false,
            ),
            record("4bzswcv4mpii4qt541vhs504i", "regular", 91, true, false),
        ];
        let host = Script::new()
            .answer(
                Request::DirSize(format!("{ROOT}/overlay2/9h4t09uw3uouprso7st4b5q4x/diff")),
                Ok(size(5_251_072, 5_242_880, 6, false)),
            )
            .host();
        let m = measure(&host, &overlay2(), &mut records);
        assert_eq!(records[2].on_disk, Some(5_242_880));
        assert_eq!(records[0].on_disk, None, "shared: the image's");
        assert_eq!(records[3].on_disk, None, "sized by the engine");
        // The working layer has no directory in the script: not measured, and said why.
        assert_eq!(records[1].on_disk, None);
        assert_eq!(m.held, (1, 5_242_880));
        assert_eq!(m.unmeasured.0, 1);
        assert!(
            m.unmeasured
                .1
                .as_deref()
                .unwrap()
                .contains("no directory /var/lib/docker/overlay2/g7056fjd96x73f0w4648a1g84/diff"),
            "{m:?}"
        );
        assert_eq!(
            m.evidence[0].1,
            "record 9h4t09uw3uouprso7st4b5q4x (exec.cachemount): 5.243 MB on disk (5.251 MB allocated); reported as 0 B while a build holds it"
        );
    }

    /// A cache mount first measured at 1 MiB (after its first build), then written 4 MiB more
    /// by a second build: Docker 20.10 still reports 1.05 MB (seen on this project's test
    /// engine; buildkit cache/refs.go resets a size only on commit).
    #[test]
    fn a_stale_cache_mount_size_is_corrected_from_the_disk() {
        let mut records = vec![
            record(
                "3d6ss5b38yoj7n8e5oisyq2ld",
                "exec.cachemount",
                1_048_667,
                false,
                false,
            ),
            record(
                "k2k2k2k2k2k2k2k2k2k2k2k2k",
                "exec.cachemount",
                30_000_000,
                false,
                false,
            ),
        ];
        let host = Script::new()
            .answer(
                Request::DirSize(format!("{ROOT}/overlay2/3d6ss5b38yoj7n8e5oisyq2ld/diff")),
                Ok(size(5_255_168, 5_242_880, 4, false)),
            )
            // Small files: allocated twice their size; the engine's figure lies between.
            .answer(
                Request::DirSize(format!("{ROOT}/overlay2/k2k2k2k2k2k2k2k2k2k2k2k2k/diff")),
                Ok(size(50_000_000, 25_000_000, 9000, false)),
            )
            .host();
        let m = measure(&host, &overlay2(), &mut records);
        assert_eq!(records[0].on_disk, Some(5_242_880));
        assert_eq!(records[1].on_disk, None, "within the two measures");
        assert_eq!(m.stale, (1, 1_048_667, 5_242_880));
        assert!(
            m.evidence[0]
                .1
                .contains("reported as 1.049 MB: a stale size")
        );
    }

    #[test]
    fn staleness_needs_a_large_gap() {
        let s = |bytes, apparent, truncated| DirSize {
            bytes,
            apparent,
            entries: 1,
            truncated,
        };
        // A few blocks off: not stale.
        assert!(!stale(1_048_576, &s(1_052_672, 1_048_576, false)));
        // Small in absolute terms: not stale, however large the ratio.
        assert!(!stale(91, &s(900_000, 800_000, false)));
        // 60 GB reported, 100 GB on disk: stale.
        assert!(stale(
            60_000_000_000,
            &s(100_000_000_000, 100_000_000_000, false)
        ));
        // 95 of 100: not.
        assert!(!stale(
            95_000_000_000,
            &s(100_000_000_000, 100_000_000_000, false)
        ));
        // Reported larger than the disk (the directory was emptied): stale, unless the walk was
        // cut short and the disk's figure is only a lower bound.
        assert!(stale(50_000_000, &s(4096, 0, false)));
        assert!(!stale(50_000_000, &s(4096, 0, true)));
    }

    #[test]
    fn measuring_is_bounded() {
        let mut records: Vec<Record> = (0..7)
            .map(|i| record(&format!("cachemount{i}"), "exec.cachemount", 0, true, false))
            .collect();
        let mut script = Script::new();
        for i in 0..7 {
            script = script.answer(
                Request::DirSize(format!("{ROOT}/overlay2/cachemount{i}/diff")),
                Ok(size(4096, 10, 1, false)),
            );
        }
        records.push(record("idle", "exec.cachemount", 5, false, false));
        let m = measure(&script.host(), &overlay2(), &mut records);
        assert_eq!(m.held.0, AT_MOST);
        assert_eq!(
            m.unchecked.0, 1,
            "the idle cache mount comes after the held ones"
        );
        assert_eq!(m.unmeasured.0, 7 - AT_MOST);
        assert!(
            m.unmeasured
                .1
                .as_deref()
                .unwrap()
                .contains("at most 4 directories")
        );

        // A walk cut short stops the rest, and its figure is a lower bound.
        let mut records: Vec<Record> = (0..3)
            .map(|i| record(&format!("big{i}"), "exec.cachemount", 0, true, false))
            .collect();
        let host = Script::new()
            .answer(
                Request::DirSize(format!("{ROOT}/overlay2/big0/diff")),
                Ok(size(9_000_000_000, 8_000_000_000, 5_000_000, true)),
            )
            .host();
        let m = measure(&host, &overlay2(), &mut records);
        assert_eq!(m.held.0, 1);
        assert_eq!(m.unmeasured.0, 2);
        assert!(m.unmeasured.1.as_deref().unwrap().contains("cut short"));
        assert!(m.evidence[0].1.contains("at least 8 GB on disk"), "{m:?}");
    }

    #[test]
    fn unmapped_layouts_ask_nothing_and_say_why() {
        let mut records = vec![
            record("abc", "exec.cachemount", 0, true, false),
            record("def", "exec.cachemount", 7, false, false),
        ];
        let m = measure(
            &Script::new().host(),
            &Layout::Unmapped("needs BoltDB".into()),
            &mut records,
        );
        assert_eq!(m.unmeasured, (1, Some("needs BoltDB".into())));
        assert_eq!(m.unchecked, (1, Some("needs BoltDB".into())));
        assert!(m.evidence.is_empty());
    }
}
