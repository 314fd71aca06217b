//! /proc/PID/maps: the files a process has mapped. Only the path matters here: overlayfs maps the
//! underlying file, so the device column names the layer's filesystem, not the overlay.

/// The distinct file paths mapped, without the ` (deleted)` mark.
pub fn mapped_files(text: &str) -> Vec<String> {
    let mut files: Vec<String> = text.lines().filter_map(mapped_file).collect();
    files.sort();
    files.dedup();
    files
}

/// The file one line of a maps file maps, if it maps one.
pub fn mapped_file(line: &str) -> Option<String> {
    // address perms offset dev inode path — the path may contain spaces.
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start().split_once(' ')?.1;
    }
    let path = rest.trim_start();
    // The kernel escapes only newlines here (as \012).
    path.starts_with('/')
        .then(|| super::mountinfo::decode(path.trim_end_matches(" (deleted)")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
