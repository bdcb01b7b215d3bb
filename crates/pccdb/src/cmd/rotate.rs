//! `pccdb rotate --env <env>`: zero-downtime credential rotation. Without a selector it rotates
//! every credential of the environment (service login pairs, extra logins, the migrator).
//! `--finish` only completes what is in progress; `--due` rotates only credentials older than
//! their policy (for a scheduled pipeline); `--wait` sleeps through the grace period so one
//! run ends with the previous login disabled.

use std::time::Duration;

use clap::Args;
use provision::apply::AdminSession;
use provision::rotate::{Mode, Outcome as RotationOutcome, RotationReport, run_targets};

use super::manifest_args::{TargetArgs, print_json, runtime};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::outcome::Outcome;

/// Options of `pccdb rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Manifest and environment.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Rotate only this service's login pair (e.g. pcc-client-api).
    #[arg(long, conflicts_with = "role")]
    pub service: Option<String>,
    /// Rotate only this login role (e.g. flyway_user).
    #[arg(long)]
    pub role: Option<String>,
    /// Only finish rotations in progress and create missing credentials.
    #[arg(long, conflicts_with = "due")]
    pub finish: bool,
    /// Only rotate credentials older than their service's `rotation.max_age_days`.
    #[arg(long)]
    pub due: bool,
    /// Wait through the grace period and disable the previous login in this run.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait for a concurrent rotation of the same secret.
    #[arg(long, default_value = "5min", value_parser = humantime::parse_duration)]
    pub lock_wait: Duration,
}

/// Runs `pccdb rotate`.
///
/// # Errors
/// Secret store, SQL and lock errors; a new password that does not log in.
pub fn run(args: &RotateArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let manifest = args.target.load()?;
    let mode = if args.finish {
        Mode::Converge
    } else if args.due {
        Mode::IfOlderThanDays(0)
    } else {
        Mode::Now
    };
    let select = args.service.as_deref().or(args.role.as_deref());
    let reports = runtime()?.block_on(async {
        let env = manifest.environment(&args.target.env)?;
        let session = AdminSession::open(env).await?;
        anyhow::Ok(run_targets(&session, &manifest, env, select, mode, args.wait, args.lock_wait).await?)
    })?;
    match global.output {
        OutputFormat::Json => print_json(&reports)?,
        OutputFormat::Human => print_human(&reports),
    }
    Ok(Outcome::Success)
}

fn print_human(reports: &[RotationReport]) {
    for r in reports {
        println!("{} ({}):", r.target.label, r.target.secret);
        for step in &r.steps {
            println!("  - {step}");
        }
        let current = match (&r.current_user, r.current_version) {
            (Some(user), Some(v)) => format!("current: {user} (version {v})"),
            _ => "no current credential".to_owned(),
        };
        match &r.outcome {
            RotationOutcome::Done => println!("  done; {current}"),
            RotationOutcome::Waiting { user, until } => {
                println!(
                    "  {current}; {user} stays valid until {} (grace period): run `pccdb rotate --finish` after that, or use --wait",
                    provision::rotate::rfc3339(until)
                );
            }
        }
    }
}
