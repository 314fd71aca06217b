//! The terminal UI: views on ratatui's TestBackend compared with insta snapshots (80×24 and
//! 160×48, over results from fixture hosts), key sequences against the app state, and the real
//! binary driven inside tmux.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Tree, doctor_path, fixtures};
use container_doctor::checks::{self, Check, Options};
use container_doctor::facts::Facts;
use container_doctor::fix;
use container_doctor::host::{Host, Rooted};
use container_doctor::model::{CheckResult, Evidence, FixPlan, Outcome, Risk, Status, Step, Table};
use container_doctor::summary::HostSummary;
use container_doctor::tui::app::{Action, App, Dialog, FixEnv, Focus};
use container_doctor::tui::dialog::FixDialog;
use container_doctor::tui::fit::Glyphs;
use container_doctor::tui::jobs;
use container_doctor::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::style::Color;

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
        .file("proc/1/mountinfo", fixtures::host_hybrid_tmp_on_ext4());
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
    tree.mnt_ns(1, 4026531841);
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
    )
    // The process table needs PID 1's stat and namespace to be complete; without them
    // overlay-busy is unknown.
    .file("proc/1/stat", "1 (systemd) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    tree.mnt_ns(1, 4026531841);
    let mut app = app_for(&tree);
    app.selected = Some("overlay-busy");
    app.focus = Focus::Detail;
    insta::assert_snapshot!("long_paths_80x24", screen(&mut app, 80, 24));
    insta::assert_snapshot!("long_paths_160x48", screen(&mut app, 160, 48));
}

fn live_root(app: &mut App) {
    app.env = FixEnv {
        live: true,
        replay: false,
        euid: 0,
        in_tmux: false,
    };
}

fn fix_dialog(app: &App) -> &FixDialog {
    match &app.dialog {
        Some(Dialog::Fix(d)) => d,
        other => panic!("no fix dialog: {other:?}"),
    }
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
    MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }
}

/// overlay-busy with 58 leaked mounts, each with its own fix; fix 57 stops 13 holders and is
/// destructive. Every tenth mount lives only in another mount namespace.
fn many_overlays() -> CheckResult {
    let mut table = Table::new(&["mount point", "owner", "container", "holders"]);
    table.path_columns = vec![0];
    let mut fixes = Vec::new();
    for i in 0..58 {
        let mut point = format!(
            "/var/lib/docker/overlay2/{i:02}{}/merged",
            "a1b2c3d4".repeat(7)
        );
        if i % 10 == 3 {
            point.push_str(" (only in mount namespace mnt:[4026532254])");
        }
        let id = format!("stop-holders-{i}");
        table.row(
            vec![
                point.clone(),
                "docker".into(),
                format!("web-{i}"),
                format!(
                    "{} sleep (cwd), {} sh (open file /data/x)",
                    1000 + i,
                    2000 + i
                ),
            ],
            vec![id.clone()],
        );
        let holders = if i == 56 { 13 } else { 2 };
        fixes.push(FixPlan {
            id,
            title: format!("Stop the {holders} processes holding the overlay at {point}"),
            risk: if i == 56 {
                Risk::Destructive
            } else {
                Risk::Disruptive
            },
            needs_root: true,
            steps: (0..holders)
                .map(|h| Step::Signal {
                    pid: 5000 + h,
                    start_ticks: 42,
                    comm: format!("holder-{h}"),
                    signal: "TERM".into(),
                    then_kill_after_ms: 5000,
                })
                .collect(),
        });
    }
    CheckResult {
        id: "overlay-busy",
        title: "Overlay mounts and who holds them",
        area: "Mounts",
        status: Status::Warn,
        summary: "58 overlay mounts: 58 leaked and busy".into(),
        evidence: vec![Evidence::new(
            "/proc/1234",
            "pid 1234 (containerd-shim) holds it: cwd",
        )],
        fixes,
        metrics: Vec::new(),
        table: Some(table),
        visuals: Vec::new(),
        duration_ms: 0.0,
        explanation: "# overlay-busy\n\nOverlay mounts and who holds them.\n",
    }
}

