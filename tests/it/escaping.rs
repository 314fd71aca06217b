//! Output cannot be forged, and bytes are bytes: a process whose name holds a newline and an
//! ANSI escape is shown escaped in the `fix` preview, the text report and the TUI, never as an
//! extra line or a repainted screen; an overlay whose mount point is not UTF-8 is unmounted by
//! its real bytes.

use std::process::Command;

use crate::common::{Tree, doctor, doctor_path, require_root};
use container_doctor::checks::{self, Check, Options};
use container_doctor::facts::Facts;
use container_doctor::host::{Host, Rooted};
use container_doctor::tui::app::App;
use container_doctor::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The name as the kernel stores it (15 bytes at most): a newline, then a screen clear.
const EVIL: &str = "ev\nil\u{1b}[2Jx";
/// How every view must show it.
const SHOWN: &str = "ev\\nil\\u{1b}[2Jx";

#[test]
fn a_forged_holder_name_is_escaped_and_a_non_utf8_mount_point_unmounted_by_its_bytes() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scratch = crate::common::scratch();
    let out = Command::new("unshare")
        .env("SCRATCH", scratch.path())
        .args(["--mount", "--propagation", "private", "bash", "-c"])
        .arg(
            r#"
            export LC_ALL=C
            base=$(mktemp -d "$SCRATCH"/doctor-forge.XXXXXX); mount -t tmpfs forgescene "$base"
            mkdir -p "$base/l" "$base/u" "$base/w"
            m="$base/m-"$'\xff\xfe'"-x"
            mkdir -p "$m"
            mount -t overlay overlay -o "lowerdir=$base/l,upperdir=$base/u,workdir=$base/w" "$m"
            # A holder that names itself (one write to its own comm), then waits in its cwd.
            (cd "$m" && exec python3 -c 'import os, time
fd = os.open("/proc/self/comm", os.O_WRONLY); os.write(fd, b"ev\nil\x1b[2Jx"); os.close(fd)
open(os.environ["READY"], "w").close()
time.sleep(600)') &
            holder=$!
            while [ ! -e "$READY" ]; do sleep 0.1; done
            cd "$base"
            id=$(awk '$5 ~ /\/doctor-forge\./ && $0 ~ / - overlay / {print $1}' /proc/self/mountinfo | head -1)
            echo "MOUNT_ID=$id"
            echo "=== REPORT"
            "$D" --check -v --timeout 60 --only overlay-busy
            echo "=== FIX"
            "$D" fix overlay-busy --plan "stop-holders-and-unmount-$id" --yes --force; echo "RC=$?"
            echo "=== AFTER"
            awk -v b="$base/m-" 'index($5, b) == 1' /proc/self/mountinfo | wc -l | sed 's/^/STILL_MOUNTED=/'
            kill -0 $holder 2>/dev/null && echo HOLDER_ALIVE || echo HOLDER_GONE
            kill -9 $holder 2>/dev/null
            umount -l "$base"
            "#,
        )
        .arg("scene")
        .env("D", doctor_path())
        .env("READY", dir.path().join("ready"))
        .env("CONTAINER_DOCTOR_AUDIT_LOG", dir.path().join("audit.log"))
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !t.contains('\u{1b}'),
        "a raw escape reached the output: {t:?}"
    );
    // No line of any output begins with the forged name's second half.
    assert!(
        !t.lines().any(|l| l.starts_with("il")),
        "a process name added a line: {t}"
    );
    let (report, rest) = t.split_once("=== FIX").unwrap();
    let (fix, after) = rest.split_once("=== AFTER").unwrap();
    assert!(report.contains(SHOWN), "report: {report}\n{err}");
    let preview = fix.split("\n  done:").next().unwrap();
    let signal = preview
        .lines()
        .find(|l| l.contains("SIGTERM to pid"))
        .unwrap_or_else(|| panic!("no signal step: {fix}\n{err}"));
    assert!(signal.contains(&format!("({SHOWN})")), "{signal}");
    // The non-UTF-8 mount point was unmounted, by its bytes, and the holder stopped.
    assert!(fix.contains("RC=0"), "{fix}\n{err}");
    assert!(after.contains("STILL_MOUNTED=0"), "{after}");
    assert!(after.contains("HOLDER_GONE"), "{after}");
}

#[test]
fn a_forged_process_name_is_escaped_in_the_tui() {
    let tree = Tree::new();
    let stat = |pid: u32, comm: &str, state: char, ppid: u32| {
        format!(
            "{pid} ({comm}) {state} {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 100 \
             0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        )
    };
    tree.file("proc/uptime", "1000.00 1800.00\n")
        .file("proc/1/stat", stat(1, "bash", 'S', 0))
        .file("proc/8/stat", stat(8, EVIL, 'Z', 1));
    let all: Vec<&'static Check> = checks::ALL
        .iter()
        .filter(|c| c.id == "zombies")
        .copied()
        .collect();
    let host = std::sync::Arc::new(Facts::of(Host::new(Box::new(
        Rooted::new(tree.path().to_path_buf()).unwrap(),
    ))));
    let mut app = App::new(&all, false);
    for r in checks::run(&all, &host, &Options::default(), |_| ()) {
        app.set_result(r);
    }
    let mut terminal = Terminal::new(TestBackend::new(200, 40)).unwrap();
    terminal.draw(|f| ui::draw(f, &mut app)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut screen = String::new();
    for y in 0..40 {
        for x in 0..200 {
            screen.push_str(buf[(x, y)].symbol());
        }
        screen.push('\n');
    }
    assert!(!screen.contains('\u{1b}'), "{screen}");
    assert!(screen.contains(SHOWN), "{screen}");
    // And the text report of the same tree.
    let out = doctor()
        .arg("--root")
        .arg(tree.path())
        .args(["--check", "-v", "--only", "zombies"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(SHOWN), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.lines().any(|l| l.starts_with("il")),
        "{text}"
    );
}
