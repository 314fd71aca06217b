//! The detectors for free text, and the encoded forms (base64, URL encoding) that hide them.
//! `findings` is "what would redaction change": the scan and the redaction cannot disagree.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use regex::{Captures, Regex};

use super::{REDACTED, Tally};

/// A key name that says its value is secret: `password`, `DB_PASSWORD`, `api-key`, `client-key-data`,
/// `token`, `auth`, `authToken` … but not `author` or `authority` (case-insensitive; used inside
/// larger patterns). Key names and keywords are
/// matched in ASCII (`(?-u:…)`): Unicode case folding (`ſ`, the Kelvin sign) made these patterns
/// three times as slow to compile, and every report compiles them.
pub(super) const SECRET_KEY: &str = r"[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|account[_.-]?key|signing[_.-]?key|session[_.-]?key|credentials?|cookie)[A-Za-z0-9_.-]*|[A-Za-z0-9_.-]*?auth(?:s|orization|token|key|header|string|data|config|[_.-][A-Za-z0-9_.-]*)?|[A-Za-z0-9_.-]*[_.-]key(?:[_.-]data)?|[A-Za-z0-9_.-]*[_.-](?:pass|pw)|pass|pw";

static SECRET_KEY_ALONE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i-u)^(?:{SECRET_KEY})$")));

/// Whether a key (JSON, TOML, YAML, INI, environment variable) names a secret.
pub fn is_secret_key(k: &str) -> bool {
    SECRET_KEY_ALONE.is_match(k)
}

fn re(p: &str) -> Regex {
    // The patterns are constants of this file, tested below: a bad one fails every test at once.
    // Word boundaries are ASCII ones (secrets are ASCII tokens): with Unicode's, any non-ASCII
    // text makes the regex engine give up its DFA for the PikeVM, three quarters of a bundle's
    // time.
    Regex::new(&p.replace(r"\b", r"(?-u:\b)")).unwrap_or_else(|e| panic!("detector pattern: {e}"))
}

struct Detector {
    name: &'static str,
    re: Regex,
    /// Context-free: safe to run over serialized JSON as well as over decoded text.
    strict: bool,
    /// A further test of the value (the match's `v`, `v1`, `v2` or `v3` group).
    valid: fn(&str) -> bool,
}

fn any(_: &str) -> bool {
    true
}

/// Not a secret whatever its key says: booleans, tiny numbers, empty, a nested structure opening.
fn plausible(v: &str) -> bool {
    let t = v.trim().trim_matches(|c| c == '"' || c == '\'');
    let lower = t.to_ascii_lowercase();
    !(t.is_empty()
        || t.starts_with('{')
        || t.starts_with('[')
        || t.starts_with(REDACTED)
        || t.starts_with('$')
        || matches!(
            lower.as_str(),
            "y" | "n"
                | "m"
                | "true"
                | "false"
                | "yes"
                | "no"
                | "on"
                | "off"
                | "null"
                | "none"
                | "~"
        )
        || (t.len() < 4 && t.chars().all(|c| c.is_ascii_digit())))
}

fn not_a_flag(v: &str) -> bool {
    !v.starts_with('-') && plausible(v)
}

/// 40 characters of base64 alphabet mixing cases and digits: an AWS secret access key's shape.
fn aws_secret(v: &str) -> bool {
    v.len() == 40
        && v.bytes().any(|b| b.is_ascii_uppercase())
        && v.bytes().any(|b| b.is_ascii_lowercase())
        && v.bytes().any(|b| b.is_ascii_digit())
        && !v.contains("/usr/")
        && !v.starts_with('/')
}

/// URL user-info worth hiding: anything with a password, or a long token-like user.
fn userinfo(v: &str) -> bool {
    !v.is_empty()
        && !v.starts_with(REDACTED)
        && (v.contains(':')
            || (v.len() >= 16
                && v.bytes().any(|b| b.is_ascii_digit())
                && v.bytes().any(|b| b.is_ascii_alphabetic())))
}