/// The mixed host with `many_overlays`, overlay-busy selected, its table focused on row `row`.
fn overlay_app(row: usize) -> App {
    let mut app = app_for(&mixed_tree());
    live_root(&mut app);
    app.set_result(many_overlays());
    app.selected = Some("overlay-busy");
    app.focus = Focus::Detail;
    app.table_row = row;
    app
}

#[test]
fn fix_dialog_with_a_long_plan() {
    for (w, h) in [(80, 24), (120, 40), (60, 15)] {
        let mut app = overlay_app(56);
        app.on_key(key(KeyCode::Char('f')));
        let d = fix_dialog(&app);
        assert_eq!(
            (d.check, d.plan.id.as_str()),
            ("overlay-busy", "stop-holders-56")
        );
        let plan = d.plan.clone();
        app.set_blocker("overlay-busy", &plan, None);
        let s = screen(&mut app, w, h);
        insta::assert_snapshot!(format!("fix_dialog_long_plan_{w}x{h}"), s);
        // Title, typed field and both buttons are on screen at every size.
        assert!(s.contains("overlay-busy · fix 57 of 58"), "{s}");
        assert!(s.contains("type overlay-busy"), "{s}");
        assert!(s.contains(" Cancel ") && s.contains(" Confirm "), "{s}");
        // The body scrolls to its last step and the buttons stay.
        app.on_key(key(KeyCode::End));
        let s = screen(&mut app, w, h);
        assert!(s.contains("13. SIGTERM to pid 5012"), "{s}");
        assert!(s.contains(" Cancel ") && s.contains(" Confirm "), "{s}");
        assert!(
            fix_dialog(&app).scroll > 0 || h >= 40,
            "{w}x{h} did not scroll"
        );
    }
}

#[test]
fn the_dialog_target_survives_mouse_and_rescans() {
    let mut app = app_for(&mixed_tree());
    live_root(&mut app);
    app.selected = Some("tmp-tmpfs");
    app.on_key(key(KeyCode::Char('f')));
    let shown = fix_dialog(&app).plan.clone();
    app.set_blocker("tmp-tmpfs", &shown, None);
    screen(&mut app, 120, 40);
    // The wheel and clicks all over the screen, and a rescan with every result coming back.
    for y in 0..40 {
        for kind in [MouseEventKind::ScrollDown, MouseEventKind::ScrollUp] {
            app.on_mouse(mouse(kind, 10, y));
            app.on_mouse(mouse(kind, 100, y));
        }
        app.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 10, y));
    }
    assert_eq!(app.current().unwrap().check.id, "tmp-tmpfs");
    let fresh = app_for(&mixed_tree());
    app.reset();
    for r in fresh.rows.iter().rev() {
        app.set_result(r.result.clone().unwrap());
    }
    let d = fix_dialog(&app);
    assert_eq!((d.check, &d.plan), ("tmp-tmpfs", &shown));
    assert!(!d.stale);
    app.on_key(key(KeyCode::Tab));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Action::Apply {
            check: "tmp-tmpfs",
            plan: shown.clone()
        }
    );
    // A rescan whose result changes the plan: Confirm is withdrawn, and says why.
    app.job = None;
    app.on_key(key(KeyCode::Char('f')));
    let plan = fix_dialog(&app).plan.clone();
    app.set_blocker("tmp-tmpfs", &plan, None);
    let mut changed = fresh
        .rows
        .iter()
        .find(|r| r.check.id == "tmp-tmpfs")
        .unwrap()
        .result
        .clone()
        .unwrap();
    changed.fixes[0].steps.push(Step::Manual {
        instruction: "something new".into(),
    });
    app.set_result(changed);
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.on_key(key(KeyCode::Enter)), Action::None);
    app.on_key(key(KeyCode::Char('f')));
    app.set_result(
        fresh
            .rows
            .iter()
            .find(|r| r.check.id == "tmp-tmpfs")
            .unwrap()
            .result
            .clone()
            .unwrap(),
    );
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("no longer offers exactly this plan") || s.contains("Looking for"),
        "{s}"
    );
}

