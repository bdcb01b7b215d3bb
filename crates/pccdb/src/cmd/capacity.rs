//! `pccdb capacity --env <env>`: database and top-table sizes, growth since the last snapshot,
//! months until the cluster's storage limit, connection budget per service and current use.
//! Each run appends a snapshot to the environment's capacity history (unless `--no-record`).

use clap::Args;
use provision::capacity::{CapacityReport, capacity};
use provision::units::ByteSize;

use super::manifest_args::{TargetArgs, print_json, runtime};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::outcome::Outcome;

/// Options of `pccdb capacity`.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// Manifest and environment.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Do not append this run's snapshot to the history file.
    #[arg(long)]
    pub no_record: bool,
}

/// Runs `pccdb capacity`.
///
/// # Errors
/// Connection, SQL and history file errors.
pub fn run(args: &CapacityArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let manifest = args.target.load()?;
    let report = runtime()?.block_on(capacity(&manifest, &args.target.env, !args.no_record))?;
    match global.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human => print_human(&report),
    }
    Ok(Outcome::Success)
}

fn signed(bytes: i64) -> String {
    let size = ByteSize(bytes.unsigned_abs());
    if bytes < 0 {
        format!("-{size}")
    } else {
        format!("+{size}")
    }
}

fn print_human(r: &CapacityReport) {
    println!("Capacity of environment {}", r.environment);
    println!(
        "\n{:<40} {:>12} {:>12} {:>14}",
        "database", "size", "estimate", "since last"
    );
    for d in &r.databases {
        let growth = d.growth_since_last.map_or_else(|| "-".to_owned(), signed);
        println!(
            "{:<40} {:>12} {:>12} {:>14}",
            d.database,
            d.size.to_string(),
            d.estimate.to_string(),
            growth
        );
        for (table, size) in &d.top_tables {
            println!("    {table:<36} {:>12}", size.to_string());
        }
    }
    let limit = r
        .storage_limit
        .map_or_else(|| "no limit set".to_owned(), |l| l.to_string());
    println!("\nCluster total {} of {limit}", r.total);
    if !r.unmeasured.is_empty() {
        println!(
            "  not counted: {} database(s) the admin may not size ({}); grant it pg_read_all_stats to include them",
            r.unmeasured.len(),
            r.unmeasured.join(", ")
        );
    }
    let basis = if r.growth_measured {
        "measured since the last snapshot"
    } else {
        "from the manifest's estimates"
    };
    println!("Growth {} per month ({basis})", signed(r.monthly_growth));
    match r.months_until_limit {
        Some(m) => println!("Months until the storage limit: {m:.1}"),
        None => println!("Months until the storage limit: not projected (no limit or no growth)"),
    }
    for b in &r.budgets {
        println!(
            "\nConnection budget of the {} (max_connections {}, reserved {}):",
            b.server, b.max_connections, b.reserved
        );
        for l in &b.lines {
            if l.peak_pods == 0 {
                println!("  {:<40} {:>5}", l.consumer, l.connections);
            } else {
                println!(
                    "  {:<40} {:>5}  ({} per pod x {} pods at peak)",
                    l.consumer, l.connections, l.per_pod, l.peak_pods
                );
            }
        }
        let state = if b.fits() { "fits" } else { "DOES NOT FIT" };
        println!(
            "  {:<40} {:>5}  of {} available: {state}",
            "total",
            b.total,
            b.available()
        );
    }
    println!("\nConnections now (primary):");
    for u in &r.usage {
        println!("  {:<40} {:>5}", u.role, u.connections);
    }
}
