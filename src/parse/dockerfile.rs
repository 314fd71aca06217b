//! Dockerfiles, as far as stages and cache mounts go: parser directives (`# escape=`), comments,
//! line continuations, heredocs, global `ARG`s in `FROM`, `FROM … AS name`, `COPY --from=`,
//! and `RUN --mount=type=cache,…` with its target, id, sharing and from.
//!
//! Hand-written rather than taken from the dockerfile-parser crate: it does not know heredocs
//! or `RUN --mount`, and every finding needs the line it came from.

use std::collections::{BTreeSet, HashMap};

/// One `--mount=type=cache` of a RUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    /// 1-based line of the physical line holding the flag.
    pub line: usize,
    pub target: String,
    /// The cache's id: the `id=` value as written, or else the target as BuildKit cleans it
    /// (`path.Clean`: `/root/.cache/` and `/root/.cache` are one cache; moby/buildkit
    /// dockerfile2llb/convert_runmount.go).
    pub id: String,
    /// `shared` (the default), `private` or `locked`.
    pub sharing: String,
    /// The flag as written, for rewriting it.
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// Line of its FROM.
    pub line: usize,
    /// The stages it needs: its base (when a stage), `COPY --from`, `--mount from=`.
    pub deps: BTreeSet<usize>,
    pub mounts: Vec<CacheMount>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dockerfile {
    pub stages: Vec<Stage>,
    /// Problems the parser saw, with their line: unknown instructions, unterminated heredocs.
    pub problems: Vec<(usize, String)>,
}

impl Dockerfile {
    pub fn stage_label(&self, i: usize) -> String {
        let s = &self.stages[i];
        match &s.name {
            Some(n) => format!("{n} (line {})", s.line),
            None => format!("#{i} (line {})", s.line),
        }
    }