#[test]
fn the_selection_is_kept_by_check_id() {
    let mut app = app_for(&mixed_tree());
    app.on_key(key(KeyCode::Char('/')));
    for c in "cgroup".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    for _ in 0..app.rows.len() {
        if app.current().unwrap().check.id == "cgroup-freezer" {
            break;
        }
        app.on_key(key(KeyCode::Down));
    }
    assert_eq!(app.current().unwrap().check.id, "cgroup-freezer");
    // A rescan: results come back in another order, the filter still on.
    let fresh = app_for(&mixed_tree());
    app.reset();
    for r in fresh.rows.iter().rev() {
        app.set_result(r.result.clone().unwrap());
        assert_eq!(app.current().unwrap().check.id, "cgroup-freezer");
    }
}

#[test]
fn refusals_show_in_the_preview() {
    let open = |env: FixEnv, id: &'static str| {
        let mut app = app_for(&mixed_tree());
        app.env = env;
        app.selected = Some(id);
        app.on_key(key(KeyCode::Char('f')));
        let plan = fix_dialog(&app).plan.clone();
        app.set_blocker(id, &plan, None);
        app
    };
    let root = FixEnv {
        live: true,
        replay: false,
        euid: 0,
        in_tmux: false,
    };
    let cases = [
        (
            FixEnv {
                replay: true,
                live: false,
                ..root.clone()
            },
            "tmp-tmpfs",
            "Replaying a bundle",
        ),
        (
            FixEnv {
                live: false,
                ..root.clone()
            },
            "tmp-tmpfs",
            "not under --root",
        ),
        (
            FixEnv {
                euid: 1000,
                ..root.clone()
            },
            "tmp-tmpfs",
            "sudo container-doctor fix tmp-tmpfs --plan tmp-mount-now",
        ),
        (root.clone(), "cgroup-version", "yours to take"),
    ];
    for (env, id, why) in cases {
        let mut app = open(env, id);
        let s = screen(&mut app, 120, 40);
        assert!(s.contains(why), "{why}:\n{s}");
        assert!(!s.contains(" Confirm "), "Confirm offered:\n{s}");
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Action::None, "{why}");
    }
    // Manual steps: no Confirm, but y copies them.
    let mut app = open(root.clone(), "cgroup-version");
    assert!(matches!(
        app.on_key(key(KeyCode::Char('y'))),
        Action::Copy(_)
    ));
    // Files open under /tmp block the tmpfs mount, before Confirm.
    let mut app = open(root.clone(), "tmp-tmpfs");
    let plan = fix_dialog(&app).plan.clone();
    app.set_blocker(
        "tmp-tmpfs",
        &plan,
        Some("3 file(s) under /tmp are open by running processes".into()),
    );
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("3 file(s) under /tmp are open") && !s.contains(" Confirm "),
        "{s}"
    );
    // The check running again: no Confirm until its result is back.
    let mut app = open(root.clone(), "tmp-tmpfs");
    app.reset();
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("tmp-tmpfs is running again") && !s.contains(" Confirm "),
        "{s}"
    );
    // Until the look for blockers is back, no Confirm either.
    let mut app = app_for(&mixed_tree());
    app.env = root;
    app.selected = Some("tmp-tmpfs");
    assert!(matches!(
        app.on_key(key(KeyCode::Char('f'))),
        Action::Preflight {
            check: "tmp-tmpfs",
            ..
        }
    ));
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("Looking for what would block it") && !s.contains(" Confirm "),
        "{s}"
    );
}

