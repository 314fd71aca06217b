//! containerd's own words, read without its gRPC API: the daemon's and its shims' command lines,
//! its config file (`root`, `state`, `[grpc] address`), where it puts a task's bundle and rootfs,
//! and `ctr task ls`. Layouts as containerd 1.6–2.x write them (runtime/v2/bundle.go,
//! runtime/v2/runc/manager, cmd/containerd/command/main.go, defaults/defaults_unix.go).

use sha2::{Digest, Sha256};

/// containerd's defaults when neither its command line nor its config names another.
pub const DEFAULT_ROOT: &str = "/var/lib/containerd";
pub const DEFAULT_STATE: &str = "/run/containerd";
pub const DEFAULT_ADDRESS: &str = "/run/containerd/containerd.sock";
pub const DEFAULT_CONFIG: &str = "/etc/containerd/config.toml";

/// A command line as Go's `flag` package reads it (containerd, its shims): `-name value`,
/// `--name value`, `-name=value`, `--name=value`, up to the first argument that is not a flag
/// (a subcommand: `containerd config dump`, `containerd-shim-runc-v2 … delete`).
struct GoArgs {
    flags: Vec<(String, String)>,
    /// The first argument after the flags, if any.
    action: Option<String>,
}

impl GoArgs {
    /// `bools` take no value.
    fn parse(argv: &[String], bools: &[&str]) -> GoArgs {
        let mut out = GoArgs {
            flags: Vec::new(),
            action: None,
        };
        let mut i = 1;
        while i < argv.len() {
            let a = argv[i].as_str();
            i += 1;
            if a == "--" {
                out.action = argv.get(i).cloned();
                break;
            }
            let Some(flag) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
                out.action = Some(a.to_string());
                break;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            if bools.contains(&name) {
                continue;
            }
            let Some(value) = inline.or_else(|| argv.get(i).cloned()) else {
                break;
            };
            if !a.contains('=') {
                i += 1;
            }
            out.flags.push((name.to_string(), value));
        }
        out
    }

    /// The value of the last of `names` given (Go keeps the last).
    fn get(&self, names: &[&str]) -> Option<String> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, v)| v.clone())
    }
}

/// What a running containerd's command line says (`containerd --config F --root R --state S
/// --address A`, with `-c` and `-a` for short; urfave/cli reads flags as Go does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonArgs {
    pub config: Option<String>,
    pub root: Option<String>,
    pub state: Option<String>,
    pub address: Option<String>,
}

/// containerd's boolean flags (`--version`, `--help`), which take no value.
const DAEMON_BOOLS: &[&str] = &["v", "version", "h", "help"];

pub fn daemon_args(argv: &[String]) -> DaemonArgs {
    let args = GoArgs::parse(argv, DAEMON_BOOLS);
    let get = |names: &[&str]| args.get(names);
    DaemonArgs {
        config: get(&["config", "c"]),
        root: get(&["root"]),
        state: get(&["state"]),
        address: get(&["address", "a"]),
    }
}

/// The settings of containerd's config file that place its data and socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub root: Option<String>,
    pub state: Option<String>,
    pub address: Option<String>,
}

/// `root`, `state` and `[grpc] address` of a config.toml (versions 1–3 keep them at the top).
/// Not TOML: the error containerd would refuse to start with.
pub fn config(text: &str) -> Result<Config, String> {
    let v: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        format!("not TOML: {}", e.message().lines().next().unwrap_or(""))
    })?;
    let string = |v: Option<&toml::Value>| v.and_then(toml::Value::as_str).map(str::to_string);
    Ok(Config {
        root: string(v.get("root")),
        state: string(v.get("state")),
        address: string(v.get("grpc").and_then(|g| g.get("address"))),
    })
}

/// A serving shim: `containerd-shim-runc-v2 -namespace NS -id ID -address A` (runtime v2), or
/// the v1 `containerd-shim -namespace NS -workdir ROOT/io.containerd.runtime.v1.linux/NS/ID
/// -address A …`, whose id is its work directory's name. The same binary run with an action
/// (`start`, or `delete`: containerd cleaning up after a dead shim) serves nothing: `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimArgs {
    pub namespace: String,
    pub id: String,
    /// containerd's socket, as the shim was given it.
    pub address: Option<String>,
}

const SHIM_BOOLS: &[&str] = &["debug", "systemd-cgroup", "v", "version"];

