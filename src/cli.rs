//! The command line.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::checks::{self, Check};
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

    /// Keep running: scan every SECONDS and rewrite the --output file (or --output-dir's files)
    /// atomically each time, until SIGTERM or SIGINT (exit 0); a failed write is said on stderr and
    /// tried again at the next scan. For a DaemonSet feeding node_exporter's textfile collector.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub interval: Option<f64>,

    /// Treat a missing tool as an error instead of skipping its check
    #[arg(long, value_name = "TOOL", value_parser = PossibleValuesParser::new(checks::requirable_tools()))]
    pub require: Vec<String>,

    /// A Dockerfile to examine for cache mounts shared by parallel stages (repeatable)
    #[arg(long, value_name = "PATH", global = true)]
    pub dockerfile: Vec<std::path::PathBuf>,

    /// The stage the Dockerfiles are built to, as `docker build --target` (default: the last);
    /// only the stages it needs run in the build
    #[arg(long, value_name = "STAGE", global = true)]
    pub target: Option<String>,

    /// A kernel configuration to grade (kernel-config) instead of the running kernel's:
    /// a .config or a gzipped one such as a copy of /proc/config.gz
    #[arg(long, value_name = "PATH", global = true)]
    pub kernel_config: Option<std::path::PathBuf>,

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

