//! Reports: the results of one scan, and how they are written out.

pub mod github;
pub mod json;
pub mod junit;
pub mod prometheus;
pub mod sarif;
pub mod text;

use serde::Serialize;

use crate::model::{CheckResult, Status};
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
}
