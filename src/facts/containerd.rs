//! containerd's tasks without its gRPC API. A task's root filesystem is mounted at its bundle's
//! `rootfs` (STATE/io.containerd.runtime.v2.task/NS/ID); a shim process
//! (`containerd-shim-runc-v2 -namespace NS -id ID -address SOCKET`) serves it, and the task's
//! init process is the shim's child, named by the bundle's `init.pid`. In a Kubernetes pod one
//! shim serves the sandbox and all its containers: a bundle's `address` file names that shim's
//! socket. When those do not settle it (not root: bundles are 0700), `ctr task ls`, live only,
//! bounded by the command timeout, after a plain connect that tells "refused" from "absent".

use std::collections::{HashMap, HashSet};

use super::Facts;
use super::engines::{Container, Engine};
use crate::host::{DEFAULT_TIMEOUT, HostError};
use crate::parse::containerd::{self as parse, Bundle, ShimArgs, TaskLine};

/// A containerd daemon: where it keeps its data and listens, and how that was found.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// `None`: not seen running; its config file (or the defaults) placed it.
    pub pid: Option<u32>,
    pub root: String,
    pub state: String,
    pub address: String,
    /// Where root, state and address came from, for the evidence.
    pub located: String,
}

/// A running shim and the task it was started for.
#[derive(Debug, Clone)]
pub struct Shim {
    pub pid: u32,
    pub args: ShimArgs,
}

/// The containerd daemons and shims of the examined host.
#[derive(Debug, Clone, Default)]
pub struct Containerd {
    pub daemons: Vec<Daemon>,
    pub shims: Vec<Shim>,
}

impl Containerd {
    /// Reads containerd's processes (`containerd`, and shims: comm is cut to `containerd-shim`)
    /// and config files. Without a process table only the configured daemon is known.
    pub fn read(facts: &Facts) -> Containerd {
        let mut cz = Containerd::default();
        if let Ok(procs) = facts.processes() {
            for p in procs.iter() {
                let is_daemon = p.comm == "containerd";
                if !is_daemon && !p.comm.starts_with("containerd-shim") {
                    continue;
                }
                let Some(argv) = cmdline(facts, p.pid) else {
                    continue;
                };
                if is_daemon {
                    cz.daemons.push(daemon(facts, Some(p.pid), &argv));
                } else if let Some(args) = parse::shim_args(&argv) {
                    cz.shims.push(Shim { pid: p.pid, args });
                }
            }
        }
        // The configured daemon, for bundles no running daemon accounts for.
        let configured = daemon(facts, None, &["containerd".to_string()]);
        if !cz
            .daemons
            .iter()
            .any(|d| same_dir(&d.state, &configured.state))
        {
            cz.daemons.push(configured);
        }
        cz
    }

    /// The daemon whose state directory holds `bundle`.
    pub fn daemon_of(&self, bundle: &Bundle) -> Option<&Daemon> {
        self.daemons
            .iter()
            .find(|d| same_dir(&d.state, &bundle.state))
    }

    /// A running daemon whose root holds `path` (a snapshot directory), if any.
    pub fn running_daemon_with(&self, paths: &[&str]) -> Option<&Daemon> {
        self.daemons.iter().filter(|d| d.pid.is_some()).find(|d| {
            let root = format!("{}/", normal(&d.root).trim_end_matches('/'));
            paths.iter().any(|p| normal(p).starts_with(&root))
        })
    }
}

fn cmdline(facts: &Facts, pid: u32) -> Option<Vec<String>> {
    let raw = facts.read(&format!("/proc/{pid}/cmdline")).ok()?;
    let argv: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!argv.is_empty()).then_some(argv)
}