static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    let d = |name, strict, valid: fn(&str) -> bool, p: &str| Detector {
        name,
        re: re(p),
        strict,
        valid,
    };
    vec![
        d(
            "private key",
            true,
            any,
            r"(?s)-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?P<v>.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\z)",
        ),
        d(
            "JWT",
            true,
            any,
            r"\b(?P<v>eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*)",
        ),
        d(
            "GitHub token",
            true,
            any,
            r"\b(?P<v>gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
        ),
        d(
            "GitLab token",
            true,
            any,
            r"\b(?P<v>gl(?:pat|dt|rt|ptt|ft|cbt|imt|oas|soat|ffct|agent)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})",
        ),
        d(
            "Slack token",
            true,
            any,
            r"\b(?P<v>xox[abposrce]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]+)",
        ),
        d(
            "AWS access key id",
            true,
            any,
            r"\b(?P<v>(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{16})\b",
        ),
        d(
            "Stripe key",
            true,
            any,
            r"\b(?P<v>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,})",
        ),
        d(
            "Google API key",
            true,
            any,
            r"\b(?P<v>AIza[0-9A-Za-z_-]{35})",
        ),
        d("npm token", true, any, r"\b(?P<v>npm_[A-Za-z0-9]{36})"),
        d(
            "provider token",
            true,
            any,
            r"\b(?P<v>dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}|pypi-AgE[A-Za-z0-9_-]{40,}|hf_[A-Za-z0-9]{30,}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})",
        ),
        d(
            "credentials in a URL",
            true,
            userinfo,
            r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?P<v>[^\s/?#\x00]*)@",
        ),
        d(
            "Azure key",
            true,
            any,
            r"(?i)\b(?-u:AccountKey|SharedAccessKey|SharedAccessSignature|SharedSecret)\s*=\s*(?P<v>[^;\s\x00]+)|[?&]sig=(?P<v1>[^&\s\x00]+)",
        ),
        d(
            "authorization header",
            false,
            plausible,
            r"(?i)(?:\b(?-u:authorization)\s*[:=]\s*(?-u:bearer|basic|token|digest)?|\b(?-u:bearer))[ \t]+(?P<v>[A-Za-z0-9._~+/-]{8,}=*)",
        ),
        d(
            "secret flag",
            false,
            not_a_flag,
            r"(?i)(?:^|[\s\x00])--?(?-u:[A-Za-z0-9-]*(?:password|passwd|passphrase|pass|pwd|token|secret|api-?key|access-?key|private-?key|creds?|credentials?))(?:=|[ \t\x00]+)(?P<v>[^\s\x00]+)",
        ),
        d(
            "secret value",
            false,
            plausible,
            &format!(
                r#"(?i)\b(?-u:{SECRET_KEY})\b["']?[ \t]*[:=][ \t]*(?:"(?P<v1>[^"\n]*)"|'(?P<v2>[^'\n]*)'|(?P<v3>[^\s"',;&\x00]+))"#
            ),
        ),
        d(
            // A Dockerfile's older `ENV KEY value` form, which has no `=` (Dockerfile reference).
            "secret value",
            false,
            plausible,
            &format!(r"(?m)^[ \t]*(?i-u:ENV)[ \t]+(?i-u:{SECRET_KEY})[ \t]+(?P<v>[^\s=][^\n]*)"),
        ),
        d(
            "AWS secret access key",
            false,
            aws_secret,
            r"(?:^|[^A-Za-z0-9/+=_-])(?P<v>[A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=_-])",
        ),
    ]
});

/// `key: value` / `key = value` lines, in all their YAML, INI and shell forms.
static LINE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r#"(?i)^(?P<ind>[ \t]*(?:-[ \t]+)?(?:export[ \t]+)?["']?)(?-u:{SECRET_KEY})["']?[ \t]*[:=][ \t]*(?P<rest>.*)$"#
    ))
});
/// netrc: `machine host login user password secret` (tokens on one or many lines).
static NETRC_SHAPE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?m)^[ \t]*(?:machine[ \t]+\S+|default\b)"));
static NETRC_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(?-u:password|passwd|account)[ \t\n]+(?P<v>\S+)"));
/// Runs of base64 (standard or URL-safe) long enough to hide a secret.
static BASE64_RUN: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9+/_-]{16,}={0,2}"));
/// Runs of URL-encoded text.
static URL_ENCODED_RUN: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Za-z0-9%._~+=&:/@-]*%[0-9A-Fa-f]{2}[A-Za-z0-9%._~+=&:/@-]*"));
/// What Docker's `auth` holds once decoded: `user:password`.
static USER_PASS: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9._@+-]{1,64}:[^\s:]{4,}$"));

