//! /proc/PID/maps: the files a process has mapped. Only the path matters here: overlayfs maps the
//! underlying file, so the device column names the layer's filesystem, not the overlay.

/// The distinct file paths mapped, without the ` (deleted)` mark.
pub fn mapped_files(text: &str) -> Vec<String> {
    let mut files: Vec<String> = text
        .lines()
        .filter_map(|line| {
            // address perms offset dev inode path — the path may contain spaces.
            let mut rest = line;
            for _ in 0..5 {
                rest = rest.trim_start().split_once(' ')?.1;
            }
            let path = rest.trim_start();
            // The kernel escapes only newlines here (as \012).
            path.starts_with('/')
                .then(|| super::mountinfo::decode(path.trim_end_matches(" (deleted)")))
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

/// One mapped file: its address range (the name of its entry in /proc/PID/map_files), the device
/// the kernel shows for it, and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub range: String,
    pub dev: (u32, u32),
    pub path: String,
}

/// Every file mapping, one per distinct (device, path). Kernels since 6.x show an overlay file's
/// own device here (`file_user_inode`), older ones the layer's; both are handled by the caller.
pub fn mappings(text: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(_perms), Some(_off), Some(dev), Some(_inode)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        let Some(dev) = dev.split_once(':').and_then(|(a, b)| {
            Some((
                u32::from_str_radix(a, 16).ok()?,
                u32::from_str_radix(b, 16).ok()?,
            ))
        }) else {
            continue;
        };
        let mut rest = line;
        for _ in 0..5 {
            match rest.trim_start().split_once(' ') {
                Some((_, r)) => rest = r,
                None => {
                    rest = "";
                    break;
                }
            }
        }
        let path = rest.trim_start();
        if !path.starts_with('/') {
            continue;
        }
        let path = super::mountinfo::decode(path.trim_end_matches(" (deleted)"));
        if !out.iter().any(|m| m.dev == dev && m.path == path) {
            out.push(Mapping {
                range: range.to_string(),
                dev,
                path,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            mapped_files(maps),
            vec!["/tmp/a b/file", "/tmp/new\nline", "/usr/bin/sleep"]
        );
    }
}
