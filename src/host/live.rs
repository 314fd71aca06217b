//! The live machine: the real /proc, /sys and /etc, real syscalls, real commands.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::time::{Duration, Instant};

use super::{
    CommandOutput, DEFAULT_TIMEOUT, DOCKER_SOCKET, DirSize, DiskStat, DockerCall, Entry,
    FreezerProbe, FreezerVersion, HostError, LibpodDb, MAX_FILE_BYTES, Meta, Source, SourceKind,
    command, freezer_probe, version_cache,
};
use crate::parse::boltdb::ReadAt;
use crate::parse::libpod;
use crate::sys::{self, PidfdProbe};

/// The running system, read as the doctor sees it.
pub struct Live {
    /// When this Host began: the doctor's own mount table rendered since then is this scan's.
    since: Instant,
}

impl Live {
    pub fn new() -> Self {
        Live {
            since: Instant::now(),
        }
    }
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

/// Opens a regular file without blocking on it (FIFOs and devices are refused), with its size.
fn open_regular(path: &std::path::Path, shown: &str) -> Result<(File, u64), HostError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| HostError::from_io(shown, &e))?;
    // A file of /proc/PID itself is the kernel's, regular and of size 0: a scan reads thousands,
    // and the fstat would add a syscall to each.
    if proc_pid_file(path).is_some() {
        return Ok((file, 0));
    }
    regular(file, shown)
}

/// The file with its size, if it is a regular file.
fn regular(file: File, shown: &str) -> Result<(File, u64), HostError> {
    let meta = file.metadata().map_err(|e| HostError::from_io(shown, &e))?;
    if !meta.is_file() {
        return Err(HostError::Unsupported(format!(
            "{shown}: not a regular file"
        )));
    }
    Ok((file, meta.len()))
}

/// A file read page by page, as the BoltDB reader asks.
struct FileAt(File, u64);

impl ReadAt for FileAt {
    fn size(&self) -> u64 {
        self.1
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), String> {
        self.0
            .read_exact_at(buf, offset)
            .map_err(|e| format!("reading {} bytes at {offset}: {e}", buf.len()))
    }
}

/// libpod's database, read by pages: only its live tree, not the whole file (which keeps every
/// page it ever used), and only the summary is kept. A file on a network or FUSE filesystem is
/// read whole by a helper instead, which the doctor can abandon if its server hangs.
pub(super) fn libpod_db(path: &std::path::Path, shown: &str) -> Result<LibpodDb, HostError> {
    let summary =
        if super::helper::enabled() && super::helper::on_remote_or_fuse(&path.to_string_lossy()) {
            let bytes = super::helper::read(path, shown)?;
            libpod::read(bytes.as_slice())
        } else {
            let (file, size) = open_regular(path, shown)?;
            libpod::read(&FileAt(file, size))
        };
    summary.map_err(|e| HostError::Io(format!("{shown}: {e}")))
}

/// Reads at most `MAX_FILE_BYTES` of `path`; more is an error, not a silent cut.
/// FIFOs and devices are refused: reading one could block for ever or never end.
pub(super) fn read_capped(path: &std::path::Path, shown: &str) -> Result<Vec<u8>, HostError> {
    let (file, len) = open_regular(path, shown)?;
    read_open(file, len, shown)
}

/// [`read_capped`] of `rel` inside the directory `root`, its symlinks resolved as if `root` were
/// `/` (openat2 with RESOLVE_IN_ROOT): a link on a FUSE or network mount inside a `--root` tree
/// names the tree's file, never the reader's.
pub(super) fn read_capped_in_root(
    root: &std::path::Path,
    rel: &std::path::Path,
    shown: &str,
) -> Result<Vec<u8>, HostError> {
    use rustix::fs::{Mode, OFlags, ResolveFlags, open, openat2};
    let fail = |e: rustix::io::Errno| HostError::from_io(shown, &e.into());
    let dir = open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail)?;
    let fd = openat2(
        &dir,
        rel,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(fail)?;
    let (file, len) = regular(File::from(fd), shown)?;
    read_open(file, len, shown)
}