/// Compiles every detector now: a scan does it on a thread of its own while its checks run,
/// instead of in the report's redaction after them (milliseconds of a 30 ms `--check`).
pub fn warm() {
    LazyLock::force(&DETECTORS);
    for re in [
        &LINE_KEY,
        &NETRC_SHAPE,
        &NETRC_PASSWORD,
        &BASE64_RUN,
        &URL_ENCODED_RUN,
        &USER_PASS,
    ] {
        LazyLock::force(re);
    }
}

/// Replaces every secret in `s` with `<redacted>`; says how many of each kind went.
pub fn redact_text(s: &str) -> (String, Tally) {
    redact_depth(s, 0, false)
}

/// [`redact_text`] with only the detectors that need no context (tokens by their shape, key
/// blocks, URLs with credentials, and those encoded): for text whose structure a parser has read.
pub fn redact_strict(s: &str) -> (String, Tally) {
    redact_depth(s, 0, true)
}

/// The kinds of secret that `s` still holds (never the values): what redaction would remove.
pub fn findings(s: &str) -> Vec<&'static str> {
    redact_depth(s, 0, false).1.0.into_keys().collect()
}

/// Like [`findings`], with only the detectors that need no context: for serialized JSON, where
/// `key: value` shapes and line structure are not those of the text inside the strings.
pub fn findings_strict(s: &str) -> Vec<&'static str> {
    redact_strict(s).1.0.into_keys().collect()
}

fn redact_depth(s: &str, depth: u8, strict: bool) -> (String, Tally) {
    let mut tally = Tally::default();
    let mut out = if strict {
        s.to_string()
    } else {
        let (t, n) = lines(s);
        tally.add("secret value", n);
        t
    };
    if !strict && NETRC_SHAPE.is_match(&out) {
        let (t, n) = replace(&out, &NETRC_PASSWORD, plausible);
        tally.add("netrc password", n);
        out = t;
    }
    for d in DETECTORS.iter().filter(|d| d.strict || !strict) {
        if !d.re.is_match(&out) {
            continue;
        }
        let (t, n) = replace(&out, &d.re, d.valid);
        tally.add(d.name, n);
        out = t;
    }
    if depth < 2 {
        let (t, n) = encoded(&out, depth, strict);
        tally.merge(&n);
        out = t;
    }
    (out, tally)
}

/// Replaces the value group of every valid match not already redacted.
fn replace(s: &str, re: &Regex, valid: fn(&str) -> bool) -> (String, usize) {
    let mut n = 0;
    let out = re.replace_all(s, |c: &Captures| {
        let whole = c.get(0).map(|m| m.as_str()).unwrap_or("");
        let Some(v) = ["v", "v1", "v2", "v3"].iter().find_map(|g| c.name(g)) else {
            return whole.to_string();
        };
        let value = v.as_str();
        if value.is_empty() || value.starts_with(REDACTED) || !valid(value) {
            return whole.to_string();
        }
        n += 1;
        let start = v.start() - c.get(0).map(|m| m.start()).unwrap_or(0);
        format!(
            "{}{REDACTED}{}",
            &whole[..start],
            &whole[start + value.len()..]
        )
    });
    (out.into_owned(), n)
}

/// Base64 and URL-encoded runs that decode to a secret (or to Docker's `user:password`).
fn encoded(s: &str, depth: u8, strict: bool) -> (String, Tally) {
    let mut tally = Tally::default();
    let hit = |run: &str, decoded: &str, tally: &mut Tally| -> bool {
        let inner = redact_depth(decoded, depth + 1, strict).1;
        if inner.total() > 0 {
            tally.add("encoded secret", 1);
            return true;
        }
        if USER_PASS.is_match(decoded.trim()) && run.len() >= 8 {
            tally.add("encoded user:password", 1);
            return true;
        }
        false
    };
    let mut out = s.to_string();
    if BASE64_RUN.is_match(&out) {
        out = BASE64_RUN
            .replace_all(&out, |c: &Captures| {
                let run = &c[0];
                match decode_base64(run) {
                    Some(d) if hit(run, &d, &mut tally) => REDACTED.to_string(),
                    _ => run.to_string(),
                }
            })
            .into_owned();
    }
    if out.contains('%') && URL_ENCODED_RUN.is_match(&out) {
        out = URL_ENCODED_RUN
            .replace_all(&out, |c: &Captures| {
                let run = &c[0];
                match percent_decode(run) {
                    Some(d) if d != run && hit(run, &d, &mut tally) => REDACTED.to_string(),
                    _ => run.to_string(),
                }
            })
            .into_owned();
    }
    (out, tally)
}