/// A daemon's root, state and socket: its flags, else its config file's, else the defaults.
fn daemon(facts: &Facts, pid: Option<u32>, argv: &[String]) -> Daemon {
    let args = parse::daemon_args(argv);
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| parse::DEFAULT_CONFIG.to_string());
    let (config, config_note) = match facts.read_text(&path) {
        Ok(text) => match parse::config(&text) {
            Ok(c) => (c, format!("config {path}")),
            Err(e) => (Default::default(), format!("config {path}: {e}")),
        },
        Err(HostError::NotFound(_)) => (Default::default(), format!("no config at {path}")),
        Err(e) => (Default::default(), format!("config {e}")),
    };
    let pick = |flag: &Option<String>, file: &Option<String>, default: &str| {
        flag.clone()
            .or_else(|| file.clone())
            .unwrap_or_else(|| default.to_string())
    };
    let root = pick(&args.root, &config.root, parse::DEFAULT_ROOT);
    let state = pick(&args.state, &config.state, parse::DEFAULT_STATE);
    let address = pick(&args.address, &config.address, parse::DEFAULT_ADDRESS);
    let who = match pid {
        Some(p) => format!("containerd pid {p}"),
        None => "containerd (not seen running)".into(),
    };
    Daemon {
        pid,
        located: format!("{who}: {config_note}; root {root}, state {state}, socket {address}"),
        root,
        state,
        address: address.trim_start_matches("unix://").to_string(),
    }
}

/// `/var/run` is `/run` on every current distribution.
fn normal(p: &str) -> String {
    p.strip_prefix("/var/run/")
        .map(|rest| format!("/run/{rest}"))
        .unwrap_or_else(|| p.to_string())
}

fn same_dir(a: &str, b: &str) -> bool {
    normal(a).trim_end_matches('/') == normal(b).trim_end_matches('/')
}

/// What became of a bundle's task.
#[derive(Debug, Clone)]
pub enum Task {
    /// A task containerd's processes or containerd itself account for (its state may be `None`:
    /// nothing could say).
    Known(Container),
    /// No task holds it any more: no shim serves the bundle and its init is gone, or containerd
    /// lists no such task. Why.
    Gone(String),
    /// containerd refused us: who owns it cannot be known. Why.
    Refused(String),
}

/// `ctr task ls` answers, per (socket, namespace), asked once per scan.
pub type Listings = HashMap<(String, String), Result<Vec<TaskLine>, Asked>>;

/// Why containerd could not list its tasks.
#[derive(Debug, Clone)]
pub enum Asked {
    Refused(String),
    Failed(String),
}

