//! What a bundle keeps of each record: the rules of [`crate::secrets`] applied by what the record
//! is (a command line, an environment, a file by its format, an engine answer), and `--anonymize`.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::host::{Answer, DockerCall, HostError, LibpodDb, Record, Request};
use crate::secrets::{self, Tally, redact_text};

/// `/proc/PID/cmdline`, `/proc/self/task/TID/cmdline` …: which per-process file a path names.
fn proc_file(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/proc/")?;
    let mut parts = rest.split('/');
    let first = parts.next()?;
    if first != "self" && first.parse::<u32>().is_err() {
        return None;
    }
    let last = rest.rsplit('/').next()?;
    Some(last)
}

fn text_in_place(s: &mut String, t: &mut Tally) {
    let (new, n) = redact_text(s);
    t.merge(&n);
    *s = new;
}

/// Redacts one record in place (its request too: a secret can be in a file name).
pub fn record(r: &mut Record) -> Tally {
    let mut t = Tally::default();
    let path = match &r.request {
        Request::Read(p) | Request::ReadLocal(p) => Some(p.clone()),
        _ => None,
    };
    request(&mut r.request, &mut t);
    match &mut r.answer {
        Ok(answer) => match answer {
            Answer::Bytes(b) => {
                let p = path.unwrap_or_default();
                let (new, n) = match proc_file(&p) {
                    Some("cmdline") => secrets::redact_cmdline(b),
                    Some("environ") => secrets::redact_environ(b),
                    _ => secrets::redact_file(&p, b),
                };
                *b = new;
                t.merge(&n);
            }
            Answer::Output(o) => {
                text_in_place(&mut o.stdout, &mut t);
                text_in_place(&mut o.stderr, &mut t);
            }
            Answer::Env(Some(v)) => {
                if let Request::Env(name) = &r.request {
                    let kept = secrets::redact_env_pair(name, v, &mut t);
                    *v = kept
                        .split_once('=')
                        .map(|(_, v)| v.to_string())
                        .unwrap_or_default();
                }
            }
            Answer::Json(v) => {
                if let Request::Docker(call) = &r.request {
                    docker(call, v, &mut t);
                }
                t.merge(&secrets::redact_json(v));
            }
            Answer::Link(l) => text_in_place(l, &mut t),
            Answer::Names(names) => names.iter_mut().for_each(|n| text_in_place(n, &mut t)),
            Answer::Entries(entries) => {
                for e in entries {
                    text_in_place(&mut e.name, &mut t);
                    if let Err(err) = &mut e.meta {
                        error(err, &mut t);
                    }
                }
            }
            Answer::LibpodDb(db) => libpod_strings(db, |s| text_in_place(s, &mut t)),
            _ => {}
        },
        Err(e) => error(e, &mut t),
    }
    t
}

fn request(r: &mut Request, t: &mut Tally) {
    match r {
        Request::Read(p)
        | Request::ReadLocal(p)
        | Request::MappedFiles(p)
        | Request::LibpodDb(p)
        | Request::ListDir(p)
        | Request::ReadLink(p)
        | Request::Subdirs(p)
        | Request::Stat(p)
        | Request::StatEntries(p)
        | Request::Statfs(p)
        | Request::DiskStat(p)
        | Request::DirSize(p)
        | Request::Connect(p)
        | Request::ProbeFreezer(_, p) => text_in_place(p, t),
        // The doctor's own commands: no allowlist (replay asks for the same argv), only detectors.
        Request::Run(argv) => argv.iter_mut().for_each(|a| text_in_place(a, t)),
        Request::Docker(DockerCall::Inspect(id)) => text_in_place(id, t),
        _ => {}
    }
}

/// Every string of libpod's database summary (names and paths are the user's; ids and state
/// words are ours, but go through the same rules rather than be trusted).
fn libpod_strings(db: &mut LibpodDb, mut f: impl FnMut(&mut String)) {
    db.run_root.iter_mut().for_each(&mut f);
    db.graph_root.iter_mut().for_each(&mut f);
    for c in &mut db.containers {
        f(&mut c.id);
        f(&mut c.name);
        match &mut c.state {
            Ok(s) | Err(s) => f(s),
        }
    }
}

fn error(e: &mut HostError, t: &mut Tally) {
    text_in_place(e.text_mut(), t);
}

/// Docker's command lines (`Path` + `Args`, `Cmd`, `Entrypoint`, and `Command` in the container
/// list and in `/system/df`) follow the command-line rule, `Env` the environment rule, wherever
/// they are in an answer.
fn docker(_call: &DockerCall, v: &mut Value, t: &mut Tally) {
    docker_walk(v, t);
}

