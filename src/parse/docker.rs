//! Docker Engine API JSON (`/containers/json`, `/containers/{id}/json`, `/version`), read into
//! the few fields the checks use. Anything missing or malformed is simply absent.

use serde_json::Value;

/// A container as `/containers/json` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// `running`, `exited`, `paused`, `created`, …
    pub state: String,
}

pub fn containers(list: &Value) -> Vec<Listed> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some(Listed {
                        id: c.get("Id")?.as_str()?.to_string(),
                        name: c
                            .get("Names")
                            .and_then(|n| n.get(0))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .trim_start_matches('/')
                            .to_string(),
                        state: c
                            .get("State")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `GraphDriver.Data.MergedDir` of an inspected container: where its root filesystem is mounted.
pub fn merged_dir(inspect: &Value) -> Option<String> {
    inspect
        .pointer("/GraphDriver/Data/MergedDir")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// One entry of `/version`'s `Components` (API 1.35+): `Engine`, `containerd`, `runc`,
/// `docker-init`; Podman's compatible API says `Podman Engine`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub version: String,
    /// `Details.GitCommit`; Debian's engine puts the package version of runc and containerd here.
    pub commit: Option<String>,
}

/// The engine and its components from `GET /version`. Engines older than API 1.35 have no
/// `Components`: the top-level `Version` is then the engine's.
pub fn version_components(v: &Value) -> Vec<Component> {
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut out: Vec<Component> = v
        .get("Components")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some(Component {
                        name: text(c, "/Name")?,
                        version: text(c, "/Version")?,
                        commit: text(c, "/Details/GitCommit"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if !out.iter().any(|c| c.name.ends_with("Engine"))
        && let Some(version) = text(v, "/Version")
    {
        out.insert(
            0,
            Component {
                name: "Engine".into(),
                version,
                commit: text(v, "/GitCommit"),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_api_shape_and_ignores_garbage() {
        let list = serde_json::json!([
            {"Id": "abc", "Names": ["/web"], "State": "running"},
            {"Id": 5},
            {"Names": ["/x"]}
        ]);
        assert_eq!(
            containers(&list),
            vec![Listed {
                id: "abc".into(),
                name: "web".into(),
                state: "running".into()
            }]
        );
        assert!(containers(&serde_json::json!({"message": "nope"})).is_empty());
        let inspect =
            serde_json::json!({"GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": "/m"}}});
        assert_eq!(merged_dir(&inspect).as_deref(), Some("/m"));
        assert_eq!(merged_dir(&serde_json::json!([])), None);
    }

    #[test]
    fn version_components_as_engines_answer() {
        // Debian 12's docker.io engine (this machine, GET /version).
        let debian: Value = serde_json::from_str(
            r#"{"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"2026-05-07T21:09:36.000000000+00:00","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.44-fc-v1045","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1","Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}},{"Name":"runc","Version":"1.1.5+ds1","Details":{"GitCommit":"1.1.5+ds1-1+deb12u1"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":""}}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12","GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.18.44-fc-v1045","BuildTime":"2026-05-07T21:09:36.000000000+00:00"}"#,
        )
        .unwrap();
        let c = version_components(&debian);
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Engine", "containerd", "runc", "docker-init"]);
        assert_eq!(c[2].version, "1.1.5+ds1");
        assert_eq!(c[2].commit.as_deref(), Some("1.1.5+ds1-1+deb12u1"));
        assert_eq!(c[3].commit, None, "an empty GitCommit is no commit");
        // Docker Desktop's 20.10.0 (a Pulumi log paste): containerd with a `v`.
        let ce: Value = serde_json::from_str(
            r#"{"Platform":{"Name":"Docker Engine - Community"},"Components":[{"Name":"Engine","Version":"20.10.0","Details":{"ApiVersion":"1.41","GitCommit":"eeddea2"}},{"Name":"containerd","Version":"v1.4.3","Details":{"GitCommit":"269548fa27e0089a8b8278fc4fc781d7f65a939b"}},{"Name":"runc","Version":"1.0.0-rc92","Details":{"GitCommit":"ff819c7e9184c13b7c2607fe6c30ae19403a7aff"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":"de40ad0"}}],"Version":"20.10.0"}"#,
        )
        .unwrap();
        let c = version_components(&ce);
        assert_eq!(c[1].version, "v1.4.3");
        assert_eq!(c[2].version, "1.0.0-rc92");
        // Docker 1.12.4 (API 1.24, a support dump): no Components, the top-level Version is
        // the engine's.
        let old = serde_json::json!({"Version": "1.12.4", "ApiVersion": "1.24", "GitCommit": "1564f02",
            "GoVersion": "go1.6.4", "Os": "linux", "Arch": "amd64", "KernelVersion": "4.4.0-79-generic",
            "BuildTime": "2016-12-13T02:47:26.489232908+00:00"});
        assert_eq!(
            version_components(&old),
            vec![Component {
                name: "Engine".into(),
                version: "1.12.4".into(),
                commit: Some("1564f02".into())
            }]
        );
        assert!(version_components(&serde_json::json!({"message": "page not found"})).is_empty());
    }
}

/// What a daemon's command line says about where it listens, reads its config and keeps its data
/// (dockerd: `--host/-H`, `--config-file`, `--data-root` and its old alias `--graph/-g`;
/// buildkitd: `--addr`, `--config`, `--root`). Flags are read as Go's pflag reads them:
/// `--flag value`, `--flag=value`, `-H value`, `-H=value`, `-Hvalue`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonArgs {
    /// Every address it listens on (`unix:///run/x.sock`, `fd://`, `tcp://…`).
    pub hosts: Vec<String>,
    pub config_file: Option<String>,
    pub data_root: Option<String>,
}

/// Which flag names a daemon uses for what.
pub struct DaemonFlags {
    pub host: (&'static str, Option<char>),
    pub config: &'static str,
    pub root: &'static [(&'static str, Option<char>)],
}

pub const DOCKERD: DaemonFlags = DaemonFlags {
    host: ("host", Some('H')),
    config: "config-file",
    root: &[("data-root", None), ("graph", Some('g'))],
};

pub const BUILDKITD: DaemonFlags = DaemonFlags {
    host: ("addr", None),
    config: "config",
    root: &[("root", None)],
};

/// Reads a daemon's argv (`/proc/PID/cmdline` split on NUL) with its flag names.
pub fn daemon_args(argv: &[String], flags: &DaemonFlags) -> DaemonArgs {
    let mut out = DaemonArgs::default();
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        i += 1;
        if a == "--" {
            break;
        }
        // (long name or short letter, inline value)
        let (name, short, inline) = if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n, None, Some(v.to_string())),
                None => (long, None, None),
            }
        } else if let Some(s) = a.strip_prefix('-') {
            let mut chars = s.chars();
            let Some(c) = chars.next() else { continue };
            let rest = chars.as_str();
            let v = rest.strip_prefix('=').unwrap_or(rest);
            ("", Some(c), (!v.is_empty()).then(|| v.to_string()))
        } else {
            continue;
        };
        let is = |(long, letter): (&str, Option<char>)| {
            (short.is_none() && name == long) || (short.is_some() && short == letter)
        };
        let wanted =
            is(flags.host) || is((flags.config, None)) || flags.root.iter().any(|r| is(*r));
        if !wanted {
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => match argv.get(i) {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => break,
            },
        };
        if is(flags.host) {
            out.hosts.push(value);
        } else if is((flags.config, None)) {
            out.config_file = Some(value);
        } else {
            out.data_root = Some(value);
        }
    }
    out
}

