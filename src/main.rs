//! Thin: parse the command line, resolve the mode, run it, map the outcome to an exit code
//! (0 nothing at or above --fail-on, 1 something is, 2 usage error or the doctor failed).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};

use container_doctor::checks;
use container_doctor::cli::{BundleArgs, Cli, ColorWhen, Format, Mode, Reports, Scan, Source};
use container_doctor::facts::Facts;
use container_doctor::host::{Host, Rooted};
use container_doctor::report::{Report, github, json, junit, prometheus, sarif, text};
use container_doctor::summary::HostSummary;
use container_doctor::{bundle, files, fix, interval, tui};

fn main() -> ExitCode {
    // A helper reading one file for the doctor (before anything else, before any thread).
    if let Some(code) = container_doctor::host::helper::serve() {
        return code;
    }
    container_doctor::host::helper::enable();
    install_panic_hook();
    let interactive = std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && std::env::var("TERM").map_or(true, |t| t != "dumb");
    let mode = Cli::parse().mode(interactive).unwrap_or_else(|e| e.exit());
    match run(mode) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("container-doctor: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A panic is the doctor failing: one line, exit 2 (never Rust's 101). Panics on check threads are
/// the scan's business: the runner turns that check unknown. The UI adds its own hook on top,
/// which restores the terminal first.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if checks::is_check_thread() {
            return;
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("container-doctor: internal error: {what}{at}");
        std::process::exit(2);
    }));
}