fn argv_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn docker_walk(v: &mut Value, t: &mut Tally) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| docker_walk(x, t)),
        Value::Object(obj) => {
            if let Some(Value::String(cmd)) = obj.get_mut("Command") {
                let argv: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
                let (kept, n) = secrets::redact_argv(&argv);
                t.merge(&n);
                *cmd = kept.join(" ");
            }
            if let Some(path) = obj.get("Path").and_then(Value::as_str)
                && obj.get("Args").is_some_and(Value::is_array)
            {
                let mut argv = vec![path.to_string()];
                argv.extend(argv_of(&obj["Args"]));
                let (kept, n) = secrets::redact_argv(&argv);
                t.merge(&n);
                if let Some(p) = kept.first() {
                    obj.insert("Path".into(), Value::String(p.clone()));
                }
                obj.insert(
                    "Args".into(),
                    Value::Array(kept.into_iter().skip(1).map(Value::String).collect()),
                );
            }
            for key in ["Cmd", "Entrypoint"] {
                let argv = argv_of(obj.get(key).unwrap_or(&Value::Null));
                if argv.is_empty() {
                    continue;
                }
                let (kept, n) = secrets::redact_argv(&argv);
                t.merge(&n);
                obj.insert(
                    key.into(),
                    Value::Array(kept.into_iter().map(Value::String).collect()),
                );
            }
            if let Some(Value::Array(env)) = obj.get_mut("Env") {
                for e in env.iter_mut() {
                    if let Value::String(kv) = e
                        && let Some((k, val)) = kv.split_once('=')
                    {
                        *kv = secrets::redact_env_pair(k, val, t);
                    }
                }
            }
            for (k, x) in obj.iter_mut() {
                if !matches!(
                    k.as_str(),
                    "Command" | "Args" | "Cmd" | "Entrypoint" | "Env"
                ) {
                    docker_walk(x, t);
                }
            }
        }
        _ => {}
    }
}

/// Stable placeholders for host names, IP addresses and user names (`--anonymize`). Host names
/// and user names are replaced as whole words only; user names only where they are a path
/// component (`/home/debian/…`), so `ID=debian` in os-release stays.
pub struct Anonymizer {
    hosts: Vec<(String, String)>,
    users: Vec<(String, String)>,
    ips: HashMap<String, String>,
}

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?-u:\b)")
        .unwrap_or_else(|e| panic!("pattern: {e}"))
});

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Replaces `name` where it stands as a whole word (and, with `in_path`, right after a `/`).
fn whole_words(s: &str, name: &str, with: &str, in_path: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (i, _) in s.match_indices(name) {
        if i < last {
            continue;
        }
        let before = s[..i].chars().next_back();
        let after = s[i + name.len()..].chars().next();
        let starts = if in_path {
            before == Some('/')
        } else {
            !before.is_some_and(name_char)
        };
        let ends = !after.is_some_and(|c| name_char(c) && c != '.')
            || (!in_path && after == Some('.') && {
                // "host.example" is another name; "host." ending a sentence is this one.
                !s[i + name.len() + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
            });
        if starts && ends {
            out.push_str(&s[last..i]);
            out.push_str(with);
            last = i + name.len();
        }
    }
    out.push_str(&s[last..]);
    out
}

impl Anonymizer {
    /// `hosts` and `users` are the names to hide; each gets one placeholder everywhere.
    pub fn new(hosts: &[String], users: &[String]) -> Self {
        let mut h: Vec<(String, String)> = hosts
            .iter()
            .filter(|x| x.len() > 1)
            .enumerate()
            .map(|(i, x)| (x.clone(), format!("host-{}", i + 1)))
            .collect();
        let mut u: Vec<(String, String)> = users
            .iter()
            .filter(|x| x.len() > 1)
            .enumerate()
            .map(|(i, x)| (x.clone(), format!("user-{}", i + 1)))
            .collect();
        // Longest first, so a name inside another is not replaced in pieces.
        h.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        u.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        Anonymizer {
            hosts: h,
            users: u,
            ips: HashMap::new(),
        }
    }

    pub fn text(&mut self, s: &str) -> String {
        let mut out = s.to_string();
        for (name, placeholder) in &self.hosts {
            if out.contains(name.as_str()) {
                out = whole_words(&out, name, placeholder, false);
            }
        }
        for (name, placeholder) in &self.users {
            if out.contains(name.as_str()) {
                out = whole_words(&out, name, placeholder, true);
            }
        }
        let mut map = std::mem::take(&mut self.ips);
        let out = IPV4
            .replace_all(&out, |c: &regex::Captures| {
                let ip = &c[0];
                // Loopback and the unspecified address say nothing about the site.
                if ip.starts_with("127.") || ip == "0.0.0.0" {
                    return ip.to_string();
                }
                let n = map.len() + 1;
                map.entry(ip.to_string())
                    .or_insert_with(|| format!("ip-{n}"))
                    .clone()
            })
            .into_owned();
        self.ips = map;
        out
    }

    fn json(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.text(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.json(x)),
            Value::Object(o) => {
                let entries = std::mem::take(o);
                for (k, mut val) in entries {
                    self.json(&mut val);
                    o.insert(self.text(&k), val);
                }
            }
            _ => {}
        }
    }

    pub fn record(&mut self, r: &mut Record) {
        match &mut r.request {
            Request::Read(p)
            | Request::ReadLocal(p)
            | Request::MappedFiles(p)
            | Request::LibpodDb(p)
            | Request::ListDir(p)
            | Request::ReadLink(p)
            | Request::Subdirs(p)
            | Request::Stat(p)
            | Request::StatEntries(p)
            | Request::Statfs(p)
            | Request::DiskStat(p)
            | Request::DirSize(p)
            | Request::Connect(p) => *p = self.text(p),
            Request::Run(argv) => argv.iter_mut().for_each(|a| *a = self.text(a)),
            _ => {}
        }
        match &mut r.answer {
            Ok(Answer::Bytes(b)) => {
                if let Ok(t) = std::str::from_utf8(b) {
                    *b = self.text(t).into_bytes();
                }
            }
            Ok(Answer::Output(o)) => {
                o.stdout = self.text(&o.stdout);
                o.stderr = self.text(&o.stderr);
            }
            Ok(Answer::Json(v)) => self.json(v),
            Ok(Answer::Names(n)) => n.iter_mut().for_each(|x| *x = self.text(x)),
            Ok(Answer::Entries(entries)) => {
                for e in entries {
                    e.name = self.text(&e.name);
                    if let Err(err) = &mut e.meta {
                        self.error(err);
                    }
                }
            }
            Ok(Answer::Link(l)) => *l = self.text(l),
            Ok(Answer::Env(Some(v))) => *v = self.text(v),
            Ok(Answer::LibpodDb(db)) => libpod_strings(db, |s| *s = self.text(s)),
            Err(e) => self.error(e),
            _ => {}
        }
    }

    fn error(&mut self, e: &mut HostError) {
        let s = e.text_mut();
        *s = self.text(s);
    }
}

