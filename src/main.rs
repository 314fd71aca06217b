//! Thin: parse the command line, pick the mode, map outcomes to exit codes (0 / 1 / 2).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use clap::{CommandFactory, Parser, error::ErrorKind};

use container_doctor::checks::{self, Check};
use container_doctor::cli::{Cli, ColorWhen, Command, Format};
use container_doctor::host::{Host, Rooted};
use container_doctor::report::{Report, github, json, junit, output, prometheus, sarif, text};
use container_doctor::summary::HostSummary;
use container_doctor::{bundle, fix, tui};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("container-doctor: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match &cli.command {
        Some(Command::Explain { id }) => {
            let Some(check) = checks::find(id) else {
                bad_id(id)
            };
            emit(check.explanation);
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "container-doctor", &mut out);
            emit(&String::from_utf8_lossy(&out));
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Man) => {
            emit(&man_page().map_err(|e| e.to_string())?);
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Bundle {
            output,
            include_dir,
            exclude,
            anonymize,
            max_size,
        }) => {
            let opts = cli.options();
            let ex = bundle::ExportOptions {
                output: output.clone(),
                include_dirs: include_dir.clone(),
                exclude: exclude.clone(),
                anonymize: *anonymize,
                max_bytes: max_size.saturating_mul(1_000_000),
            };
            let path = bundle::export(&opts, &ex, &mut |step| {
                eprintln!("container-doctor: {step} …")
            })?;
            println!("{}", path.display());
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Fix {
            id,
            plan,
            dry_run,
            yes,
            force,
        }) => {
            let Some(check) = checks::find(id) else {
                bad_id(id)
            };
            if cli.root.is_some() || cli.from_bundle.is_some() {
                return Err(
                    "fixes apply to the live machine, not under --root or to a bundle".into(),
                );
            }
            // A fix re-checks passively: no --active probe in the middle of a repair.
            let opts = checks::Options {
                active: false,
                ..cli.options()
            };
            let flags = fix::command::Flags {
                plan: plan.clone(),
                dry_run: *dry_run,
                yes: *yes,
                force: *force,
            };
            return fix::command::run(check, &opts, &flags).map(ExitCode::from);
        }
        None => {}
    }
    let selected = select(&cli.only, &cli.skip);
    if cli.list_checks {
        let list: String = selected
            .iter()
            .map(|c| format!("{:24} {}\n", c.id, c.title))
            .collect();
        emit(&list);
        return Ok(ExitCode::SUCCESS);
    }
    let mut formats = cli.format.clone();
    formats.dedup();
    if formats.len() > 1 && cli.output_dir.is_none() {
        usage(
            ErrorKind::ArgumentConflict,
            "several --format need --output-dir DIR (one file each)",
        );
    }

    let rooted = cli.root.clone().map(Rooted::new).transpose()?;
    let loaded = cli
        .from_bundle
        .as_deref()
        .map(bundle::Loaded::open)
        .transpose()?;
    let recorded_options = loaded.as_ref().map(|l| l.options.clone());
    let make_host = move || match (&loaded, &rooted) {
        (Some(b), _) => b.host(),
        (None, Some(r)) => Host::new(Box::new(r.clone())),
        (None, None) => Host::live(),
    };
    let mut opts = cli.options();

    // A bundle replays with the options it was made with (its Dockerfiles, --active …).
    if let Some(recorded) = recorded_options {
        opts = recorded;
    }

    // With a terminal and no report asked for, the interactive UI; everything else is --check.
    let interactive = !cli.check
        && cli.output.is_none()
        && cli.output_dir.is_none()
        && cli.format == [Format::Text]
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    if interactive {
        // The UI looks for a Dockerfile where it was started.
        if opts.dockerfiles.is_empty() && std::path::Path::new("Dockerfile").is_file() {
            opts.dockerfiles.push("Dockerfile".into());
        }
        let copied = tui::run(
            selected,
            opts,
            std::sync::Arc::new(make_host),
            use_color(cli.color),
        )?;
        for text in copied {
            println!("{text}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let host = std::sync::Arc::new(make_host());
    let start = Instant::now();
    let results = checks::run(&selected, &host, &opts, |_| ());
    let summary = HostSummary::gather(&host);
    let report = Report::new(
        summary,
        results,
        cli.fail_on,
        start.elapsed().as_secs_f64() * 1000.0,
    );

    let to_terminal =
        cli.output.as_ref().is_none_or(|o| o.as_os_str() == "-") && cli.output_dir.is_none();
    for format in &formats {
        let rendered = render(
            &report,
            *format,
            to_terminal && use_color(cli.color),
            cli.verbose,
        );
        match (&cli.output_dir, &cli.output) {
            (Some(dir), _) => output::write_atomic(&dir.join(format.file_name()), &rendered)?,
            (None, Some(file)) if file.as_os_str() != "-" => output::write_atomic(file, &rendered)?,
            _ => emit(&rendered),
        }
        if *format == Format::Github
            && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY")
        {
            append(&path, &github::step_summary(&report))?;
        }
    }
    Ok(if report.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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

/// The checks to run, in registry order; an unknown id is a usage error that names it.
fn select(only: &[String], skip: &[String]) -> Vec<&'static Check> {
    if let Some(id) = only
        .iter()
        .chain(skip)
        .find(|id| checks::find(id).is_none())
    {
        bad_id(id)
    }
    checks::ALL
        .iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| o == c.id))
        .filter(|c| !skip.iter().any(|s| s == c.id))
        .collect()
}

/// A usage error naming the unknown id; exits 2 through clap's own formatting.
fn bad_id(id: &str) -> ! {
    let ids: Vec<&str> = checks::ALL.iter().map(|c| c.id).collect();
    usage(
        ErrorKind::InvalidValue,
        &format!("unknown check id '{id}' (known: {})", ids.join(", ")),
    )
}

fn usage(kind: ErrorKind, message: &str) -> ! {
    Cli::command().error(kind, message).exit()
}

fn use_color(when: ColorWhen) -> bool {
    match when {
        ColorWhen::Never => false,
        _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => false,
        ColorWhen::Always => true,
        ColorWhen::Auto => std::io::stdout().is_terminal(),
    }
}

fn append(path: &std::ffi::OsStr, text: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.to_string_lossy()))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// The man page: one page, its subcommands described in it (clap_mangen's own subcommand section
/// points to a page per subcommand, which is not installed), every non-ASCII character written as
/// a groff escape (`\[u2026]`), so that groff renders it without warnings.
fn man_page() -> std::io::Result<String> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut page = String::from_utf8_lossy(&out).into_owned();
    page.push_str(".SH SUBCOMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        page.push_str(&format!(
            ".TP\n\\fBcontainer\\-doctor {}\\fR\n{}\n",
            sub.get_name().replace('-', "\\-"),
            about.replace('-', "\\-")
        ));
    }
    let mut out = Vec::new();
    man.render_extra_section(&mut out)?;
    man.render_version_section(&mut out)?;
    man.render_authors_section(&mut out)?;
    page.push_str(&String::from_utf8_lossy(&out));
    Ok(page
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("\\[u{:04X}]", c as u32)
            }
        })
        .collect())
}
