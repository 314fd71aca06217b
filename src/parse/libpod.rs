//! libpod's BoltDB state, `<graphroot>/libpod/bolt_state.db` (Podman 4.x; 5.x keeps using it
//! where it exists): the containers Podman knows and the state it last recorded for each, read
//! with [`super::boltdb`]. Only what the doctor needs is kept — id, name, state and the storage
//! run root — never the rest of a container's config (its environment, its command line), so a
//! support bundle carries this summary and not the file.
//!
//! The layout, from podman v4.3.1 libpod/boltdb_state_internal.go (unchanged through 5.x): the
//! `ctr` bucket holds one bucket per container id, with `config` (JSON ContainerConfig, whose
//! `name` we take) and `state` (JSON ContainerState, whose `state` is a define.ContainerStatus
//! number); the `runtime-config` bucket holds `run-root` and `graph-root`. SQLite (`db.sql`,
//! Podman 4.8+) is another format, not read here.

use serde::{Deserialize, Serialize};

use super::boltdb::{Bucket, Db, Error, ReadAt, Value};

/// What libpod's database says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// containers/storage's run root as Podman was configured with it (`--runroot`).
    pub run_root: Option<String>,
    pub graph_root: Option<String>,
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// Podman's word for its state (as `podman ps` says it), or why there is none.
    pub state: Result<String, String>,
}

/// define.ContainerStatus in order, by the names its String() gives (define/containerstate.go:
/// Configured is "created", Created is "initialized"). 0, Unknown, is libpod's error state.
const STATES: [&str; 9] = [
    "unknown",
    "created",
    "initialized",
    "running",
    "stopped",
    "paused",
    "exited",
    "removing",
    "stopping",
];

/// Reads the database again when it changed while being read, this many times in all.
const TRIES: usize = 3;

/// The containers in a libpod BoltDB file. The read takes no lock: it is consistent when the
/// transaction id is the same after it as before (bbolt's next writer only reuses pages freed
/// before it began, none of the tree we read; the one after may), else it is read again.
pub fn read<R: ReadAt + ?Sized>(src: &R) -> Result<Database, String> {
    for _ in 0..TRIES {
        let db = Db::open(src).map_err(|e| e.to_string())?;
        let result = database(&db);
        let unchanged = Db::open(src).is_ok_and(|now| now.meta().txid == db.meta().txid);
        if unchanged {
            return result.map_err(|e| e.to_string());
        }
    }
    Err(format!(
        "it changed while being read, {TRIES} times in a row"
    ))
}

fn database<R: ReadAt + ?Sized>(db: &Db<R>) -> Result<Database, Error> {
    let root = db.root();
    let Some(ctr) = db.get(&root, b"ctr")?.and_then(Value::into_bucket) else {
        return Err(Error::NotBolt(
            "libpod's database: no `ctr` bucket in it".into(),
        ));
    };
    let (run_root, graph_root) = match db.get(&root, b"runtime-config")? {
        Some(Value::Bucket(config)) => (
            text(db, &config, b"run-root")?,
            text(db, &config, b"graph-root")?,
        ),
        _ => (None, None),
    };
    let mut containers = Vec::new();
    for (id, value) in db.entries(&ctr)? {
        // libpod keeps only buckets here; anything else is no container.
        if let Value::Bucket(b) = value {
            containers.push(container(db, &id, &b)?);
        }
    }
    Ok(Database {
        run_root,
        graph_root,
        containers,
    })
}

fn container<R: ReadAt + ?Sized>(db: &Db<R>, id: &[u8], b: &Bucket) -> Result<Container, Error> {
    #[derive(Deserialize)]
    struct Config {
        #[serde(default)]
        name: String,
    }
    #[derive(Deserialize)]
    struct State {
        state: i64,
    }
    let name = db
        .get(b, b"config")?
        .and_then(Value::into_data)
        .and_then(|c| serde_json::from_slice::<Config>(&c).ok())
        .map(|c| c.name)
        .unwrap_or_default();
    let state = match db.get(b, b"state")?.and_then(Value::into_data) {
        Some(json) => serde_json::from_slice::<State>(&json)
            .map_err(|e| format!("its recorded state is not libpod's JSON ({e})"))
            .and_then(|s| state_name(s.state).map(str::to_string)),
        None => Err("no state recorded for it".into()),
    };
    Ok(Container {
        id: String::from_utf8_lossy(id).into_owned(),
        name,
        state,
    })
}

/// Podman's name for a define.ContainerStatus number.
pub fn state_name(n: i64) -> Result<&'static str, String> {
    match usize::try_from(n).ok().and_then(|i| STATES.get(i)) {
        Some(&"unknown") => Err("libpod recorded its state as unknown (0, its error state)".into()),
        Some(name) => Ok(name),
        None => Err(format!(
            "libpod recorded state {n}, which it does not define"
        )),
    }
}

