//! Containers as their engines know them, with the source that decided each state: the Docker
//! Engine API; containers/storage's own records (Podman, Buildah, CRI-O share them); libpod's
//! database; conmon processes (one per running Podman or CRI-O container); and `podman ps`.
//! containerd's tasks are read in `super::containerd`.
//!
//! Podman's state is read from its database, `<graphroot>/libpod/bolt_state.db`, through the
//! Host: so it is known under `--root` and in a replayed bundle too, and no podman is run. A
//! database that is there but cannot be read leaves the state unknown, with why. `podman ps`
//! (live only, bounded by the command timeout) stands in where there is no BoltDB file: Podman
//! 4.8+ may keep its state in SQLite (`libpod/db.sql`), which is not read here — no SQLite crate
//! reads a file served as bytes without building SQLite's C into the static binary — and where
//! both files exist, the one Podman uses depends on its `database_backend` setting.

use std::collections::HashMap;

use serde_json::Value;

use super::Facts;
use crate::host::{DEFAULT_TIMEOUT, DockerCall, Host, HostError};
use crate::parse::docker;

/// Which engine a container belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
    Buildah,
    CriO,
    /// A containerd task (ctr, nerdctl, a Kubernetes node's CRI).
    Containerd,
    /// A containers/storage container no engine marker names.
    Storage,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Buildah => "buildah",
            Engine::CriO => "cri-o",
            Engine::Containerd => "containerd",
            Engine::Storage => "containers/storage",
        }
    }
}

/// A container and what its engine says of it.
#[derive(Debug, Clone)]
pub struct Container {
    pub engine: Engine,
    pub id: String,
    pub name: String,
    /// `running`, `paused`, `exited`, `storage` (a Buildah working container), …; `None` when no
    /// source could say.
    pub state: Option<String>,
    /// Which source decided the state (or why none could).
    pub source: String,
    /// containers/storage: its graph root and runroot, when known (for the engine's own commands).
    pub storage_root: Option<String>,
    pub runroot: Option<String>,
    /// containerd: the task's namespace and containerd's socket, when known (for `ctr`).
    pub namespace: Option<String>,
    pub address: Option<String>,
}

impl Container {
    /// Whether the engine uses it now: a process runs in it, or it is paused, or a build holds it.
    pub fn in_use(&self) -> bool {
        match self.state.as_deref() {
            Some("running" | "paused" | "restarting" | "stopping" | "removing" | "storage") => true,
            // libpod: created in the OCI runtime, its init process waiting inside.
            Some("initialized") => self.engine == Engine::Podman,
            // A containerd task created but not started has its init (runc init) waiting in it.
            Some("created" | "pausing") => self.engine == Engine::Containerd,
            _ => false,
        }
    }

    /// The engine's global options naming a non-default storage, for its own commands.
    pub fn storage_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(r) = &self.storage_root {
            args.extend(["--root".to_string(), r.clone()]);
        }
        if let Some(r) = &self.runroot {
            args.extend(["--runroot".to_string(), r.clone()]);
        }
        args
    }
}

/// A conmon process: the monitor of one running Podman or CRI-O container.
#[derive(Debug, Clone)]
pub struct Conmon {
    pub pid: u32,
    pub cid: String,
    pub name: Option<String>,
    /// From its `--exit-command-arg --root DIR` (Podman), when given.
    pub storage_root: Option<String>,
    pub runroot: Option<String>,
    /// Started by Podman (its exit command is `podman … container cleanup`).
    pub podman: bool,
}

/// Reads conmon command lines from the process table. Requires the table; an unreadable cmdline
/// is skipped (the caller already knows the table's completeness).
pub fn conmons(facts: &Facts) -> Vec<Conmon> {
    let Ok(procs) = facts.processes() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in procs.iter().filter(|p| p.comm == "conmon") {
        let Ok(raw) = facts.read(&format!("/proc/{}/cmdline", p.pid)) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if let Some(c) = parse_conmon(p.pid, &args) {
            out.push(c);
        }
    }
    out
}