/// Whether a daemon listening on `hosts` answers on the unix socket `socket`. A daemon given no
/// address, or started by systemd's socket activation (`fd://`), listens on `default`;
/// `/var/run` is `/run` on every current distribution.
pub fn listens_on(hosts: &[String], socket: &str, default: &str) -> bool {
    let norm = |p: &str| {
        let p = p.trim_start_matches("unix://");
        p.strip_prefix("/var/run/")
            .map(|rest| format!("/run/{rest}"))
            .unwrap_or_else(|| p.to_string())
    };
    let want = norm(socket);
    if hosts.is_empty() {
        return norm(default) == want;
    }
    hosts.iter().any(|h| {
        if h.starts_with("fd://") {
            norm(default) == want
        } else {
            h.starts_with("unix://") && norm(h) == want
        }
    })
}

#[cfg(test)]
mod daemon_tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn dockerd_flags_in_every_spelling() {
        let a = daemon_args(
            &argv(
                "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --config-file=/srv/d.json --data-root /data/docker -Hunix:///tmp/x.sock",
            ),
            &DOCKERD,
        );
        assert_eq!(a.hosts, vec!["fd://", "unix:///tmp/x.sock"]);
        assert_eq!(a.config_file.as_deref(), Some("/srv/d.json"));
        assert_eq!(a.data_root.as_deref(), Some("/data/docker"));
        let g = daemon_args(&argv("dockerd -g /old --host=unix:///a.sock"), &DOCKERD);
        assert_eq!(g.data_root.as_deref(), Some("/old"));
        assert_eq!(g.hosts, vec!["unix:///a.sock"]);
        assert_eq!(
            daemon_args(&argv("dockerd"), &DOCKERD),
            DaemonArgs::default()
        );
    }

    #[test]
    fn buildkitd_flags() {
        let a = daemon_args(
            &argv(
                "buildkitd --addr unix:///run/bk.sock --config /etc/bk.toml --root=/srv/bk --debug",
            ),
            &BUILDKITD,
        );
        assert_eq!(a.hosts, vec!["unix:///run/bk.sock"]);
        assert_eq!(a.config_file.as_deref(), Some("/etc/bk.toml"));
        assert_eq!(a.data_root.as_deref(), Some("/srv/bk"));
    }

    #[test]
    fn which_daemon_answers_on_a_socket() {
        let d = "/var/run/docker.sock";
        assert!(listens_on(&[], "/var/run/docker.sock", d));
        assert!(listens_on(&["fd://".into()], "/run/docker.sock", d));
        assert!(!listens_on(&["unix:///tmp/a.sock".into()], d, d));
        assert!(listens_on(&["unix:///tmp/a.sock".into()], "/tmp/a.sock", d));
        assert!(!listens_on(&["tcp://0.0.0.0:2375".into()], d, d));
    }
}
