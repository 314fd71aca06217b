//! Overlay mounts: their layer directories (from the mount's super options) and which tool made
//! them (judged from where those directories live).

use super::mountinfo::Mount;

/// The directories an overlay mount is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layers {
    /// Lowest last, as the kernel lists them.
    pub lower: Vec<String>,
    pub upper: Option<String>,
    pub work: Option<String>,
}

/// Whether a mount is an overlay: kernel overlayfs, or fuse-overlayfs (rootless Podman on old kernels).
pub fn is_overlay(m: &Mount) -> bool {
    m.fstype == "overlay" || m.fstype == "fuse.fuse-overlayfs"
}

/// Reads `lowerdir=a:b,upperdir=…,workdir=…` (and the `lowerdir+=` form of the new mount API).
/// `\,` and `\:` escape separators inside paths.
pub fn layers(super_options: &str) -> Layers {
    let mut l = Layers::default();
    for opt in split_unescaped(super_options, ',') {
        if let Some(v) = opt.strip_prefix("lowerdir=") {
            l.lower
                .extend(split_unescaped(v, ':').into_iter().map(unescape));
        } else if let Some(v) = opt.strip_prefix("lowerdir+=") {
            l.lower.push(unescape(v));
        } else if let Some(v) = opt.strip_prefix("upperdir=") {
            l.upper = Some(unescape(v));
        } else if let Some(v) = opt.strip_prefix("workdir=") {
            l.work = Some(unescape(v));
        }
    }
    l
}

fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == sep && !escaped => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => escaped = false,
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unescape(s: &str) -> String {
    s.replace("\\:", ":").replace("\\,", ",")
}

/// The tool that owns an overlay, from its directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Docker,
    /// containers/storage: Podman, Buildah, CRI-O; `rootless` when under a user's home.
    ContainersStorage {
        rootless: bool,
    },
    Containerd,
    BuildKit,
    Unknown,
}

impl Owner {
    pub fn name(self) -> &'static str {
        match self {
            Owner::Docker => "docker",
            Owner::ContainersStorage { rootless: false } => "containers/storage",
            Owner::ContainersStorage { rootless: true } => "containers/storage (rootless)",
            Owner::Containerd => "containerd",
            Owner::BuildKit => "buildkit",
            Owner::Unknown => "unknown",
        }
    }
}

pub fn owner(mount_point: &str, layers: &Layers) -> Owner {
    // A containerd task's bundle is containerd's whatever snapshotter made its layers (overlayfs,
    // stargz, nydus, k3s's own root).
    if super::containerd::bundle(mount_point).is_some() {
        return Owner::Containerd;
    }
    let paths: Vec<&str> = layers
        .upper
        .iter()
        .chain(layers.lower.iter())
        .map(String::as_str)
        .chain([mount_point])
        .collect();
    let any = |needle: &str| paths.iter().any(|p| p.contains(needle));
    if any("/buildkit/") {
        Owner::BuildKit
    } else if any("/docker/overlay2/") || any("/docker/overlay/") {
        Owner::Docker
    } else if any("/containers/storage/overlay") {
        Owner::ContainersStorage {
            rootless: any("/.local/share/containers/")
                || paths.iter().any(|p| p.starts_with("/home/")),
        }
    } else if any("io.containerd.snapshotter") || any("/containerd/") {
        Owner::Containerd
    } else {
        Owner::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_with_escapes_and_the_new_api() {
        let l = layers("rw,lowerdir=/a\\:1:/b,upperdir=/u\\,x,workdir=/w,index=off");
        assert_eq!(l.lower, vec!["/a:1", "/b"]);
        assert_eq!(
            (l.upper.as_deref(), l.work.as_deref()),
            (Some("/u,x"), Some("/w"))
        );
        let l = layers("rw,lowerdir+=/l1,lowerdir+=/l2,upperdir=/u,workdir=/w");
        assert_eq!(l.lower, vec!["/l1", "/l2"]);
        assert_eq!(layers("rw"), Layers::default());
    }

    #[test]
    fn owners() {
        let up = |u: &str| Layers {
            upper: Some(u.into()),
            ..Default::default()
        };
        assert_eq!(
            owner("/x", &up("/var/lib/docker/overlay2/abc/diff")),
            Owner::Docker
        );
        assert_eq!(
            owner("/x", &up("/var/lib/containers/storage/overlay/abc/diff")),
            Owner::ContainersStorage { rootless: false }
        );
        assert_eq!(
            owner(
                "/x",
                &up("/home/u/.local/share/containers/storage/overlay/abc/diff")
            ),
            Owner::ContainersStorage { rootless: true }
        );
        assert_eq!(
            owner(
                "/x",
                &up("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs")
            ),
            Owner::Containerd
        );
        assert_eq!(
            owner("/x", &up("/var/lib/docker/buildkit/executor/abc/diff")),
            Owner::BuildKit
        );
        // stargz's snapshots live outside containerd's root (containerd/stargz-snapshotter#893).
        assert_eq!(
            owner(
                "/run/containerd/io.containerd.runtime.v2.task/k8s.io/f07b/rootfs",
                &up("/var/lib/containerd-stargz-grpc/snapshotter/snapshots/17/fs")
            ),
            Owner::Containerd
        );
        assert_eq!(
            owner("/tmp/ovl/merged", &up("/tmp/ovl/upper")),
            Owner::Unknown
        );
    }
}
