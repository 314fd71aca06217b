//! Allowlists: which environment values and which command lines a bundle keeps.

use super::detect::{is_secret_key, redact_text};
use super::{REDACTED, Tally};

/// Environment variables whose values a diagnosis needs (where things are, which engine, which
/// locale). Every other variable keeps its name and loses its value. Values kept still pass the
/// detectors (`DOCKER_HOST=tcp://user:pass@…` loses the password).
pub const ENV_ALLOWLIST: &[&str] = &[
    "PATH",
    "HOME",
    "PWD",
    "SHELL",
    "TERM",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "container",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CONTEXT",
    "DOCKER_BUILDKIT",
    "BUILDKIT_HOST",
    "BUILDX_BUILDER",
    "CONTAINER_HOST",
    "CONTAINERD_ADDRESS",
    "CONTAINERD_NAMESPACE",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "NOTIFY_SOCKET",
    "KUBECONFIG",
];

/// Container tooling: their command lines say how the engine is set up, so they are kept (with
/// secret flags emptied). Every other process is shown by its command name alone.
pub const TOOLS: &[&str] = &[
    "dockerd",
    "docker",
    "docker-proxy",
    "docker-init",
    "containerd",
    "ctr",
    "nerdctl",
    "runc",
    "crun",
    "youki",
    "runsc",
    "buildkitd",
    "buildctl",
    "docker-buildx",
    "criu",
    "podman",
    "buildah",
    "skopeo",
    "conmon",
    "conmonrs",
    "crio",
    "cri-dockerd",
    "kubelet",
    "kube-proxy",
    "fuse-overlayfs",
    "slirp4netns",
    "pasta",
    "rootlesskit",
    "catatonit",
    "tini",
    "container-doctor",
];

/// Whether argv[0] names container tooling (by its base name; shims by prefix).
pub fn is_tool(argv0: &str) -> bool {
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    TOOLS.contains(&base) || base.starts_with("containerd-shim")
}

/// One `NAME=VALUE`: the value only for allowlisted names (and then through the detectors).
pub fn redact_env_pair(name: &str, value: &str, t: &mut Tally) -> String {
    let (name, n) = redact_text(name);
    t.merge(&n);
    if ENV_ALLOWLIST.contains(&name.as_str()) {
        let (v, n) = redact_text(value);
        t.merge(&n);
        return format!("{name}={v}");
    }
    if !value.is_empty() && value != REDACTED {
        t.add("environment value", 1);
    }
    if value.is_empty() {
        format!("{name}=")
    } else {
        format!("{name}={REDACTED}")
    }
}

/// A flag whose value is secret: `--password`, `--registry-token`, `--creds` … but not
/// `--password-stdin` or `--token-file`, whose values are not.
fn secret_flag(flag: &str) -> bool {
    let name = flag.trim_start_matches('-').to_ascii_lowercase();
    if name.is_empty() || !flag.starts_with('-') {
        return false;
    }
    let words = [
        "password",
        "passwd",
        "passphrase",
        "token",
        "secret",
        "apikey",
        "api-key",
        "api_key",
        "access-key",
        "accesskey",
        "private-key",
        "creds",
        "credential",
    ];
    let exempt = ["-stdin", "-file", "-path", "-dir", "-fd", "-env"];
    (words.iter().any(|w| name.contains(w)) || matches!(name.as_str(), "pass" | "pwd"))
        && !exempt.iter().any(|e| name.ends_with(e))
}

fn env_arg(arg: &str, t: &mut Tally) -> String {
    match arg.split_once('=') {
        Some((k, v)) => redact_env_pair(k, v, t),
        None => {
            let (a, n) = redact_text(arg);
            t.merge(&n);
            a
        }
    }
}

