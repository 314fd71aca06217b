//! Files in the formats the doctor can parse are redacted as data: values are edited and the file
//! serialized again, so JSON stays JSON. A file left unchanged keeps its bytes exactly.

use serde_json::Value;
use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

use super::argv::env_value_hidden;
use super::detect::{is_secret_key, redact_strict, redact_text};
use super::{REDACTED, Tally};

/// A file's bytes, redacted by its format (from its name, else its content), then free text.
/// Whatever the format's parser kept as it was (trailing comments, TOML table keys) still goes
/// past the detectors that need no context: provider tokens, key blocks, URLs with credentials.
pub fn redact_file(path: &str, bytes: &[u8]) -> (Vec<u8>, Tally) {
    let (out, mut t) = by_format(path, bytes);
    let Ok(text) = std::str::from_utf8(&out) else {
        return (out, t);
    };
    let (strict, n) = redact_strict(text);
    if n.total() == 0 {
        return (out, t);
    }
    t.merge(&n);
    (strict.into_bytes(), t)
}

/// The file redacted as the format its name or content says (parsed and edited), else as text.
fn by_format(path: &str, bytes: &[u8]) -> (Vec<u8>, Tally) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        // Binary contents may still hide a key: redact what reads as text.
        let lossy = String::from_utf8_lossy(bytes);
        let (new, t) = redact_text(&lossy);
        return if t.total() > 0 {
            (new.into_bytes(), t)
        } else {
            (bytes.to_vec(), t)
        };
    };
    let base = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let trimmed = text.trim_start();
    if (base.ends_with(".json") || trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut v) = serde_json::from_str::<Value>(text)
    {
        let t = redact_json(&mut v);
        if t.total() == 0 {
            return (bytes.to_vec(), t);
        }
        let mut out = serde_json::to_string_pretty(&v).unwrap_or_else(|_| REDACTED.into());
        out.push('\n');
        return (out.into_bytes(), t);
    }
    if base.ends_with(".toml")
        && let Ok(mut v) = text.parse::<toml::Table>()
    {
        let mut t = Tally::default();
        for (k, val) in v.iter_mut() {
            toml_value(k, val, &mut t);
        }
        if t.total() == 0 {
            return comments_only(text);
        }
        // Comments are lost with the re-serialization: a secret in one goes with them.
        return (toml::to_string(&v).unwrap_or_default().into_bytes(), t);
    }
    let yamlish = base.ends_with(".yaml")
        || base.ends_with(".yml")
        || path.contains("/.kube/")
        || base == "kubeconfig"
        || text.contains("apiVersion:");
    // A document that is one plain scalar is text that happened to parse (a Dockerfile with
    // `apiVersion:` in it folds into one string): its lines are read as text below.
    if yamlish
        && let Ok(mut docs) = YamlLoader::load_from_str(text)
        && docs
            .iter()
            .any(|d| matches!(d, Yaml::Hash(_) | Yaml::Array(_)))
    {
        let mut t = Tally::default();
        for d in docs.iter_mut() {
            yaml(d, &mut t);
        }
        if t.total() == 0 {
            // Parsed and clean as data: the free-text line rules would misread its structure
            // (a secret-looking key over a nested map); only comments are free text.
            return comments_only(text);
        }
        {
            let mut out = String::new();
            for d in &docs {
                let mut e = YamlEmitter::new(&mut out);
                if e.dump(d).is_err() {
                    return (REDACTED.as_bytes().to_vec(), t);
                }
                out.push('\n');
            }
            return (out.into_bytes(), t);
        }
    }
    let (new, t) = redact_text(text);
    (new.into_bytes(), t)
}

/// A parsed file whose values are clean: its comments (whole lines, and the ` # …` after a
/// value) through the detectors.
fn comments_only(text: &str) -> (Vec<u8>, Tally) {
    let mut t = Tally::default();
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let at = if l.trim_start().starts_with('#') {
                Some(0)
            } else {
                l.find(" #").or_else(|| l.find("\t#")).map(|i| i + 1)
            };
            let Some(at) = at else {
                return l.to_string();
            };
            let (new, n) = redact_text(&l[at..]);
            t.merge(&n);
            format!("{}{new}", &l[..at])
        })
        .collect();
    if t.total() == 0 {
        return (text.as_bytes().to_vec(), t);
    }
    (lines.join("\n").into_bytes(), t)
}

/// A JSON document: values under secret keys, `{name, value}` environment pairs, every string
/// and every key through the detectors.
pub fn redact_json(v: &mut Value) -> Tally {
    let mut t = Tally::default();
    json(v, &mut t);
    t
}