impl ValueEnum for FailOn {
    fn value_variants<'a>() -> &'a [Self] {
        &FailOn::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// Where the facts of a scan come from.
#[derive(Debug, Clone)]
pub enum Source {
    Live,
    /// `--root DIR`.
    Root(PathBuf),
    /// `--from-bundle FILE`.
    Bundle(PathBuf),
}

/// What one run of the program does, decided from the command line alone.
pub enum Mode {
    /// The interactive UI (a terminal, and no report asked for).
    Ui(Scan, ColorWhen),
    /// `--check`: one scan, reports, the exit code.
    Check(Scan, Reports),
    ListChecks(Vec<&'static Check>),
    Explain(&'static Check),
    Fix {
        check: &'static Check,
        /// A fix re-checks passively: never with `--active`.
        options: checks::Options,
        plan: Option<String>,
        dry_run: bool,
        yes: bool,
        force: bool,
    },
    Bundle(BundleArgs),
    /// `bundle --list FILE`: what a bundle holds, to check it before attaching it.
    ListBundle(PathBuf),
    Completions(clap_complete::Shell),
    Man,
}

/// A scan: which checks, with which options, from which source.
pub struct Scan {
    pub checks: Vec<&'static Check>,
    pub options: checks::Options,
    pub source: Source,
}

/// Where and how `--check` writes its reports.
pub struct Reports {
    pub formats: Vec<Format>,
    pub output: Option<PathBuf>,
    pub output_dir: Option<PathBuf>,
    pub fail_on: FailOn,
    pub verbose: bool,
    pub color: ColorWhen,
    /// `--interval`: scan and write again every this long, until SIGTERM or SIGINT.
    pub interval: Option<std::time::Duration>,
}

/// `bundle`: what to pack, and the options its scan runs with.
pub struct BundleArgs {
    pub export: crate::bundle::ExportOptions,
    pub options: checks::Options,
}

impl Cli {
    /// The mode this command line asks for; usage errors (an unknown check id, several formats
    /// without a directory) are clap errors, so they exit 2 with clap's formatting.
    pub fn mode(self, interactive: bool) -> Result<Mode, clap::Error> {
        let options = self.options();
        let source = match (&self.root, &self.from_bundle) {
            (_, Some(b)) => Source::Bundle(b.clone()),
            (Some(r), None) => Source::Root(r.clone()),
            (None, None) => Source::Live,
        };
        match self.command {
            Some(Command::Explain { id }) => return find(&id).map(Mode::Explain),
            Some(Command::Completions { shell }) => return Ok(Mode::Completions(shell)),
            Some(Command::Man) => return Ok(Mode::Man),
            Some(Command::Fix {
                id,
                plan,
                dry_run,
                yes,
                force,
            }) => {
                if !matches!(source, Source::Live) {
                    return Err(Cli::command().error(
                        ErrorKind::ArgumentConflict,
                        "fixes apply to the live machine, not under --root or to a bundle",
                    ));
                }
                return Ok(Mode::Fix {
                    check: find(&id)?,
                    options: checks::Options {
                        active: false,
                        ..options
                    },
                    plan,
                    dry_run,
                    yes,
                    force,
                });
            }
            Some(Command::Bundle {
                output,
                include_dir,
                exclude,
                anonymize,
                max_size,
                list,
            }) => {
                if let Some(file) = list {
                    return Ok(Mode::ListBundle(file));
                }
                let root = match source {
                    Source::Live => None,
                    Source::Root(dir) => Some(dir),
                    Source::Bundle(_) => {
                        return Err(Cli::command().error(
                            ErrorKind::ArgumentConflict,
                            "bundle: --from-bundle names a bundle that already exists; attach that \
                             file as it is (check it with `container-doctor bundle --list FILE`)",
                        ));
                    }
                };
                return Ok(Mode::Bundle(BundleArgs {
                    export: crate::bundle::ExportOptions {
                        output,
                        root,
                        include_dirs: include_dir,
                        exclude,
                        anonymize,
                        max_bytes: max_size.saturating_mul(1_000_000),
                    },
                    options,
                }));
            }
            None => {}
        }
        let checks = select(&self.only, &self.skip)?;
        if self.list_checks {
            return Ok(Mode::ListChecks(checks));
        }
        let mut formats = self.format.clone();
        formats.dedup();
        if formats.len() > 1 && self.output_dir.is_none() {
            return Err(Cli::command().error(
                ErrorKind::ArgumentConflict,
                "several --format need --output-dir DIR (one file each)",
            ));
        }
        let interval = self.interval.map(std::time::Duration::from_secs_f64);
        if interval.is_some()
            && self.output.as_ref().is_none_or(|o| o.as_os_str() == "-")
            && self.output_dir.is_none()
        {
            return Err(Cli::command().error(
                ErrorKind::MissingRequiredArgument,
                "--interval rewrites a file: it needs --output FILE or --output-dir DIR",
            ));
        }
        let scan = Scan {
            checks,
            options,
            source,
        };
        // With a terminal and no report asked for, the interactive UI; everything else is --check.
        if interactive
            && !self.check
            && self.output.is_none()
            && self.output_dir.is_none()
            && interval.is_none()
            && formats == [Format::Text]
        {
            return Ok(Mode::Ui(scan, self.color));
        }
        Ok(Mode::Check(
            scan,
            Reports {
                formats,
                output: self.output,
                output_dir: self.output_dir,
                fail_on: self.fail_on,
                verbose: self.verbose,
                color: self.color,
                interval,
            },
        ))
    }

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
            dockerfile_target: self.target.clone(),
            kernel_config: self
                .kernel_config
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
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

/// The check with this id; an unknown id is a usage error that names the known ones.
fn find(id: &str) -> Result<&'static Check, clap::Error> {
    checks::find(id).ok_or_else(|| {
        let ids: Vec<&str> = checks::ALL.iter().map(|c| c.id).collect();
        Cli::command().error(
            ErrorKind::InvalidValue,
            format!("unknown check id '{id}' (known: {})", ids.join(", ")),
        )
    })
}

/// The checks to run, in registry order.
fn select(only: &[String], skip: &[String]) -> Result<Vec<&'static Check>, clap::Error> {
    for id in only.iter().chain(skip) {
        find(id)?;
    }
    Ok(checks::ALL
        .iter()
        .copied()
        .filter(|c| only.is_empty() || only.iter().any(|o| o == c.id))
        .filter(|c| !skip.iter().any(|s| s == c.id))
        .collect())
}

/// The man page: one page, its subcommands described in it (clap_mangen's own subcommand section
/// points to a page per subcommand, which is not installed), every non-ASCII character written as
/// a groff escape (`\[u2026]`), so that groff renders it without warnings.
pub fn man_page() -> std::io::Result<String> {
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
