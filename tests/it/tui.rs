//! The terminal UI: views on ratatui's TestBackend compared with insta snapshots (80×24 and
//! 160×48, over results from fixture hosts), key sequences against the app state, and the real
//! binary driven inside tmux.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Tree, doctor_path, realdata_text};
use container_doctor::checks::{self, Check, Options};
use container_doctor::facts::Facts;
use container_doctor::host::{Host, Rooted};
use container_doctor::model::{Outcome, Status};
use container_doctor::summary::HostSummary;
use container_doctor::tui::app::{Action, App, Dialog, Focus};
use container_doctor::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// An app filled with the results of a scan of `tree`, made deterministic for snapshots.
fn app_for(tree: &Tree) -> App {
    let all: Vec<&'static Check> = checks::ALL.to_vec();
    let host = std::sync::Arc::new(Facts::of(Host::new(Box::new(
        Rooted::new(tree.path().to_path_buf()).unwrap(),
    ))));
    let mut app = App::new(&all, false);
    for mut r in checks::run(&all, &host, &Options::default(), |_| ()) {
        r.duration_ms = 0.0;
        app.set_result(r);
    }
    let mut summary = HostSummary::gather(&host);
    summary.source = "root:/host".into();
    summary.root = true;
    app.host = Some(summary);
    app
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn mixed_tree() -> Tree {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "3.10.0-1160.el7.x86_64\n")
        .file("proc/sys/kernel/hostname", "build-07\n")
        .file("etc/os-release", "PRETTY_NAME=\"CentOS Linux 7 (Core)\"\n")
        .file(
            "proc/1/mountinfo",
            realdata_text("mountinfo/systemd_rhbug-1554943.mountinfo"),
        );
    tree
}

fn ok_tree() -> Tree {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.8.0-38-generic\n")
        .file("proc/sys/kernel/hostname", "ci-runner\n")
        .file("etc/os-release", "PRETTY_NAME=\"Ubuntu 24.04 LTS\"\n")
        .file(
            "proc/1/mountinfo",
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:30 / /tmp rw - tmpfs tmpfs rw\n\
             3 1 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        )
        .file("proc/uptime", "10.0 10.0\n")
        .file("proc/1/stat", "1 (systemd) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
        .file("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    tree
}

#[test]
fn snapshots_of_fixture_hosts() {
    for (name, tree) in [
        ("mixed", mixed_tree()),
        ("all_ok", ok_tree()),
        ("all_unknown", Tree::new()),
    ] {
        let mut app = app_for(&tree);
        insta::assert_snapshot!(format!("{name}_80x24"), screen(&mut app, 80, 24));
        insta::assert_snapshot!(format!("{name}_160x48"), screen(&mut app, 160, 48));
    }
}

#[test]
fn long_paths_with_odd_characters() {
    let tree = Tree::new();
    let long = format!(
        "/var/lib/{}/m\\040odd\\011tab;$(x)\\012nl",
        "very-long-directory-name/".repeat(6)
    );
    tree.file(
        "proc/1/mountinfo",
        format!("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n40 1 0:40 / {long} rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"),
    );
    let mut app = app_for(&tree);
    let pos = app
        .visible()
        .iter()
        .position(|&i| app.rows[i].check.id == "overlay-busy")
        .unwrap();
    app.selected = pos;
    insta::assert_snapshot!("long_paths_80x24", screen(&mut app, 80, 24));
    insta::assert_snapshot!("long_paths_160x48", screen(&mut app, 160, 48));
}

#[test]
fn a_tiny_terminal_says_so() {
    let mut app = app_for(&Tree::new());
    let s = screen(&mut app, 20, 5);
    assert!(s.contains("terminal too"), "{s}");
}

#[test]
fn pending_checks_spin_and_the_header_waits() {
    let all: Vec<&'static Check> = checks::ALL.to_vec();
    let mut app = App::new(&all, false);
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("reading the host"), "{s}");
    assert!(s.contains("⠋ kernel-version"), "{s}");
    assert!(app.scanning());
}

#[test]
fn keys_move_filter_open_and_confirm() {
    let mut app = app_for(&mixed_tree());
    assert_eq!(app.current().unwrap().check.id, "kernel-version");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.current().unwrap().check.id, "kernel-config");
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Char('j')));
    assert_eq!(app.current().unwrap().check.id, "zombies");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.focus, Focus::Detail);
    app.on_key(key(KeyCode::Down));
    assert_eq!(
        (app.detail_scroll, app.current().unwrap().check.id),
        (1, "zombies")
    );
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.focus, Focus::List);

    // Filter: `/tmp` keeps tmp-tmpfs only; Esc in the list clears it.
    app.on_key(key(KeyCode::Char('/')));
    for c in "tmp".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    let ids: Vec<&str> = app
        .visible()
        .iter()
        .map(|&i| app.rows[i].check.id)
        .collect();
    assert_eq!(ids, vec!["tmp-tmpfs"]);
    // The fix dialog: Cancel is focused; Enter on it closes without doing anything.
    app.on_key(key(KeyCode::Char('f')));
    assert!(matches!(
        app.dialog,
        Some(Dialog::Fix {
            confirm_focused: false,
            ..
        })
    ));
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.dialog, None);
    // c copies the first fix's commands.
    let Action::Copy(text) = app.on_key(key(KeyCode::Char('c'))) else {
        panic!("no copy")
    };
    assert_eq!(text, "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp");
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.visible().len(), checks::ALL.len());
    assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::Quit);
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Action::Quit
    );
    assert_eq!(app.on_key(key(KeyCode::Char('r'))), Action::Rescan);
    assert_eq!(app.on_key(key(KeyCode::Char('e'))), Action::Export);
}

