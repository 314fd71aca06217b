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