fn run(mode: Mode) -> Result<ExitCode> {
    match mode {
        Mode::Ui(scan, color) => ui(scan, color),
        Mode::Check(scan, reports) => check(scan, &reports),
        Mode::ListChecks(checks) => {
            let list: String = checks
                .iter()
                .map(|c| format!("{:24} {}\n", c.id, c.title))
                .collect();
            emit(&list);
            Ok(ExitCode::SUCCESS)
        }
        Mode::Explain(check) => {
            emit(check.explanation);
            Ok(ExitCode::SUCCESS)
        }
        Mode::Fix {
            check,
            options,
            plan,
            dry_run,
            yes,
            force,
        } => {
            let flags = fix::command::Flags {
                plan,
                dry_run,
                yes,
                force,
            };
            let code = fix::command::run(check, &options, &flags).map_err(anyhow::Error::msg)?;
            Ok(ExitCode::from(code))
        }
        Mode::Bundle(args) => make_bundle(args),
        Mode::ListBundle(file) => {
            emit(&bundle::list(&file).map_err(anyhow::Error::msg)?);
            Ok(ExitCode::SUCCESS)
        }
        Mode::Completions(shell) => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "container-doctor", &mut out);
            emit(&String::from_utf8_lossy(&out));
            Ok(ExitCode::SUCCESS)
        }
        Mode::Man => {
            emit(&container_doctor::cli::man_page().context("rendering the man page")?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Makes a fresh Host for each scan of `source`; a bundle also brings the options it was made
/// with (its Dockerfiles, --active …), which replace ours.
fn host_factory(scan: &mut Scan) -> Result<Arc<tui::HostFactory>> {
    Ok(match &scan.source {
        Source::Live => Arc::new(Host::live),
        Source::Root(dir) => {
            let rooted = Rooted::new(dir.clone()).map_err(anyhow::Error::msg)?;
            Arc::new(move || Host::new(Box::new(rooted.clone())))
        }
        Source::Bundle(file) => {
            let loaded = bundle::Loaded::open(file).map_err(anyhow::Error::msg)?;
            scan.options = loaded.options.clone();
            Arc::new(move || loaded.host())
        }
    })
}

fn ui(mut scan: Scan, color: ColorWhen) -> Result<ExitCode> {
    let make_host = host_factory(&mut scan)?;
    // The UI looks for a Dockerfile where it was started.
    if scan.options.dockerfiles.is_empty() && std::path::Path::new("Dockerfile").is_file() {
        scan.options.dockerfiles.push("Dockerfile".into());
    }
    let copied = tui::run(scan.checks, scan.options, make_host, use_color(color))
        .map_err(anyhow::Error::msg)?;
    for text in copied {
        println!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

fn check(mut scan: Scan, r: &Reports) -> Result<ExitCode> {
    if let Some(every) = r.interval {
        // Before anything starts a thread: SIGTERM waits for the loop instead of cutting a write.
        interval::prepare().map_err(anyhow::Error::msg)?;
        let make_host = host_factory(&mut scan)?;
        let sig = interval::run(every, || {
            scan_and_write(&scan, make_host.as_ref(), r)
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        });
        eprintln!("container-doctor: stopping on signal {sig}");
        return Ok(ExitCode::SUCCESS);
    }
    let make_host = host_factory(&mut scan)?;
    Ok(if scan_and_write(&scan, make_host.as_ref(), r)? {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One scan with a fresh Host, its reports written; whether it failed (at or above --fail-on).
fn scan_and_write(scan: &Scan, make_host: &tui::HostFactory, r: &Reports) -> Result<bool> {
    let facts = Arc::new(Facts::of(make_host()));
    let start = Instant::now();
    // The summary (hostname, kernel, cgroup mode: the mount table) is gathered beside the checks,
    // and then the report's redaction compiles its detectors there too.
    let (summary, results) = std::thread::scope(|s| {
        let summary = std::thread::Builder::new()
            .name(checks::SUMMARY_THREAD.into())
            .spawn_scoped(s, || {
                let summary = HostSummary::gather(&facts);
                container_doctor::secrets::warm();
                summary
            });
        let results = checks::run(&scan.checks, &facts, &scan.options, |_| ());
        let summary = match summary {
            Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            Err(_) => HostSummary::gather(&facts),
        };
        (summary, results)
    });
    let mut report = Report::new(
        summary,
        results,
        r.fail_on,
        start.elapsed().as_secs_f64() * 1000.0,
    );
    report.redact();
    let to_terminal =
        r.output.as_ref().is_none_or(|o| o.as_os_str() == "-") && r.output_dir.is_none();
    if let Some(dir) = &r.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for format in &r.formats {
        let rendered = render(
            &report,
            *format,
            to_terminal && use_color(r.color),
            r.verbose,
        );
        match (&r.output_dir, &r.output) {
            (Some(dir), _) => files::write_atomic(&dir.join(format.file_name()), &rendered)
                .map_err(anyhow::Error::msg)?,
            (None, Some(file)) if file.as_os_str() != "-" => {
                if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                files::write_atomic(file, &rendered).map_err(anyhow::Error::msg)?
            }
            _ => emit(&rendered),
        }
        if *format == Format::Github
            && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY")
        {
            append(&path, &github::step_summary(&report))?;
        }
    }
    Ok(report.failed)
}

fn make_bundle(args: BundleArgs) -> Result<ExitCode> {
    let path = bundle::export(&args.options, &args.export, &mut |step| {
        eprintln!("container-doctor: {step} …")
    })
    .map_err(anyhow::Error::msg)?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn render(report: &Report, format: Format, color: bool, verbose: bool) -> String {
    let now = SystemTime::now();
    match format {
        Format::Text => text::render(report, &text::Options { color, verbose }),
        Format::Json => json::render(report),
        Format::Junit => {
            // JUnit wants local-less ISO 8601 without a zone: UTC, seconds.
            let stamp = humantime::format_rfc3339_seconds(now).to_string();
            junit::render(report, stamp.trim_end_matches('Z'))
        }
        Format::Sarif => sarif::render(report),
        Format::Github => github::render(report),
        Format::Prometheus => {
            let secs = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            prometheus::render(report, secs)
        }
    }
}

fn use_color(when: ColorWhen) -> bool {
    match when {
        ColorWhen::Never => false,
        _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => false,
        ColorWhen::Always => true,
        // A dumb terminal (Emacs shell, some CI consoles) shows escape codes as text.
        ColorWhen::Auto => {
            std::io::stdout().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

fn append(path: &std::ffi::OsStr, text: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| path.to_string_lossy().into_owned())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}
