//! /proc/PID/mountinfo (proc(5)): one mount per line,
//! `id parent major:minor root mount-point options [optional…] - fstype source super-options`.
//!
//! Written here rather than taken from procfs: paths must be decoded (`\040` space, `\011` tab,
//! `\012` newline, `\134` backslash), the source may be empty, and junk lines must be skipped
//! with a note instead of failing the whole file.

/// One parsed mountinfo line. Paths are decoded; use [`escape`] to show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub major: u32,
    pub minor: u32,
    pub root: String,
    pub mount_point: String,
    pub options: String,
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

/// The mounts of one table, in file order, and the lines that could not be read.
#[derive(Debug, Default, Clone)]
pub struct MountTable {
    pub mounts: Vec<Mount>,
    /// 1-based line numbers of lines that were not valid mountinfo.
    pub bad_lines: Vec<usize>,
}

impl MountTable {
    /// The mount that is visible at exactly `path`: the last one mounted there.
    pub fn at(&self, path: &str) -> Option<&Mount> {
        self.mounts.iter().rev().find(|m| m.mount_point == path)
    }

    /// The mount that holds `path`: the deepest mount point that is `path` or one of its
    /// parents, the last mounted among equals (mountinfo lists mounts in mount order).
    pub fn containing(&self, path: &str) -> Option<&Mount> {
        self.mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| is_within(path, &m.mount_point))
            .max_by_key(|(i, m)| (m.mount_point.len(), *i))
            .map(|(_, m)| m)
    }
}

/// Whether `path` is `dir` or lies below it, by whole path components.
pub fn is_within(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// Parses a whole mountinfo file. Lines are split on `\n` only: a raw `\r` may be part of a path.
pub fn parse(text: &str) -> MountTable {
    let mut table = MountTable::default();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(m) => table.mounts.push(m),
            None => table.bad_lines.push(n + 1),
        }
    }
    table
}

/// Parses one line; `None` when it is not mountinfo.
pub fn parse_line(line: &str) -> Option<Mount> {
    // Split on single spaces: an empty source shows up as an empty field, not a missing one.
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    if fields.len() < sep + 3 || fields[..sep].iter().any(|f| f.is_empty()) {
        return None;
    }
    let (major, minor) = fields[2].split_once(':')?;
    Some(Mount {
        id: fields[0].parse().ok()?,
        parent: fields[1].parse().ok()?,
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        root: decode(fields[3]),
        mount_point: decode(fields[4]),
        options: fields[5].to_string(),
        optional: fields[6..sep].iter().map(|s| s.to_string()).collect(),
        fstype: fields[sep + 1].to_string(),
        source: decode(fields[sep + 2]),
        super_options: fields[sep + 3..].join(" "),
    })
    .filter(|m| !m.fstype.is_empty())
}

/// Decodes the kernel's octal escapes (`\ooo`); anything else is kept as it is.
pub fn decode(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(oct) = bytes.get(i + 1..i + 4)
            && oct.iter().all(|b| (b'0'..=b'7').contains(b))
        {
            let v = oct
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Shows a decoded path the way the kernel writes it, so odd characters stay visible.
pub fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            ' ' => out.push_str("\\040"),
            '\t' => out.push_str("\\011"),
            '\n' => out.push_str("\\012"),
            '\\' => out.push_str("\\134"),
            '\r' => out.push_str("\\015"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_junk_backslashes() {
        assert_eq!(decode("/a\\040b\\011c\\012d\\134e"), "/a b\tc\nd\\e");
        assert_eq!(decode("unc=\\\\foo\\bar"), "unc=\\\\foo\\bar");
        assert_eq!(decode("trailing\\04"), "trailing\\04");
        assert_eq!(decode("\\777x"), "\\777x");
    }

    #[test]
    fn escape_round_trips() {
        let p = "/tmp/a b\tc\nd\\e";
        assert_eq!(decode(&escape(p)), p);
    }

    #[test]
    fn empty_source_keeps_fields_in_place() {
        let m = parse_line("15 14 0:5 / /mnt/test rw,relatime - tmpfs  rw").unwrap();
        assert_eq!((m.fstype.as_str(), m.source.as_str()), ("tmpfs", ""));
        assert_eq!(m.super_options, "rw");
    }

    #[test]
    fn rejects_lines_that_are_not_mountinfo() {
        for junk in [
            "",
            "44 44",
            "asdf asdf",
            "1 2 3:4 / /x rw -",
            "a 2 3:4 / /x rw - t s o",
        ] {
            assert!(parse_line(junk).is_none(), "{junk:?}");
        }
    }

    #[test]
    fn containing_prefers_the_deepest_and_the_last_mount() {
        let t = parse(
            "1 0 8:1 / / rw - ext4 /dev/a rw\n2 1 0:1 / /tmp rw - tmpfs t rw\n\
             3 1 0:2 / /tmpfoo rw - xfs x rw\n4 1 8:2 / /tmp rw - ext4 /dev/b rw\n",
        );
        assert_eq!(t.containing("/tmp").map(|m| m.id), Some(4));
        assert_eq!(t.containing("/tmp/x/y").map(|m| m.id), Some(4));
        assert_eq!(t.containing("/tmpfoo/x").map(|m| m.id), Some(3));
        assert_eq!(t.containing("/var").map(|m| m.id), Some(1));
        assert_eq!(t.at("/tmp").map(|m| m.id), Some(4));
    }
}