/// The task whose root is mounted at `bundle`'s rootfs, and its state.
pub fn task(facts: &Facts, cz: &Containerd, bundle: &Bundle, listings: &mut Listings) -> Task {
    let dir = &bundle.dir;
    let by_id = cz
        .shims
        .iter()
        .find(|s| s.args.namespace == bundle.namespace && s.args.id == bundle.id);
    let address = cz
        .daemon_of(bundle)
        .map(|d| d.address.clone())
        .or_else(|| by_id.and_then(|s| s.args.address.clone()));
    let name = facts
        .read_text(&format!("{dir}/config.json"))
        .ok()
        .and_then(|t| parse::task_name(&t))
        .unwrap_or_else(|| bundle.id.clone());
    let mut container = Container {
        engine: Engine::Containerd,
        id: bundle.id.clone(),
        name: format!("{}/{name}", bundle.namespace),
        state: None,
        source: String::new(),
        storage_root: None,
        runroot: None,
        namespace: Some(bundle.namespace.clone()),
        address: address.clone(),
    };
    let known = |mut c: Container, state: &str, source: String| {
        c.state = Some(state.to_string());
        c.source = source;
        Task::Known(c)
    };
    // Why the processes did not settle it, for the evidence when containerd cannot either.
    let mut unsettled = Vec::new();
    match facts.processes() {
        Ok(table) => {
            let shims: HashSet<u32> = cz.shims.iter().map(|s| s.pid).collect();
            let children = |pid: u32| -> Vec<u32> {
                table
                    .iter()
                    .filter(|p| p.ppid == pid && p.state != 'Z')
                    .map(|p| p.pid)
                    .collect()
            };
            let init = facts.read_text(&format!("{dir}/init.pid"));
            let init_pid = init
                .as_ref()
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            if let Some(pid) = init_pid
                && let Some(p) = table.get(pid)
                && p.state != 'Z'
                && shims.contains(&p.ppid)
            {
                return known(
                    container,
                    "running",
                    format!(
                        "{dir}/init.pid: pid {pid} ({}) runs, a child of containerd-shim pid {}",
                        p.comm, p.ppid
                    ),
                );
            }
            let init_gone = init_pid.is_some() || matches!(init, Err(HostError::NotFound(_)));
            if !init_gone {
                // Not root: the bundle is 0700. A shim's child in a cgroup named after the task
                // is its init (ctr: /NS/ID; Kubernetes: …/pod<uid>/ID or cri-containerd-ID.scope).
                for s in &cz.shims {
                    for c in children(s.pid) {
                        if in_cgroup_of(facts, c, &bundle.id) {
                            return known(
                                container,
                                "running",
                                format!(
                                    "pid {c}, a child of containerd-shim pid {}, is in a cgroup named after it",
                                    s.pid
                                ),
                            );
                        }
                    }
                }
                match &init {
                    Err(e) => unsettled.push(format!("its init is unknown ({e})")),
                    Ok(t) => unsettled.push(format!(
                        "{dir}/init.pid holds no pid: {:?}",
                        t.chars().take(20).collect::<String>()
                    )),
                }
            }
            // The shim that serves it: started for it, or named by the bundle's `address`.
            let socket = facts
                .read_text(&format!("{dir}/address"))
                .ok()
                .and_then(|a| a.trim().rsplit('/').next().map(str::to_string))
                .filter(|s| !s.is_empty());
            let by_socket = socket.as_ref().and_then(|name| {
                cz.shims.iter().find(|s| {
                    s.args.namespace == bundle.namespace
                        && s.args.address.as_deref().is_some_and(|a| {
                            parse::shim_socket_name(a, &s.args.namespace, &s.args.id) == *name
                        })
                })
            });
            match (by_id.or(by_socket), init_pid) {
                (Some(s), Some(pid)) if init_gone => {
                    container.address = container.address.or(s.args.address.clone());
                    return known(
                        container,
                        "stopped",
                        format!(
                            "containerd-shim pid {} serves it, but its init (pid {pid}, {dir}/init.pid) has exited: the task stopped and was not deleted",
                            s.pid
                        ),
                    );
                }
                (Some(s), _) if by_id.is_some() && children(s.pid).is_empty() => {
                    return known(
                        container,
                        "stopped",
                        format!(
                            "containerd-shim pid {} (-id {}) has no process left: the task stopped and was not deleted",
                            s.pid, bundle.id
                        ),
                    );
                }
                (Some(s), _) => unsettled.push(format!(
                    "containerd-shim pid {} serves it, but which of its processes is the task's is unknown",
                    s.pid
                )),
                (None, _) if socket.is_some() && init_gone && table.completeness.unreadable == 0 => {
                    let init = match init_pid {
                        Some(pid) => format!("its init (pid {pid}) has exited"),
                        None => "it has no init.pid".into(),
                    };
                    return Task::Gone(format!(
                        "no containerd-shim serves it (its bundle names shim socket {}) and {init}",
                        socket.unwrap_or_default()
                    ));
                }
                (None, _) => unsettled.push(if socket.is_some() {
                    "no containerd-shim seen for it, but not every process could be read".into()
                } else {
                    format!("no containerd-shim started for {}", bundle.id)
                }),
            }
        }
        Err(why) => unsettled.push(why.to_string()),
    }
    let Some(address) = address else {
        unsettled.push(format!(
            "no containerd known for state directory {}",
            bundle.state
        ));
        container.source = unsettled.join("; ");
        return Task::Known(container);
    };
    match listed(facts, &address, &bundle.namespace, listings) {
        Ok(tasks) => match tasks.iter().find(|t| t.id == bundle.id) {
            Some(t) if t.status == "unknown" => {
                unsettled.insert(
                    0,
                    format!(
                        "{}: status UNKNOWN (its shim does not answer)",
                        ctr_shown(&address, &bundle.namespace)
                    ),
                );
                container.source = unsettled.join("; ");
                Task::Known(container)
            }
            Some(t) => {
                let source = format!(
                    "{}: {}",
                    ctr_shown(&address, &bundle.namespace),
                    t.status.to_uppercase()
                );
                let status = t.status.clone();
                known(container, &status, source)
            }
            None => Task::Gone(format!(
                "containerd at {address} lists no task {} in namespace {}",
                bundle.id, bundle.namespace
            )),
        },
        Err(Asked::Refused(why)) => Task::Refused(why.clone()),
        Err(Asked::Failed(why)) => {
            unsettled.push(why.clone());
            container.source = unsettled.join("; ");
            Task::Known(container)
        }
    }
}

