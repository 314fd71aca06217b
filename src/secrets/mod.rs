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

use std::collections::{BTreeMap, HashMap, HashSet};

pub use argv::{
    ENV_ALLOWLIST, TOOLS, is_tool, redact_argv, redact_cmdline, redact_env_pair, redact_environ,
};
pub use detect::{findings, findings_strict, is_secret_key, redact_text, warm};
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
    // A thousand overlays make tens of thousands of strings but a few thousand distinct ones
    // ("unmount", "unknown", …), each searched by every detector: each distinct text is
    // redacted once, the lot spread over the cores. Almost none holds a secret, so the report
    // is only walked again to put back the few that changed, each occurrence tallied.
    let changed: HashMap<String, (String, Tally)> = {
        let mut distinct: HashSet<&str> = HashSet::new();
        texts(v, &mut distinct);
        let distinct: Vec<&str> = distinct.into_iter().collect();
        crate::parallel::map_parts(&distinct, 256, |part| {
            part.iter()
                .filter_map(|s| {
                    let (new, n) = redact_text(s);
                    (new != *s || n.total() > 0).then(|| (s.to_string(), (new, n)))
                })
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    };
    let mut t = Tally::default();
    put_back(v, &changed, &mut t);
    t
}

/// Whether `content` beside `path` is a file's content, redacted by the file's format.
fn is_file_content(key: &str, val: &serde_json::Value, path: Option<&str>) -> bool {
    key == "content" && val.is_string() && path.is_some()
}

/// Every distinct string of the report but file contents.
fn texts<'a>(v: &'a serde_json::Value, out: &mut HashSet<&'a str>) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            let path = o.get("path").and_then(Value::as_str);
            for (k, val) in o {
                if !is_file_content(k, val, path) {
                    texts(val, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
        Value::String(s) => {
            out.insert(s);
        }
        _ => {}
    }
}

/// Puts the redacted strings in place of those that changed, and redacts file contents.
fn put_back(v: &mut serde_json::Value, changed: &HashMap<String, (String, Tally)>, t: &mut Tally) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            let path = o.get("path").and_then(Value::as_str).map(str::to_string);
            for (k, val) in o.iter_mut() {
                if is_file_content(k, val, path.as_deref())
                    && let (Value::String(content), Some(path)) = (&mut *val, &path)
                {
                    let (new, n) = redact_file(path, content.as_bytes());
                    t.merge(&n);
                    *content = String::from_utf8_lossy(&new).into_owned();
                } else {
                    put_back(val, changed, t);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| put_back(x, changed, t)),
        Value::String(s) if !changed.is_empty() => {
            if let Some((new, n)) = changed.get(s.as_str()) {
                t.merge(n);
                s.clone_from(new);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