/// conmon's argv: `-c ID` / `--cid ID`, `-n NAME` / `--name NAME`, and Podman's exit command
/// `--exit-command /usr/bin/podman --exit-command-arg --root --exit-command-arg DIR …`.
pub fn parse_conmon(pid: u32, args: &[String]) -> Option<Conmon> {
    let mut cid = None;
    let mut name = None;
    let mut exit: Vec<&str> = Vec::new();
    let mut podman = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let next = args.get(i + 1).map(String::as_str);
        match a {
            "-c" | "--cid" => cid = next.map(str::to_string),
            "-n" | "--name" => name = next.map(str::to_string),
            "--exit-command" => podman = next.is_some_and(|c| c.ends_with("/podman")),
            "--exit-command-arg" => {
                if let Some(n) = next {
                    exit.push(n);
                }
            }
            _ => {
                if let Some(v) = a.strip_prefix("--cid=") {
                    cid = Some(v.to_string());
                }
            }
        }
        i += 1;
    }
    let after = |flag: &str| {
        exit.iter()
            .position(|a| *a == flag)
            .and_then(|i| exit.get(i + 1))
            .map(|s| s.to_string())
    };
    Some(Conmon {
        pid,
        cid: cid.filter(|c| !c.is_empty())?,
        name,
        storage_root: after("--root"),
        runroot: after("--runroot"),
        podman,
    })
}

/// A Docker container and the merged directory of its root filesystem.
#[derive(Debug, Clone)]
pub struct DockerContainer {
    pub container: Container,
    pub merged: Option<String>,
}

/// Every Docker container with its state, from the Engine API.
pub fn docker_containers(host: &Host) -> Result<Vec<DockerContainer>, HostError> {
    let list = host.docker(DockerCall::Containers)?;
    let mut out = Vec::new();
    for c in docker::containers(&list) {
        // Removed between the list and the inspect: nothing mounted for it any more.
        let Ok(inspect) = host.docker(DockerCall::Inspect(c.id.clone())) else {
            continue;
        };
        out.push(DockerContainer {
            merged: docker::merged_dir(&inspect),
            container: Container {
                engine: Engine::Docker,
                id: c.id,
                name: c.name,
                state: Some(c.state).filter(|s| !s.is_empty()),
                source: "Docker Engine API".into(),
                storage_root: None,
                runroot: None,
                namespace: None,
                address: None,
            },
        });
    }
    Ok(out)
}

/// What Podman says of the containers of one graph root: each id's state (or why it has none),
/// from libpod's database or `podman ps`, with the run root its database names.
#[derive(Debug, Clone)]
pub struct PodmanListing {
    pub source: String,
    pub states: HashMap<String, Result<String, String>>,
    pub runroot: Option<String>,
}