fn json(v: &mut Value, t: &mut Tally) {
    match v {
        Value::String(s) => {
            let (new, n) = redact_text(s);
            t.merge(&n);
            *s = new;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| json(x, t)),
        Value::Object(o) => {
            let env_name = o
                .get("name")
                .or_else(|| o.get("Name"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let entries = std::mem::take(o);
            for (k, mut val) in entries {
                let (key, n) = redact_text(&k);
                t.merge(&n);
                let hide = is_secret_key(&k)
                    || (matches!(k.as_str(), "value" | "Value")
                        && env_name.as_deref().is_some_and(env_value_hidden));
                match &val {
                    Value::String(s) if hide && !s.is_empty() && s != REDACTED => {
                        val = Value::String(REDACTED.into());
                        t.add("secret value", 1);
                    }
                    Value::Number(_) if hide => {
                        val = Value::String(REDACTED.into());
                        t.add("secret value", 1);
                    }
                    Value::Object(_) | Value::Array(_) if hide => hide_json(&mut val, t),
                    _ => json(&mut val, t),
                }
                o.insert(key, val);
            }
        }
        _ => {}
    }
}

/// Everything nested under a secret key: every scalar goes (keys stay, through the detectors).
fn hide_json(v: &mut Value, t: &mut Tally) {
    match v {
        Value::String(s) if !s.is_empty() && s != REDACTED => {
            *s = REDACTED.into();
            t.add("secret value", 1);
        }
        Value::Number(_) => {
            *v = Value::String(REDACTED.into());
            t.add("secret value", 1);
        }
        Value::Array(a) => a.iter_mut().for_each(|x| hide_json(x, t)),
        Value::Object(o) => {
            let entries = std::mem::take(o);
            for (k, mut val) in entries {
                let (key, n) = redact_text(&k);
                t.merge(&n);
                hide_json(&mut val, t);
                o.insert(key, val);
            }
        }
        _ => {}
    }
}

fn toml_value(key: &str, v: &mut toml::Value, t: &mut Tally) {
    use toml::Value as T;
    let hide = is_secret_key(key);
    match v {
        T::String(s) if hide && !s.is_empty() && s != REDACTED => {
            *s = REDACTED.into();
            t.add("secret value", 1);
        }
        T::Integer(_) if hide => {
            *v = T::String(REDACTED.into());
            t.add("secret value", 1);
        }
        T::String(s) => {
            let (new, n) = redact_text(s);
            t.merge(&n);
            *s = new;
        }
        T::Array(a) => a.iter_mut().for_each(|x| toml_value(key, x, t)),
        T::Table(tab) if hide => {
            for (_, x) in tab.iter_mut() {
                toml_value(key, x, t);
            }
        }
        T::Table(tab) => {
            for (k, x) in tab.iter_mut() {
                toml_value(k, x, t);
            }
        }
        _ => {}
    }
}

fn yaml(v: &mut Yaml, t: &mut Tally) {
    match v {
        Yaml::String(s) => {
            let (new, n) = redact_text(s);
            t.merge(&n);
            *s = new;
        }
        Yaml::Array(a) => a.iter_mut().for_each(|x| yaml(x, t)),
        Yaml::Hash(h) => {
            let env_name = h
                .get(&Yaml::String("name".into()))
                .and_then(Yaml::as_str)
                .map(str::to_string);
            let entries: Vec<(Yaml, Yaml)> = std::mem::take(h).into_iter().collect();
            for (mut k, mut val) in entries {
                let ks = k.as_str().map(str::to_string);
                let hide = ks.as_deref().is_some_and(|k| {
                    is_secret_key(k)
                        || (k == "value" && env_name.as_deref().is_some_and(env_value_hidden))
                });
                match &val {
                    Yaml::String(s) if hide && !s.is_empty() && s != REDACTED => {
                        val = Yaml::String(REDACTED.into());
                        t.add("secret value", 1);
                    }
                    Yaml::Integer(_) | Yaml::Real(_) if hide => {
                        val = Yaml::String(REDACTED.into());
                        t.add("secret value", 1);
                    }
                    Yaml::Hash(_) | Yaml::Array(_) if hide => hide_yaml(&mut val, t),
                    _ => yaml(&mut val, t),
                }
                yaml(&mut k, t);
                h.insert(k, val);
            }
        }
        _ => {}
    }
}

fn hide_yaml(v: &mut Yaml, t: &mut Tally) {
    match v {
        Yaml::Hash(h) => {
            let entries: Vec<(Yaml, Yaml)> = std::mem::take(h).into_iter().collect();
            for (mut k, mut val) in entries {
                yaml(&mut k, t);
                hide_yaml(&mut val, t);
                h.insert(k, val);
            }
        }
        Yaml::Array(a) => a.iter_mut().for_each(|x| hide_yaml(x, t)),
        Yaml::String(s) if s.is_empty() || s == REDACTED => {}
        Yaml::String(_) | Yaml::Integer(_) | Yaml::Real(_) => {
            *v = Yaml::String(REDACTED.into());
            t.add("secret value", 1);
        }
        _ => {}
    }
}
