//! The host summary at the top of every report: which machine, which kernel, which view.

use serde::{Deserialize, Serialize};

use crate::checks;
use crate::facts::Facts;
use crate::host::SourceKind;
use crate::parse::mountinfo;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostSummary {
    pub hostname: Option<String>,
    pub kernel: Option<String>,
    /// PRETTY_NAME from os-release.
    pub os: Option<String>,
    /// The cgroup mode: `v1`, `hybrid` or `v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// `live`, `root:DIR`, or `bundle:FILE`.
    pub source: String,
    /// Whether the doctor runs as root (what it may read, not what the host is).
    pub root: bool,
    /// The container the examined system runs in, judged from its PID and user namespaces;
    /// `None` when it is not in one, or when that cannot be seen.
    pub container: Option<String>,
    /// When the doctor runs live inside a container: the checks that sees less than the host.
    #[serde(default)]
    pub container_limits: Vec<ContainerLimit>,
}

/// A check whose view a container narrows, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerLimit {
    pub check: String,
    pub why: String,
}

impl HostSummary {
    /// Every string of the summary, for redaction.
    pub fn texts_mut(&mut self) -> Vec<&mut String> {
        let mut out: Vec<&mut String> = [
            &mut self.hostname,
            &mut self.kernel,
            &mut self.os,
            &mut self.cgroup,
            &mut self.container,
        ]
        .into_iter()
        .flatten()
        .collect();
        out.push(&mut self.source);
        for l in &mut self.container_limits {
            out.extend([&mut l.check, &mut l.why]);
        }
        out
    }

    pub fn gather(host: &Facts) -> Self {
        let line = |p: &str| {
            host.read_text(p)
                .ok()
                .map(|t| t.lines().next().unwrap_or("").trim().to_string())
                .filter(|s| !s.is_empty())
        };
        // The hostname under /proc is the reader's UTS namespace: under --root that is ours, so
        // the examined system's own file comes first there.
        let hostname = if host.is_live() {
            line("/proc/sys/kernel/hostname").or_else(|| line("/etc/hostname"))
        } else {
            line("/etc/hostname").or_else(|| line("/proc/sys/kernel/hostname"))
        };
        let container = container(host);
        let container_limits = match container {
            Some(_) if host.is_live() => checks::ALL
                .iter()
                .filter_map(|c| {
                    c.in_container.map(|why| ContainerLimit {
                        check: c.id.into(),
                        why: why.into(),
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        HostSummary {
            hostname,
            kernel: line("/proc/sys/kernel/osrelease"),
            os: host.os_release().pretty_name.clone(),
            cgroup: host.cgroups().ok().map(|l| l.mode.to_string()),
            source: match (host.replayed_from(), host.kind()) {
                (Some(bundle), _) => format!("bundle:{bundle}"),
                (None, SourceKind::Live) => "live".into(),
                (None, SourceKind::Root(p)) => format!("root:{}", p.display()),
            },
            root: host.euid() == 0,
            container,
            container_limits,
        }
    }
}

/// The inodes of the initial namespaces (PROC_PID_INIT_INO, PROC_USER_INIT_INO in the kernel).
const INITIAL_NS: &[(&str, &str)] = &[("pid", "pid:[4026531836]"), ("user", "user:[4026531837]")];

/// In a container when PID 1 (live: we) sits outside the initial PID or user namespace, or when
/// PID 1 says so in `container=` (systemd's convention). Engine marker files only name the engine:
/// a VM image built from a Docker image keeps /.dockerenv without being a container.
fn container(host: &Facts) -> Option<String> {
    let environ = host.read("/proc/1/environ").ok();
    if let Some(name) = environ.as_deref().and_then(|env| {
        env.split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"container="))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }) {
        return Some(name);
    }
    let who = if host.is_live() { "self" } else { "1" };
    let namespaced = INITIAL_NS.iter().any(|(ns, initial)| {
        host.read_link(&format!("/proc/{who}/ns/{ns}"))
            .is_ok_and(|link| link != *initial)
    });
    let engine = if host.read("/.dockerenv").is_ok() {
        Some("docker")
    } else if host.read("/run/.containerenv").is_ok() {
        Some("podman")
    } else {
        None
    };
    // `--pid host` keeps the initial PID namespace; the container still has a root filesystem of
    // its own, which with an engine's marker file tells it apart from a VM with a stale marker
    // (a private mount namespace alone, as `unshare -m` or systemd's PrivateTmp make, keeps it).
    // mountinfo is readable without ptrace rights over PID 1, unlike /proc/1/root.
    // Our own table is the fact layer's (read once per scan: it may hold thousands of mounts).
    let own_root = || {
        let ours = host.mount_table().ok()?.at("/")?;
        let init = mountinfo::parse(&host.read_text("/proc/1/mountinfo").ok()?);
        let init = init.at("/")?;
        Some((ours.major, ours.minor, &ours.root) != (init.major, init.minor, &init.root))
    };
    match (namespaced, engine) {
        (true, engine) => Some(engine.unwrap_or("unknown engine").into()),
        (false, Some(engine)) if host.is_live() && own_root() == Some(true) => Some(engine.into()),
        _ => None,
    }
}