/// An open file's content, up to [`MAX_FILE_BYTES`].
fn read_open(file: File, len: u64, shown: &str) -> Result<Vec<u8>, HostError> {
    // /proc and /sys files say size 0: a page up front reads most of them in one call.
    let hint = usize::try_from(len).map_or(MAX_FILE_BYTES, |n| n.min(MAX_FILE_BYTES));
    let mut buf = Vec::with_capacity(if hint == 0 { 4096 } else { hint + 1 });
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| HostError::from_io(shown, &e))?;
    if buf.len() > MAX_FILE_BYTES {
        return Err(HostError::TooLarge(shown.to_string()));
    }
    Ok(buf)
}

/// The distinct files a maps file names. Live /proc answers PROCMAP_QUERY (Linux 6.11): the
/// kernel's own tables, asked one mapping at a time, with no text rendered for the thousands of
/// library mappings a scan does not need. Otherwise the file is read line by line: memory stays
/// the size of the answer, not of the file (60 processes with 15 MB maps files cost a few
/// kilobytes each).
pub(super) fn mapped_files(
    path: &std::path::Path,
    shown: &str,
) -> Result<Vec<super::Mapping>, HostError> {
    let (file, _) = open_regular(path, shown)?;
    // Only /proc/PID/maps is sent the ioctl, never a file of a tree under --root.
    if proc_pid_file(path) == Some("maps")
        && let Ok(files) = queried(&file)
    {
        return Ok(files);
    }
    read_maps(file, shown)
}

/// The name of a file directly in a live /proc/PID (or /proc/self): `stat`, `maps`, … but not
/// the links to the process's directories and binary.
fn proc_pid_file(path: &std::path::Path) -> Option<&str> {
    let (pid, name) = path.to_str()?.strip_prefix("/proc/")?.split_once('/')?;
    let pid_ok = pid == "self" || (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
    let name_ok =
        !name.is_empty() && !name.contains('/') && !matches!(name, "cwd" | "root" | "exe");
    (pid_ok && name_ok).then_some(name)
}

/// The file mappings PROCMAP_QUERY names, one per distinct (device, path). Its devices are the
/// ones the process sees (`file_user_inode`), and an overlay's device is always anonymous
/// (major 0): mappings on block devices are passed over without asking their names.
fn queried(maps: &File) -> Result<Vec<super::Mapping>, rustix::io::Errno> {
    let mut files: Vec<super::Mapping> = Vec::new();
    let mut name = Vec::new();
    let mut addr = 0;
    // The area before as (device, inode, start - offset): the areas one mapping was split into
    // share it and are named once; another mapping of the file, perhaps by another path (a hard
    // link, a bind mount), does not.
    let mut last = None;
    let mut moved = 0;
    while let Some(vma) = sys::procmap_query(maps, addr, None)? {
        if vma.end <= addr {
            break;
        }
        addr = vma.end;
        let area = (vma.dev, vma.inode, vma.start.wrapping_sub(vma.offset));
        if vma.dev.0 != 0 || last == Some(area) {
            continue;
        }
        last = Some(area);
        match sys::procmap_query(maps, vma.start, Some(&mut name))? {
            Some(again) if again == vma => {}
            // Unmapped or remapped in between: what is there now is asked on the next turn
            // (a process that keeps remapping is read as text instead).
            _ if moved < 16 => {
                moved += 1;
                addr = vma.start;
                last = None;
                continue;
            }
            _ => return Err(rustix::io::Errno::AGAIN),
        }
        let text = String::from_utf8_lossy(&name);
        let path = text.trim_end_matches(" (deleted)");
        if path.starts_with('/') && !files.iter().any(|f| f.dev == vma.dev && f.path == path) {
            files.push(super::Mapping {
                range: format!("{:x}-{:x}", vma.start, vma.end),
                dev: vma.dev,
                path: path.to_string(),
            });
        }
    }
    Ok(files)
}

/// The distinct files a maps file names, read line by line.
fn read_maps(file: File, shown: &str) -> Result<Vec<super::Mapping>, HostError> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(64 << 10, file);
    let mut files: Vec<super::Mapping> = Vec::new();
    let mut line = Vec::new();
    // The path part of the line before: consecutive mappings of one file are the common case,
    // and are skipped without decoding.
    let mut last: Vec<u8> = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| HostError::from_io(shown, &e))?;
        if n == 0 {
            break;
        }
        let tail = maps_path_part(&line);
        if !tail.is_empty() && tail == last.as_slice() {
            continue;
        }
        last.clear();
        last.extend_from_slice(tail);
        if let Some(m) = crate::parse::proc_maps::mapping(&String::from_utf8_lossy(&line))
            && !files.iter().any(|f| f.dev == m.dev && f.path == m.path)
        {
            files.push(m);
        }
    }
    Ok(files)
}