fn ctr_shown(address: &str, namespace: &str) -> String {
    format!("ctr --address {address} --namespace {namespace} task ls")
}

/// containerd's tasks in `namespace`: a plain connect first (the OS says "permission denied" or
/// "no such file" at once, where ctr would wait out its dial timeout), then `ctr task ls`.
fn listed<'a>(
    facts: &Facts,
    address: &str,
    namespace: &str,
    listings: &'a mut Listings,
) -> &'a Result<Vec<TaskLine>, Asked> {
    listings
        .entry((address.to_string(), namespace.to_string()))
        .or_insert_with(|| {
            match facts.connect(address) {
                Err(HostError::PermissionDenied(s)) => {
                    return Err(Asked::Refused(format!("permission denied on {s}")));
                }
                Err(HostError::NotFound(_)) => {
                    return Err(Asked::Failed(format!(
                        "containerd does not answer: no socket at {address}"
                    )));
                }
                Err(e) => return Err(Asked::Failed(format!("containerd does not answer: {e}"))),
                Ok(()) => {}
            }
            let argv = [
                "ctr",
                "--address",
                address,
                "--namespace",
                namespace,
                "--connect-timeout",
                "2s",
                "task",
                "ls",
            ];
            let shown = ctr_shown(address, namespace);
            match facts.run(&argv, DEFAULT_TIMEOUT) {
                Ok(out) if out.success() => parse::task_list(&out.stdout)
                    .map_err(|e| Asked::Failed(format!("{shown}: {e}"))),
                Ok(out) => Err(match parse::refused_socket(&out.stderr) {
                    Some(s) => Asked::Refused(format!("permission denied on {s}")),
                    None => {
                        Asked::Failed(format!("{shown}: {}", super::first_line(&out.stderr, 120)))
                    }
                }),
                Err(e) => Err(Asked::Failed(format!("{shown}: {e}"))),
            }
        })
}