#[test]
fn a_running_fix_is_a_job_and_quitting_asks() {
    let mut app = app_for(&mixed_tree());
    live_root(&mut app);
    app.selected = Some("tmp-tmpfs");
    app.on_key(key(KeyCode::Char('f')));
    let plan = fix_dialog(&app).plan.clone();
    app.set_blocker("tmp-tmpfs", &plan, None);
    app.on_key(key(KeyCode::Tab));
    assert!(matches!(
        app.on_key(key(KeyCode::Enter)),
        Action::Apply { .. }
    ));
    let job = app.job.as_mut().expect("a job");
    job.what = "mount -t tmpfs".into();
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("fixing tmp-tmpfs · tmp-mount-now: step 1 of 1, mount -t tmpfs"),
        "{s}"
    );
    // Another fix cannot start meanwhile.
    app.on_key(key(KeyCode::Char('f')));
    let plan = fix_dialog(&app).plan.clone();
    app.set_blocker("tmp-tmpfs", &plan, None);
    assert!(screen(&mut app, 120, 40).contains("Another fix is running"));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::None);
    assert_eq!(app.dialog, Some(Dialog::QuitWhileFixing));
    assert!(screen(&mut app, 120, 40).contains("logged as interrupted"));
    assert_eq!(app.on_key(key(KeyCode::Char('n'))), Action::None);
    assert_eq!(app.dialog, None);
    app.on_key(key(KeyCode::Char('q')));
    assert_eq!(app.on_key(key(KeyCode::Char('y'))), Action::Quit);
}

#[test]
fn interrupted_plans_are_logged_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut audit = fix::Audit::open(path.clone()).unwrap();
    audit.interrupted("overlay-busy", "stop-holders-3", "SIGTERM to pid 12");
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
    assert_eq!(line["result"], "interrupted");
    assert_eq!(line["plan"], "stop-holders-3");
    assert_eq!(line["step"], "SIGTERM to pid 12");
}

#[test]
fn the_filter_reaches_rows_and_evidence() {
    let mut app = overlay_app(0);
    app.focus = Focus::List;
    app.on_key(key(KeyCode::Char('/')));
    for c in "web-17".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.current().unwrap().check.id, "overlay-busy");
    let shown: Vec<&str> = app
        .visible()
        .iter()
        .map(|&i| app.rows[i].check.id)
        .collect();
    assert_eq!(shown, vec!["overlay-busy"]);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("row 1 of 1 matching /web-17 (58 rows)"), "{s}");
    // f on the highlighted row acts on that row's own fix.
    app.on_key(key(KeyCode::Enter));
    app.on_key(key(KeyCode::Char('f')));
    assert_eq!(fix_dialog(&app).plan.id, "stop-holders-17");
    assert!(fix_dialog(&app).title().contains("fix 18 of 58"));
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Esc));
    // Evidence matches too.
    app.on_key(key(KeyCode::Char('/')));
    for c in "containerd-shim".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.visible().len(), 1);
    app.on_key(key(KeyCode::Esc));
    // Problems only hides ok and skipped checks; the row counter without a filter.
    app.on_key(key(KeyCode::Char('p')));
    assert!(app.visible().iter().all(|&i| {
        let s = app.rows[i].result.as_ref().unwrap().status;
        !matches!(s, Status::Ok | Status::Skipped)
    }));
    assert!(app.visible().len() < app.rows.len());
    assert!(screen(&mut app, 120, 40).contains("problems only"));
    app.selected = Some("overlay-busy");
    app.focus = Focus::Detail;
    for _ in 0..11 {
        app.on_key(key(KeyCode::Down));
    }
    assert!(screen(&mut app, 120, 40).contains("row 12 of 58"));
}

#[test]
fn columns_keep_what_matters() {
    let mut app = overlay_app(3);
    let s = screen(&mut app, 160, 48);
    // Paths lose their middle: the start and the layer's end both show.
    assert!(
        s.lines().any(|l| l.contains("/var/lib/docker/")
            && l.contains("…")
            && l.contains("c3d4/merged")),
        "{s}"
    );
    // The namespace of a mount elsewhere is on its own line, its id whole.
    assert!(s.contains("mnt:[4026532254])"), "{s}");
    // Holders cut between words, never inside one.
    assert!(
        s.contains("1003 sleep (cwd), 2003 sh (open file /data/x)")
            || s.contains("1003 sleep (cwd),"),
        "{s}"
    );
    assert!(!s.contains("slee…") && !s.contains("(cw…"), "{s}");
    insta::assert_snapshot!("overlay_table_160x48", s);
}