/// What follows the fifth field of a maps line (the path, padded), as bytes; empty if none.
fn maps_path_part(line: &[u8]) -> &[u8] {
    let mut rest = line;
    for _ in 0..5 {
        let Some(start) = rest.iter().position(|b| *b != b' ') else {
            return &[];
        };
        rest = &rest[start..];
        let Some(sp) = rest.iter().position(|b| *b == b' ') else {
            return &[];
        };
        rest = &rest[sp + 1..];
    }
    rest
}

/// Connects to a unix socket and drops the connection.
pub(super) fn connect_unix(path: &std::path::Path, shown: &str) -> Result<(), HostError> {
    std::os::unix::net::UnixStream::connect(path)
        .map(drop)
        .map_err(|e| HostError::from_io(shown, &e))
}

pub(super) fn list_names(path: &std::path::Path, shown: &str) -> Result<Vec<String>, HostError> {
    let dir = std::fs::read_dir(path).map_err(|e| HostError::from_io(shown, &e))?;
    Ok(dir
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// Each entry of a directory with [`meta`] through it, by statx relative to the open directory:
/// the path is not walked again for every entry (a fifth of the cost of a process's fds).
pub(super) fn entries_meta(path: &std::path::Path, shown: &str) -> Result<Vec<Entry>, HostError> {
    use rustix::fs::{Mode, OFlags, RawDir, open};
    let dir = open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| HostError::from_io(shown, &e.into()))?;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(&dir, &mut buf);
    let mut out = Vec::new();
    // An entry that cannot be listed ends the listing, as std's does for a vanishing process.
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let text = name.to_string_lossy().into_owned();
        let meta = meta_at(&dir, name)
            .map_err(|e| HostError::from_io(&format!("{shown}/{text}"), &e.into()));
        out.push(Entry { name: text, meta });
    }
    Ok(out)
}

pub(super) fn link_target(path: &std::path::Path, shown: &str) -> Result<String, HostError> {
    std::fs::read_link(path)
        .map(|t| t.to_string_lossy().into_owned())
        .map_err(|e| HostError::from_io(shown, &e))
}

