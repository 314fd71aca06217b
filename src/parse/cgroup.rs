//! cgroup files: /proc/PID/cgroup, /proc/cgroups, v1 `freezer.state`, v2 `cgroup.events`, and
//! the container a cgroup path belongs to.

use std::fmt;

/// How the cgroup hierarchies are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only legacy per-controller hierarchies.
    V1,
    /// Legacy controllers plus a unified (v2) hierarchy, usually at /sys/fs/cgroup/unified.
    Hybrid,
    /// One unified hierarchy.
    V2,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::V1 => "v1",
            Mode::Hybrid => "hybrid",
            Mode::V2 => "v2",
        })
    }
}

/// One line of /proc/PID/cgroup: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub hierarchy: u32,
    /// Empty for the v2 line (`0::/path`); `name=systemd` for named v1 hierarchies.
    pub controllers: Vec<String>,
    pub path: String,
}

/// Parses /proc/PID/cgroup. Paths may contain `:`, so only the first two split.
pub fn parse_memberships(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.splitn(3, ':');
            let hierarchy = it.next()?.trim().parse().ok()?;
            let controllers = it.next()?;
            let path = it.next()?.to_string();
            Some(Membership {
                hierarchy,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path,
            })
        })
        .collect()
}

/// The mode /proc/PID/cgroup implies: a lone `0::` line is v2, v1 lines plus `0::` hybrid,
/// v1 lines alone v1.
pub fn mode_of_memberships(m: &[Membership]) -> Option<Mode> {
    let unified = m
        .iter()
        .any(|l| l.hierarchy == 0 && l.controllers.is_empty());
    let legacy = m.iter().any(|l| l.hierarchy != 0);
    match (legacy, unified) {
        (false, true) => Some(Mode::V2),
        (true, true) => Some(Mode::Hybrid),
        (true, false) => Some(Mode::V1),
        (false, false) => None,
    }
}

/// One row of /proc/cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subsystem {
    pub name: String,
    /// 0 when the controller is on no v1 hierarchy (unused, or on v2).
    pub hierarchy: u32,
    pub num_cgroups: u64,
    pub enabled: bool,
}

/// Parses /proc/cgroups (tab- or space-separated; the `#` header is skipped).
pub fn parse_subsystems(text: &str) -> Vec<Subsystem> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [name, h, n, e] => Some(Subsystem {
                    name: name.to_string(),
                    hierarchy: h.parse().ok()?,
                    num_cgroups: n.parse().ok()?,
                    enabled: *e == "1",
                }),
                _ => None,
            }
        })
        .collect()
}

/// The v1 freezer's state (`freezer.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    Thawed,
    /// In transition; stuck here when a task cannot be frozen (often one in D state).
    Freezing,
    Frozen,
}

pub fn parse_freezer_state(text: &str) -> Option<FreezerState> {
    match text.trim() {
        "THAWED" => Some(FreezerState::Thawed),
        "FREEZING" => Some(FreezerState::Freezing),
        "FROZEN" => Some(FreezerState::Frozen),
        _ => None,
    }
}

/// The keys of a v2 `cgroup.events` file that matter here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    pub populated: Option<bool>,
    pub frozen: Option<bool>,
}

pub fn parse_events(text: &str) -> Events {
    let mut e = Events::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let v = match v {
            "0" => false,
            "1" => true,
            _ => continue,
        };
        match k {
            "populated" => e.populated = Some(v),
            "frozen" => e.frozen = Some(v),
            _ => {}
        }
    }
    e
}

/// The container a cgroup path belongs to, as engines name their cgroups:
/// `/docker/<id>`, `docker-<id>.scope`, `libpod-<id>.scope`, `crio-<id>.scope`,
/// `cri-containerd:<id>` / `cri-containerd-<id>.scope`, `/lxc/<name>`, `/machine.slice/…`.
pub fn container_of(path: &str) -> Option<(&'static str, String)> {
    let last = path.rsplit('/').find(|s| !s.is_empty())?;
    let scope = |prefix: &str| {
        last.strip_prefix(prefix)
            .map(|r| r.trim_end_matches(".scope").to_string())
            .filter(|id| !id.is_empty())
    };
    if let Some(id) = scope("docker-") {
        return Some(("docker", id));
    }
    if let Some(id) = scope("libpod-conmon-").or_else(|| scope("libpod-")) {
        return Some(("podman", id));
    }
    if let Some(id) = scope("crio-") {
        return Some(("cri-o", id));
    }
    if let Some(id) = scope("cri-containerd-") {
        return Some(("containerd", id));
    }
    if let Some((_, id)) = last.rsplit_once(":cri-containerd:") {
        return Some(("containerd", id.to_string()));
    }
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix("lxc.payload.") {
            return Some(("lxc", name.to_string()));
        }
        let engine = match *part {
            "docker" => "docker",
            "lxc" => "lxc",
            _ => continue,
        };
        if let Some(id) = parts.get(i + 1) {
            return Some((engine, id.to_string()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_from_paths() {
        let id = "c33988ec7651ebc867cb24755eaf637a6734088bc7eef59d5799293a9e5450f7";
        assert_eq!(
            container_of(&format!("/docker/{id}")),
            Some(("docker", id.into()))
        );
        assert_eq!(
            container_of(&format!("/system.slice/docker-{id}.scope")),
            Some(("docker", id.into()))
        );
        assert_eq!(
            container_of(&format!("/machine.slice/libpod-{id}.scope/container")),
            None
        );
        assert_eq!(
            container_of(&format!("/machine.slice/libpod-{id}.scope")),
            Some(("podman", id.into()))
        );
        assert_eq!(
            container_of("/kubepods.slice/kubepods-pod1.slice/crio-abc.scope"),
            Some(("cri-o", "abc".into()))
        );
        assert_eq!(container_of("/lxc/p1"), Some(("lxc", "p1".into())));
        assert_eq!(
            container_of("/lxc.payload.web"),
            Some(("lxc", "web".into()))
        );
        assert_eq!(
            container_of("/user.slice/user-1000.slice/session-2.scope"),
            None
        );
        assert_eq!(container_of("/"), None);
        assert_eq!(container_of(""), None);
    }

    #[test]
    fn events_and_states() {
        assert_eq!(
            parse_events("populated 1\nfrozen 0\n"),
            Events {
                populated: Some(true),
                frozen: Some(false)
            }
        );
        assert_eq!(parse_events("garbage\nfrozen x\n"), Events::default());
        assert_eq!(
            parse_freezer_state("FREEZING\n"),
            Some(FreezerState::Freezing)
        );
        assert_eq!(parse_freezer_state("frozen"), None);
    }
}