#[test]
fn scrolling_is_bounded_and_follows_the_pointer() {
    let mut app = app_for(&mixed_tree());
    app.selected = Some("cgroup-version");
    app.focus = Focus::Detail;
    screen(&mut app, 120, 40);
    assert!(app.detail_max > 0);
    app.on_key(key(KeyCode::Char('G')));
    assert_eq!(app.detail_scroll, app.detail_max);
    for _ in 0..50 {
        app.on_key(key(KeyCode::PageDown));
    }
    screen(&mut app, 120, 40);
    assert_eq!(app.detail_scroll, app.detail_max);
    app.on_key(key(KeyCode::Char('g')));
    assert_eq!(app.detail_scroll, 0);
    // The wheel over the text scrolls it; over the list it moves the selection.
    let text = app.areas.text;
    app.on_mouse(mouse(MouseEventKind::ScrollDown, text.x + 2, text.y + 2));
    assert_eq!(app.detail_scroll, 3);
    assert_eq!(app.current().unwrap().check.id, "cgroup-version");
    let list = app.areas.list;
    app.on_mouse(mouse(MouseEventKind::ScrollDown, list.x + 2, list.y + 2));
    assert_eq!(app.current().unwrap().check.id, "cgroup-freezer");
    // A scrolled list: a click picks the line under the pointer, offset included.
    app.focus = Focus::List;
    app.selected = Some("dockerfile-cache-mounts");
    screen(&mut app, 100, 14);
    assert!(app.areas.list_offset > 0);
    let list = app.areas.list;
    let line = app.areas.list_offset + 1;
    let want = app.list_entries()[line].map(|i| app.rows[i].check.id);
    app.on_mouse(mouse(
        MouseEventKind::Down(MouseButton::Left),
        list.x + 3,
        list.y + 1,
    ));
    assert_eq!(Some(app.current().unwrap().check.id), want);
    // End and Home in the list.
    app.on_key(key(KeyCode::End));
    assert_eq!(
        app.current().unwrap().check.id,
        app.rows.last().unwrap().check.id
    );
    app.on_key(key(KeyCode::Home));
    assert_eq!(app.current().unwrap().check.id, "kernel-version");
    let s = screen(&mut app, 100, 14);
    assert!(s.contains('█'), "no scrollbar:\n{s}");
}

#[test]
fn the_header_counts_by_status_and_says_the_age() {
    let mut app = app_for(&mixed_tree());
    app.scanned_at = Some(Instant::now());
    let s = screen(&mut app, 120, 40);
    let counts = app.counts();
    let want: Vec<String> = counts
        .iter()
        .map(|(st, n)| format!("{} {n}", st.symbol()))
        .collect();
    assert!(s.contains(&want.join("  ")), "{want:?}\n{s}");
    assert!(s.contains("scanned just now (r rescans)"), "{s}");
    assert_eq!(
        container_doctor::tui::fit::age(Duration::from_secs(720)),
        "scanned 12 min ago"
    );
}