pub fn shim_args(argv: &[String]) -> Option<ShimArgs> {
    let args = GoArgs::parse(argv, SHIM_BOOLS);
    if args.action.is_some() {
        return None;
    }
    let get = |name: &str| args.get(&[name]).filter(|v| !v.is_empty());
    let id = get("id").or_else(|| {
        get("workdir").and_then(|w| {
            w.trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_string)
        })
    })?;
    Some(ShimArgs {
        namespace: get("namespace")?,
        id,
        address: get("address"),
    })
}

/// The runtime directories under containerd's state dir that hold one bundle per task.
pub const RUNTIME_V2: &str = "io.containerd.runtime.v2.task";
pub const RUNTIME_V1: &str = "io.containerd.runtime.v1.linux";

/// A task's bundle, as a rootfs mount point names it:
/// `STATE/io.containerd.runtime.v2.task/NS/ID/rootfs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The state directory above the runtime directory (the v1 runtime's is under `/run` too).
    pub state: String,
    pub namespace: String,
    pub id: String,
    /// The bundle directory (config.json, init.pid, address, rootfs).
    pub dir: String,
    pub v1: bool,
}

/// The task whose root filesystem is mounted at `mount_point`, if it is a bundle's `rootfs`.
/// Namespace and id must be containerd identifiers (identifiers.Validate), so a path someone
/// chose is not taken for a task.
pub fn bundle(mount_point: &str) -> Option<Bundle> {
    let dir = mount_point.strip_suffix("/rootfs")?;
    let (rest, id) = dir.rsplit_once('/')?;
    let (rest, namespace) = rest.rsplit_once('/')?;
    let (state, runtime) = rest.rsplit_once('/')?;
    let v1 = match runtime {
        RUNTIME_V2 => false,
        RUNTIME_V1 => true,
        _ => return None,
    };
    (identifier(namespace) && identifier(id)).then(|| Bundle {
        state: state.to_string(),
        namespace: namespace.to_string(),
        id: id.to_string(),
        dir: dir.to_string(),
        v1,
    })
}

/// containerd's identifiers: alphanumerics separated by single `.`, `_` or `-`, at most 76.
pub fn identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 76
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.windows(2)
            .all(|w| w.iter().any(u8::is_ascii_alphanumeric))
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Whether `mount_point` is one of containerd's temporary mounts (mount.WithTempMount: image
/// unpack, diff, volume copy): `containerd-mount<random>` in its tmpmounts dir (1.7+) or $TMPDIR.
pub fn temp_mount(mount_point: &str) -> bool {
    mount_point
        .rsplit('/')
        .next()
        .and_then(|name| name.strip_prefix("containerd-mount"))
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit()))
}

