//! `pccdb check --env <env>`: the seed plan's validation criteria against the live cluster and
//! the manifest (naming, mapping, ownership, privileges, PUBLIC, TLS, connection budget, sizes,
//! credentials). Exit 2 when any finding fails. `--report FILE` also writes the JSON report to a file, whatever
//! the outcome, so a pipeline step keeps it without a shell around the command (the pccdb image has none).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use provision::check::{CheckReport, Severity, check};

use super::manifest_args::{TargetArgs, print_json, runtime};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::outcome::Outcome;

/// Options of `pccdb check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifest and environment.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also list the criteria that passed.
    #[arg(long)]
    pub all: bool,
    /// Also write the report as JSON to this file (written before the exit code is decided).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Runs `pccdb check`.
///
/// # Errors
/// When checking cannot start (no connection, unreadable catalog).
pub fn run(args: &CheckArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let manifest = args.target.load()?;
    let report = runtime()?.block_on(check(&manifest, &args.target.env))?;
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing the check report to {}", path.display()))?;
    }
    match global.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human => print_human(&report, args.all),
    }
    Ok(if report.passed() {
        Outcome::Success
    } else {
        Outcome::Findings
    })
}

fn print_human(report: &CheckReport, all: bool) {
    println!("Check of environment {}", report.environment);
    for f in report.findings.iter().filter(|f| all || f.severity != Severity::Pass) {
        let label = match f.severity {
            Severity::Fail => "FAIL",
            Severity::Warn => "warn",
            Severity::Pass => "ok  ",
        };
        println!("{label} [{}] {}: {}", f.check, f.subject, f.message);
        if let Some(fix) = &f.fix {
            println!("       fix: {fix}");
        }
    }
    let passed = report.findings.len() - report.failed - report.warnings;
    println!(
        "{} failed, {} warning(s), {passed} passed.",
        report.failed, report.warnings
    );
}
