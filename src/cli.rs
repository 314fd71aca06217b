//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::report::FailOn;

#[derive(Debug, Parser)]
#[command(
    name = "container-doctor",
    version,
    about = "Examines a Linux host used to build and run containers, says what is wrong and why",
    after_help = "Exit codes: 0 nothing at or above --fail-on, 1 something is, 2 usage error or the doctor failed."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Run every check and print a report (what runs when there is no terminal)
    #[arg(long)]
    pub check: bool,

    /// Report format; repeat with --output-dir to write several from one scan
    #[arg(long, value_enum, default_values_t = [Format::Text])]
    pub format: Vec<Format>,

    /// Write the report to FILE (atomically; `-` is stdout)
    #[arg(long, value_name = "FILE", conflicts_with = "output_dir")]
    pub output: Option<PathBuf>,

    /// Write one file per --format into DIR (report.txt, report.json, report.junit.xml,
    /// report.sarif, report.github.txt, container_doctor.prom)
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Run only these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub only: Vec<String>,

    /// Skip these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub skip: Vec<String>,

    /// Exit 1 when any check is at or above this status
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// List the check ids and exit
    #[arg(long)]
    pub list_checks: bool,

    /// Examine the host whose root filesystem is mounted at DIR (DIR/proc, DIR/sys, DIR/etc …)
    #[arg(long, value_name = "DIR", conflicts_with = "from_bundle")]
    pub root: Option<PathBuf>,

    /// Replay a support bundle made by `container-doctor bundle` (same verdicts; fixes disabled)
    #[arg(long, value_name = "FILE", global = true)]
    pub from_bundle: Option<PathBuf>,

    /// Also run probes that briefly change the system (the freezer probe: a scratch cgroup
    /// with one sleeping process, frozen, thawed and removed); needs root
    #[arg(long)]
    pub active: bool,

    /// How long the whole scan may take; a check still running then is reported unknown, with
    /// what it was waiting for (a read blocked on a hung FUSE or NFS server, say)
    #[arg(long, value_name = "SECONDS", default_value_t = 8.0, value_parser = parse_seconds)]
    pub timeout: f64,

    /// Treat a missing tool as an error instead of skipping its check
    #[arg(long, value_name = "TOOL", value_parser = ["criu"])]
    pub require: Vec<String>,

    /// A Dockerfile to examine for cache mounts shared by parallel stages (repeatable)
    #[arg(long, value_name = "PATH", global = true)]
    pub dockerfile: Vec<std::path::PathBuf>,

    /// Show evidence, fixes and explanations
    #[arg(short, long)]
    pub verbose: bool,

    /// When to use colors (never with NO_COLOR set)
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain a check: what it looks at, why it matters, the incident behind it, how to fix it
    Explain {
        /// A check id (see --list-checks)
        id: String,
    },
    /// Print a shell completion script
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff)
    Man,
    /// Pack what the doctor sees into a support bundle, secrets removed
    Bundle {
        /// Where to write it (default container-doctor-HOST-TIME.tar.gz; never overwritten)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Also include the files under DIR (repeatable)
        #[arg(long, value_name = "DIR")]
        include_dir: Vec<PathBuf>,
        /// Leave out paths matching GLOB (repeatable)
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// Also replace host names, IP addresses and user names with stable placeholders
        #[arg(long)]
        anonymize: bool,
        /// Refuse to write a bundle larger than this many MB
        #[arg(long, value_name = "MB", default_value_t = 100)]
        max_size: u64,
        /// Make nothing: show what the bundle FILE holds (every entry, every record, every
        /// redaction count), to check it before attaching it anywhere
        #[arg(long, value_name = "FILE")]
        list: Option<PathBuf>,
    },
    /// Apply a check's fix: show exactly what will happen, confirm, run, re-check, log
    Fix {
        /// A check id (see --list-checks)
        id: String,
        /// Which of the check's fixes (its id; the first one by default)
        #[arg(long)]
        plan: Option<String>,
        /// Only show what would be done
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Allow destructive fixes (with --yes) and mounting over open files
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
    Github,
    Prometheus,
}

impl Format {
    /// The file each format gets under --output-dir.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Text => "report.txt",
            Format::Json => "report.json",
            Format::Junit => "report.junit.xml",
            Format::Sarif => "report.sarif",
            Format::Github => "report.github.txt",
            Format::Prometheus => "container_doctor.prom",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl Cli {
    /// What the checks are asked beyond which ones run.
    pub fn options(&self) -> crate::checks::Options {
        crate::checks::Options {
            active: self.active,
            require: self.require.clone(),
            dockerfiles: self
                .dockerfile
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            deadline: Some(std::time::Duration::from_secs_f64(self.timeout)),
        }
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 86400"
        )),
    }
}
