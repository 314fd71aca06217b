//! The fact layer: what several checks need, read once per scan through the Host, each fact saying
//! how complete it is. Checks ask a [`Facts`] (which derefs to its [`Host`] for anything else), so
//! the process table is walked once, not by every check that needs it, and a check turns partial
//! facts into *unknown* the same way everywhere.

mod cgroups;
pub mod containerd;
pub mod engines;
mod mounts;
mod os_release;
mod processes;
mod tools;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use cgroups::{Hierarchy, Layout as CgroupLayout};
pub use mounts::{MountNamespaces, NsTable};
pub use os_release::{Family, OsRelease};
pub use processes::{Completeness, Process, ProcessTable, ns_inode};
pub use tools::{Package, Tool};

use crate::host::{CommandOutput, Host, HostError};
use crate::parse::kernel::{self, KernelRelease};
use crate::parse::mountinfo::{self, MountTable};

/// What one binary's `--version` printed, once asked.
type VersionCell = OnceLock<Result<CommandOutput, HostError>>;

/// One scan's facts. Cheap to make; each fact is read the first time a check asks for it.
pub struct Facts {
    host: Arc<Host>,
    kernel: OnceLock<Result<KernelRelease, String>>,
    os_release: OnceLock<OsRelease>,
    mount_table: OnceLock<Result<MountTable, HostError>>,
    namespaces: OnceLock<Result<MountNamespaces, String>>,
    processes: OnceLock<Result<ProcessTable, String>>,
    cgroups: OnceLock<Result<CgroupLayout, String>>,
    tools: Mutex<HashMap<String, Option<Tool>>>,
    dpkg_status: OnceLock<Option<String>>,
    versions: Mutex<HashMap<String, Arc<VersionCell>>>,
    conmons: OnceLock<Vec<engines::Conmon>>,
    docker: OnceLock<Result<Vec<engines::DockerContainer>, HostError>>,
    containerd: OnceLock<containerd::Containerd>,
}

impl std::ops::Deref for Facts {
    type Target = Host;

    fn deref(&self) -> &Host {
        &self.host
    }
}

impl Facts {
    pub fn new(host: Arc<Host>) -> Self {
        Facts {
            host,
            kernel: OnceLock::new(),
            os_release: OnceLock::new(),
            mount_table: OnceLock::new(),
            namespaces: OnceLock::new(),
            processes: OnceLock::new(),
            cgroups: OnceLock::new(),
            tools: Mutex::new(HashMap::new()),
            dpkg_status: OnceLock::new(),
            versions: Mutex::new(HashMap::new()),
            conmons: OnceLock::new(),
            docker: OnceLock::new(),
            containerd: OnceLock::new(),
        }
    }

    /// The facts of a Host of their own.
    pub fn of(host: Host) -> Self {
        Facts::new(Arc::new(host))
    }

    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// The kernel release of the examined host, from /proc/sys/kernel/osrelease, else
    /// /proc/version. The error is the reason, ready for an `unknown`.
    pub fn kernel(&self) -> Result<&KernelRelease, &str> {
        self.kernel
            .get_or_init(|| kernel_release(&self.host))
            .as_ref()
            .map_err(String::as_str)
    }

    /// /etc/os-release (else /usr/lib/os-release) of the examined system.
    pub fn os_release(&self) -> &OsRelease {
        self.os_release.get_or_init(|| OsRelease::read(&self.host))
    }

    /// The mount table the examined system sees: ours live, PID 1's under `--root`. An empty
    /// table, or one with no valid line, is an error: no check may judge mounts from it.
    pub fn mount_table(&self) -> Result<&MountTable, &HostError> {
        self.mount_table
            .get_or_init(|| mount_table(&self.host))
            .as_ref()
    }

    /// Every process of the examined system: pid, parent, state, name, start time, mount
    /// namespace; with how many could not be read.
    pub fn processes(&self) -> Result<&ProcessTable, &str> {
        self.processes
            .get_or_init(|| ProcessTable::read(&self.host))
            .as_ref()
            .map_err(String::as_str)
    }

    /// The mount table of every mount namespace that has a process (the host's first), with
    /// how many namespaces could not be read.
    pub fn namespaces(&self) -> Result<&MountNamespaces, &str> {
        self.namespaces
            .get_or_init(|| MountNamespaces::read(self))
            .as_ref()
            .map_err(String::as_str)
    }