    /// Whether `a` needs `b`, directly or through other stages.
    pub fn depends_on(&self, a: usize, b: usize) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![a];
        while let Some(s) = stack.pop() {
            for &d in &self.stages[s].deps {
                if d == b {
                    return true;
                }
                if seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        false
    }

    /// Two stages BuildKit may run at the same time: neither needs the other.
    pub fn parallel(&self, a: usize, b: usize) -> bool {
        a != b && !self.depends_on(a, b) && !self.depends_on(b, a)
    }

    /// The stage a build of `target` ends in: the named stage, or by default the last one, as
    /// `docker build --target` picks it. `None` when no stage has that name.
    pub fn target(&self, target: Option<&str>) -> Option<usize> {
        match target {
            None => self.stages.len().checked_sub(1),
            Some(name) => self
                .stages
                .iter()
                .position(|s| s.name.as_deref() == Some(&name.to_ascii_lowercase())),
        }
    }

    /// The stages a build of stage `target` runs: it and what it needs. BuildKit builds only
    /// those ("BuildKit only builds the stages that the target stage depends on", Docker's
    /// multi-stage documentation).
    pub fn reachable(&self, target: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::from([target]);
        let mut stack = vec![target];
        while let Some(s) = stack.pop() {
            for &d in &self.stages[s].deps {
                if seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        seen
    }
}

const INSTRUCTIONS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// A logical instruction: its first physical line and its physical lines with their numbers.
struct Logical {
    line: usize,
    parts: Vec<(usize, String)>,
}

pub fn parse(text: &str) -> Dockerfile {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let escape = directives_escape(&lines);
    let mut df = Dockerfile::default();
    let mut args: HashMap<String, String> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();

    for logical in logical_lines(&lines, escape, &mut df.problems) {
        let joined: String = logical
            .parts
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut words = joined.split_whitespace();
        let Some(word) = words.next() else { continue };
        let instruction = word.to_ascii_uppercase();
        let rest: Vec<&str> = words.collect();
        match instruction.as_str() {
            "ARG" if df.stages.is_empty() => {
                for a in &rest {
                    let (k, v) = a.split_once('=').unwrap_or((a, ""));
                    args.insert(k.to_string(), v.trim_matches('"').to_string());
                }
            }
            "FROM" => {
                let operands: Vec<&str> = rest
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let image = operands
                    .first()
                    .map(|i| expand(i, &args))
                    .unwrap_or_default();
                let name = match operands.as_slice() {
                    [_, as_, name, ..] if as_.eq_ignore_ascii_case("as") => {
                        Some(name.to_ascii_lowercase())
                    }
                    _ => None,
                };
                let index = df.stages.len();
                let mut deps = BTreeSet::new();
                if let Some(&base) = names.get(&image.to_ascii_lowercase()) {
                    deps.insert(base);
                }
                if let Some(n) = &name {
                    names.insert(n.clone(), index);
                }
                df.stages.push(Stage {
                    index,
                    name,
                    line: logical.line,
                    deps,
                    mounts: Vec::new(),
                });
            }
            "COPY" | "ADD" | "RUN" => {
                let Some(stage) = df.stages.last_mut() else {
                    df.problems
                        .push((logical.line, format!("{instruction} before any FROM")));
                    continue;
                };
                for flag in rest.iter().take_while(|w| w.starts_with("--")) {
                    let name = flag.split('=').next().unwrap_or(flag);
                    let known: &[&str] = match instruction.as_str() {
                        "RUN" => &["--mount", "--network", "--security", "--device"],
                        _ => &[
                            "--from",
                            "--chown",
                            "--chmod",
                            "--link",
                            "--parents",
                            "--exclude",
                            "--checksum",
                            "--keep-git-dir",
                        ],
                    };
                    if !known.contains(&name) {
                        df.problems.push((
                            logical.line,
                            format!("unknown flag {name} for {instruction}"),
                        ));
                    }
                    if let Some(from) = flag.strip_prefix("--from=") {
                        if let Some(dep) = stage_ref(from, &names, stage.index) {
                            stage.deps.insert(dep);
                        }
                    } else if let Some(spec) = flag.strip_prefix("--mount=") {
                        let kv = mount_options(spec);
                        if let Some(from) = kv.get("from")
                            && let Some(dep) = stage_ref(from, &names, stage.index)
                        {
                            stage.deps.insert(dep);
                        }
                        if kv.get("type").map(String::as_str) == Some("cache") {
                            let Some(target) =
                                kv.get("target").or(kv.get("dst")).or(kv.get("destination"))
                            else {
                                df.problems
                                    .push((logical.line, "cache mount without a target".into()));
                                continue;
                            };
                            let line = logical
                                .parts
                                .iter()
                                .find(|(_, l)| l.contains(flag))
                                .map(|(n, _)| *n)
                                .unwrap_or(logical.line);
                            stage.mounts.push(CacheMount {
                                line,
                                target: target.clone(),
                                id: kv.get("id").cloned().unwrap_or_else(|| clean_path(target)),
                                sharing: kv
                                    .get("sharing")
                                    .cloned()
                                    .unwrap_or_else(|| "shared".into()),
                                raw: flag.to_string(),
                            });
                        }
                    }
                }
            }
            i if INSTRUCTIONS.contains(&i) => {}
            _ => df
                .problems
                .push((logical.line, format!("unknown instruction {word:?}"))),
        }
    }
    df
}

/// Go's `path.Clean`, which BuildKit applies to a cache mount's target to make its default id:
/// repeated slashes and `.` go, `..` eats the element before it, no trailing slash.
pub fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `# escape=` among the parser directives at the top; `\` otherwise.
fn directives_escape(lines: &[&str]) -> char {
    for l in lines {
        let Some(d) = l.trim().strip_prefix('#') else {
            break;
        };
        let Some((k, v)) = d.split_once('=') else {
            break;
        };
        if k.trim().eq_ignore_ascii_case("escape") && v.trim() == "`" {
            return '`';
        }
    }
    '\\'
}

/// Joins continuation lines, drops comments and heredoc bodies.
fn logical_lines(
    lines: &[&str],
    escape: char,
    problems: &mut Vec<(usize, String)>,
) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut cur: Option<Logical> = None;
    let mut i = 0;
    while i < lines.len() {
        let n = i + 1;
        let line = lines[i];
        i += 1;
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && cur.is_none()) {
            continue; // comments (also inside continuations) and blank lines
        }
        if trimmed.is_empty() {
            continue;
        }
        let continues = trimmed.ends_with(escape);
        let content = if continues {
            trimmed[..trimmed.len() - escape.len_utf8()].to_string()
        } else {
            trimmed.to_string()
        };
        let logical = cur.get_or_insert_with(|| Logical {
            line: n,
            parts: Vec::new(),
        });
        logical.parts.push((n, content.clone()));
        if continues {
            continue;
        }
        // Heredocs: `<<EOF`, `<<-EOF`, `<<"EOF"`; their bodies follow this line.
        for word in content.split_whitespace() {
            let Some(marker) = word.strip_prefix("<<") else {
                continue;
            };
            let marker = marker.trim_start_matches('-').trim_matches(['"', '\'']);
            if marker.is_empty()
                || !marker
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                continue;
            }
            while i < lines.len() && lines[i].trim() != marker {
                i += 1;
            }
            if i >= lines.len() {
                problems.push((n, format!("heredoc <<{marker} is never closed")));
            }
            i += 1;
        }
        out.extend(cur.take());
    }
    out.extend(cur);
    out
}