pub(super) fn subdir_names(path: &std::path::Path, shown: &str) -> Result<Vec<String>, HostError> {
    let dir = std::fs::read_dir(path).map_err(|e| HostError::from_io(shown, &e))?;
    Ok(dir
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// stat(2) by statx with AT_STATX_DONT_SYNC: a FUSE or NFS filesystem answers from its attribute
/// cache instead of asking its server, so a hung server cannot hang the scan (as `lsof -b` avoids
/// the same trap); the device, type and mode we use do not go stale.
pub(super) fn meta(path: &std::path::Path, shown: &str) -> Result<Meta, HostError> {
    meta_at(rustix::fs::CWD, path).map_err(|e| HostError::from_io(shown, &e.into()))
}

/// [`meta`] of `path` relative to the directory open as `dir`.
fn meta_at(dir: impl AsFd, path: impl rustix::path::Arg) -> rustix::io::Result<Meta> {
    use rustix::fs::{AtFlags, FileType, StatxFlags, statx};
    let m = statx(
        dir,
        path,
        AtFlags::STATX_DONT_SYNC,
        StatxFlags::TYPE | StatxFlags::MODE | StatxFlags::SIZE,
    )?;
    let kind = FileType::from_raw_mode(m.stx_mode.into());
    Ok(Meta {
        is_dir: kind == FileType::Directory,
        is_file: kind == FileType::RegularFile,
        mode: u32::from(m.stx_mode) & 0o7777,
        size: m.stx_size,
        dev: (m.stx_dev_major, m.stx_dev_minor),
    })
}

impl Source for Live {
    fn kind(&self) -> SourceKind {
        SourceKind::Live
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, HostError> {
        // /proc and /sys are the kernel's own; anything else may sit on a server that hangs.
        if super::helper::enabled()
            && !path.starts_with("/proc/")
            && !path.starts_with("/sys/")
            && super::helper::on_remote_or_fuse(path)
        {
            return super::helper::read(path.as_ref(), path);
        }
        // Our own table, rendered once for the scan and the remote checks after it.
        if path == "/proc/self/mountinfo"
            && let Some(own) = super::own_mounts::fresh(self.since)
        {
            if own.text.len() > MAX_FILE_BYTES {
                return Err(HostError::TooLarge(path.to_string()));
            }
            return Ok(own.text.to_vec());
        }
        read_capped(path.as_ref(), path)
    }

    /// A file the user named (a Dockerfile, an included file): anywhere, so read by a helper.
    fn read_local(&self, path: &str) -> Result<Vec<u8>, HostError> {
        super::helper::read(path.as_ref(), path)
    }

    fn read_included(&self, path: &str) -> Result<Vec<u8>, HostError> {
        super::helper::read_if_remote(path.as_ref(), path)
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, HostError> {
        list_names(path.as_ref(), path)
    }

    fn read_link(&self, path: &str) -> Result<String, HostError> {
        link_target(path.as_ref(), path)
    }

    fn subdirs(&self, path: &str) -> Result<Vec<String>, HostError> {
        subdir_names(path.as_ref(), path)
    }

    fn stat(&self, path: &str) -> Result<Meta, HostError> {
        meta(path.as_ref(), path)
    }

    fn stat_entries(&self, path: &str) -> Result<Vec<Entry>, HostError> {
        entries_meta(path.as_ref(), path)
    }

    fn statfs_magic(&self, path: &str) -> Result<u64, HostError> {
        sys::statfs_magic(path).map_err(|e| HostError::from_io(path, &e))
    }

    fn disk_stat(&self, path: &str) -> Result<DiskStat, HostError> {
        super::disk::stat(path.as_ref(), path)
    }

    fn dir_size(&self, path: &str) -> Result<DirSize, HostError> {
        super::disk::dir_size(path.as_ref(), path)
    }

    fn env(&self, name: &str) -> Result<Option<String>, HostError> {
        Ok(std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    fn run(&self, argv: &[String], timeout: Duration) -> Result<CommandOutput, HostError> {
        command::run(argv, timeout)
    }

    fn run_version(&self, path: &str, timeout: Duration) -> Result<CommandOutput, HostError> {
        version_cache::run(path, timeout)
    }

    fn docker(&self, call: &DockerCall) -> Result<serde_json::Value, HostError> {
        // DOCKER_HOST names the engine when it is a unix socket; tcp:// and ssh:// are not spoken here.
        let socket = match std::env::var("DOCKER_HOST") {
            Ok(h) if h.starts_with("unix://") => h.trim_start_matches("unix://").to_string(),
            Ok(h) if !h.is_empty() => {
                return Err(HostError::Unsupported(format!(
                    "DOCKER_HOST={h}: only unix sockets are supported"
                )));
            }
            _ => DOCKER_SOCKET.to_string(),
        };
        super::docker::call(&socket, call, DEFAULT_TIMEOUT)
    }

    fn connect(&self, socket: &str) -> Result<(), HostError> {
        connect_unix(socket.as_ref(), socket)
    }

    fn probe_pidfd(&self) -> Result<PidfdProbe, HostError> {
        Ok(sys::probe_pidfd())
    }

    fn probe_freezer(&self, version: FreezerVersion, dir: &str) -> Result<FreezerProbe, HostError> {
        freezer_probe::run(version, dir)
    }

    fn mapped_files(&self, path: &str) -> Result<Vec<super::Mapping>, HostError> {
        mapped_files(path.as_ref(), path)
    }

    fn libpod_db(&self, path: &str) -> Result<LibpodDb, HostError> {
        libpod_db(path.as_ref(), path)
    }

    fn euid(&self) -> u32 {
        sys::euid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query answers on kernels that have it (6.11), so a scan does not fall back to text.
    #[test]
    fn procmap_query_answers_on_kernels_since_6_11() {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut parts = release.trim().split(['.', '-']);
        let mut next = || {
            parts
                .next()
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0)
        };
        let (major, minor) = (next(), next());
        let maps = File::open("/proc/self/maps").unwrap();
        let answer = queried(&maps);
        if (major, minor) >= (6, 11) {
            answer.expect("PROCMAP_QUERY on this kernel");
        } else {
            assert_eq!(answer.unwrap_err(), rustix::io::Errno::NOTTY);
        }
        let file = |p: &'static str| proc_pid_file(std::path::Path::new(p));
        assert_eq!(file("/proc/self/maps"), Some("maps"));
        assert_eq!(file("/proc/42/stat"), Some("stat"));
        for not in [
            "/tree/proc/42/maps",
            "/proc/1/root/proc/2/maps",
            "/proc/42/fd/3",
            "/proc/42/cwd",
            "/proc/42/exe",
            "/proc/x1/stat",
            "/proc/42/",
            "/proc/sys",
        ] {
            assert_eq!(file(not), None, "{not}");
        }
    }

    /// Every path a process maps a tmpfs file by is named as the kernel has it: two hard links
    /// of one file mapped side by side (the same device and inode, adjacent areas) are two
    /// paths, and a name with a backslash is not taken for maps' `\012` escape of a newline.
    #[test]
    fn procmap_query_names_every_path_of_a_mapped_file() {
        use std::io::BufRead;
        let dir = tempfile::tempdir_in("/dev/shm").unwrap();
        // Areas are placed top down: `hard` lands right above the second map of `plain`. The
        // process lives until its stdin closes, with the test if it fails.
        let script = r#"
import mmap, os, sys
d = sys.argv[1]
keep = []
def m(name):
    fd = os.open(os.path.join(d, name), os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(fd, 4096)
    keep.append(mmap.mmap(fd, 4096))
    os.close(fd)
for name in ["plain", "back\\012slash", "new\nline"]:
    m(name)
os.link(os.path.join(d, "plain"), os.path.join(d, "hard"))
m("hard")
m("plain")
print("ready", flush=True)
sys.stdin.read()
"#;
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let maps = File::open(format!("/proc/{}/maps", child.id())).unwrap();
        let found = queried(&maps);
        let _ = child.kill();
        let _ = child.wait();
        let found = found.expect("PROCMAP_QUERY (Linux 6.11)");
        let base = dir.path().display().to_string();
        let mut ours: Vec<&str> = found
            .iter()
            .filter_map(|m| m.path.strip_prefix(&base)?.strip_prefix('/'))
            .collect();
        ours.sort();
        assert_eq!(
            ours,
            ["back\\012slash", "hard", "new\nline", "plain"],
            "{found:?}"
        );
    }

    /// A directory's entries come with the stat of what each names (a link followed, as the
    /// kernel follows an fd's), the same as a stat of each path; a dangling one says why.
    #[test]
    fn entries_are_stated_through_their_links() {
        let dir = tempfile::tempdir().unwrap();
        let shm = tempfile::NamedTempFile::new_in("/dev/shm").unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(shm.path(), dir.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", dir.path().join("dangling")).unwrap();
        let shown = dir.path().display().to_string();
        let mut entries = entries_meta(dir.path(), &shown).unwrap();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dangling", "elsewhere", "file", "sub"]);
        for e in &entries {
            let path = dir.path().join(&e.name);
            assert_eq!(
                e.meta,
                meta(&path, &path.display().to_string()),
                "{}",
                e.name
            );
        }
        assert!(
            matches!(&entries[0].meta, Err(HostError::NotFound(p)) if p.ends_with("/dangling"))
        );
        let elsewhere = entries[1].meta.as_ref().unwrap();
        assert!(elsewhere.is_file && elsewhere.dev != entries[2].meta.as_ref().unwrap().dev);
        assert!(entries[3].meta.as_ref().unwrap().is_dir);
        // A process's fd directory: our own open file is there, on its own device.
        let open = File::open(shm.path()).unwrap();
        let fds = entries_meta("/proc/self/fd".as_ref(), "/proc/self/fd").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&open).to_string();
        let ours = fds.iter().find(|e| e.name == fd).unwrap();
        assert_eq!(ours.meta.as_ref().unwrap().dev, elsewhere.dev);
    }

    /// Inside a root, absolute links and `..` stay in it, as under chroot: the tree's file is
    /// read, not the reader's.
    #[test]
    fn a_read_in_a_root_resolves_links_inside_it() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/sub")).unwrap();
        std::fs::write(root.path().join("etc/hostname"), "tree\n").unwrap();
        let link = |target: &str, name: &str| {
            std::os::unix::fs::symlink(target, root.path().join(name)).unwrap();
        };
        link("/etc/hostname", "etc/sub/absolute");
        link("../../../../etc/hostname", "etc/sub/escaping");
        for name in ["absolute", "escaping"] {
            let rel = std::path::Path::new("etc/sub").join(name);
            let read = read_capped_in_root(root.path(), &rel, name);
            assert_eq!(read, Ok(b"tree\n".to_vec()), "{name}");
        }
    }
}