    /// Where the cgroup hierarchies are mounted and which mode that makes (v1, hybrid, v2).
    pub fn cgroups(&self) -> Result<&CgroupLayout, &str> {
        self.cgroups
            .get_or_init(|| cgroups::read(&self.host, self.mount_table()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// conmon processes: one per running Podman or CRI-O container, with its storage.
    pub fn conmons(&self) -> &[engines::Conmon] {
        self.conmons.get_or_init(|| engines::conmons(self))
    }

    /// containerd's daemons (where each keeps its data and listens) and its shims.
    pub fn containerd(&self) -> &containerd::Containerd {
        self.containerd
            .get_or_init(|| containerd::Containerd::read(self))
    }

    /// Docker's containers with their state and merged directories, from the Engine API.
    pub fn docker_containers(&self) -> Result<&[engines::DockerContainer], &HostError> {
        self.docker
            .get_or_init(|| engines::docker_containers(&self.host))
            .as_ref()
            .map(Vec::as_slice)
    }

    /// Where `name` is installed (first executable on $PATH, then the usual sbin and bin
    /// directories), and under `--root` the package that owns it.
    /// dpkg's database of installed packages (`/var/lib/dpkg/status`, most of a megabyte):
    /// read once, however many tools ask who installed them.
    fn dpkg_status(&self) -> Option<&str> {
        self.dpkg_status
            .get_or_init(|| self.host.read_text(tools::DPKG_STATUS).ok())
            .as_deref()
    }

    /// What `path --version` prints, asked once per scan: criu-version and runtime-versions both
    /// want CRIU's, and one answer (run now or remembered) keeps their evidence, and a bundle's
    /// replay, the same.
    pub fn tool_version(&self, path: &str) -> Result<CommandOutput, HostError> {
        // One cell per binary, filled by whichever check asks first while the other waits.
        let cell = match self.versions.lock() {
            Ok(mut known) => known.entry(path.to_string()).or_default().clone(),
            Err(_) => Arc::new(OnceLock::new()),
        };
        cell.get_or_init(|| self.host.run_version(path, crate::host::DEFAULT_TIMEOUT))
            .clone()
    }

    pub fn find_tool(&self, name: &str) -> Option<Tool> {
        if let Ok(tools) = self.tools.lock()
            && let Some(found) = tools.get(name)
        {
            return found.clone();
        }
        let found = Tool::find(self, name);
        if let Ok(mut tools) = self.tools.lock() {
            tools.insert(name.to_string(), found.clone());
        }
        found
    }
}

fn kernel_release(host: &Host) -> Result<KernelRelease, String> {
    let osrelease = host.read_text("/proc/sys/kernel/osrelease");
    if let Some(k) = osrelease.as_deref().ok().and_then(kernel::parse_release) {
        return Ok(k);
    }
    match host.read_text("/proc/version") {
        Ok(v) => kernel::find_release(&v).ok_or_else(|| {
            format!(
                "cannot parse a kernel release in /proc/version: {:?}",
                first_line(&v, 80)
            )
        }),
        Err(e) => Err(match osrelease {
            Err(first) => format!("{first}; {e}"),
            Ok(t) => format!("cannot parse kernel release {:?}; {e}", first_line(&t, 80)),
        }),
    }
}

fn mount_table(host: &Host) -> Result<MountTable, HostError> {
    let paths: &[&str] = if host.is_live() {
        &["/proc/self/mountinfo"]
    } else {
        &["/proc/1/mountinfo", "/proc/self/mountinfo"]
    };
    let mut first = None;
    for p in paths {
        match host.read_text(p) {
            Ok(t) => return usable(p, mountinfo::parse(&t)),
            // Only a missing file sends us on to the next; any other failure is the answer.
            Err(HostError::NotFound(_)) => {
                first.get_or_insert(HostError::NotFound(p.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    Err(first.unwrap_or_else(|| HostError::NotFound("mountinfo".into())))
}

/// A table with no mount in it says nothing about the system: every real one has a root.
fn usable(path: &str, table: MountTable) -> Result<MountTable, HostError> {
    if table.mounts.is_empty() {
        let why = if table.bad_lines.is_empty() {
            "empty".to_string()
        } else {
            format!("no valid line among {}", table.bad_lines.len())
        };
        return Err(HostError::Io(format!("{path}: {why}")));
    }
    Ok(table)
}

/// The first line of `text`, cut to `max` characters, for evidence excerpts.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim_end();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}
