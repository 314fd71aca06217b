//! Secrets out of everything the doctor hands to someone else: support bundles (at collection,
//! then the final scan of the finished archive) and reports in every format. One set of
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

/// A report (every format, and a bundle's report.json): each of its strings through the
/// detectors. Fix plans carry file contents (a Dockerfile, daemon.json): those go through
/// [`redact_file`] for their path instead.
pub fn redact_report(texts: Vec<&mut String>, files: Vec<(String, &mut String)>) -> Tally {
    let mut t = redact_strings(texts);
    for (path, content) in files {
        let (new, n) = redact_file(&path, content.as_bytes());
        t.merge(&n);
        *content = String::from_utf8_lossy(&new).into_owned();
    }
    t
}

/// Strings through the detectors, each occurrence tallied.
fn redact_strings(mut texts: Vec<&mut String>) -> Tally {
    // A thousand overlays make tens of thousands of strings but a few thousand distinct ones
    // ("unmount", "unknown", …), each searched by every detector: each distinct text is
    // redacted once, the lot spread over the cores. Almost none holds a secret, so only the few
    // that changed are put back.
    let changed: HashMap<String, (String, Tally)> = {
        let distinct: HashSet<&str> = texts.iter().map(|s| s.as_str()).collect();
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
    if !changed.is_empty() {
        for s in texts.iter_mut() {
            if let Some((new, n)) = changed.get(s.as_str()) {
                t.merge(n);
                s.clone_from(new);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests;