/// The text a base64 run stands for, if it is mostly printable UTF-8.
fn decode_base64(run: &str) -> Option<String> {
    let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(run).ok())?;
    let text = String::from_utf8(bytes).ok()?;
    let printable = text
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .count();
    (text.len() >= 6 && printable * 10 >= text.chars().count() * 9).then_some(text)
}

fn percent_decode(run: &str) -> Option<String> {
    let b = run.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(h) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The line forms: a secret key's value to the end of the line, and what continues it on the
/// next lines (YAML block scalars and indented continuations, `\` continuations, open quotes).
fn lines(s: &str) -> (String, usize) {
    if !s.contains(':') && !s.contains('=') {
        return (s.to_string(), 0);
    }
    let src: Vec<&str> = s.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(src.len());
    let mut n = 0;
    let mut i = 0;
    while i < src.len() {
        let line = src[i];
        let Some(c) = LINE_KEY.captures(line) else {
            out.push(line.to_string());
            i += 1;
            continue;
        };
        let col = c.name("ind").map(|m| m.as_str().len()).unwrap_or(0);
        let rest_m = c.name("rest");
        let rest = rest_m.map(|m| m.as_str()).unwrap_or("");
        let rest_start = rest_m.map(|m| m.start()).unwrap_or(line.len());
        let trimmed = rest.trim();
        let colon = line[..rest_start].trim_end().ends_with(':');
        let block = trimmed.is_empty()
            || (colon
                && trimmed.starts_with(['|', '>'])
                && trimmed[1..]
                    .trim_start_matches([
                        '-', '+', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
                    ])
                    .trim()
                    .is_empty_or_comment());
        let mut redacted_here = false;
        if block {
            out.push(line.to_string());
        } else if !plausible(trimmed) {
            out.push(line.to_string());
            i += 1;
            continue;
        } else {
            let q = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'');
            let new_rest = match q {
                Some(q) if trimmed.len() > 1 && trimmed[1..].contains(q) => {
                    let close = trimmed[1..].find(q).map(|p| p + 1).unwrap_or(0);
                    format!("{q}{REDACTED}{}", &trimmed[close..])
                }
                Some(q) => format!("{q}{REDACTED}"),
                None => REDACTED.to_string(),
            };
            out.push(format!("{}{new_rest}", &line[..rest_start]));
            redacted_here = true;
            n += 1;
            // An open quote continues to the line that closes it.
            if let Some(q) = q
                && !(trimmed.len() > 1 && trimmed[1..].contains(q))
            {
                i += 1;
                while i < src.len() {
                    let closes = src[i].contains(q);
                    out.push(cover(src[i]));
                    i += 1;
                    if closes {
                        break;
                    }
                }
                continue;
            }
            // A `\` at the end continues the value on the next line.
            if trimmed.ends_with('\\') {
                i += 1;
                while i < src.len() {
                    let more = src[i].trim_end().ends_with('\\');
                    out.push(cover(src[i]));
                    i += 1;
                    if !more {
                        break;
                    }
                }
                continue;
            }
        }
        i += 1;
        // Lines indented deeper than the key belong to its value (block scalars, YAML plain
        // scalars continued, anything nested under a secret key).
        if block || (colon && redacted_here) {
            let mut covered = false;
            while i < src.len() {
                let l = src[i];
                let ind = l.len() - l.trim_start().len();
                if !l.trim().is_empty() && ind <= col {
                    break;
                }
                if !l.trim().is_empty() && l.trim() != REDACTED {
                    covered = true;
                }
                out.push(cover(l));
                i += 1;
            }
            if block && covered {
                n += 1;
            }
        }
    }
    (out.join("\n"), n)
}

/// A continuation line with its indentation kept and its text gone.
fn cover(l: &str) -> String {
    if l.trim().is_empty() {
        return l.to_string();
    }
    let ind = l.len() - l.trim_start().len();
    format!("{}{REDACTED}", &l[..ind])
}

trait EmptyOrComment {
    fn is_empty_or_comment(&self) -> bool;
}

impl EmptyOrComment for str {
    fn is_empty_or_comment(&self) -> bool {
        self.is_empty() || self.starts_with('#')
    }
}