#[test]
fn small_and_odd_terminals() {
    // Below 90 columns: one pane at a time.
    let mut app = app_for(&mixed_tree());
    let s = screen(&mut app, 80, 24);
    assert!(
        s.contains("Checks") && !s.contains("┌ kernel-version"),
        "{s}"
    );
    app.on_key(key(KeyCode::Enter));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("kernel-version") && !s.contains("Checks"), "{s}");
    // Too small: says what is needed.
    let s = screen(&mut app, 45, 11);
    assert!(s.contains("45×11") && s.contains("50×12"), "{s}");
    // Help fits a small terminal and scrolls.
    app.on_key(key(KeyCode::Char('?')));
    let s = screen(&mut app, 60, 15);
    assert!(s.contains("Keys") && s.contains("move"), "{s}");
    app.on_key(key(KeyCode::End));
    app.on_key(key(KeyCode::PageDown));
    let s = screen(&mut app, 60, 15);
    assert!(
        s.contains("Enter chooses") || s.contains("Esc cancels"),
        "{s}"
    );
    app.on_key(key(KeyCode::Esc));
    // The Linux console: ASCII marks, no braille.
    let mut app = app_for(&mixed_tree());
    app.glyphs = Glyphs::from_term(Some("linux"));
    app.reset();
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("| kernel-version") && s.contains("> Checks"),
        "{s}"
    );
    let mut app = app_for(&mixed_tree());
    app.glyphs = Glyphs::from_term(Some("linux"));
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("+ 0") && s.contains("x 0") && !s.contains('✓') && !s.contains('✗'),
        "{s}"
    );
    // Without color the focused pane is still marked.
    let mut app = app_for(&mixed_tree());
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("▶ Checks"), "{s}");
    app.on_key(key(KeyCode::Tab));
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("▶ kernel-version") && !s.contains("▶ Checks"),
        "{s}"
    );
}

#[test]
fn no_text_in_color_8() {
    let mut app = app_for(&mixed_tree());
    app.color = true;
    app.selected = Some("tmp-tmpfs");
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| ui::draw(f, &mut app)).unwrap();
    let buf = terminal.backend().buffer();
    let gray: Vec<(u16, u16)> = buf
        .content()
        .iter()
        .enumerate()
        .filter(|(_, c)| c.fg == Color::DarkGray)
        .map(|(i, _)| buf.pos_of(i))
        .collect();
    assert!(gray.is_empty(), "color 8 at {gray:?}");
    // With color on, something is colored (the test would pass vacuously otherwise).
    assert!(buf.content().iter().any(|c| c.fg != Color::Reset));
}

#[test]
fn copy_and_export_are_notices() {
    let mut app = app_for(&mixed_tree());
    live_root(&mut app);
    app.selected = Some("tmp-tmpfs");
    let Action::Copy(text) = app.on_key(key(KeyCode::Char('y'))) else {
        panic!("y did not copy")
    };
    assert_eq!(text, "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp");
    assert_eq!(app.dialog, None);
    let n = app.notice.clone().unwrap();
    assert!(
        n.contains("Copied tmp-tmpfs · tmp-mount-now (1 line) via OSC 52"),
        "{n}"
    );
    assert!(screen(&mut app, 120, 40).contains("Copied tmp-tmpfs"));
    app.env.in_tmux = true;
    assert!(matches!(
        app.on_key(key(KeyCode::Char('c'))),
        Action::Copy(_)
    ));
    assert!(app.notice.as_ref().unwrap().contains("set-clipboard on"));
    // A notice goes with the next key.
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.notice, None);
    // Export: one at a time, said in a notice.
    assert_eq!(app.on_key(key(KeyCode::Char('e'))), Action::Export);
    assert_eq!(app.on_key(key(KeyCode::Char('e'))), Action::None);
    assert!(
        app.notice
            .as_ref()
            .unwrap()
            .contains("already being written")
    );
    assert_eq!(app.dialog, None);
    // The bundle's path keeps its file name on a narrow footer.
    app.notice = Some(format!(
        "Bundle written (secrets removed): /{}/container-doctor-build-07-20261201T120000Z.tar.gz",
        "home/someone/with/a/long/working/directory".repeat(2)
    ));
    let s = screen(&mut app, 80, 24);
    assert!(
        s.contains("Bundle written") && s.contains("20261201T120000Z.tar.gz"),
        "{s}"
    );
    // Not from a bundle.
    let mut app = app_for(&mixed_tree());
    app.env.replay = true;
    assert_eq!(app.on_key(key(KeyCode::Char('e'))), Action::None);
    assert!(app.notice.as_ref().unwrap().contains("live machine"));
}

