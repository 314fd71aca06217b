//! Secrets out of everything the doctor hands to someone else: support bundles (at collection,
//! then the final scan of the finished archive) and `--format json` reports. One set of
//! detectors serves both redaction and the scan, so whatever the scan would find, redaction has
//! already removed; the scan only ever catches what bypassed redaction, and then fails closed.
//!
//! Three layers, in the order they apply:
//! - **allowlists**: a process environment keeps every variable's name but the value only for
//!   the few variables a diagnosis needs ([`ENV_ALLOWLIST`]); a command line is kept in full only
//!   for container tooling ([`TOOLS`]), with secret-looking flags emptied, and is the command's
//!   name alone for every other process;
//! - **structure**: JSON, TOML and YAML files are parsed and their values edited (so they stay
//!   valid), by key name (`password`, `token`, `*_key` …) and, for Kubernetes-style
//!   `{name, value}` pairs, by the variable's name;
//! - **detectors for free text**: private key blocks, JWTs, provider tokens by prefix, URL
//!   user-info, Azure keys, `key = value` / `key: value` forms (quoted, unquoted, block scalars,
//!   continued lines), netrc, `--password X` flags, and base64 or URL-encoded text that decodes
//!   to any of these.

mod argv;
mod detect;
mod structured;

use std::collections::{BTreeMap, HashMap};

pub use argv::{
    ENV_ALLOWLIST, TOOLS, is_tool, redact_argv, redact_cmdline, redact_env_pair, redact_environ,
};
pub use detect::{findings, findings_strict, is_secret_key, redact_text};
pub use structured::{redact_file, redact_json};

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// How many secrets of each kind were removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally(pub BTreeMap<&'static str, usize>);

impl Tally {
    pub fn add(&mut self, kind: &'static str, n: usize) {
        if n > 0 {
            *self.0.entry(kind).or_default() += n;
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        for (k, n) in &other.0 {
            self.add(k, *n);
        }
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

/// `--format json` and a bundle's report.json: every string of the report (summaries, evidence
/// excerpts, fix plans with file contents) through the detectors; file contents in fix plans
/// (`{"path", "content"}`) through the structured redaction for their path.
pub fn redact_report(v: &mut serde_json::Value) -> Tally {
    let mut jobs = Vec::new();
    collect(v, &mut jobs);
    let mut t = Tally::default();
    // A thousand overlays make tens of thousands of strings but a few thousand distinct ones
    // ("unmount", "unknown", …), each searched by every detector: each distinct text is
    // redacted once, the lot spread over the cores, and the tally counts every occurrence.
    let mut distinct: HashMap<String, usize> = HashMap::new();
    let mut texts: Vec<String> = Vec::new();
    let mut which: Vec<(usize, &mut String)> = Vec::new();
    for job in jobs {
        match job {
            Job::Text(s) => {
                let text = std::mem::take(s);
                let next = texts.len();
                let i = *distinct.entry(text).or_insert(next);
                if i == next {
                    texts.push(String::new());
                }
                which.push((i, s));
            }
            Job::File(path, content) => {
                let (new, n) = redact_file(&path, content.as_bytes());
                t.merge(&n);
                *content = String::from_utf8_lossy(&new).into_owned();
            }
        }
    }
    for (text, i) in distinct {
        texts[i] = text;
    }
    let redacted: Vec<(String, Tally)> = crate::parallel::map_parts(&texts, 256, |part| {
        part.iter().map(|s| redact_text(s)).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    for (i, s) in which {
        let (new, n) = &redacted[i];
        t.merge(n);
        s.clone_from(new);
    }
    t
}

/// One string of a report to redact: text, or a file's content by the file's path (its format).
enum Job<'a> {
    Text(&'a mut String),
    File(String, &'a mut String),
}

fn collect<'a>(v: &'a mut serde_json::Value, jobs: &mut Vec<Job<'a>>) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            let path = o.get("path").and_then(Value::as_str).map(str::to_string);
            for (k, val) in o.iter_mut() {
                match (k.as_str(), val, &path) {
                    ("content", Value::String(content), Some(path)) => {
                        jobs.push(Job::File(path.clone(), content));
                    }
                    (_, val, _) => collect(val, jobs),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| collect(x, jobs)),
        Value::String(s) => jobs.push(Job::Text(s)),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
