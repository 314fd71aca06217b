//! `kernel-config`: the running kernel's configuration, option by option, against what container
//! engines need (assets/kernel-config.toml: every option moby's check-config.sh and
//! lxc-checkconfig grade), graded by what this host actually uses: its cgroup version, the
//! engine's storage driver, rootless or not, the tools installed.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde::Deserialize;

use super::{Check, Options, plural};
use crate::facts::Facts;
use crate::host::{DockerCall, HostError};
use crate::model::{FixPlan, Outcome, Risk, Status, Step, Table};
use crate::parse::cgroup::Mode;
use crate::parse::kconfig::{self, KernelConfig, Setting};
use crate::parse::kernel::{self, KernelRelease};

const DATA: &str = include_str!("../../assets/kernel-config.toml");

/// The most a configuration may inflate to; real ones are under 300 kB.
const MAX_CONFIG: u64 = 8 << 20;

pub const CHECK: Check = Check {
    id: "kernel-config",
    title: "Kernel configuration options containers need",
    area: "Kernel",
    explanation: super::explanation!("kernel-config"),
    in_container: Some(
        "/proc/config.gz is the host kernel's, but /boot and /lib/modules are the image's: without /proc/config.gz the configuration and modules seen are not the host's",
    ),
    requires_tool: None,
    active_probe: false,
    run,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Data {
    option: Vec<Spec>,
}

/// One option as assets/kernel-config.toml describes it (its header documents the fields).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    group: String,
    moby: Option<String>,
    lxc: Option<String>,
    need: Need,
    controller: Option<String>,
    storage: Option<String>,
    lsm: Option<String>,
    #[serde(default)]
    tools: Vec<String>,
    kernel_from: Option<String>,
    kernel_before: Option<String>,
    #[serde(default)]
    gone_when_absent: bool,
    successor: Option<String>,
    #[serde(default)]
    unless_set: Vec<String>,
    #[serde(default)]
    modules: Vec<String>,
    enables: String,
    without: String,
    bad: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Need {
    Always,
    CgroupV1,
    CgroupV2,
    Controller,
    Storage,
    Userns,
    Tool,
    Lsm,
    Swarm,
    Nftables,
    Optional,
    BadIfSet,
    GoodIfSet,
}

fn specs() -> Result<Vec<Spec>, String> {
    toml::from_str::<Data>(DATA)
        .map(|d| d.option)
        .map_err(|e| format!("assets/kernel-config.toml: {e}"))
}

/// A configuration file found, and whether it describes the kernel that runs (only then do
/// its modules and version say anything about this boot).
struct Found {
    path: String,
    text: String,
    running: bool,
}

fn run(host: &Facts, opts: &Options) -> Outcome {
    let specs = match specs() {
        Ok(s) => s,
        Err(e) => return Outcome::unknown(e),
    };
    let running = host.kernel().ok();
    let found = match find(host, opts, running) {
        Ok(f) => f,
        Err(out) => return *out,
    };
    let config = kconfig::parse(&found.text);
    if config.is_empty() {
        return Outcome::unknown(format!("{}: no CONFIG_ line in it", found.path))
            .evidence(&found.path, super::first_line(&found.text, 120));
    }
    // Options come and go with versions: grade by the configuration's own version (its header),
    // not by the machine that runs the doctor, as check-config.sh does with `uname -r`.
    let file_release = config.release.as_deref().and_then(kernel::parse_release);
    let version = file_release.as_ref().or(running);
    let modules = if found.running {
        running.map(|k| Modules::read(host, &k.release))
    } else {
        None
    };
    let setup = Setup::read(host);
    let mut rows: Vec<Row> = specs
        .iter()
        .filter_map(|s| grade(s, &config, version, modules.as_ref(), &setup))
        .collect();
    rows.extend(host_rows(host, &setup));
    report(&found, &config, version, &setup, rows, modules.as_ref())
}

/// Where the configuration is, as check-config.sh and lxc-checkconfig look, plus the kernel
/// headers' copy; under `--root` the examined system's files, `--kernel-config` the user's.
fn find(
    host: &Facts,
    opts: &Options,
    running: Option<&KernelRelease>,
) -> Result<Found, Box<Outcome>> {
    if let Some(path) = &opts.kernel_config {
        let bytes = host.read_local(path).map_err(|e| {
            Box::new(Outcome::unknown(format!(
                "cannot read --kernel-config {path}: {e}"
            )))
        })?;
        let text = kconfig::inflate(&bytes, MAX_CONFIG)
            .map_err(|e| Box::new(Outcome::unknown(format!("--kernel-config {path}: {e}"))))?;
        let header = kconfig::parse(&text).release;
        let running = matches!((header, running), (Some(h), Some(r)) if same_kernel(&h, r));
        return Ok(Found {
            path: path.clone(),
            text,
            running,
        });
    }
    let mut paths = vec!["/proc/config.gz".to_string()];
    if let Some(k) = running {
        let r = &k.release;
        paths.push(format!("/boot/config-{r}"));
        paths.push(format!("/lib/modules/{r}/build/.config"));
        paths.push(format!("/usr/src/linux-{r}/.config"));
    }
    paths.push("/usr/src/linux/.config".into());
    let mut looked = Vec::new();
    for path in &paths {
        match host.read(path) {
            Ok(bytes) => match kconfig::inflate(&bytes, MAX_CONFIG) {
                Ok(text) => {
                    // Only /usr/src/linux names no release: it may hold another kernel's sources.
                    let header = kconfig::parse(&text).release;
                    if path == "/usr/src/linux/.config"
                        && let (Some(h), Some(k)) = (&header, running)
                        && !same_kernel(h, k)
                    {
                        looked.push((
                            path.clone(),
                            format!("for kernel {h}, not the running {}", k.release),
                        ));
                        continue;
                    }
                    return Ok(Found {
                        path: path.clone(),
                        text,
                        running: true,
                    });
                }
                Err(e) => looked.push((path.clone(), e)),
            },
            Err(HostError::NotFound(_)) => looked.push((path.clone(), "missing".into())),
            Err(e) => looked.push((path.clone(), e.to_string())),
        }
    }
    let mut out = Outcome::unknown(format!(
        "no configuration of the running kernel{} found: looked at {}",
        running
            .map(|k| format!(" {}", k.release))
            .unwrap_or_default(),
        looked
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for (path, why) in &looked {
        out.push(path.as_str(), why.as_str());
    }
    if running.is_none() {
        out.push(
            "kernel release",
            "unknown, so /boot/config-RELEASE could not be tried",
        );
    }
    // The `configs` module (CONFIG_IKCONFIG=m) provides /proc/config.gz once loaded.
    let configs_module = running.and_then(|k| {
        let dep = host
            .read_text(&format!("/lib/modules/{}/modules.dep", k.release))
            .ok()?;
        Some(kconfig::module_paths(&dep).contains("configs"))
    });
    match configs_module {
        Some(true) if host.is_live() => {
            out.push("hint", "the configs module is installed: `modprobe configs` provides /proc/config.gz");
            out = out.fix(FixPlan {
                id: "modprobe-configs".into(),
                title: "Load the configs module, which provides /proc/config.gz".into(),
                risk: Risk::Safe,
                needs_root: true,
                steps: vec![Step::Exec { argv: vec!["modprobe".into(), "configs".into()] }],
            });
        }
        Some(true) => out.push("hint", "the configs module is installed: `modprobe configs` on that host provides /proc/config.gz"),
        Some(false) => out.push("hint", "no configs module for this kernel; name the file with --kernel-config PATH"),
        None => out.push(
            "hint",
            "if the kernel has CONFIG_IKCONFIG=m, `modprobe configs` provides /proc/config.gz; else name the file with --kernel-config PATH",
        ),
    }
    Err(Box::new(out))
}

/// Whether a configuration header's release is the running kernel's. Headers carry the version
/// without CONFIG_LOCALVERSION (`6.18.44` for `6.18.44-fc-v1045`), and Debian's the upstream
/// version (`6.1.106` for `6.1.0-25-amd64`), so a differing header only rules a file out where
/// it also differs in major.minor.
fn same_kernel(header: &str, running: &KernelRelease) -> bool {
    if running.release.starts_with(header) {
        return true;
    }
    kernel::parse_release(header)
        .is_some_and(|h| (h.major, h.minor) == (running.major, running.minor))
}

/// The modules of the running kernel: what exists (modules.dep), what is built in
/// (modules.builtin), what is loaded (/proc/modules). Each `None` when unreadable.
struct Modules {
    available: Option<HashSet<String>>,
    builtin: Option<HashSet<String>>,
    loaded: Option<HashSet<String>>,
    dep_path: String,
}

impl Modules {
    fn read(host: &Facts, release: &str) -> Modules {
        let dir = format!("/lib/modules/{release}");
        let set =
            |path: &str, f: fn(&str) -> HashSet<String>| host.read_text(path).ok().map(|t| f(&t));
        Modules {
            available: set(&format!("{dir}/modules.dep"), kconfig::module_paths),
            builtin: set(&format!("{dir}/modules.builtin"), kconfig::module_paths),
            loaded: set("/proc/modules", kconfig::loaded_modules),
            dep_path: format!("{dir}/modules.dep"),
        }
    }

    /// The state of an option built as a module, and whether it can be used.
    fn state(&self, names: &[String]) -> (String, bool) {
        let names: Vec<String> = names.iter().map(|n| kconfig::module_name(n)).collect();
        let has = |set: &Option<HashSet<String>>| {
            set.as_ref().map(|s| names.iter().find(|n| s.contains(*n)))
        };
        if names.is_empty() {
            return ("module".into(), true);
        }
        if let Some(Some(n)) = has(&self.loaded) {
            return (format!("module, loaded ({n})"), true);
        }
        if let Some(Some(n)) = has(&self.builtin) {
            return (format!("built in ({n} in modules.builtin)"), true);
        }
        match (has(&self.available), self.loaded.is_some()) {
            (Some(Some(n)), true) => (format!("module, not loaded ({n}; loads on demand)"), true),
            (Some(Some(n)), false) => (format!("module ({n})"), true),
            (Some(None), _) => (
                format!("module missing ({} not in modules.dep)", names.join(" or ")),
                false,
            ),
            (None, _) => ("module (no modules.dep to verify)".into(), true),
        }
    }
}

/// What this host uses, which decides which optional options it needs.
struct Setup<'a> {
    host: &'a Facts,
    cgroup: Option<Mode>,
    controllers: HashSet<String>,
    /// (storage family, driver as named, where it was read)
    storage: Option<(String, String, String)>,
    userns: Option<String>,
    lsms: HashSet<String>,
    swarm: bool,
    nftables: Option<String>,
    tools: Mutex<HashMap<String, bool>>,
    notes: Vec<(String, String)>,
}

impl<'a> Setup<'a> {
    fn read(host: &'a Facts) -> Setup<'a> {
        let mut notes = Vec::new();
        let layout = host.cgroups().ok();
        let mut controllers = HashSet::new();
        if let Some(l) = layout {
            for h in &l.legacy {
                for c in &h.controllers {
                    controllers.insert(if c == "blkio" {
                        "io".to_string()
                    } else {
                        c.clone()
                    });
                }
            }
            if let Some(u) = &l.unified
                && let Ok(t) = host.read_text(&format!("{u}/cgroup.subtree_control"))
            {
                controllers.extend(t.split_whitespace().map(str::to_string));
            }
            let mut list: Vec<&String> = controllers.iter().collect();
            list.sort();
            notes.push((
                "cgroups".into(),
                format!(
                    "{} ({}); controllers in use: {}",
                    mode_name(l.mode),
                    l.decided_by,
                    if list.is_empty() {
                        "none found".into()
                    } else {
                        list.iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                ),
            ));
        }
        let info = host.docker(DockerCall::Info).ok();
        let daemon_json: Option<serde_json::Value> = host
            .read_text("/etc/docker/daemon.json")
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let str_at = |v: &Option<serde_json::Value>, path: &[&str]| {
            let mut cur = v.as_ref()?;
            for p in path {
                cur = cur.get(*p)?;
            }
            cur.as_str().filter(|s| !s.is_empty()).map(str::to_string)
        };
        let storage = str_at(&info, &["Driver"])
            .map(|d| (d, "GET /info".to_string()))
            .or_else(|| {
                str_at(&daemon_json, &["storage-driver"])
                    .map(|d| (d, "/etc/docker/daemon.json".into()))
            })
            .or_else(|| {
                let conf = host.read_text("/etc/containers/storage.conf").ok()?;
                storage_conf_driver(&conf).map(|d| (d, "/etc/containers/storage.conf".into()))
            })
            .or_else(|| {
                ["dockerd", "podman", "containerd"]
                    .iter()
                    .find(|t| host.find_tool(t).is_some())
                    .map(|t| ("overlay2".to_string(), format!("the default of {t}")))
            })
            .and_then(|(driver, from)| {
                storage_family(&driver).map(|f| (f.to_string(), driver, from))
            });
        if let Some((_, driver, from)) = &storage {
            notes.push(("storage driver".into(), format!("{driver} ({from})")));
        }
        let security = info
            .as_ref()
            .and_then(|i| i.get("SecurityOptions"))
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let userns = if security.iter().any(|s| s.contains("name=rootless")) {
            Some("the engine runs rootless (GET /info)".to_string())
        } else if let Some(remap) = str_at(&daemon_json, &["userns-remap"]) {
            Some(format!("userns-remap {remap} (/etc/docker/daemon.json)"))
        } else if security.iter().any(|s| s.contains("name=userns")) {
            Some("userns-remap (GET /info)".to_string())
        } else {
            None
        };
        if let Some(u) = &userns {
            notes.push(("user namespaces".into(), u.clone()));
        }
        let mut lsms: HashSet<String> = host
            .read_text("/sys/kernel/security/lsm")
            .map(|t| t.trim().split(',').map(str::to_string).collect())
            .unwrap_or_default();
        if host
            .read_text("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|t| t.trim() == "Y")
        {
            lsms.insert("apparmor".into());
        }
        if host.stat("/sys/fs/selinux/enforce").is_ok() {
            lsms.insert("selinux".into());
        }
        let swarm = str_at(&info, &["Swarm", "LocalNodeState"]).as_deref() == Some("active");
        let nftables = match str_at(&info, &["FirewallBackend", "Driver"]) {
            Some(d) if d.starts_with("nftables") => {
                Some("firewall backend nftables (GET /info)".into())
            }
            _ => (str_at(&daemon_json, &["firewall-backend"]).as_deref() == Some("nftables"))
                .then(|| "firewall-backend nftables (/etc/docker/daemon.json)".into()),
        };
        Setup {
            host,
            cgroup: layout.map(|l| l.mode),
            controllers,
            storage,
            userns,
            lsms,
            swarm,
            nftables,
            tools: Mutex::new(HashMap::new()),
            notes,
        }
    }

    /// Whether this host's storage driver is of family `want` (`overlay`, `btrfs`, `zfs`, …).
    fn needs_storage(&self, want: &str) -> Result<String, String> {
        match &self.storage {
            Some((family, driver, from)) if family == want => {
                Ok(format!("storage driver {driver} ({from})"))
            }
            Some((_, driver, _)) => Err(format!(
                "only for the {want} storage driver (this host: {driver})"
            )),
            None => Err(format!(
                "only for the {want} storage driver (no engine found)"
            )),
        }
    }

    fn installed(&self, tool: &str) -> bool {
        if let Ok(t) = self.tools.lock()
            && let Some(&found) = t.get(tool)
        {
            return found;
        }
        let found = self.host.find_tool(tool).is_some();
        if let Ok(mut t) = self.tools.lock() {
            t.insert(tool.to_string(), found);
        }
        found
    }

    /// Whether this host needs the option: `Some(reason)` when it does, `Err(why not)` when it
    /// matters only for another setup.
    fn needs(&self, s: &Spec) -> Result<String, String> {
        let mode = self.cgroup.map(mode_name).unwrap_or("unknown");
        match s.need {
            Need::Always => Ok("every container engine".into()),
            Need::CgroupV1 => match self.cgroup {
                Some(Mode::V2) => {
                    Err("a cgroup v1 controller; this host runs cgroup v2 only".into())
                }
                _ => Ok(format!("cgroup v1 controllers (this host: {mode})")),
            },
            Need::CgroupV2 => match self.cgroup {
                Some(Mode::V1 | Mode::Hybrid) => {
                    Err(format!("only on cgroup v2 (this host: {mode})"))
                }
                _ => Ok(format!("cgroup v2 (this host: {mode})")),
            },
            Need::Controller => {
                let c = s.controller.as_deref().unwrap_or("");
                if self.controllers.contains(c) {
                    Ok(format!("the {c} controller, in use here"))
                } else {
                    Err(format!("for the {c} controller, not in use here"))
                }
            }
            Need::Storage => self.needs_storage(s.storage.as_deref().unwrap_or("")),
            Need::Userns => self
                .userns
                .clone()
                .ok_or_else(|| "for rootless engines and userns-remap (neither here)".into()),
            Need::Tool => match s.tools.iter().find(|t| self.installed(t)) {
                Some(t) => Ok(format!("{t} is installed")),
                None => Err(format!("for {} (not installed)", s.tools.join(", "))),
            },
            Need::Lsm => {
                let lsm = s.lsm.as_deref().unwrap_or("");
                if self.lsms.contains(lsm) {
                    Ok(format!("{lsm} is active here"))
                } else {
                    Err(format!("only where {lsm} is used (not active here)"))
                }
            }
            Need::Swarm => {
                if self.swarm {
                    Ok("swarm mode is active (GET /info)".into())
                } else {
                    Err("for swarm services and overlay networks (swarm not active)".into())
                }
            }
            Need::Nftables => self
                .nftables
                .clone()
                .ok_or_else(|| "for the nftables firewall backend (not used here)".into()),
            Need::Optional | Need::BadIfSet | Need::GoodIfSet => Err("an optional feature".into()),
        }
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::V1 => "v1",
        Mode::Hybrid => "hybrid",
        Mode::V2 => "v2",
    }
}

/// The option set a storage driver needs: `overlay2` → `overlay`; vfs needs nothing.
fn storage_family(driver: &str) -> Option<&'static str> {
    match driver {
        "overlay2" | "overlay" | "overlayfs" => Some("overlay"),
        "btrfs" => Some("btrfs"),
        "zfs" => Some("zfs"),
        "aufs" => Some("aufs"),
        "devicemapper" => Some("devicemapper"),
        _ => None,
    }
}

/// `driver = "overlay"` in the `[storage]` table of containers-storage.conf.
fn storage_conf_driver(text: &str) -> Option<String> {
    let v: toml::Value = toml::from_str(text).ok()?;
    v.get("storage")?
        .get("driver")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The verdict on one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// Missing, but only another setup or an optional feature needs it; or set and unwise.
    Note,
    Warn,
    Error,
    /// Not graded on this kernel (version, a vendor merge, ext4 serving ext3).
    NotGraded,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Note => "note",
            Verdict::Warn => "warn",
            Verdict::Error => "error",
            Verdict::NotGraded => "n/a",
        }
    }
}

struct Row {
    option: String,
    group: String,
    state: String,
    verdict: Verdict,
    needed: String,
    about: String,
    module_missing: bool,
    upstream: String,
}

fn grade(
    s: &Spec,
    config: &KernelConfig,
    version: Option<&KernelRelease>,
    modules: Option<&Modules>,
    setup: &Setup,
) -> Option<Row> {
    let mut row = Row {
        option: format!("CONFIG_{}", s.name),
        group: s.group.clone(),
        state: String::new(),
        verdict: Verdict::NotGraded,
        needed: String::new(),
        about: s.enables.clone(),
        module_missing: false,
        upstream: upstream(s),
    };
    let not_graded = |mut row: Row, state: String| {
        row.state = state;
        Some(row)
    };
    if let Some(from) = &s.kernel_from {
        match version {
            Some(v) if before(v, from) => {
                return not_graded(row, format!("not checked: only from {from}"));
            }
            None => return not_graded(row, "not checked: kernel version unknown".into()),
            _ => {}
        }
    }
    if let Some(upto) = &s.kernel_before {
        match version {
            Some(v) if !before(v, upto) => {
                return not_graded(row, format!("not checked: gone in {upto} (this is {v})"));
            }
            None => return not_graded(row, "not checked: kernel version unknown".into()),
            _ => {}
        }
    }
    if let Some(by) = s.unless_set.iter().find(|u| config.is_set(u)) {
        return not_graded(
            row,
            format!("not needed: CONFIG_{by} is set (ext4 serves ext3)"),
        );
    }
    let named = std::iter::once(&s.name)
        .chain(&s.aliases)
        .find(|n| config.get(n).is_some());
    if let Some(n) = named {
        row.option = format!("CONFIG_{n}");
    }
    let setting = named.and_then(|n| config.get(n));
    let module_state = |names: &[String]| match modules {
        Some(m) => m.state(names),
        None => ("module".to_string(), true),
    };
    let (state, available) = match setting {
        Some(Setting::Builtin) => ("built in".to_string(), true),
        Some(Setting::Module) => module_state(&s.modules),
        Some(Setting::Value(v)) => (format!("= {v}"), true),
        Some(Setting::NotSet) => ("not set".to_string(), false),
        None if s.gone_when_absent => match &s.successor {
            Some(succ) => match config.get(succ) {
                Some(Setting::Builtin) => (
                    format!("not in this kernel (merged into CONFIG_{succ}: built in)"),
                    true,
                ),
                Some(Setting::Module) => {
                    let (st, ok) = module_state(&[]);
                    (
                        format!("not in this kernel (merged into CONFIG_{succ}: {st})"),
                        ok,
                    )
                }
                _ => (format!("absent, and CONFIG_{succ} is not set"), false),
            },
            None => {
                return not_graded(
                    row,
                    "not in this kernel (removed or merged by the vendor)".into(),
                );
            }
        },
        None => ("absent".to_string(), false),
    };
    row.state = state;
    row.module_missing = setting == Some(&Setting::Module) && !available;
    match s.need {
        Need::GoodIfSet | Need::BadIfSet if !available => return None,
        Need::GoodIfSet => {
            row.verdict = Verdict::Ok;
            row.needed = "one of the vsyscall modes".into();
            return Some(row);
        }
        Need::BadIfSet => {
            row.verdict = Verdict::Note;
            row.needed = "one of the vsyscall modes".into();
            row.about = s.bad.clone().unwrap_or_default();
            return Some(row);
        }
        _ => {}
    }
    let need = setup.needs(s);
    row.needed = match &need {
        Ok(why) => why.clone(),
        // Where the upstream script calls it necessary and this host does not need it.
        Err(why) if s.moby.as_deref() == Some("necessary") => {
            format!("{why}; check-config.sh calls it generally necessary")
        }
        Err(why) => why.clone(),
    };
    row.verdict = match (available, &need, s.need) {
        (true, _, _) => Verdict::Ok,
        (false, Ok(_), Need::Always | Need::CgroupV1 | Need::CgroupV2) => Verdict::Error,
        (false, Ok(_), _) => Verdict::Warn,
        (false, Err(_), _) => Verdict::Note,
    };
    if !available {
        row.about = format!("without it: {}", s.without);
    }
    Some(row)
}

/// What the two scripts check beyond the configuration, on the examined system: the keys limit,
/// the user namespace limit, AppArmor's parser, ZFS's device and tools. A value that cannot be
/// read gives no row: these describe the host, and a missing /proc file says nothing.
fn host_rows(host: &Facts, setup: &Setup) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut push = |option: &str,
                    group: &str,
                    state: String,
                    verdict: Verdict,
                    needed: String,
                    about: &str,
                    by: &str| {
        rows.push(Row {
            option: option.into(),
            group: group.into(),
            state,
            verdict,
            needed,
            about: about.into(),
            module_missing: false,
            upstream: by.into(),
        })
    };
    let number = |path: &str| {
        host.read_text(path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
    };
    let keys = "/proc/sys/kernel/keys/root_maxkeys";
    if let Some(n) = number(keys) {
        // Each container's session keyring is a key root owns; moby fails at 10000 or fewer.
        let verdict = if n <= 10_000 {
            Verdict::Warn
        } else {
            Verdict::Ok
        };
        push(
            keys,
            "Limits",
            n.to_string(),
            verdict,
            "every container engine (one key per container)".into(),
            "above 10000; each container's session keyring counts (sysctl kernel.keys.root_maxkeys=1000000)",
            "moby necessary",
        );
    }
    let userns = "/proc/sys/user/max_user_namespaces";
    if let Some(n) = number(userns) {
        let verdict = match (n, &setup.userns) {
            (0, Some(_)) => Verdict::Warn,
            (0, None) => Verdict::Note,
            _ => Verdict::Ok,
        };
        let needed = setup
            .userns
            .clone()
            .unwrap_or_else(|| "for rootless engines and userns-remap (neither here)".into());
        push(
            userns,
            "LXC: namespaces",
            n.to_string(),
            verdict,
            needed,
            "above 0 (RHEL 7 ships 0): no user namespace can be created otherwise",
            "lxc graded",
        );
    }
    if host
        .read_text("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|t| t.trim() == "Y")
    {
        let parser = host.find_tool("apparmor_parser").is_some();
        let engine = ["dockerd", "podman", "containerd"]
            .iter()
            .find(|t| host.find_tool(t).is_some());
        let verdict = match (parser, engine) {
            (true, _) => Verdict::Ok,
            (false, Some(_)) => Verdict::Error,
            (false, None) => Verdict::Note,
        };
        push(
            "apparmor_parser",
            "Generally necessary",
            if parser { "installed" } else { "missing" }.into(),
            verdict,
            engine
                .map(|e| format!("AppArmor is enabled and {e} is installed"))
                .unwrap_or_else(|| "AppArmor is enabled; no engine installed".into()),
            "loads the engines' default AppArmor profile; without it containers fail to start where AppArmor is on",
            "moby necessary",
        );
    }
    let zfs = setup.needs_storage("zfs");
    let dev = host.stat("/dev/zfs").is_ok();
    for (what, present) in [
        ("/dev/zfs", dev),
        ("zfs command", host.find_tool("zfs").is_some()),
        ("zpool command", host.find_tool("zpool").is_some()),
    ] {
        let verdict = match (present, &zfs) {
            (true, _) => Verdict::Ok,
            (false, Ok(_)) => Verdict::Warn,
            (false, Err(_)) => Verdict::Note,
        };
        let needed = match &zfs {
            Ok(w) | Err(w) => w.clone(),
        };
        push(
            what,
            "Storage: zfs",
            if present { "present" } else { "missing" }.into(),
            verdict,
            needed,
            "the zfs storage driver",
            "moby storage",
        );
    }
    rows
}

/// How the upstream tools grade the option: "moby necessary, lxc required".
fn upstream(s: &Spec) -> String {
    let moby = s.moby.as_deref().map(|m| match m {
        "20.10" => "moby 20.10".to_string(),
        m => format!("moby {m}"),
    });
    let lxc = s.lxc.as_deref().map(|l| format!("lxc {l}"));
    let both: Vec<String> = moby.into_iter().chain(lxc).collect();
    both.join(", ")
}

/// Whether kernel `v` is older than `bound` ("4.8", "2.6.33").
fn before(v: &KernelRelease, bound: &str) -> bool {
    let parts: Vec<u32> = bound.split('.').filter_map(|p| p.parse().ok()).collect();
    let b = (
        parts.first().copied().unwrap_or(0),
        parts.get(1).copied().unwrap_or(0),
        parts.get(2).copied().unwrap_or(0),
    );
    (v.major, v.minor, if parts.len() > 2 { v.patch } else { 0 }) < b
}

fn report(
    found: &Found,
    config: &KernelConfig,
    version: Option<&KernelRelease>,
    setup: &Setup,
    rows: Vec<Row>,
    modules: Option<&Modules>,
) -> Outcome {
    let of = |v: Verdict| rows.iter().filter(|r| r.verdict == v).collect::<Vec<_>>();
    let (errors, warns, notes) = (of(Verdict::Error), of(Verdict::Warn), of(Verdict::Note));
    let names = |rs: &[&Row], with_why: bool| {
        let mut list: Vec<String> = rs
            .iter()
            .take(6)
            .map(|r| {
                if with_why {
                    format!("{} ({})", r.option, r.needed)
                } else {
                    r.option.clone()
                }
            })
            .collect();
        if rs.len() > 6 {
            list.push(format!("{} more", rs.len() - 6));
        }
        list.join(", ")
    };
    let kernel = version
        .map(|v| format!("Linux {v}"))
        .unwrap_or_else(|| "kernel of unknown version".into());
    let src = format!("{kernel}, {}", found.path);
    let (status, summary) = if !errors.is_empty() {
        (
            Status::Error,
            format!(
                "{} necessary option{} missing ({src}): {}",
                errors.len(),
                plural(errors.len()),
                names(&errors, false)
            ),
        )
    } else if !warns.is_empty() {
        (
            Status::Warn,
            format!(
                "{} option{} this host's setup uses missing ({src}): {}",
                warns.len(),
                plural(warns.len()),
                names(&warns, true)
            ),
        )
    } else {
        (
            Status::Ok,
            format!(
                "{src}: every necessary option present; {} optional feature{} off, none used here",
                notes.len(),
                plural(notes.len())
            ),
        )
    };
    let mut out = Outcome::new(status, summary);
    let header = found
        .text
        .lines()
        .find(|l| l.starts_with("# Linux"))
        .unwrap_or("(no version header)");
    out.push(
        found.path.as_str(),
        format!(
            "{} options; {}",
            config.len(),
            header.trim_start_matches("# ")
        ),
    );
    match (&config.release, version) {
        (Some(_), _) => {}
        (None, Some(v)) => out.push(
            "kernel version",
            format!("{v}: the running kernel's (the file has no version header)"),
        ),
        (None, None) => out.push(
            "kernel version",
            "unknown: version-bound options are not checked",
        ),
    }
    if let Some(m) = modules {
        out.push(
            m.dep_path.as_str(),
            match (&m.available, &m.loaded) {
                (Some(a), Some(l)) => format!("{} modules available, {} loaded", a.len(), l.len()),
                (Some(a), None) => {
                    format!("{} modules available; /proc/modules not readable", a.len())
                }
                (None, _) => "not readable: modules are not verified".into(),
            },
        );
    } else if !found.running {
        out.push(
            "modules",
            "not verified: the file is not the running kernel's configuration",
        );
    }
    for (what, how) in &setup.notes {
        out.push(what.as_str(), how.as_str());
    }
    for r in errors.iter().chain(&warns) {
        out.push(
            r.option.as_str(),
            format!(
                "{}: {}; needed for {}; {}",
                r.verdict.as_str(),
                r.state,
                r.needed,
                r.about
            ),
        );
    }
    if !notes.is_empty() {
        out.push(
            "optional, not used here",
            notes
                .iter()
                .map(|r| r.option.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let missing_modules: Vec<&Row> = rows
        .iter()
        .filter(|r| r.module_missing && matches!(r.verdict, Verdict::Error | Verdict::Warn))
        .collect();
    if !missing_modules.is_empty() {
        out = out.fix(FixPlan {
            id: "install-kernel-modules".into(),
            title: "Install the kernel's module package".into(),
            risk: Risk::Safe,
            needs_root: true,
            steps: vec![Step::Manual {
                instruction: format!(
                    "Install the modules of kernel {} ({}): linux-modules-extra-RELEASE on Ubuntu, kernel-modules-extra on Fedora and RHEL",
                    version.map(|v| v.release.as_str()).unwrap_or("?"),
                    names(&missing_modules, false)
                ),
            }],
        });
    }
    let rebuild: Vec<&Row> = errors
        .iter()
        .chain(&warns)
        .copied()
        .filter(|r| !r.module_missing)
        .collect();
    if !rebuild.is_empty() {
        out = out.fix(FixPlan {
            id: "kernel-with-options".into(),
            title: "Boot a kernel built with the missing options".into(),
            risk: Risk::Disruptive,
            needs_root: true,
            steps: vec![Step::Manual {
                instruction: format!(
                    "Install your distribution's standard kernel, or rebuild this one with {} (y or m), and reboot",
                    rebuild.iter().map(|r| r.option.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }],
        });
    }
    out.count(
        "kernel_config_options",
        "Kernel options graded by kernel-config",
        rows.len() as f64,
    );
    out.count(
        "kernel_config_necessary_missing",
        "Necessary kernel options missing",
        errors.len() as f64,
    );
    out.count(
        "kernel_config_used_missing",
        "Kernel options this host's setup uses that are missing",
        warns.len() as f64,
    );
    out.count(
        "kernel_config_optional_missing",
        "Optional kernel options missing that nothing here uses",
        notes.len() as f64,
    );
    let mut table = Table::new(&[
        "option",
        "group",
        "state",
        "verdict",
        "needed for",
        "what it is for",
        "graded by",
    ]);
    for r in rows {
        let fixes = match r.verdict {
            Verdict::Error | Verdict::Warn if r.module_missing => {
                vec!["install-kernel-modules".to_string()]
            }
            Verdict::Error | Verdict::Warn => vec!["kernel-with-options".to_string()],
            _ => Vec::new(),
        };
        table.row(
            vec![
                r.option,
                r.group,
                r.state,
                r.verdict.as_str().into(),
                r.needed,
                r.about,
                r.upstream,
            ],
            fixes,
        );
    }
    out.table = Some(table);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_complete_and_consistent() {
        let specs = specs().unwrap();
        let mut seen = HashSet::new();
        for s in &specs {
            assert!(seen.insert(s.name.clone()), "{} twice", s.name);
            assert!(!s.enables.is_empty() && !s.without.is_empty(), "{}", s.name);
            // XONLY is the one option neither grades: check-config.sh does not know it.
            assert!(
                s.moby.is_some() || s.lxc.is_some() || s.name == "LEGACY_VSYSCALL_XONLY",
                "{}: graded by neither tool",
                s.name
            );
            match s.need {
                Need::Controller => assert!(s.controller.is_some(), "{}", s.name),
                Need::Storage => assert!(s.storage.is_some(), "{}", s.name),
                Need::Lsm => assert!(s.lsm.is_some(), "{}", s.name),
                Need::Tool => assert!(!s.tools.is_empty(), "{}", s.name),
                Need::BadIfSet => assert!(s.bad.is_some(), "{}", s.name),
                _ => {}
            }
            if let Some(m) = &s.moby {
                assert!(
                    ["necessary", "optional", "network", "storage", "20.10"].contains(&m.as_str()),
                    "{}",
                    s.name
                );
            }
            if s.successor.is_some() {
                assert!(s.gone_when_absent, "{}", s.name);
            }
        }
        assert!(DATA.contains("a4c5b2be6f69f86fe7b13eb4822676f8d273cf8b"));
        assert!(DATA.contains("969a3c5992251b6ca180854e7e7844b2daff2677"));
    }

    #[test]
    fn version_bounds() {
        let k = |s| kernel::parse_release(s).unwrap();
        assert!(before(&k("4.7.10"), "4.8") && !before(&k("4.8.0"), "4.8"));
        assert!(before(&k("5.1.21"), "5.2") && !before(&k("5.2.0"), "5.2"));
        assert!(before(&k("2.6.32"), "2.6.33") && !before(&k("2.6.33"), "2.6.33"));
        assert!(!before(&k("3.10.0-1160.el7.x86_64"), "2.6.33"));
    }

    #[test]
    fn storage_drivers() {
        assert_eq!(storage_family("overlay2"), Some("overlay"));
        assert_eq!(storage_family("overlayfs"), Some("overlay"));
        assert_eq!(storage_family("vfs"), None);
        assert_eq!(
            storage_conf_driver("[storage]\ndriver = \"btrfs\"\n").as_deref(),
            Some("btrfs")
        );
        assert_eq!(storage_conf_driver("[storage]\ndriver = \"\"\n"), None);
    }
}