#[test]
fn destructive_fixes_need_the_check_id_typed() {
    let mut app = app_for(&mixed_tree());
    // A destructive plan: stop holders of an overlay (built by hand on a result).
    let tree = Tree::new();
    tree.file(
        "proc/1/mountinfo",
        "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n40 1 0:40 / /a rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n",
    );
    let host = Facts::of(Host::new(Box::new(
        Rooted::new(tree.path().to_path_buf()).unwrap(),
    )));
    let mut r = checks::run_one(
        checks::find("overlay-busy").unwrap(),
        &host,
        &Options::default(),
    );
    r.fixes[0].risk = container_doctor::model::Risk::Destructive;
    app.set_result(r);
    let pos = app
        .visible()
        .iter()
        .position(|&i| app.rows[i].check.id == "overlay-busy")
        .unwrap();
    app.selected = pos;
    app.on_key(key(KeyCode::Char('f')));
    app.on_key(key(KeyCode::Tab));
    assert!(
        matches!(
            app.dialog,
            Some(Dialog::Fix {
                confirm_focused: false,
                ..
            })
        ),
        "Confirm stays off until typed"
    );
    for c in "overlay-busy".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Tab));
    assert!(matches!(
        app.dialog,
        Some(Dialog::Fix {
            confirm_focused: true,
            ..
        })
    ));
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("type overlay-busy to enable Confirm"), "{s}");
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Action::Apply {
            check: "overlay-busy",
            plan: 0
        },
        "Confirm applies the plan"
    );
}