#[test]
fn bundles_go_to_an_absolute_unused_path() {
    let dir = tempfile::tempdir().unwrap();
    let a = jobs::bundle_path(dir.path(), Some("web 1")).unwrap();
    assert!(a.is_absolute(), "{}", a.display());
    assert!(
        a.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("container-doctor-web_1-")
    );
    std::fs::write(&a, "taken").unwrap();
    let b = jobs::bundle_path(dir.path(), Some("web 1")).unwrap();
    std::fs::remove_file(&a).unwrap();
    assert_ne!(a, b);
}

#[test]
fn ctrl_z_suspends() {
    let mut app = app_for(&mixed_tree());
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL)),
        Action::Suspend
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
    // Other processes' files and mount namespaces are out of reach: the scan says unknown rather
    // than "no overlay mounts" or guessing who holds them.
    assert!(pane.contains("? overlay-busy"), "{pane}");
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

#[test]
fn pending_checks_spin_and_the_header_waits() {
    let all: Vec<&'static Check> = checks::ALL.to_vec();
    let mut app = App::new(&all, false);
    let s = screen(&mut app, 120, 24);
    assert!(s.contains("reading the host"), "{s}");
    assert!(s.contains("⠋ kernel-version"), "{s}");
    assert!(app.scanning());
}

#[test]
fn keys_move_filter_open_and_cancel() {
    let mut app = app_for(&mixed_tree());
    live_root(&mut app);
    assert_eq!(app.current().unwrap().check.id, "kernel-version");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.current().unwrap().check.id, "kernel-config");
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Char('j')));
    assert_eq!(app.current().unwrap().check.id, "zombies");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.focus, Focus::Detail);
    screen(&mut app, 120, 40);
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
    assert!(!fix_dialog(&app).confirm_focused);
    assert_eq!(app.on_key(key(KeyCode::Enter)), Action::None);
    assert_eq!(app.dialog, None);
    // > and < step through the check's fixes, each a new binding with its own title.
    app.on_key(key(KeyCode::Char('f')));
    assert!(matches!(
        app.on_key(key(KeyCode::Char('>'))),
        Action::Preflight { .. }
    ));
    assert_eq!(fix_dialog(&app).number, 2);
    app.on_key(key(KeyCode::Char('<')));
    assert_eq!(fix_dialog(&app).number, 1);
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.visible().len(), checks::ALL.len());
    assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::Quit);
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Action::Quit
    );
    assert_eq!(app.on_key(key(KeyCode::Char('r'))), Action::Rescan);
}

#[test]
fn destructive_fixes_need_the_check_id_typed() {
    let mut app = overlay_app(56);
    app.on_key(key(KeyCode::Char('f')));
    let plan = fix_dialog(&app).plan.clone();
    app.set_blocker("overlay-busy", &plan, None);
    app.on_key(key(KeyCode::Tab));
    assert!(
        !fix_dialog(&app).confirm_focused,
        "Confirm stays off until typed"
    );
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.dialog, None, "Enter on Cancel closes");
    app.on_key(key(KeyCode::Char('f')));
    app.set_blocker("overlay-busy", &plan, None);
    for c in "overlay-busy".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Tab));
    assert!(fix_dialog(&app).confirm_focused);
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("type overlay-busy to enable Confirm"), "{s}");
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Action::Apply {
            check: "overlay-busy",
            plan
        },
        "Confirm applies the plan shown"
    );
}

/// A 120×40 tmux session running bash with the prompt `READY$ `.
fn shell_session(name: &str) -> String {
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
    send(&session, &["PS1='READY$ '", "Enter"]);
    wait_for(&session, "READY$");
    session
}

