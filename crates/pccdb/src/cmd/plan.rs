//! `pccdb plan --env <env>`: the SQL `apply` would run (roles, databases, schemas, privileges),
//! what cannot be done as the connected admin, and what credentials apply would create or
//! finish rotating. Reads only. `--detailed-exitcode` exits 2 when there is anything to do.

use clap::Args;
use provision::apply::{AdminSession, PlanReport};
use provision::diff::{Phase, Plan};
use provision::rotate::{CredentialPreview, Step, preview};
use serde::Serialize;

use super::manifest_args::{TargetArgs, print_json, runtime};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::outcome::Outcome;

/// Options of `pccdb plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Manifest and environment.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Exit 2 when the plan is not empty (changes or blocked items), 0 when it is.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    plan: PlanReport,
    credentials: Vec<CredentialPreview>,
    no_changes: bool,
}

/// Runs `pccdb plan`.
///
/// # Errors
/// Manifest, connection and catalog errors.
pub fn run(args: &PlanArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let manifest = args.target.load()?;
    let report = runtime()?.block_on(async {
        let env = manifest.environment(&args.target.env)?;
        let plan = provision::apply::plan(&manifest, &args.target.env).await?;
        let session = AdminSession::open(env).await?;
        let credentials = preview(&session, &manifest, env).await?;
        anyhow::Ok((plan, credentials))
    })?;
    let (plan, credentials) = report;
    let credentials_settled = credentials
        .iter()
        .all(|c| matches!(c.next, Some(Step::Done | Step::Wait { .. })));
    let no_changes = plan.plan.is_empty() && credentials_settled;
    match global.output {
        OutputFormat::Json => print_json(&Report {
            plan,
            credentials,
            no_changes,
        })?,
        OutputFormat::Human => print_human(&plan, &credentials, no_changes),
    }
    Ok(if args.detailed_exitcode && !no_changes {
        Outcome::Findings
    } else {
        Outcome::Success
    })
}

fn phase_title(phase: &Phase, plan: &Plan) -> String {
    match phase {
        Phase::Cluster => "roles and memberships (one transaction)".to_owned(),
        Phase::CreateDatabase(d) => format!("create database {d} (outside a transaction)"),
        Phase::Database(d) => format!("database {d}: owner and privileges (one transaction)"),
        Phase::InDatabase(d) if plan.predicted.contains(d) => {
            format!("inside {d} (one transaction; predicted, the database does not exist yet)")
        }
        Phase::InDatabase(d) => format!("inside {d} (one transaction)"),
    }
}

/// Prints a plan as SQL grouped by phase, each statement with its reason.
pub fn print_plan(plan: &Plan) {
    let mut last: Option<&Phase> = None;
    for step in &plan.steps {
        if last != Some(&step.phase) {
            println!("\n-- {}", phase_title(&step.phase, plan));
            last = Some(&step.phase);
        }
        println!("{};  -- {}", step.sql, step.reason);
    }
    if !plan.blocked.is_empty() {
        println!("\nBlocked (apply refuses to start until these are resolved):");
        for b in &plan.blocked {
            println!("  - {}: {}\n    fix: {}", b.what, b.why, b.fix);
        }
    }
    if !plan.notes.is_empty() {
        println!("\nNotes:");
        for n in &plan.notes {
            println!("  - {n}");
        }
    }
}

fn print_human(report: &PlanReport, credentials: &[CredentialPreview], no_changes: bool) {
    let who = if report.admin_is_superuser {
        "a superuser"
    } else {
        "not a superuser"
    };
    println!(
        "Plan for environment {} ({}, server {}, connected as {}, {who})",
        report.environment,
        report.platform.name(),
        report.server_version_num,
        report.admin
    );
    print_plan(&report.plan);
    println!("\nCredentials:");
    for c in credentials {
        let what = match (&c.next, &c.note) {
            (Some(step), Some(note)) => format!("{step}; {note}"),
            (Some(step), None) => step.to_string(),
            (None, Some(why)) => format!("apply creates it after provisioning ({why})"),
            (None, None) => String::new(),
        };
        println!("  {} ({}): {what}", c.target.label, c.target.secret);
    }
    println!();
    if no_changes {
        println!("No changes: the catalog and the credentials match the manifest.");
    } else {
        println!(
            "{} statement(s) to apply, {} blocked item(s).",
            report.plan.steps.len(),
            report.plan.blocked.len()
        );
    }
}