#[test]
fn a_panicking_check_is_unknown_with_its_message() {
    fn boom(_: &Facts, _: &Options) -> Outcome {
        panic!("boom at line 7")
    }
    static PANICKY: Check = Check {
        id: "panicky",
        title: "a check that panics",
        area: "Test",
        explanation: "# panicky\n",
        in_container: None,
        requires_tool: None,
        active_probe: false,
        run: boom,
    };
    let r = checks::run_one(&PANICKY, &Facts::of(Host::live()), &Options::default());
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(r.summary, "the check failed internally: boom at line 7");
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(session: &str, text: &str) -> String {
    let start = Instant::now();
    loop {
        let pane = tmux(&["capture-pane", "-t", session, "-p"]);
        if pane.contains(text) {
            return pane;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never saw {text:?}:\n{pane}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn end_to_end_in_tmux() {
    // scripts/test points this at the release binary; a bare `cargo test` uses the test build.
    let bin = std::env::var_os("CONTAINER_DOCTOR_E2E_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(doctor_path);
    let pane = drive_in_tmux("root", &bin.display().to_string());
    assert!(pane.contains("✓ kernel-version"), "{pane}");
}

#[test]
fn end_to_end_as_an_unprivileged_user() {
    // The same binary, copied where `nobody` can run it, started with every privilege dropped.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("container-doctor");
    std::fs::copy(
        std::env::var_os("CONTAINER_DOCTOR_E2E_BIN")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(doctor_path),
        &bin,
    )
    .unwrap();
    let cmd = format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups {}",
        bin.display()
    );
    let pane = drive_in_tmux("nobody", &cmd);
    assert!(pane.contains("✓ kernel-version"), "{pane}");
    assert!(pane.contains("not root: some checks say unknown"), "{pane}");
    // Other processes' files are out of reach: with overlays mounted, the scan says unknown
    // rather than guessing who holds them.
    let overlays = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" - overlay "));
    let mark = if overlays {
        "? overlay-busy"
    } else {
        "✓ overlay-busy"
    };
    assert!(pane.contains(mark), "{pane}");
}

/// Runs the UI in a 120×40 tmux pane through `cmd`, waits for every check, opens help, filters,
/// quits, and checks the terminal is restored; returns the pane as it was with every check shown.
fn drive_in_tmux(name: &str, cmd: &str) -> String {
    let session = format!("cd-e2e-{name}-{}", std::process::id());
    let _ = tmux(&["kill-session", "-t", &session]);
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "120",
        "-y",
        "40",
        "bash --norc --noprofile",
    ]);
    let send = |keys: &[&str]| {
        for k in keys {
            tmux(&["send-keys", "-t", &session, k]);
            // Esc followed at once by a key reads as Alt+key: type like a person.
            std::thread::sleep(Duration::from_millis(150));
        }
    };
    send(&["PS1='READY$ '", "Enter"]);
    wait_for(&session, "READY$");
    send(&[&format!("{cmd} ; echo EXITED=$?"), "Enter"]);
    // Every check finishes and shows with its status mark.
    let pane = wait_for(&session, "q quit");
    let start = Instant::now();
    let mut pane = pane;
    // Any frame of the spinner: a slower check may be caught on any of them.
    while pane.contains(|c| ('⠁'..='⣿').contains(&c))
        || !pane.contains("cgroup hybrid") && !pane.contains("cgroup v")
    {
        assert!(start.elapsed() < Duration::from_secs(20), "{pane}");
        std::thread::sleep(Duration::from_millis(200));
        pane = tmux(&["capture-pane", "-t", &session, "-p"]);
    }
    for id in checks::ALL.iter().map(|c| c.id) {
        assert!(pane.contains(id), "{id} missing:\n{pane}");
    }
    let all_shown = pane;
    send(&["?"]);
    wait_for(&session, "switch pane");
    send(&["Escape"]);
    send(&["/", "t", "m", "p", "Enter"]);
    let pane = wait_for(&session, "Checks /tmp");
    assert!(
        pane.contains("tmp-tmpfs") && !pane.contains("kernel-version"),
        "{pane}"
    );
    send(&["q"]);
    let pane = wait_for(&session, "EXITED=0");
    assert!(pane.contains("READY$"), "{pane}");
    // The terminal is back: cursor visible, main screen, cooked mode.
    assert_eq!(
        tmux(&[
            "display",
            "-p",
            "-t",
            &session,
            "#{cursor_flag} #{alternate_on}"
        ])
        .trim(),
        "1 0"
    );
    send(&["stty -a | grep -o -- '-icanon' || echo COOKED", "Enter"]);
    wait_for(&session, "COOKED");
    let _ = tmux(&["kill-session", "-t", &session]);
    all_shown
}
