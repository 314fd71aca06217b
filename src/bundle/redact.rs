//! Secrets out of everything a bundle carries, at collection time, and the same patterns again
//! as the final scan of the finished archive.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::host::{Answer, Record};

pub const REDACTED: &str = "<redacted>";

/// Secret-looking text and how to keep the part that is not secret (`$pre`).
static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    let p = |name, re: &str| (name, Regex::new(re).expect("a valid pattern"));
    vec![
        p(
            "private key",
            r"(?s)(?P<pre>-----BEGIN [A-Z ]*PRIVATE KEY-----).*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
        ),
        p(
            "credentials in a URL",
            r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@",
        ),
        p(
            "authorization header",
            r"(?i)(?P<pre>authorization:\s*(?:bearer|basic)\s+)[^\s\x00]+",
        ),
        p(
            "secret flag",
            r"(?i)(?P<pre>--?(?:password|passwd|token|secret|api-key|access-key|auth|client-secret)(?:=|[\s\x00]+))[^\s\x00]+",
        ),
        p(
            "secret value",
            r#"(?i)(?P<pre>"?[A-Za-z0-9_.-]*(?:token|secret|password|passwd|api_?key|access_?key|private_?key|credentials?|auth)[A-Za-z0-9_.-]*"?\s*[=:]\s*"?)[^\s"',;&\x00]+"#,
        ),
        p(
            "AWS access key id",
            r"(?P<pre>)\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        ),
    ]
});

/// Replaces every secret in `text`; returns how many.
pub fn text(s: &str) -> (String, usize) {
    let mut out = s.to_string();
    let mut count = 0;
    for (_, re) in PATTERNS.iter() {
        let mut n = 0;
        out = re
            .replace_all(&out, |c: &regex::Captures| {
                let pre = c.name("pre").map(|m| m.as_str()).unwrap_or("");
                // Already redacted (a value of <redacted>) stays as it is.
                let whole = c.get(0).map(|m| m.as_str()).unwrap_or("");
                if whole[pre.len()..].starts_with(REDACTED) {
                    return whole.to_string();
                }
                n += 1;
                format!("{pre}{REDACTED}")
            })
            .into_owned();
        count += n;
    }
    (out, count)
}

/// What the final scan finds: the pattern's name for each unredacted match (never the value).
pub fn findings(s: &str) -> Vec<&'static str> {
    PATTERNS
        .iter()
        .filter(|(_, re)| {
            re.captures_iter(s).any(|c| {
                let pre = c.name("pre").map(|m| m.as_str()).unwrap_or("");
                let whole = c.get(0).map(|m| m.as_str()).unwrap_or("");
                !whole[pre.len()..].starts_with(REDACTED)
            })
        })
        .map(|(name, _)| *name)
        .collect()
}

fn json(v: &mut Value) -> usize {
    match v {
        Value::String(s) => {
            let (new, n) = text(s);
            *s = new;
            n
        }
        Value::Array(a) => a.iter_mut().map(json).sum(),
        Value::Object(o) => o
            .iter_mut()
            .map(|(k, v)| {
                let secret_key = ["token", "secret", "password", "auth", "key"]
                    .iter()
                    .any(|w| k.to_lowercase().contains(w) && !k.to_lowercase().ends_with("keys"));
                if secret_key && v.is_string() {
                    *v = Value::String(REDACTED.into());
                    1
                } else {
                    json(v)
                }
            })
            .sum(),
        _ => 0,
    }
}

/// Redacts one record's answer in place; returns how many secrets went.
pub fn record(r: &mut Record) -> usize {
    let Ok(answer) = &mut r.answer else { return 0 };
    match answer {
        Answer::Bytes(b) => match std::str::from_utf8(b) {
            Ok(t) => {
                let (new, n) = text(t);
                *b = new.into_bytes();
                n
            }
            // Binary contents may still hide a key: redact what reads as text, byte for byte.
            Err(_) => {
                let lossy = String::from_utf8_lossy(b).into_owned();
                let (new, n) = text(&lossy);
                if n > 0 {
                    *b = new.into_bytes();
                }
                n
            }
        },
        Answer::Output(o) => {
            let (out, a) = text(&o.stdout);
            let (err, b) = text(&o.stderr);
            o.stdout = out;
            o.stderr = err;
            a + b
        }
        Answer::Env(Some(v)) => {
            let (new, n) = text(v);
            *v = new;
            n
        }
        Answer::Json(v) => json(v),
        Answer::Link(l) => {
            let (new, n) = text(l);
            *l = new;
            n
        }
        _ => 0,
    }
}

