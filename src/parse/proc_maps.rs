//! /proc/PID/maps: the files a process has mapped, each with its address range and the device
//! the kernel shows for it (an overlay's own on 6.x kernels, the layer's on older ones).

/// One mapped file: its address range (the name of its entry in /proc/PID/map_files), the device
/// the kernel shows for it, and its path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mapping {
    pub range: String,
    pub dev: (u32, u32),
    pub path: String,
}

/// Every file mapping, one per distinct (device, path). Kernels since 6.x show an overlay file's
/// own device here (`file_user_inode`), older ones the layer's; both are handled by the caller.
pub fn mappings(text: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for m in text.lines().filter_map(mapping) {
        if !out.iter().any(|o| o.dev == m.dev && o.path == m.path) {
            out.push(m);
        }
    }
    out
}

/// The file mapping one line of a maps file describes, if it maps a file:
/// `address perms offset dev inode path`, where the path may contain spaces.
pub fn mapping(line: &str) -> Option<Mapping> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let (_perms, _off, dev) = (fields.next()?, fields.next()?, fields.next()?);
    let (a, b) = dev.split_once(':')?;
    let dev = (
        u32::from_str_radix(a, 16).ok()?,
        u32::from_str_radix(b, 16).ok()?,
    );
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start().split_once(' ')?.1;
    }
    let path = rest.trim_start();
    // The kernel escapes only newlines here (as \012).
    path.starts_with('/').then(|| Mapping {
        range: map_files_name(range),
        dev,
        // Only a newline is escaped (a backslash is not), so only `\012` is undone: a name with
        // a literal `\040` in it stays as it is. A literal `\012` cannot be told from a newline.
        path: path.trim_end_matches(" (deleted)").replace("\\012", "\n"),
    })
}

/// The name of a range's entry in /proc/PID/map_files: maps pads addresses to 8 digits
/// (`00400000-00401000`), map_files does not (`400000-401000`).
fn map_files_name(range: &str) -> String {
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    match range
        .split_once('-')
        .and_then(|(a, b)| Some((hex(a)?, hex(b)?)))
    {
        Some((a, b)) => format!("{a:x}-{b:x}"),
        None => range.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_newlines_are_unescaped() {
        let m = mapping("7f25-7f26 r--s 00000000 00:29 7 /tmp/a\\040b\\012c").unwrap();
        assert_eq!(m.path, "/tmp/a\\040b\nc");
    }

    #[test]
    fn ranges_name_map_files_entries_unpadded() {
        let m = mapping("00400000-00401000 r-xp 00000000 fd:01 1234 /usr/bin/old").unwrap();
        assert_eq!(m.range, "400000-401000");
        assert_eq!(map_files_name("not-hex"), "not-hex");
    }

    #[test]
    fn mappings_with_devices_and_ranges() {
        let maps = "7f25-7f26 r--s 00000000 00:29 7                          /ufile\\012x (deleted)\n\
                    7f27-7f28 r--s 00001000 00:29 7 /ufile\\012x\n\
                    7ffd000-7ffe000 rw-p 00000000 00:00 0 [stack]\n\
                    55d0-55d1 r-xp 00001000 fd:01 1234 /usr/bin/sleep\n\
                    bad line\n";
        assert_eq!(
            mappings(maps),
            vec![
                Mapping {
                    range: "7f25-7f26".into(),
                    dev: (0, 0x29),
                    path: "/ufile\nx".into()
                },
                Mapping {
                    range: "55d0-55d1".into(),
                    dev: (0xfd, 1),
                    path: "/usr/bin/sleep".into()
                },
            ]
        );
    }

    #[test]
    fn paths_with_spaces_deleted_and_anonymous() {
        let maps = "55d0a0000000-55d0a0001000 r--p 00000000 fd:01 1234 /usr/bin/sleep\n\
                    7f89bac6a000-7f89bac6b000 r--s 00000000 00:32 10027025                   /tmp/a b/file (deleted)\n\
                    7ffd000-7ffe000 rw-p 00000000 00:00 0                          [stack]\n\
                    7ffe000-7fff000 rw-p 00000000 00:00 0\n\
                    7fff000-7fff100 r--p 00000000 00:32 7 /tmp/new\\012line\n\
                    garbage\n\
                    55d0a0001000-55d0a0002000 r-xp 00001000 fd:01 1234 /usr/bin/sleep\n";
        let paths: Vec<String> = mappings(maps).into_iter().map(|m| m.path).collect();
        assert_eq!(
            paths,
            vec!["/usr/bin/sleep", "/tmp/a b/file", "/tmp/new\nline"]
        );
    }
}
