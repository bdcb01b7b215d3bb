//! `pcc-bench`: runs benchmark scenarios, each against a baseline measured in the same run, and
//! writes a markdown and a JSON report under bench/out/. See bench/README.md.

mod report;
mod scenarios;

use clap::Parser;

/// Benchmarks with same-run baselines.
#[derive(Debug, Parser)]
#[command(name = "pcc-bench", about)]
struct Cli {
    /// Scenarios to run (default: all). Known: dev-up, service.
    scenarios: Vec<String>,
    /// Repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Where to write report.md and report.json.
    #[arg(long, default_value = "bench/out")]
    out: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let selected = if cli.scenarios.is_empty() {
        scenarios::ALL.iter().map(|s| s.name).collect()
    } else {
        cli.scenarios.iter().map(String::as_str).collect::<Vec<_>>()
    };
    let mut results = Vec::new();
    for name in selected {
        let scenario = scenarios::ALL
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| anyhow::anyhow!("unknown scenario `{name}`; known: {}", scenarios::names()))?;
        eprintln!("==> {}: {}", scenario.name, scenario.about);
        let result = (scenario.run)(&scenarios::Settings { runs: cli.runs })?;
        report::print(&result);
        results.push(result);
    }
    report::write(&cli.out, &results)?;
    eprintln!("==> report written to {}/report.md and report.json", cli.out.display());
    Ok(())
}