fn looks_like_env(arg: &str) -> bool {
    arg.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !k.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// A command line: in full for container tooling, with secret flag values removed in every form
/// (`--password=X`, `--password X`, `-pX` and `-p X` after `login`, `-u user:X`, `-e NAME=X`);
/// the command name alone for every other process.
pub fn redact_argv(argv: &[String]) -> (Vec<String>, Tally) {
    let mut t = Tally::default();
    let Some(first) = argv.first() else {
        return (Vec::new(), t);
    };
    let (name, n) = redact_text(first);
    t.merge(&n);
    if !is_tool(first) {
        if argv.len() > 1 {
            t.add("arguments of a command that is not container tooling", 1);
        }
        return (vec![name], t);
    }
    let login = argv.iter().any(|a| a == "login");
    let mut out = vec![name];
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        let next = argv.get(i + 1).map(String::as_str);
        let mut take_next = |out: &mut Vec<String>, v: String| {
            out.push(v);
            i += 1;
        };
        if a.starts_with('-')
            && let Some((flag, value)) = a.split_once('=')
        {
            if secret_flag(flag) || (flag == "--creds" || flag == "--user") && value.contains(':') {
                if let Some((user, pass)) = value.split_once(':').filter(|_| !secret_flag(flag)) {
                    out.push(format!("{flag}={user}:{REDACTED}"));
                    t.add("secret flag", usize::from(pass != REDACTED));
                } else {
                    out.push(format!("{flag}={REDACTED}"));
                    t.add("secret flag", usize::from(value != REDACTED));
                }
            } else if matches!(flag, "-e" | "--env" | "--build-arg") {
                out.push(format!("{flag}={}", env_arg(value, &mut t)));
            } else {
                let (v, n) = redact_text(a);
                t.merge(&n);
                out.push(v);
            }
        } else if let Some(v) = next.filter(|_| secret_flag(a) || (login && a == "-p")) {
            out.push(a.to_string());
            t.add("secret flag", usize::from(v != REDACTED));
            take_next(&mut out, REDACTED.to_string());
        } else if login && a.starts_with("-p") && !a.starts_with("--") {
            out.push(format!("-p{REDACTED}"));
            t.add("secret flag", usize::from(&a[2..] != REDACTED));
        } else if matches!(a, "-u" | "--user" | "--creds" | "-U")
            && let Some(v) = next.filter(|v| v.contains(':'))
        {
            out.push(a.to_string());
            let (user, pass) = v.split_once(':').unwrap_or(("", ""));
            let (user, n) = redact_text(user);
            t.merge(&n);
            t.add("secret flag", usize::from(pass != REDACTED));
            take_next(&mut out, format!("{user}:{REDACTED}"));
        } else if matches!(a, "-e" | "--env" | "--build-arg")
            && let Some(v) = next
        {
            out.push(a.to_string());
            let v = env_arg(v, &mut t);
            take_next(&mut out, v);
        } else if looks_like_env(a) {
            out.push(env_arg(a, &mut t));
        } else if let Some(kv) = a.strip_prefix("build-arg:").filter(|kv| looks_like_env(kv)) {
            out.push(format!("build-arg:{}", env_arg(kv, &mut t)));
        } else if a.starts_with("-e") && a.len() > 2 && looks_like_env(&a[2..]) {
            out.push(format!("-e{}", env_arg(&a[2..], &mut t)));
        } else {
            let (v, n) = redact_text(a);
            t.merge(&n);
            out.push(v);
        }
        i += 1;
    }
    (out, t)
}

/// /proc/PID/cmdline (NUL-separated) through [`redact_argv`].
pub fn redact_cmdline(bytes: &[u8]) -> (Vec<u8>, Tally) {
    let argv: Vec<String> = bytes
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let trailing = bytes.last() == Some(&0);
    let argv = if trailing {
        &argv[..argv.len() - 1]
    } else {
        &argv[..]
    };
    let (out, t) = redact_argv(argv);
    let mut joined = out.join("\0").into_bytes();
    if trailing && !out.is_empty() {
        joined.push(0);
    }
    (joined, t)
}

/// A whole environment (/proc/PID/environ, NUL-separated).
pub fn redact_environ(bytes: &[u8]) -> (Vec<u8>, Tally) {
    let mut t = Tally::default();
    let mut out = Vec::with_capacity(bytes.len());
    for (i, kv) in bytes.split(|b| *b == 0).enumerate() {
        if i > 0 {
            out.push(0);
        }
        if kv.is_empty() {
            continue;
        }
        let kv = String::from_utf8_lossy(kv);
        let redacted = match kv.split_once('=') {
            Some((k, v)) => redact_env_pair(k, v, &mut t),
            None => {
                let (v, n) = redact_text(&kv);
                t.merge(&n);
                v
            }
        };
        out.extend_from_slice(redacted.as_bytes());
    }
    (out, t)
}

/// `{name: X, value: Y}` pairs (Kubernetes env lists, kubeconfig exec env): the environment rule.
pub(super) fn env_value_hidden(name: &str) -> bool {
    !ENV_ALLOWLIST.contains(&name) || is_secret_key(name)
}
