//! `pccdb apply --env <env>`: provisions roles, databases, schemas and privileges (serialized
//! by an advisory lock, verified by a fresh plan afterwards), then creates missing credentials
//! and finishes rotations whose grace period is over.

use std::time::Duration;

use clap::Args;
use provision::apply::{AdminSession, ApplyReport};
use provision::rotate::RotationReport;
use serde::Serialize;

use super::manifest_args::{TargetArgs, print_json, runtime};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::outcome::Outcome;

/// Options of `pccdb apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifest and environment.
    #[command(flatten)]
    pub target: TargetArgs,
    /// How long to wait for a concurrent apply or rotation to finish (e.g. 5min).
    #[arg(long, default_value = "5min", value_parser = humantime::parse_duration)]
    pub lock_wait: Duration,
    /// Do not create or finish credentials (provision roles and databases only).
    #[arg(long)]
    pub no_credentials: bool,
}

#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    apply: ApplyReport,
    credentials: Vec<RotationReport>,
}

/// Runs `pccdb apply`.
///
/// # Errors
/// A blocked plan (nothing is changed), a failed statement (its transaction is rolled back),
/// lock, connection and secret errors.
pub fn run(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let manifest = args.target.load()?;
    let report = runtime()?.block_on(async {
        let env = manifest.environment(&args.target.env)?;
        let session = AdminSession::open(env).await?;
        let apply = session.apply(&manifest, env, args.lock_wait).await?;
        let credentials = if args.no_credentials {
            Vec::new()
        } else {
            provision::rotate::converge(&session, &manifest, env, args.lock_wait).await?
        };
        anyhow::Ok(Report { apply, credentials })
    })?;
    match global.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human => print_human(&report),
    }
    Ok(Outcome::Success)
}

fn print_human(report: &Report) {
    let a = &report.apply;
    for step in &a.executed {
        println!("{};  -- {}", step.sql, step.reason);
    }
    let mut credential_steps = 0;
    for r in &report.credentials {
        for step in &r.steps {
            println!("-- credential {}: {step}", r.target.secret);
            credential_steps += 1;
        }
        if let provision::rotate::Outcome::Waiting { user, until } = &r.outcome {
            println!(
                "-- credential {}: {user} stays valid until {} (grace period)",
                r.target.secret,
                provision::rotate::rfc3339(until)
            );
        }
    }
    for note in &a.notes {
        println!("note: {note}");
    }
    if a.executed.is_empty() && credential_steps == 0 {
        println!(
            "No changes: environment {} already matches the manifest.",
            a.environment
        );
    } else {
        println!(
            "Applied {} statement(s) and {credential_steps} credential step(s) to {} as {}.",
            a.executed.len(),
            a.environment,
            a.admin
        );
    }
}
