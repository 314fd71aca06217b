//! A host seen through a directory: DIR/proc, DIR/sys, DIR/etc … (`--root DIR`). Used to check a
//! host mounted into a container at /host, and by tests over trees of real-world files.
//! Nothing live about the doctor's own process applies here: no statfs, no environment,
//! no syscall probes, no commands (they would be this machine's binaries, not the host's).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use super::live::{link_target, list_names, meta, read_capped, subdir_names};
use super::{
    CommandOutput, DEFAULT_TIMEOUT, DOCKER_SOCKET, DirSize, DiskStat, DockerCall, FreezerProbe,
    FreezerVersion, HostError, LibpodDb, Mapping, Meta, Source, SourceKind,
};
use crate::sys::{self, PidfdProbe};

#[derive(Clone)]
pub struct Rooted {
    root: PathBuf,
}

impl Rooted {
    /// Fails when `root` is not a directory; a directory without /proc is allowed (checks say unknown).
    pub fn new(root: PathBuf) -> Result<Self, String> {
        if !root.is_dir() {
            return Err(format!("--root {}: not a directory", root.display()));
        }
        // As the mount table names it (`./tree/`, a symlinked path): mounts inside it are found.
        let root =
            std::fs::canonicalize(&root).map_err(|e| format!("--root {}: {e}", root.display()))?;
        Ok(Rooted { root })
    }

    /// Where the examined system's `path` is in the tree, with symlinks resolved inside the tree
    /// as chroot would: an absolute target starts again at the root, `..` stops there. Without
    /// this, `etc/os-release -> /etc/os-release` would read the reader's own file. procfs is
    /// left to the kernel: /proc/PID/cwd and friends are magic links to live objects, not text;
    /// so are network and FUSE mounts inside the tree, whose servers may not answer.
    fn under(&self, path: &str) -> PathBuf {
        self.resolve(path, true)
    }

    /// As [`Rooted::under`], but a symlink in the last component is left alone (for readlink).
    fn under_parent(&self, path: &str) -> PathBuf {
        self.resolve(path, false)
    }

    fn resolve(&self, path: &str, follow_last: bool) -> PathBuf {
        let rel = path.trim_start_matches('/');
        if rel == "proc" || rel.starts_with("proc/") {
            return self.root.join(rel);
        }
        let mut todo: VecDeque<String> = rel.split('/').map(str::to_string).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        let mut remote = false;
        while let Some(part) = todo.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    done.pop();
                    // Back out of a remote mount, perhaps: the next component is asked again.
                    remote = false;
                    continue;
                }
                _ => {}
            }
            let here: PathBuf = self.root.join(done.join("/")).join(&part);
            // readlink asks the filesystem's server: on a network or FUSE mount inside the tree
            // it could hang this thread, so links from there on are left to the kernel of the
            // read's helper (a tree that is itself on such a filesystem is resolved as usual).
            remote = remote
                || (super::helper::enabled()
                    && super::helper::on_remote_or_fuse_below(&self.root, &here));
            if remote {
                done.push(part);
                continue;
            }
            let last = todo.is_empty();
            if (follow_last || !last)
                && hops < MAX_LINKS
                && let Ok(target) = std::fs::read_link(&here)
            {
                hops += 1;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    done.clear();
                }
                for t in target.split('/').rev() {
                    todo.push_front(t.to_string());
                }
                continue;
            }
            done.push(part);
        }
        self.root.join(done.join("/"))
    }
}

/// Symlinks followed in one path before giving up, as the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;

fn not_under_root(what: &str) -> HostError {
    HostError::Unsupported(format!("{what}: not available under --root"))
}

impl Source for Rooted {
    fn kind(&self) -> SourceKind {
        SourceKind::Root(self.root.clone())
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, HostError> {
        let real = self.under(path);
        if super::helper::enabled() && super::helper::on_remote_or_fuse(&real.to_string_lossy()) {
            // Links left unresolved past a network or FUSE mount are resolved by the helper's
            // kernel inside the tree.
            if let Ok(rel) = real.strip_prefix(&self.root) {
                return super::helper::read_in_root(&self.root, rel, path);
            }
            return super::helper::read(&real, path);
        }
        read_capped(&real, path)
    }

    fn read_local(&self, path: &str) -> Result<Vec<u8>, HostError> {
        super::helper::read(path.as_ref(), path)
    }

    fn read_included(&self, path: &str) -> Result<Vec<u8>, HostError> {
        super::helper::read_if_remote(path.as_ref(), path)
    }

    fn mapped_files(&self, path: &str) -> Result<Vec<Mapping>, HostError> {
        super::live::mapped_files(&self.under(path), path)
    }

    fn libpod_db(&self, path: &str) -> Result<LibpodDb, HostError> {
        super::live::libpod_db(&self.under(path), path)
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, HostError> {
        list_names(&self.under(path), path)
    }

    fn read_link(&self, path: &str) -> Result<String, HostError> {
        link_target(&self.under_parent(path), path)
    }

    fn subdirs(&self, path: &str) -> Result<Vec<String>, HostError> {
        subdir_names(&self.under(path), path)
    }

    fn stat(&self, path: &str) -> Result<Meta, HostError> {
        meta(&self.under(path), path)
    }

    fn statfs_magic(&self, path: &str) -> Result<u64, HostError> {
        Err(not_under_root(&format!("statfs {path}")))
    }

    fn disk_stat(&self, path: &str) -> Result<DiskStat, HostError> {
        super::disk::stat(&self.under(path), path)
    }

    fn dir_size(&self, path: &str) -> Result<DirSize, HostError> {
        super::disk::dir_size(&self.under(path), path)
    }

    fn env(&self, name: &str) -> Result<Option<String>, HostError> {
        Err(not_under_root(&format!("${name}")))
    }

    fn run(&self, argv: &[String], _timeout: Duration) -> Result<CommandOutput, HostError> {
        Err(not_under_root(&argv.join(" ")))
    }

    fn docker(&self, call: &DockerCall) -> Result<serde_json::Value, HostError> {
        // The host's engine is reachable when its socket is under the root (`-v /:/host`).
        let socket = self.under(DOCKER_SOCKET);
        super::docker::call(&socket.to_string_lossy(), call, DEFAULT_TIMEOUT)
    }

    /// A socket under the root (the host's, with `-v /:/host`) is reached like the engine's.
    fn connect(&self, socket: &str) -> Result<(), HostError> {
        super::live::connect_unix(&self.under(socket), socket)
    }

    fn probe_pidfd(&self) -> Result<PidfdProbe, HostError> {
        Err(not_under_root("pidfd probe"))
    }

    fn probe_freezer(&self, _: FreezerVersion, dir: &str) -> Result<FreezerProbe, HostError> {
        Err(not_under_root(&format!("freezer probe in {dir}")))
    }

    fn euid(&self) -> u32 {
        sys::euid()
    }
}