fn send(session: &str, keys: &[&str]) {
    for k in keys {
        tmux(&["send-keys", "-t", session, k]);
        // Esc followed at once by a key reads as Alt+key: type like a person.
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn e2e_bin() -> String {
    std::env::var_os("CONTAINER_DOCTOR_E2E_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(doctor_path)
        .display()
        .to_string()
}

/// The doctor's pid: the shell's child.
fn doctor_pid(session: &str) -> String {
    let shell = tmux(&["display", "-p", "-t", session, "#{pane_pid}"]);
    let out = Command::new("pgrep")
        .args(["-P", shell.trim()])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!pid.is_empty() && !pid.contains('\n'), "children: {pid:?}");
    pid
}

/// Main screen, cursor visible, cooked mode: the terminal is the shell's again.
fn assert_restored(session: &str, tag: &str) {
    assert_eq!(
        tmux(&[
            "display",
            "-p",
            "-t",
            session,
            "#{cursor_flag} #{alternate_on}"
        ])
        .trim(),
        "1 0",
        "{tag}"
    );
    send(
        session,
        &[
            &format!("stty -a | grep -o -- '-icanon' || echo COOKED-{tag}"),
            "Enter",
        ],
    );
    wait_for(session, &format!("COOKED-{tag}"));
}

#[test]
fn end_to_end_suspend_resume_and_sigterm() {
    let session = shell_session("signals");
    send(&session, &[&e2e_bin(), "Enter"]);
    wait_for(&session, "q quit");
    // Ctrl-Z gives the terminal back; fg redraws the UI.
    send(&session, &["C-z"]);
    wait_for(&session, "Stopped");
    assert_restored(&session, "ctrl-z");
    send(&session, &["clear", "Enter", "fg", "Enter"]);
    let pane = wait_for(&session, "q quit");
    assert!(pane.contains("Checks"), "{pane}");
    assert_eq!(
        tmux(&["display", "-p", "-t", &session, "#{alternate_on}"]).trim(),
        "1"
    );
    // SIGTSTP from outside does the same.
    let pid = doctor_pid(&session);
    Command::new("kill").args(["-TSTP", &pid]).status().unwrap();
    wait_for(&session, "Stopped");
    assert_restored(&session, "sigtstp");
    send(&session, &["clear", "Enter", "fg", "Enter"]);
    wait_for(&session, "q quit");
    // SIGTERM ends it with the terminal restored and the shell told why.
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    wait_for(&session, "READY$");
    send(&session, &["echo EXITED=$?", "Enter"]);
    wait_for(&session, "EXITED=143");
    assert_restored(&session, "sigterm");
    let _ = tmux(&["kill-session", "-t", &session]);
}

#[test]
fn end_to_end_sighup_and_sigint_restore_the_terminal() {
    for (signal, code) in [("HUP", 129), ("INT", 130)] {
        let session = shell_session(&format!("sig{signal}"));
        send(&session, &[&e2e_bin(), "Enter"]);
        wait_for(&session, "q quit");
        let pid = doctor_pid(&session);
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        wait_for(&session, "READY$");
        send(&session, &["echo EXITED=$?", "Enter"]);
        wait_for(&session, &format!("EXITED={code}"));
        assert_restored(&session, signal);
        let _ = tmux(&["kill-session", "-t", &session]);
    }
}

#[test]
fn end_to_end_dumb_terminal_gets_the_text_report() {
    let session = shell_session("dumb");
    send(
        &session,
        &[&format!("TERM=dumb {}; echo EXITED=$?", e2e_bin()), "Enter"],
    );
    let pane = wait_for(&session, "\nEXITED=");
    assert!(
        pane.contains(" checks: ") && pane.contains("kernel-version"),
        "{pane}"
    );
    assert!(!pane.contains("q quit"), "{pane}");
    assert_eq!(
        tmux(&["display", "-p", "-t", &session, "#{alternate_on}"]).trim(),
        "0"
    );
    // A dumb terminal gets no color either.
    let colored = tmux(&["capture-pane", "-t", &session, "-p", "-e"]);
    assert!(!colored.contains("\x1b["), "{colored}");
    let _ = tmux(&["kill-session", "-t", &session]);
}