/// The containers/storage container whose layer is `layer`, under graph root `root`, with its
/// engine (Buildah's `buildah.json`, CRI-O's pod metadata, else Podman when libpod's database
/// is there) and its state from libpod's database (else `podman ps`), else conmon.
pub fn storage_container(
    facts: &Facts,
    conmons: &[Conmon],
    podman: &mut HashMap<String, Result<PodmanListing, String>>,
    root: &str,
    layer: &str,
) -> Option<Container> {
    let text = facts
        .read_text(&format!("{root}/overlay-containers/containers.json"))
        .ok()?;
    let list: Value = serde_json::from_str(&text).ok()?;
    let c = list
        .as_array()?
        .iter()
        .find(|c| c.get("layer").and_then(Value::as_str) == Some(layer))?;
    let id = c.get("id")?.as_str()?.to_string();
    let name = c
        .pointer("/names/0")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let metadata: Value = c
        .get("metadata")
        .and_then(Value::as_str)
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null);
    let buildah = facts
        .stat(&format!(
            "{root}/overlay-containers/{id}/userdata/buildah.json"
        ))
        .is_ok();
    let libpod = [BOLT_DB, SQLITE_DB]
        .iter()
        .any(|db| facts.stat(&format!("{root}/{db}")).is_ok());
    let engine = if buildah {
        Engine::Buildah
    } else if metadata.get("pod-id").is_some() || metadata.get("pod-name").is_some() {
        Engine::CriO
    } else if libpod {
        Engine::Podman
    } else {
        Engine::Storage
    };
    let conmon = conmons.iter().find(|m| m.cid == id);
    let mut container = Container {
        engine,
        id: id.clone(),
        name,
        state: None,
        source: String::new(),
        storage_root: Some(root.to_string()),
        runroot: conmon.and_then(|m| m.runroot.clone()),
        namespace: None,
        address: None,
    };
    if engine == Engine::Buildah {
        // A Buildah working container never runs; its mount is Buildah's (`buildah mount`, or a
        // `buildah run` in progress) until `buildah umount`.
        container.state = Some("storage".into());
        container.source = format!("{root}/overlay-containers/{id}/userdata/buildah.json");
        return Some(container);
    }
    // Why Podman's word is missing, when it is.
    let mut missing = None;
    if engine == Engine::Podman || engine == Engine::Storage {
        let listing = podman.entry(root.to_string()).or_insert_with(|| {
            podman_listing(facts, root, conmon.and_then(|m| m.runroot.as_deref()))
        });
        match listing {
            Ok(l) => match l.states.get(&id) {
                Some(state) => {
                    container.engine = Engine::Podman;
                    if container.runroot.is_none() {
                        container.runroot = l.runroot.clone();
                    }
                    match state {
                        Ok(s) => {
                            container.state = Some(s.clone());
                            container.source = l.source.clone();
                            return Some(container);
                        }
                        Err(why) => missing = Some(format!("{}: {why}", l.source)),
                    }
                }
                None => missing = Some(format!("not in {}", l.source)),
            },
            Err(e) => missing = Some(e.clone()),
        }
    }
    if let Some(m) = conmon {
        container.state = Some("running".into());
        container.source = format!("conmon pid {} monitors it", m.pid);
        if m.podman {
            container.engine = Engine::Podman;
        }
    } else {
        container.source = match missing {
            Some(why) => format!("{why}; no conmon process monitors it"),
            None => "no conmon process and no engine listing for it".into(),
        };
    }
    Some(container)
}

/// libpod's databases, under the graph root (their static dir by default).
const BOLT_DB: &str = "libpod/bolt_state.db";
const SQLITE_DB: &str = "libpod/db.sql";

/// Podman's word on the containers under `root`: its BoltDB database when that is the one it
/// uses, else `podman ps`. A database that is there but unreadable is the answer (unknown, and
/// why): `podman ps` would read the same file.
fn podman_listing(
    facts: &Facts,
    root: &str,
    runroot: Option<&str>,
) -> Result<PodmanListing, String> {
    let bolt = format!("{root}/{BOLT_DB}");
    let sqlite = format!("{root}/{SQLITE_DB}");
    let has_sqlite = facts.stat(&sqlite).is_ok();
    match facts.libpod_db(&bolt) {
        Ok(db) if !has_sqlite => Ok(PodmanListing {
            source: format!("libpod database {bolt}"),
            states: db.containers.into_iter().map(|c| (c.id, c.state)).collect(),
            runroot: db.run_root,
        }),
        Ok(_) => podman_ps(facts, root, runroot).map_err(|e| {
            format!(
                "{bolt} and {sqlite} both exist (Podman uses the one its database_backend names; \
                 SQLite is not read here), and {e}"
            )
        }),
        Err(HostError::NotFound(_)) => podman_ps(facts, root, runroot).map_err(|e| {
            if has_sqlite {
                format!("libpod's SQLite database {sqlite} is not read here, and {e}")
            } else {
                e
            }
        }),
        Err(e) => Err(format!("libpod's database could not be read: {e}")),
    }
}