/// The shim socket's name for a shim serving `id` in `namespace` of the containerd at `address`
/// (shim.SocketAddress: sha256 of the joined path). A bundle's `address` file names the socket of
/// the shim that serves it, which in a CRI pod is the sandbox's shim, not one with its own id.
pub fn shim_socket_name(address: &str, namespace: &str, id: &str) -> String {
    let joined = format!("{}/{namespace}/{id}", address.trim_end_matches('/'));
    Sha256::digest(joined.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One line of `ctr task ls`: `TASK  PID  STATUS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    pub id: String,
    pub pid: u32,
    /// RUNNING, STOPPED, PAUSED, CREATED, PAUSING, UNKNOWN, lowercased.
    pub status: String,
}

/// `ctr task ls`: a header, then one task a line. Lines that do not fit are skipped; an output
/// without the header is not ctr's.
pub fn task_list(text: &str) -> Result<Vec<TaskLine>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    match lines
        .next()
        .map(|h| h.split_whitespace().collect::<Vec<_>>())
    {
        Some(h) if h == ["TASK", "PID", "STATUS"] => {}
        _ => {
            return Err(format!(
                "not a task list: {:?}",
                text.lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(60)
                    .collect::<String>()
            ));
        }
    }
    Ok(lines
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (id, pid, status) = (f.next()?, f.next()?, f.next()?);
            Some(TaskLine {
                id: id.to_string(),
                pid: pid.parse().ok()?,
                status: status.to_lowercase(),
            })
        })
        .collect())
}

/// Where ctr says it could not reach containerd because the socket refused it:
/// `dial unix /run/containerd/containerd.sock: connect: permission denied` → the socket.
pub fn refused_socket(stderr: &str) -> Option<String> {
    let at = stderr.find("connect: permission denied")?;
    let before = stderr[..at].trim_end_matches([':', ' ']);
    let socket = before.rsplit_once("dial unix ")?.1;
    Some(socket.trim_start_matches("unix://").to_string())
}

/// A human name for a task from its bundle's config.json annotations: nerdctl's `nerdctl/name`,
/// or CRI's pod namespace/pod name/container name (the sandbox itself: "pod sandbox").
pub fn task_name(config_json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(config_json).ok()?;
    let a = v.get("annotations")?;
    let get = |k: &str| a.get(k).and_then(serde_json::Value::as_str);
    if let Some(n) = get("nerdctl/name") {
        return Some(n.to_string());
    }
    let pod = match (
        get("io.kubernetes.cri.sandbox-namespace"),
        get("io.kubernetes.cri.sandbox-name"),
    ) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.to_string(),
        _ => return None,
    };
    Some(match get("io.kubernetes.cri.container-type") {
        Some("sandbox") => format!("{pod} (pod sandbox)"),
        _ => match get("io.kubernetes.cri.container-name") {
            Some(c) => format!("{pod}/{c}"),
            None => pod,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn daemon_flags_as_go_reads_them() {
        let a = daemon_args(&argv(
            "/usr/bin/containerd --config /etc/c.toml -root=/srv/root --state /srv/run -a /srv/c.sock --log-level warn",
        ));
        assert_eq!(a.config.as_deref(), Some("/etc/c.toml"));
        assert_eq!(a.root.as_deref(), Some("/srv/root"));
        assert_eq!(a.state.as_deref(), Some("/srv/run"));
        assert_eq!(a.address.as_deref(), Some("/srv/c.sock"));
        // dockerd's managed containerd: `--config` only.
        let d = daemon_args(&argv(
            "containerd --config /var/run/docker/containerd/containerd.toml",
        ));
        assert_eq!(
            d,
            DaemonArgs {
                config: Some("/var/run/docker/containerd/containerd.toml".into()),
                ..Default::default()
            }
        );
        assert_eq!(daemon_args(&argv("containerd")), DaemonArgs::default());
        // The last one wins; a subcommand ends the flags.
        let l = daemon_args(&argv("containerd -c /a -c=/b config dump --root /x"));
        assert_eq!((l.config.as_deref(), l.root), (Some("/b"), None));
    }

    #[test]
    fn config_places_root_state_and_socket() {
        let c = config(
            "version = 2\nroot = \"/data/containerd\"\nstate = \"/run/c2\"\n[grpc]\n  address = \"/run/c2/c.sock\"\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.9\"\n",
        )
        .unwrap();
        assert_eq!(c.root.as_deref(), Some("/data/containerd"));
        assert_eq!(c.state.as_deref(), Some("/run/c2"));
        assert_eq!(c.address.as_deref(), Some("/run/c2/c.sock"));
        assert_eq!(config("").unwrap(), Config::default());
        assert!(config("root = [").unwrap_err().starts_with("not TOML"));
        // A value of the wrong type is no value.
        assert_eq!(config("root = 3").unwrap().root, None);
    }

    #[test]
    fn shims_of_both_runtimes() {
        let v2 = shim_args(&argv(
            "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id 7d08 -address /run/containerd/containerd.sock",
        ))
        .unwrap();
        assert_eq!((v2.namespace.as_str(), v2.id.as_str()), ("k8s.io", "7d08"));
        assert_eq!(
            v2.address.as_deref(),
            Some("/run/containerd/containerd.sock")
        );
        let debug = shim_args(&argv(
            "containerd-shim-runc-v2 -namespace default -id web -address /a.sock -debug",
        ))
        .unwrap();
        assert_eq!(debug.id, "web");
        // Docker 19's v1 shim: the id is its work directory's name.
        let v1 = shim_args(&argv(
            "containerd-shim -namespace moby -workdir /var/lib/containerd/io.containerd.runtime.v1.linux/moby/0b14 -address /run/containerd/containerd.sock -containerd-binary /usr/bin/containerd -runtime-root /var/run/docker/runtime-runc -systemd-cgroup",
        ))
        .unwrap();
        assert_eq!((v1.namespace.as_str(), v1.id.as_str()), ("moby", "0b14"));
        assert!(shim_args(&argv("containerd-shim-runc-v2 -v")).is_none());
        // containerd cleaning up after a dead shim runs the binary with `delete`: it serves
        // nothing (seen while containerd 1.6.20 retried a busy rootfs unmount).
        assert!(shim_args(&argv(
            "/usr/bin/containerd-shim-runc-v2 -namespace default -address /a.sock -publish-binary /usr/bin/containerd -id lost -bundle /s/default/lost delete",
        ))
        .is_none());
        assert!(shim_args(&argv("containerd-shim-runc-v2 -namespace x")).is_none());
    }

    #[test]
    fn bundles_from_rootfs_mount_points() {
        // As in opencontainers/runc#2404 (a Kubernetes node) and k3d-io/k3d#48 (k3s, runtime v1).
        let b =
            bundle("/run/containerd/io.containerd.runtime.v2.task/k8s.io/7d0849b8/rootfs").unwrap();
        assert_eq!(b.state, "/run/containerd");
        assert_eq!(
            (b.namespace.as_str(), b.id.as_str(), b.v1),
            ("k8s.io", "7d0849b8", false)
        );
        assert_eq!(
            b.dir,
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/7d0849b8"
        );
        let k3s =
            bundle("/run/k3s/containerd/io.containerd.runtime.v1.linux/k8s.io/0b14fd09/rootfs")
                .unwrap();
        assert!(k3s.v1);
        assert_eq!(k3s.state, "/run/k3s/containerd");
        for not in [
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/7d08",
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/../rootfs",
            "/srv/other/k8s.io/7d08/rootfs",
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/a b/rootfs",
            "rootfs",
        ] {
            assert!(bundle(not).is_none(), "{not}");
        }
    }

    #[test]
    fn identifiers() {
        for ok in [
            "default",
            "k8s.io",
            "a",
            "web-1",
            "a_b.c-d",
            &"a".repeat(76),
        ] {
            assert!(identifier(ok), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "a b",
            "..",
            "a/b",
            &"a".repeat(77),
            "a\nb",
        ] {
            assert!(!identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn temp_mounts() {
        assert!(temp_mount(
            "/var/lib/containerd/tmpmounts/containerd-mount2863019152"
        ));
        assert!(temp_mount("/tmp/containerd-mount12"));
        assert!(!temp_mount("/tmp/containerd-mount"));
        assert!(!temp_mount("/tmp/containerd-mountx"));
    }

    #[test]
    fn shim_socket_names() {
        // Observed: containerd 1.6.20 at /tmp/cdx/b.XHHe/containerd.sock wrote this address for
        // task `web` in namespace `default` and for the task grouped with it.
        assert_eq!(
            shim_socket_name("/tmp/cdx/b.XHHe/containerd.sock", "default", "web"),
            "550c17895df4ad40892b51d749da90749a38c1e4d155ca3f59d98f9e3a994dfb"
        );
    }

    #[test]
    fn ctr_task_lists() {
        // ctr 1.6.20's tabwriter output, trailing spaces included.
        let t = task_list(
            "TASK    PID    STATUS    \nweb     82     RUNNING\nside    124    STOPPED\n",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[1].id.as_str(), t[1].pid, t[1].status.as_str()),
            ("side", 124, "stopped")
        );
        assert_eq!(task_list("TASK    PID    STATUS    \n").unwrap(), vec![]);
        assert!(task_list("").is_err());
        assert!(task_list("\u{0}\u{1}garbage").is_err());
    }

    #[test]
    fn refusals_in_ctr_errors() {
        let e = "ctr: failed to dial \"/srv/c.sock\": connection error: desc = \"transport: error while dialing: dial unix /srv/c.sock: connect: permission denied\"";
        assert_eq!(refused_socket(e).as_deref(), Some("/srv/c.sock"));
        assert_eq!(refused_socket("ctr: context deadline exceeded"), None);
    }

    #[test]
    fn names_from_annotations() {
        let cri = r#"{"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"coredns","io.kubernetes.cri.sandbox-name":"coredns-5d78c9869d-x7","io.kubernetes.cri.sandbox-namespace":"kube-system"}}"#;
        assert_eq!(
            task_name(cri).as_deref(),
            Some("kube-system/coredns-5d78c9869d-x7/coredns")
        );
        let sandbox = r#"{"annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-name":"web-0","io.kubernetes.cri.sandbox-namespace":"default"}}"#;
        assert_eq!(
            task_name(sandbox).as_deref(),
            Some("default/web-0 (pod sandbox)")
        );
        assert_eq!(
            task_name(r#"{"annotations":{"nerdctl/name":"db"}}"#).as_deref(),
            Some("db")
        );
        assert_eq!(task_name(r#"{"ociVersion":"1.0.2"}"#), None);
        assert_eq!(task_name("not json"), None);
    }
}