/// Stable placeholders for host names, IP addresses and user names (`--anonymize`).
pub struct Anonymizer {
    names: Vec<(String, String)>,
    ips: HashMap<String, String>,
    ip: Regex,
}

impl Anonymizer {
    /// `hosts` and `users` are the names to hide; each gets one placeholder everywhere.
    pub fn new(hosts: &[String], users: &[String]) -> Self {
        let mut names = Vec::new();
        for (i, h) in hosts.iter().filter(|h| h.len() > 1).enumerate() {
            names.push((h.clone(), format!("host-{}", i + 1)));
        }
        for (i, u) in users.iter().filter(|u| u.len() > 1).enumerate() {
            names.push((u.clone(), format!("user-{}", i + 1)));
        }
        // Longest first, so a name inside another is not replaced in pieces.
        names.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        Anonymizer {
            names,
            ips: HashMap::new(),
            ip: Regex::new(r"\b(?:\d{1,3}\.){3}\d{1,3}\b").expect("a valid pattern"),
        }
    }

    pub fn text(&mut self, s: &str) -> String {
        let mut out = s.to_string();
        for (name, placeholder) in &self.names {
            out = out.replace(name.as_str(), placeholder);
        }
        let mut map = std::mem::take(&mut self.ips);
        let out = self
            .ip
            .replace_all(&out, |c: &regex::Captures| {
                let n = map.len() + 1;
                map.entry(c[0].to_string())
                    .or_insert_with(|| format!("ip-{n}"))
                    .clone()
            })
            .into_owned();
        self.ips = map;
        out
    }

    pub fn record(&mut self, r: &mut Record) {
        if let Ok(Answer::Bytes(b)) = &mut r.answer
            && let Ok(t) = std::str::from_utf8(b)
        {
            *b = self.text(t).into_bytes();
        }
        if let Ok(Answer::Output(o)) = &mut r.answer {
            o.stdout = self.text(&o.stdout);
            o.stderr = self.text(&o.stderr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_secrets() {
        for (input, keeps) in [
            (
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG",
                "AWS_SECRET_ACCESS_KEY=",
            ),
            ("GITHUB_TOKEN=ghp_abcdef123456", "GITHUB_TOKEN="),
            ("registry --password=hunter2 --user bob", "--password="),
            ("login --token abc.def", "--token "),
            ("login\0--token\0abc.def\0", "--token\0"),
            ("https://bob:s3cr3t@registry.example.com/v2/", "https://"),
            ("{\"auth\": \"Ym9iOnMzY3IzdA==\"}", "\"auth\": \""),
            ("Authorization: Bearer eyJhbGciOi", "Authorization: "),
            ("key AKIAIOSFODNN7EXAMPLE here", "key "),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
                "-----BEGIN RSA PRIVATE KEY-----",
            ),
        ] {
            let (out, n) = text(input);
            assert!(n >= 1, "{input}");
            assert!(
                out.contains(keeps) && out.contains(REDACTED),
                "{input} → {out}"
            );
            assert!(findings(&out).is_empty(), "{out}");
            assert!(!findings(input).is_empty(), "{input}");
        }
        assert_eq!(text("PATH=/usr/bin:/bin HOME=/root").1, 0);
        // Redacting twice changes nothing.
        let once = text("DB_PASSWORD=x").0;
        assert_eq!(text(&once), (once.clone(), 0));
    }

    #[test]
    fn anonymizer_is_stable() {
        let mut a = Anonymizer::new(&["build-07".into()], &["alice".into()]);
        let t = a.text("build-07 10.1.2.3 /home/alice 10.1.2.3 192.168.0.9");
        assert_eq!(t, "host-1 ip-1 /home/user-1 ip-1 ip-2");
        assert_eq!(a.text("10.1.2.3"), "ip-1");
    }
}
