//! Reports: the results of one scan, and how they are written out.

pub mod github;
pub mod json;
pub mod junit;
pub mod prometheus;
pub mod sarif;
pub mod text;

use serde::Serialize;

use crate::model::{CheckResult, Status, Texts};
use crate::secrets::{self, Tally};
use crate::summary::HostSummary;

/// Bumped when the JSON report changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

/// The status from which a run fails (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    Error,
    Warn,
    /// Warn, unknown or error.
    Unknown,
    Never,
}

impl FailOn {
    pub const ALL: [FailOn; 4] = [FailOn::Error, FailOn::Warn, FailOn::Unknown, FailOn::Never];

    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Error => "error",
            FailOn::Warn => "warn",
            FailOn::Unknown => "unknown",
            FailOn::Never => "never",
        }
    }

    pub fn fails(self, status: Status) -> bool {
        match self {
            FailOn::Error => status == Status::Error,
            FailOn::Warn => matches!(status, Status::Warn | Status::Error),
            FailOn::Unknown => matches!(status, Status::Warn | Status::Error | Status::Unknown),
            FailOn::Never => false,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub ok: usize,
    pub warn: usize,
    pub error: usize,
    pub unknown: usize,
    pub skipped: usize,
}

/// One scan, ready to be rendered in any format.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub host: HostSummary,
    pub checks: Vec<CheckResult>,
    pub totals: Totals,
    pub fail_on: FailOn,
    /// Whether any check is at or above `fail_on`: the run exits 1.
    pub failed: bool,
    pub duration_ms: f64,
}

impl Report {
    pub fn new(
        mut host: HostSummary,
        checks: Vec<CheckResult>,
        fail_on: FailOn,
        duration_ms: f64,
    ) -> Self {
        let mut totals = Totals::default();
        for c in &checks {
            *match c.status {
                Status::Ok => &mut totals.ok,
                Status::Warn => &mut totals.warn,
                Status::Error => &mut totals.error,
                Status::Unknown => &mut totals.unknown,
                Status::Skipped => &mut totals.skipped,
            } += 1;
        }
        let failed = checks.iter().any(|c| fail_on.fails(c.status));
        host.container_limits
            .retain(|l| checks.iter().any(|c| c.id == l.check));
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
            },
            host,
            checks,
            totals,
            fail_on,
            failed,
            duration_ms,
        }
    }

    /// Removes secrets from every string a format could write (evidence quotes users' files; fix
    /// plans carry a Dockerfile's or daemon.json's content), and says what was removed. Every
    /// format is written from the redacted report: CI logs and code-scanning uploads are as
    /// public as a support bundle.
    pub fn redact(&mut self) -> Tally {
        let mut texts = Texts {
            plain: self.host.texts_mut(),
            files: Vec::new(),
        };
        for c in &mut self.checks {
            c.texts_mut(&mut texts);
        }
        secrets::redact_report(texts.plain, texts.files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Evidence, FixPlan, Location, Metric, Risk, Step, Table, Unit, Visual};

    /// A result with a planted token in every kind of string a format can write.
    fn leaky(token: &str) -> CheckResult {
        let t = |what: &str| format!("{what} token={token}");
        let mut table = Table::new(&["mount"]);
        table.row(vec![t("cell")], vec![t("fix")]);
        CheckResult {
            id: "dockerfile-cache-mounts",
            title: "title",
            area: "BuildKit",
            status: Status::Warn,
            summary: t("summary"),
            evidence: vec![Evidence {
                source: t("source"),
                excerpt: t("RUN --mount=type=cache,target=/var/cache/apt"),
                location: Some(Location {
                    file: t("/src/Dockerfile"),
                    line: 3,
                }),
            }],
            fixes: vec![FixPlan {
                id: t("fix"),
                title: t("title"),
                risk: Risk::Safe,
                needs_root: false,
                steps: vec![
                    Step::Exec {
                        argv: vec!["docker".into(), t("login")],
                    },
                    Step::WriteFile {
                        path: "/src/Dockerfile".into(),
                        content: format!("FROM debian\nENV NPM_TOKEN={token}\n"),
                        seen_sha256: None,
                    },
                    Step::Mount {
                        source: "//server/share".into(),
                        target: "/mnt".into(),
                        fstype: "cifs".into(),
                        options: format!("username=bob,password={token}"),
                    },
                    Step::Manual {
                        instruction: t("by hand"),
                    },
                ],
            }],
            metrics: vec![Metric {
                name: "overlay_mounts",
                labels: vec![("path", t("label"))],
                help: "help",
                unit: Unit::Count,
                value: 1.0,
            }],
            table: Some(table),
            visuals: vec![Visual::Bars {
                title: t("bars"),
                unit: Unit::Bytes,
                bars: vec![(t("bar"), 1.0)],
            }],
            duration_ms: 1.0,
            explanation: "",
        }
    }

    #[test]
    fn no_format_writes_a_secret_of_a_redacted_report() {
        let token = format!(
            "{}{}",
            ["gh", "p_"].concat(),
            "a1B2c3D4e5F6g7H8i9J0".repeat(2)
        );
        let token = &token[..40];
        let host = HostSummary {
            hostname: Some(format!("ci token={token}")),
            kernel: None,
            os: None,
            cgroup: None,
            source: "live".into(),
            root: true,
            container: None,
            container_limits: Vec::new(),
        };
        let mut report = Report::new(host, vec![leaky(token)], FailOn::Error, 1.0);
        let tally = report.redact();
        assert!(tally.total() >= 16, "{tally:?}");
        let outputs = [
            text::render(
                &report,
                &text::Options {
                    color: false,
                    verbose: true,
                },
            ),
            json::render(&report),
            junit::render(&report, "2026-12-02T00:00:00"),
            sarif::render(&report),
            github::render(&report),
            github::step_summary(&report),
            prometheus::render(&report, 0.0),
        ];
        for out in &outputs {
            assert!(!out.contains(token), "{out}");
        }
        // What is not secret stays: the redacted report still says what it found.
        assert!(outputs[1].contains("RUN --mount=type=cache,target=/var/cache/apt"));
        assert!(outputs[1].contains("username=bob"));
    }
}