/// Whether process `pid` is in a cgroup whose last component names task `id`.
fn in_cgroup_of(facts: &Facts, pid: u32, id: &str) -> bool {
    let Ok(text) = facts.read_text(&format!("/proc/{pid}/cgroup")) else {
        return false;
    };
    let suffix = format!("-{id}");
    text.lines().any(|l| {
        let path = l.splitn(3, ':').nth(2).unwrap_or("");
        let last = path.rsplit('/').next().unwrap_or("");
        let last = last.strip_suffix(".scope").unwrap_or(last);
        last == id || last.ends_with(&suffix)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Answer, Request, Script};

    const SOCK: &str = "/srv/cd/containerd.sock";
    const TASKS: &str = "/srv/cd/state/io.containerd.runtime.v2.task/default";

    /// A process (pid, ppid, comm, argv) as /proc shows it, in mount namespace 1.
    fn process(s: Script, pid: u32, ppid: u32, comm: &str, argv: &str) -> Script {
        s.file(
            &format!("/proc/{pid}/stat"),
            &format!(
                "{pid} ({comm}) S {ppid} 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {pid}00 0 0\n"
            ),
        )
        .file(&format!("/proc/{pid}/cmdline"), &argv.replace(' ', "\0"))
        .link(&format!("/proc/{pid}/ns/mnt"), "mnt:[4026531841]")
    }

    /// containerd 1.6.20 as a test started it (`--config` naming root, state and socket), with a
    /// shim started for task `web`, which also serves `side` (grouped with `--annotation
    /// io.containerd.runc.v2.group=web`): the layout seen on this machine.
    fn host(side_init_alive: bool) -> Script {
        let hash = parse::shim_socket_name(SOCK, "default", "web");
        let mut s = Script::new().file(
            "/srv/cd/config.toml",
            &format!("version = 2\nroot = \"/srv/cd/root\"\nstate = \"/srv/cd/state\"\n[grpc]\n  address = \"{SOCK}\"\n"),
        );
        s = process(s, 1, 0, "init", "/sbin/init");
        s = process(
            s,
            26,
            1,
            "containerd",
            "containerd --config /srv/cd/config.toml",
        );
        s = process(
            s,
            63,
            1,
            "containerd-shim",
            &format!("/usr/bin/containerd-shim-runc-v2 -namespace default -id web -address {SOCK}"),
        );
        s = process(s, 82, 63, "sleep", "sleep 600");
        if side_init_alive {
            s = process(s, 124, 63, "sleep", "sleep 600");
        }
        for (id, pid) in [("web", 82), ("side", 124)] {
            s = s
                .file(&format!("{TASKS}/{id}/init.pid"), &pid.to_string())
                .file(
                    &format!("{TASKS}/{id}/address"),
                    &format!("unix:///run/containerd/s/{hash}"),
                );
        }
        s
    }

    fn bundle(id: &str) -> Bundle {
        parse::bundle(&format!("{TASKS}/{id}/rootfs")).unwrap()
    }

    fn task_of(s: Script, id: &str) -> Task {
        let facts = Facts::of(s.host());
        let cz = Containerd::read(&facts);
        task(&facts, &cz, &bundle(id), &mut Listings::new())
    }

    fn state(t: &Task) -> (Option<String>, String) {
        match t {
            Task::Known(c) => (c.state.clone(), c.source.clone()),
            other => panic!("not known: {other:?}"),
        }
    }

    #[test]
    fn daemons_from_their_command_line_and_config() {
        let facts = Facts::of(host(true).host());
        let cz = Containerd::read(&facts);
        let d = cz.daemon_of(&bundle("web")).unwrap();
        assert_eq!(
            (d.pid, d.root.as_str(), d.address.as_str()),
            (Some(26), "/srv/cd/root", SOCK)
        );
        assert!(
            d.located.contains("config /srv/cd/config.toml"),
            "{}",
            d.located
        );
        // The configured default daemon is known too, not running.
        assert!(
            cz.daemons
                .iter()
                .any(|d| d.pid.is_none() && d.state == "/run/containerd")
        );
        assert_eq!(cz.shims.len(), 1);
    }

    #[test]
    fn running_tasks_from_init_pid_under_a_shim_grouped_or_not() {
        for id in ["web", "side"] {
            let (s, source) = state(&task_of(host(true), id));
            assert_eq!(s.as_deref(), Some("running"), "{id}: {source}");
            assert!(
                source.contains("a child of containerd-shim pid 63"),
                "{source}"
            );
        }
    }

    #[test]
    fn a_grouped_task_whose_init_exited_is_stopped_through_its_shims_socket() {
        let t = task_of(host(false), "side");
        let (s, source) = state(&t);
        assert_eq!(s.as_deref(), Some("stopped"), "{source}");
        assert!(
            source.contains("containerd-shim pid 63 serves it"),
            "{source}"
        );
        let Task::Known(c) = t else { unreachable!() };
        assert_eq!(c.address.as_deref(), Some(SOCK));
        assert_eq!(c.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn no_shim_and_no_init_is_a_task_gone() {
        // The shim was killed while something held the root: containerd's cleanup could not
        // unmount it ("failed to cleanup rootfs mount … device or resource busy").
        let mut s = Script::new();
        s = process(s, 1, 0, "init", "/sbin/init");
        let hash = parse::shim_socket_name(SOCK, "default", "web");
        s = s.file(&format!("{TASKS}/web/init.pid"), "86").file(
            &format!("{TASKS}/web/address"),
            &format!("unix:///run/containerd/s/{hash}"),
        );
        match task_of(s, "web") {
            Task::Gone(why) => assert!(
                why.contains("no containerd-shim serves it") && why.contains("pid 86"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
    }

    /// Not root: the bundle (0700) is unreadable.
    fn not_root(side_cgroup: &str) -> Script {
        let mut s = host(true);
        for id in ["web", "side"] {
            for f in ["init.pid", "address", "config.json"] {
                let p = format!("{TASKS}/{id}/{f}");
                s = s.answer(
                    Request::Read(p.clone()),
                    Err(HostError::PermissionDenied(p)),
                );
            }
        }
        s.file("/proc/82/cgroup", "12:pids:/default/web\n0::/\n")
            .file("/proc/124/cgroup", &format!("12:pids:{side_cgroup}\n"))
            .euid(65534)
    }

    #[test]
    fn not_root_a_shim_child_in_the_tasks_cgroup_is_its_init() {
        let (s, source) = state(&task_of(not_root("/default/side"), "side"));
        assert_eq!(s.as_deref(), Some("running"), "{source}");
        assert!(
            source.contains("pid 124, a child of containerd-shim pid 63"),
            "{source}"
        );
        // Kubernetes' systemd cgroup driver names it cri-containerd-ID.scope.
        let k8s = not_root("/kubepods.slice/kubepods-pod1.slice/cri-containerd-side.scope");
        assert_eq!(state(&task_of(k8s, "side")).0.as_deref(), Some("running"));
    }

    #[test]
    fn not_root_a_refusing_socket_leaves_the_owner_unknown() {
        let s = not_root("/elsewhere").answer(
            Request::Connect(SOCK.into()),
            Err(HostError::PermissionDenied(SOCK.into())),
        );
        match task_of(s, "side") {
            Task::Refused(why) => assert_eq!(why, format!("permission denied on {SOCK}")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ctr_settles_what_processes_cannot() {
        let ctr = [
            "ctr",
            "--address",
            SOCK,
            "--namespace",
            "default",
            "--connect-timeout",
            "2s",
            "task",
            "ls",
        ];
        let asked = |out: &str| {
            not_root("/elsewhere")
                .answer(Request::Connect(SOCK.into()), Ok(Answer::Connected))
                .command(&ctr, 0, out, "")
        };
        let (s, source) = state(&task_of(
            asked("TASK PID STATUS\nside 124 PAUSED\n"),
            "side",
        ));
        assert_eq!(s.as_deref(), Some("paused"));
        assert!(source.starts_with(&format!(
            "ctr --address {SOCK} --namespace default task ls: PAUSED"
        )));
        match task_of(asked("TASK PID STATUS\nweb 82 RUNNING\n"), "side") {
            Task::Gone(why) => assert!(why.contains("lists no task side"), "{why}"),
            other => panic!("{other:?}"),
        }
        // ctr refused where the plain connect was let in (an LSM, say): still refused.
        let refused = not_root("/elsewhere")
            .answer(Request::Connect(SOCK.into()), Ok(Answer::Connected))
            .command(&ctr, 1, "", &format!("ctr: failed to dial \"{SOCK}\": connection error: desc = \"transport: error while dialing: dial unix {SOCK}: connect: permission denied\""));
        assert!(matches!(task_of(refused, "side"), Task::Refused(_)));
    }

    #[test]
    fn without_processes_or_containerd_the_state_is_unknown() {
        // A --root tree of files: no /proc, no socket, no ctr; the default config's state dir.
        let s = Script::new().file(
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/7d08/init.pid",
            "82",
        );
        let facts = Facts::of(s.host());
        let cz = Containerd::read(&facts);
        let b = parse::bundle("/run/containerd/io.containerd.runtime.v2.task/k8s.io/7d08/rootfs")
            .unwrap();
        let (st, source) = state(&task(&facts, &cz, &b, &mut Listings::new()));
        assert_eq!(st, None);
        assert!(source.contains("cannot list processes"), "{source}");
        assert!(
            source.contains(
                "containerd does not answer: no socket at /run/containerd/containerd.sock"
            ),
            "{source}"
        );
        // A state dir no containerd is known for: not asked at all.
        let s = Script::new().file(&format!("{TASKS}/web/init.pid"), "82");
        let (st, source) = state(&task_of(s, "web"));
        assert_eq!(st, None);
        assert!(
            source.ends_with("no containerd known for state directory /srv/cd/state"),
            "{source}"
        );
    }
}
