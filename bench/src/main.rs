//! `pcc-bench`: runs benchmark scenarios, each against a baseline measured in the same run, and writes a
//! markdown and a JSON report (figures, ratios, targets met or not, growth with the portfolio size, the
//! machine and its load). See bench/README.md; `bench/run` builds the binaries and calls this.

mod machine;
mod portfolio;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Parser;

/// Benchmarks with same-run baselines.
#[derive(Debug, Parser)]
#[command(name = "pcc-bench", about)]
struct Cli {
    /// Scenarios to run: `all` (the default: every scenario but the soak; with --smoke, the soak too) or any
    /// of dev-up, migrate, router, service, soak.
    scenarios: Vec<String>,
    /// Portfolio sizes for the service scenario, comma separated (`10k`, `100k`, `1m`, or a number).
    #[arg(long, value_delimiter = ',', value_parser = parse_size)]
    sizes: Option<Vec<u64>>,
    /// Repetitions per measurement (medians are reported). Default 3; 1 with --quick or --smoke.
    #[arg(long)]
    runs: Option<usize>,
    /// Seconds per load measurement (wrk, pgbench). Default 10; 3 with --quick, 1 with --smoke.
    #[arg(long)]
    seconds: Option<u32>,
    /// Short measurements, one run each, sizes 10k unless --sizes says otherwise.
    #[arg(long)]
    quick: bool,
    /// The harness's own check: --quick at 2,000 clients with debug binaries (target/debug) and debug crate
    /// benches; its figures mean nothing, it proves every scenario runs and reports.
    #[arg(long)]
    smoke: bool,
    /// Where to write report.md and report.json (default bench/out, bench/out/smoke for --smoke).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory of the pccdb and pcc-client-api binaries (default target/release, target/debug for --smoke).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Cargo profile for the crate benches of the migrate and router scenarios (default bench-fast, dev for
    /// --smoke).
    #[arg(long)]
    bench_profile: Option<String>,
    /// Leave the service scenario's cluster (and its directory) running at the end, to inspect the database.
    #[arg(long)]
    keep: bool,
    /// Exit with status 2 when a target is not met (status 1 stays for errors).
    #[arg(long)]
    fail_on_missed: bool,
}

/// `10k` -> 10,000; `1m` -> 1,000,000; `2500` -> 2,500.
fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, factor) = if let Some(d) = lower.strip_suffix('k') {
        (d, 1_000)
    } else if let Some(d) = lower.strip_suffix('m') {
        (d, 1_000_000)
    } else {
        (lower.as_str(), 1)
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size: use a number of clients, optionally with k or m (10k, 1m)"))?;
    match n.checked_mul(factor) {
        Some(size) if (100..=10_000_000).contains(&size) => Ok(size),
        _ => Err(format!("`{text}`: sizes go from 100 to 10m clients")),
    }
}

fn settings(cli: &Cli) -> scenarios::Settings {
    let root = scenarios::workspace_root();
    let light = cli.quick || cli.smoke;
    let default_sizes = if cli.smoke {
        vec![2_000]
    } else if cli.quick {
        vec![10_000]
    } else {
        vec![10_000, 100_000, 1_000_000]
    };
    scenarios::Settings {
        runs: cli.runs.unwrap_or(if light { 1 } else { 3 }).max(1),
        seconds: cli.seconds.unwrap_or(if cli.smoke {
            1
        } else if cli.quick {
            3
        } else {
            10
        }),
        sizes: cli.sizes.clone().unwrap_or(default_sizes),
        quick: cli.quick,
        smoke: cli.smoke,
        bin_dir: cli
            .bin_dir
            .clone()
            .unwrap_or_else(|| root.join("target").join(if cli.smoke { "debug" } else { "release" })),
        bench_profile: cli
            .bench_profile
            .clone()
            .unwrap_or_else(|| if cli.smoke { "dev".into() } else { "bench-fast".into() }),
        keep: cli.keep,
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pcc-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let settings = settings(&cli);
    let mut selected: Vec<&scenarios::Scenario> = Vec::new();
    let names: Vec<&str> = if cli.scenarios.is_empty() {
        vec!["all"]
    } else {
        cli.scenarios.iter().map(String::as_str).collect()
    };
    for name in names {
        if name == "all" {
            selected.extend(scenarios::ALL.iter().filter(|s| s.in_all || cli.smoke));
            continue;
        }
        let Some(scenario) = scenarios::ALL.iter().find(|s| s.name == name) else {
            bail!("unknown scenario `{name}`; known: all, {}", scenarios::names());
        };
        selected.push(scenario);
    }
    let mut seen = std::collections::HashSet::new();
    selected.retain(|s| seen.insert(s.name));
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(if cli.smoke { "bench/out/smoke" } else { "bench/out" }));

    let postgres = pg_launcher::PgBinaries::locate()
        .context("locating the PostgreSQL binaries")?
        .version()
        .to_string();
    let mut machine = machine::Machine::describe(postgres);
    let sampler = machine::LoadSampler::start();
    let mut results = Vec::new();
    for scenario in selected {
        eprintln!("==> {}: {}", scenario.name, scenario.about);
        let started = Instant::now();
        let mut result = (scenario.run)(&settings).with_context(|| format!("scenario {} failed", scenario.name))?;
        result.seconds = started.elapsed().as_secs_f64();
        result.load_average = sampler.summary(Some(started));
        report::print(&result);
        results.push(result);
        // Written after every scenario, so a long run that fails late keeps what it measured.
        machine.finish(&sampler);
        report::write(&out, &machine, &results)?;
    }
    eprintln!("==> report written to {}/report.md and report.json", out.display());
    let missed = report::missed(&results);
    if missed > 0 {
        eprintln!("==> {missed} targets not met (see the Targets table)");
        if cli.fail_on_missed {
            return Ok(ExitCode::from(2));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("10k"), Ok(10_000));
        assert_eq!(parse_size("1M"), Ok(1_000_000));
        assert_eq!(parse_size(" 2500 "), Ok(2_500));
        assert!(parse_size("ten").unwrap_err().contains("`ten` is not a size"));
        assert!(parse_size("5").unwrap_err().contains("from 100 to 10m"));
        assert!(parse_size("99999999999999999m").is_err());
    }

    #[test]
    fn modes_choose_their_defaults() {
        let cli = Cli::parse_from(["pcc-bench", "--smoke"]);
        let s = settings(&cli);
        assert_eq!((s.runs, s.seconds, s.sizes.clone()), (1, 1, vec![2_000]));
        assert!(s.bin_dir.ends_with("target/debug"));
        assert_eq!(s.bench_profile, "dev");
        let cli = Cli::parse_from(["pcc-bench", "service", "--sizes", "10k,1m", "--runs", "5"]);
        let s = settings(&cli);
        assert_eq!((s.runs, s.seconds, s.sizes), (5, 10, vec![10_000, 1_000_000]));
        assert!(s.bin_dir.ends_with("target/release"));
    }
}
