//! A real Docker engine for tests: Debian's dockerd with its own data root and socket, started by
//! the test and stopped when dropped. Images come from `docker import` of a busybox-static rootfs,
//! since no registry is reachable.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Dockerd {
    pub dir: tempfile::TempDir,
    child: Child,
    /// For an engine in namespaces of its own: the host pid of its namespace's PID 1 (a shell that
    /// started dockerd).
    isolated: Option<u32>,
}

/// Run by `unshare` in a fresh mount and PID namespace before dockerd: every overlay mount copied
/// from the host's namespace is detached (other engines' layers are not the test's), /run is hidden
/// (no other engine's socket), and this shell stays PID 1 of the namespace: it reaps orphans (as an
/// init does, so no zombie of the engine's stands in a scan) and passes SIGTERM on to dockerd.
const ISOLATE: &str = r#"
sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \([^ ]*\) .* - overlay .*/\1/p' /proc/self/mountinfo |
  sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g' |
  while IFS= read -r m; do umount -l "$(printf '%b' "$m")" 2>/dev/null || true; done
mount -t tmpfs no-engine /run
"$@" &
engine=$!
trap 'kill -TERM $engine' TERM
while kill -0 $engine 2>/dev/null; do wait; done
"#;

impl Dockerd {
    pub fn start() -> Dockerd {
        Dockerd::start_with_config("{}")
    }

    /// Starts an engine with this daemon.json.
    pub fn start_with_config(daemon_json: &str) -> Dockerd {
        Dockerd::spawn(daemon_json, false)
    }

    /// An engine in a mount and PID namespace of its own, where the host's overlays are detached
    /// and no other process is visible: a scan run through [`Dockerd::enter`] sees this engine's
    /// containers and layers and nothing else on the machine.
    pub fn start_isolated() -> Dockerd {
        Dockerd::spawn("{}", true)
    }

    fn spawn(daemon_json: &str, isolated: bool) -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("cd-dockerd.")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("daemon.json"), daemon_json).expect("daemon.json");
        // The data root is named `docker` so overlay paths look like a real engine's (…/docker/overlay2/…).
        let mut cmd = if isolated {
            let mut c = Command::new("unshare");
            c.args([
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                "sh",
                "-c",
                ISOLATE,
                "isolate",
                "dockerd",
            ]);
            c
        } else {
            Command::new("dockerd")
        };
        let child = cmd
            .arg("--data-root")
            .arg(d.join("docker"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("--host")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--log-level=warn",
            ])
            // Where its containerd writes goroutine dumps (/tmp/containerd.PID.stacks.log, on the
            // SIGUSR1 that dockerd sends a containerd slow to stop): the engine's own directory.
            .env("TMPDIR", d)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("dockerd.log")).expect("log"))
            .spawn()
            .expect("dockerd (Debian's docker.io) must be installed");
        let isolated = isolated.then(|| inner_pid(child.id()));
        let engine = Dockerd {
            dir,
            child,
            isolated,
        };
        let start = Instant::now();
        while !engine.docker(&["version"]).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "dockerd did not come up: {}",
                std::fs::read_to_string(engine.dir.path().join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        engine
    }

    /// A command run in this engine's mount and PID namespaces (`nsenter`); for an engine that is
    /// not isolated, the command as it is.
    pub fn enter(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match self.isolated {
            Some(pid) => {
                let mut c = Command::new("nsenter");
                c.args(["-t", &pid.to_string(), "-m", "-p", "--"])
                    .arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Runs Debian's docker client (it has the classic builder and BuildKit) against this engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("/usr/bin/docker")
            .env("DOCKER_HOST", self.docker_host())
            .args(args)
            .output()
            .expect("docker client")
    }

    /// Like `docker`, but panics with the output unless it succeeds; returns trimmed stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Imports a busybox-static rootfs as `name`.
    pub fn import_busybox(&self, name: &str) {
        let root = self.dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static installed");
        for applet in [
            "sh", "sleep", "ls", "cat", "echo", "mkdir", "touch", "dd", "rm", "true",
        ] {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let status = Command::new("/usr/bin/docker")
            .env("DOCKER_HOST", self.docker_host())
            .args(["import", "-", name])
            .stdin(tar.stdout.take().unwrap())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(tar.wait().unwrap().success(), "tar of the rootfs");
        assert!(status.success(), "docker import");
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Remove what the tests left, then stop the engine and let it unmount its layers.
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.isolated.unwrap_or(self.child.id()) as i32)
                .expect("pid"),
            rustix::process::Signal::TERM,
        );
        let start = Instant::now();
        while self.child.try_wait().ok().flatten().is_none()
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        unmount_below(self.dir.path());
    }
}

/// The host pid of the one child of `pid` (unshare's forked child), waiting for it to appear.
pub fn inner_pid(pid: u32) -> u32 {
    let start = Instant::now();
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(child) = children.split_whitespace().next() {
            return child.parse().expect("a pid");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no child of {pid}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Detaches anything still mounted under `dir` so the temporary directory can go.
fn unmount_below(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let table = container_doctor::parse::mountinfo::parse(&mounts);
    let mut points: Vec<&str> = table
        .mounts
        .iter()
        .map(|m| m.mount_point.as_str())
        .filter(|p| p.starts_with(&*dir.to_string_lossy()))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = rustix::mount::unmount(p, rustix::mount::UnmountFlags::DETACH);
    }
}