/// Kept for callers that only redact a string.
pub fn text(s: &str) -> (String, usize) {
    let (out, t) = redact_text(s);
    (out, t.total())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpods_summary_goes_through_the_same_rules() {
        let token = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
        let mut r = Record {
            request: Request::LibpodDb(
                "/home/alice/.local/share/containers/storage/libpod/bolt_state.db".into(),
            ),
            answer: Ok(Answer::LibpodDb(LibpodDb {
                run_root: Some("/home/alice/run".into()),
                graph_root: None,
                containers: vec![crate::parse::libpod::Container {
                    id: "84a0".into(),
                    name: format!("ci-{token}"),
                    state: Ok("running".into()),
                }],
            })),
            duration_us: 0,
        };
        assert_eq!(record(&mut r).total(), 1);
        Anonymizer::new(&[], &["alice".into()]).record(&mut r);
        let kept = serde_json::to_string(&r).unwrap();
        assert!(!kept.contains(&token) && !kept.contains("alice"), "{kept}");
        assert!(
            kept.contains("/home/user-1/run") && kept.contains("running"),
            "{kept}"
        );
    }

    #[test]
    fn anonymizer_is_stable_and_replaces_whole_words() {
        let mut a = Anonymizer::new(&["build-07".into()], &["alice".into(), "debian".into()]);
        let t = a.text("build-07 10.1.2.3 /home/alice 10.1.2.3 192.168.0.9 127.0.0.1");
        assert_eq!(t, "host-1 ip-1 /home/user-1 ip-1 ip-2 127.0.0.1");
        assert_eq!(a.text("10.1.2.3"), "ip-1");
        assert_eq!(a.text("ID=debian"), "ID=debian");
        assert_eq!(a.text("/home/debian/x"), "/home/user-2/x");
        assert_eq!(
            a.text("build-070 alice2 /home/alicex"),
            "build-070 alice2 /home/alicex"
        );
        assert_eq!(a.text("on build-07."), "on host-1.");
        let mut v: Value = serde_json::json!({"NetworkSettings": {"IPAddress": "172.17.0.2"}});
        a.json(&mut v);
        assert_eq!(v["NetworkSettings"]["IPAddress"], "ip-3");
    }

    /// A directory's entries carry names and, for an entry that could not be stated, the path
    /// in the error: both go through the same rules as a listing and an error do.
    #[test]
    fn a_directorys_entries_go_through_the_same_rules() {
        let token = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
        let mut r = Record {
            request: Request::StatEntries("/home/alice/fds".into()),
            answer: Ok(Answer::Entries(vec![crate::host::Entry {
                name: format!("x-{token}"),
                meta: Err(HostError::NotFound(format!("/home/alice/fds/x-{token}"))),
            }])),
            duration_us: 0,
        };
        assert_eq!(record(&mut r).total(), 2);
        Anonymizer::new(&[], &["alice".into()]).record(&mut r);
        let kept = serde_json::to_string(&r).unwrap();
        assert!(!kept.contains(&token) && !kept.contains("alice"), "{kept}");
        assert!(kept.contains("/home/user-1/fds"), "{kept}");
    }
}