fn text<R: ReadAt + ?Sized>(db: &Db<R>, b: &Bucket, key: &[u8]) -> Result<Option<String>, Error> {
    Ok(db
        .get(b, key)?
        .and_then(Value::into_data)
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .filter(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::parse::boltdb::build::{Entry, File};

    const RUNNING: &str = "84a0c1d5e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9";
    const PAUSED: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";

    /// A database as Podman 4.3 lays it out (boltdb_state_internal.go): a running container in a
    /// bucket of its own pages, a paused one inline, one with a state libpod does not define and
    /// one without a state; the runtime configuration inline. The config JSON carries the
    /// environment and command line a real one does, which the summary must not keep.
    fn podman_db(txid: u64, web_state: &str) -> Vec<u8> {
        let mut f = File::new(4096);
        let web_config = format!(
            r#"{{"id":"{RUNNING}","name":"web","rootfsImageID":"08121f73","spec":{{"process":{{"args":["sleep","600"],"env":["PASSWORD=hunter2"]}}}},"lockID":3}}"#
        );
        let web_state = format!(
            r#"{{"state":{web_state},"mountPoint":"/var/lib/containers/storage/overlay/l1/merged","pid":4242,"conmonPid":4240}}"#
        );
        let web = f.leaf(&[
            Entry::Data(b"config", web_config.as_bytes()),
            Entry::Inline(b"dependencies", vec![]),
            Entry::Data(b"state", web_state.as_bytes()),
        ]);
        let ctr = f.leaf(&[
            Entry::Bucket(RUNNING.as_bytes(), web),
            Entry::Inline(
                b"a5",
                vec![
                    Entry::Data(b"config", br#"{"name":"odd","lockID":5}"#),
                    Entry::Data(b"state", br#"{"state":42}"#),
                ],
            ),
            Entry::Inline(b"b6", vec![Entry::Data(b"config", br#"{"name":"new"}"#)]),
            Entry::Inline(
                PAUSED.as_bytes(),
                vec![
                    Entry::Data(b"config", br#"{"id":"9f8e","name":"db"}"#),
                    Entry::Data(b"state", br#"{"state":5,"pid":77}"#),
                ],
            ),
        ]);
        let root = f.leaf(&[
            Entry::Inline(b"all-ctrs", vec![Entry::Data(RUNNING.as_bytes(), b"web")]),
            Entry::Bucket(b"ctr", ctr),
            Entry::Inline(b"id-registry", vec![]),
            Entry::Inline(
                b"runtime-config",
                vec![
                    Entry::Data(b"graph-root", b"/var/lib/containers/storage"),
                    Entry::Data(b"os", b"linux"),
                    Entry::Data(b"run-root", b"/run/containers/storage"),
                    Entry::Data(b"static-dir", b"/var/lib/containers/storage/libpod"),
                ],
            ),
        ]);
        f.finish_with([(root, txid), (root, txid.saturating_sub(1))])
    }

    #[test]
    fn containers_and_their_states_from_a_podman_database() {
        let db = read(podman_db(12, "3").as_slice()).unwrap();
        assert_eq!(db.run_root.as_deref(), Some("/run/containers/storage"));
        assert_eq!(
            db.graph_root.as_deref(),
            Some("/var/lib/containers/storage")
        );
        let states: Vec<(&str, &str, Result<&str, &str>)> = db
            .containers
            .iter()
            .map(|c| {
                (
                    c.id.as_str(),
                    c.name.as_str(),
                    c.state.as_deref().map_err(String::as_str),
                )
            })
            .collect();
        assert_eq!(
            states,
            [
                (RUNNING, "web", Ok("running")),
                (
                    "a5",
                    "odd",
                    Err("libpod recorded state 42, which it does not define")
                ),
                ("b6", "new", Err("no state recorded for it")),
                (PAUSED, "db", Ok("paused")),
            ]
        );
        // Nothing of the config but the name is kept.
        let kept = serde_json::to_string(&db).unwrap();
        assert!(
            !kept.contains("hunter2") && !kept.contains("sleep"),
            "{kept}"
        );
        // A state that is not libpod's JSON.
        let bad = read(podman_db(12, "\"up\"").as_slice()).unwrap();
        assert!(
            bad.containers[0]
                .state
                .as_ref()
                .unwrap_err()
                .contains("not libpod's JSON")
        );
    }

    #[test]
    fn every_state_libpod_defines_has_podmans_name() {
        let names: Vec<_> = (0..=9).map(state_name).collect();
        assert!(names[0].as_ref().unwrap_err().contains("unknown (0"));
        assert_eq!(
            names[1..9],
            [
                "created",
                "initialized",
                "running",
                "stopped",
                "paused",
                "exited",
                "removing",
                "stopping"
            ]
            .map(Ok)
        );
        assert!(names[9].is_err());
        assert!(state_name(-1).is_err());
    }

    #[test]
    fn a_bolt_file_that_is_not_libpods_says_so() {
        let mut f = File::new(4096);
        let root = f.leaf(&[Entry::Data(b"containerd", b"v1")]);
        let e = read(f.finish(root).as_slice()).unwrap_err();
        assert!(e.contains("no `ctr` bucket"), "{e}");
        assert!(
            read(&b"garbage"[..])
                .unwrap_err()
                .contains("not a BoltDB file")
        );
    }

    /// A file that a writer commits to between reads: each read of the meta pages (offset 0)
    /// moves to the next version, the last one staying.
    struct Committing {
        versions: Vec<Vec<u8>>,
        at: Cell<usize>,
    }

    impl ReadAt for Committing {
        fn size(&self) -> u64 {
            self.versions[self.at.get()].len() as u64
        }

        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), String> {
            if offset == 0 {
                self.at
                    .set((self.at.get() + 1).min(self.versions.len() - 1));
            }
            self.versions[self.at.get()]
                .as_slice()
                .read_exact_at(buf, offset)
        }
    }

    #[test]
    fn a_database_that_changes_while_read_is_read_again() {
        // One commit during the first read: the second read is of the new version.
        let once = Committing {
            versions: vec![podman_db(7, "3"), podman_db(7, "3"), podman_db(8, "4")],
            at: Cell::new(0),
        };
        let db = read(&once).unwrap();
        assert_eq!(db.containers[0].state.as_deref(), Ok("stopped"));
        // A writer that never stops: no answer rather than a torn one.
        let busy = Committing {
            versions: (10..30).map(|t| podman_db(t, "3")).collect(),
            at: Cell::new(0),
        };
        assert!(
            read(&busy)
                .unwrap_err()
                .contains("changed while being read, 3 times")
        );
    }
}
