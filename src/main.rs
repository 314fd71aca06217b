//! Thin: parse the command line, pick the mode, map outcomes to exit codes (0 / 1 / 2).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use clap::{CommandFactory, Parser, error::ErrorKind};

use container_doctor::checks::{self, Check};
use container_doctor::cli::{Cli, ColorWhen, Command, Format};
use container_doctor::host::{Host, Rooted};
use container_doctor::report::{Report, json, text};
use container_doctor::summary::HostSummary;

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
    if let Some(Command::Explain { id }) = &cli.command {
        let Some(check) = checks::find(id) else {
            bad_id(id)
        };
        emit(check.explanation);
        return Ok(ExitCode::SUCCESS);
    }
    let selected = select(&cli.only, &cli.skip);
    if cli.list_checks {
        let list: String = selected
            .iter()
            .map(|c| format!("{:16} {}\n", c.id, c.title))
            .collect();
        emit(&list);
        return Ok(ExitCode::SUCCESS);
    }

    let host = match &cli.root {
        Some(dir) => Host::new(Box::new(Rooted::new(dir.clone())?)),
        None => Host::live(),
    };
    let start = Instant::now();
    let opts = checks::Options {
        active: cli.active,
        require: cli.require.clone(),
        dockerfiles: cli
            .dockerfile
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
    };
    let results = checks::run(&selected, &host, &opts);
    let summary = HostSummary::gather(&host);
    let report = Report::new(
        summary,
        results,
        cli.fail_on,
        start.elapsed().as_secs_f64() * 1000.0,
    );

    let rendered = match cli.format {
        Format::Json => json::render(&report),
        Format::Text => text::render(
            &report,
            &text::Options {
                color: use_color(cli.color),
                verbose: cli.verbose,
            },
        ),
    };
    emit(&rendered);
    Ok(if report.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
    let err = Cli::command().error(
        ErrorKind::InvalidValue,
        format!("unknown check id '{id}' (known: {})", ids.join(", ")),
    );
    err.exit()
}

fn use_color(when: ColorWhen) -> bool {
    match when {
        ColorWhen::Never => false,
        _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => false,
        ColorWhen::Always => true,
        ColorWhen::Auto => std::io::stdout().is_terminal(),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}