/// `type=cache,target=/x,id=y` (values may be quoted).
fn mount_options(spec: &str) -> HashMap<String, String> {
    spec.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            )
        })
        .collect()
}

/// A `--from=` value naming an earlier stage by name or index.
fn stage_ref(from: &str, names: &HashMap<String, usize>, current: usize) -> Option<usize> {
    names
        .get(&from.to_ascii_lowercase())
        .copied()
        .or_else(|| from.parse::<usize>().ok().filter(|i| *i < current))
}

/// Expands `$X`, `${X}` and `${X:-default}` from global ARG defaults.
fn expand(s: &str, args: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        let (name, default, len) = if let Some(body) = rest.strip_prefix('{') {
            let end = body.find('}').unwrap_or(body.len());
            let inner = &body[..end];
            let (n, d) = inner.split_once(":-").unwrap_or((inner, ""));
            (n, d, end + 2)
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], "", end)
        };
        match args.get(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => out.push_str(default),
        }
        rest = &rest[len.min(rest.len())..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ids_are_cleaned_like_go_path_clean() {
        for (p, want) in [
            ("/root/.cache/", "/root/.cache"),
            ("/root//.cache/./x/..", "/root/.cache"),
            ("/", "/"),
            ("/..", "/"),
            ("node_modules/", "node_modules"),
            ("./a/../..", ".."),
            ("", "."),
        ] {
            assert_eq!(clean_path(p), want, "{p}");
        }
        // An explicit id is BuildKit's own: not cleaned.
        let df = parse(
            "FROM a\nRUN --mount=type=cache,target=/root/.cache/ x\nRUN --mount=type=cache,id=foo/,target=/t y\n",
        );
        let ids: Vec<&str> = df.stages[0].mounts.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["/root/.cache", "foo/"]);
    }

    #[test]
    fn the_target_and_what_it_needs() {
        let df = parse(
            "FROM base AS b\nFROM b AS one\nFROM b AS two\nFROM scratch AS out\nCOPY --from=one / /\n",
        );
        assert_eq!(df.target(None), Some(3));
        assert_eq!(df.reachable(3), BTreeSet::from([0, 1, 3]));
        assert_eq!(df.target(Some("TWO")), Some(2));
        assert_eq!(df.reachable(2), BTreeSet::from([0, 2]));
        assert_eq!(df.target(Some("nope")), None);
    }

    #[test]
    fn continuations_comments_heredocs_and_escape() {
        let df = parse(
            "# escape=`\nARG BASE=alpine\nFROM ${BASE} AS a\nRUN --mount=type=cache,target=/c `\n# comment inside\n  --mount=type=cache,id=x,target=/d,sharing=locked `\n  make\nRUN <<EOF\nFROM nothing AS fake\nEOF\nFROM a AS b\nCOPY --from=0 / /\n",
        );
        assert_eq!(df.stages.len(), 2, "{df:?}");
        assert_eq!(df.stages[0].mounts.len(), 2);
        assert_eq!(
            (df.stages[0].mounts[0].line, df.stages[0].mounts[1].line),
            (4, 6)
        );
        assert_eq!(df.stages[0].mounts[1].sharing, "locked");
        assert_eq!(df.stages[1].deps, BTreeSet::from([0]));
        assert!(df.problems.is_empty(), "{:?}", df.problems);
    }

    #[test]
    fn bad_input_is_a_problem_not_a_panic() {
        let df = parse("FROM a\nRUN <<EOF\necho\n");
        assert_eq!(
            df.problems,
            vec![(2, "heredoc <<EOF is never closed".to_string())]
        );
        let df = parse("RUN x\nFROM a\nnpm install\nRUN --mount=type=cache\n");
        assert_eq!(df.problems.len(), 3, "{:?}", df.problems);
        assert_eq!(
            expand("${X:-d}${Y}$Z", &HashMap::from([("Z".into(), "z".into())])),
            "dz"
        );
        assert_eq!(expand("${unterminated", &HashMap::new()), "");
        let _ = parse("\u{0}\u{1}\\\n\\");
    }
}