/// `podman --root ROOT ps --all --format json`: id → state. Live only, bounded by the command
/// timeout. The runroot comes from libpod's database when not given.
fn podman_ps(host: &Host, root: &str, runroot: Option<&str>) -> Result<PodmanListing, String> {
    let mut argv = vec!["podman", "--root", root];
    if let Some(r) = runroot {
        argv.extend(["--runroot", r]);
    }
    argv.extend(["ps", "--all", "--format", "json"]);
    let shown = argv.join(" ");
    let out = host
        .run(&argv, DEFAULT_TIMEOUT)
        .map_err(|e| format!("{shown}: {e}"))?;
    if !out.success() {
        return Err(format!("{shown}: {}", super::first_line(&out.stderr, 120)));
    }
    let list: Value =
        serde_json::from_str(&out.stdout).map_err(|e| format!("{shown}: not JSON: {e}"))?;
    let states = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some((
                        c.get("Id")?.as_str()?.to_string(),
                        Ok(c.get("State")?.as_str()?.to_lowercase()),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PodmanListing {
        source: format!("podman --root {root} ps --all"),
        states,
        runroot: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Answer, LibpodDb, Meta, Request, Script};
    use crate::parse::libpod;

    const ROOT: &str = "/srv/storage";
    const BOLT: &str = "/srv/storage/libpod/bolt_state.db";
    const ID: &str = "84a0c1d5e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9";
    const PS: [&str; 7] = ["podman", "--root", ROOT, "ps", "--all", "--format", "json"];

    /// containers/storage with one container on layer `l1` (as Podman 4.3 writes
    /// overlay-containers/containers.json), and a `podman ps` that would call it exited.
    fn storage() -> Script {
        let file = Meta {
            is_dir: false,
            is_file: true,
            mode: 0o600,
            size: 65536,
            dev: (8, 1),
        };
        Script::new()
            .file(
                &format!("{ROOT}/overlay-containers/containers.json"),
                &format!(r#"[{{"id":"{ID}","names":["web"],"image":"08121f73","layer":"l1"}}]"#),
            )
            .answer(Request::Stat(BOLT.into()), Ok(Answer::Meta(file)))
            .command(
                &PS,
                0,
                &format!(r#"[{{"Id":"{ID}","State":"exited"}}]"#),
                "",
            )
    }

    fn db(state: Result<&str, &str>) -> Answer {
        Answer::LibpodDb(LibpodDb {
            run_root: Some("/srv/run".into()),
            graph_root: Some(ROOT.into()),
            containers: vec![libpod::Container {
                id: ID.into(),
                name: "web".into(),
                state: state.map(str::to_string).map_err(str::to_string),
            }],
        })
    }

    fn container(script: Script, conmons: &[Conmon]) -> (Container, Vec<Request>) {
        let facts = Facts::of(script.host().recording(true));
        let c = storage_container(&facts, conmons, &mut HashMap::new(), ROOT, "l1");
        let requests = facts.records().into_iter().map(|r| r.request).collect();
        (c.unwrap(), requests)
    }

    fn ran_podman(requests: &[Request]) -> bool {
        requests.iter().any(|r| matches!(r, Request::Run(_)))
    }

    #[test]
    fn the_database_decides_and_podman_is_not_run() {
        let script = storage().answer(Request::LibpodDb(BOLT.into()), Ok(db(Ok("running"))));
        let (c, requests) = container(script, &[]);
        assert_eq!(c.engine, Engine::Podman);
        assert_eq!(c.state.as_deref(), Some("running"));
        assert_eq!(c.source, format!("libpod database {BOLT}"));
        assert!(c.in_use());
        assert!(!ran_podman(&requests), "{requests:?}");
        // The run root its database names, for podman's own commands.
        assert_eq!(
            c.storage_args(),
            ["--root", ROOT, "--runroot", "/srv/run"].map(String::from)
        );
    }

    #[test]
    fn an_unreadable_database_leaves_the_state_unknown_with_why() {
        for error in [
            HostError::PermissionDenied(BOLT.into()),
            HostError::Io(format!(
                "{BOLT}: damaged BoltDB file: page 9 is marked as page 0"
            )),
            HostError::Unsupported(format!("read libpod's database {BOLT}: not in the bundle")),
        ] {
            let why = error.to_string();
            let script = storage().answer(Request::LibpodDb(BOLT.into()), Err(error));
            let (c, requests) = container(script, &[]);
            assert_eq!(c.state, None, "never 'not running': {c:?}");
            assert!(!c.in_use());
            assert!(c.source.contains(&why), "{}", c.source);
            assert!(!ran_podman(&requests), "{requests:?}");
        }
        // A conmon monitoring it still proves it runs.
        let conmon = Conmon {
            pid: 4240,
            cid: ID.into(),
            name: Some("web".into()),
            storage_root: Some(ROOT.into()),
            runroot: None,
            podman: true,
        };
        let script = storage().answer(
            Request::LibpodDb(BOLT.into()),
            Err(HostError::PermissionDenied(BOLT.into())),
        );
        let (c, _) = container(script, &[conmon]);
        assert_eq!(c.state.as_deref(), Some("running"));
        assert_eq!(c.source, "conmon pid 4240 monitors it");
    }

    #[test]
    fn a_state_the_database_does_not_hold_is_unknown_with_why() {
        let script = storage().answer(
            Request::LibpodDb(BOLT.into()),
            Ok(db(Err(
                "libpod recorded state 42, which it does not define",
            ))),
        );
        let (c, _) = container(script, &[]);
        assert_eq!(c.state, None);
        assert_eq!(
            c.source,
            format!(
                "libpod database {BOLT}: libpod recorded state 42, which it does not define; \
                 no conmon process monitors it"
            )
        );
        // Not in the database at all (a container of another tool in the same storage).
        let mut other = db(Ok("running"));
        if let Answer::LibpodDb(d) = &mut other {
            d.containers[0].id = "another".into();
        }
        let script = storage().answer(Request::LibpodDb(BOLT.into()), Ok(other));
        let (c, _) = container(script, &[]);
        assert_eq!(c.state, None);
        assert!(
            c.source
                .starts_with(&format!("not in libpod database {BOLT}")),
            "{}",
            c.source
        );
    }

    #[test]
    fn without_a_database_podman_ps_answers() {
        let (c, requests) = container(storage(), &[]);
        assert_eq!(c.state.as_deref(), Some("exited"));
        assert_eq!(c.source, format!("podman --root {ROOT} ps --all"));
        assert!(ran_podman(&requests));
        // SQLite beside BoltDB: which one Podman uses is its setting, so podman answers; and
        // when it cannot, the state is unknown, saying why.
        let sqlite = Meta {
            is_dir: false,
            is_file: true,
            mode: 0o600,
            size: 8192,
            dev: (8, 1),
        };
        let both = || {
            storage()
                .answer(Request::LibpodDb(BOLT.into()), Ok(db(Ok("running"))))
                .answer(
                    Request::Stat(format!("{ROOT}/libpod/db.sql")),
                    Ok(Answer::Meta(sqlite)),
                )
        };
        let (c, _) = container(both(), &[]);
        assert_eq!(c.state.as_deref(), Some("exited"));
        let (c, _) = container(
            both().command(&PS, 125, "", "Error: database is locked"),
            &[],
        );
        assert_eq!(c.state, None);
        assert!(
            c.source.contains("both exist") && c.source.contains("database is locked"),
            "{}",
            c.source
        );
    }

    #[test]
    fn conmon_of_podman_with_its_storage() {
        // As `ps` showed it for a rootful `podman --root … --runroot … run -d` (Podman 4.3).
        let argv: Vec<String> = "/usr/bin/conmon --api-version 1 -c 84a0 -u 84a0 -r /usr/bin/runc \
             -n web --exit-dir /run/libpod/exits --exit-command /usr/bin/podman \
             --exit-command-arg --root --exit-command-arg /tmp/p/root --exit-command-arg --runroot \
             --exit-command-arg /tmp/p/run --exit-command-arg container --exit-command-arg cleanup"
            .split(' ')
            .map(String::from)
            .collect();
        let c = parse_conmon(7, &argv).unwrap();
        assert_eq!(c.cid, "84a0");
        assert_eq!(c.name.as_deref(), Some("web"));
        assert_eq!(c.storage_root.as_deref(), Some("/tmp/p/root"));
        assert_eq!(c.runroot.as_deref(), Some("/tmp/p/run"));
        assert!(c.podman);
        // CRI-O's conmon: no Podman exit command.
        let crio: Vec<String> = "conmon -b /run/x -c abc --exit-dir /var/run/crio/exits"
            .split(' ')
            .map(String::from)
            .collect();
        let c = parse_conmon(8, &crio).unwrap();
        assert!(!c.podman && c.storage_root.is_none());
        assert!(parse_conmon(9, &["conmon".into()]).is_none());
    }
}
