//! `migrate`: the migrate crate's own benchmark (`cargo bench -p migrate --bench migrate_1000`):
//! 1,000 small migrations applied by the engine against psql executing the same files (one transaction per
//! file, one session), alternating which goes first; target at most 1.3x psql's time. Then `info` over the
//! 1,000-row history including connect; target under 100 ms. The bench prints medians; this scenario reads
//! them.

use anyhow::Context as _;

use super::Settings;
use super::crate_bench::{self, number_after};
use crate::report::{Better, Metric, ScenarioResult, Target};

/// Runs the scenario.
pub fn run(settings: &Settings) -> anyhow::Result<ScenarioResult> {
    eprintln!(
        "    building the bench (cargo bench --no-run --profile {})",
        settings.bench_profile
    );
    let executable = crate_bench::build("migrate", "migrate_1000", &settings.bench_profile)?;
    let output = crate_bench::run(&executable, &[("BENCH_ROUNDS", settings.runs.max(1).to_string())])?;
    let mut result = parse(&output).with_context(|| format!("unexpected migrate_1000 output:\n{output}"))?;
    result.notes.push(format!(
        "run by this harness as `cargo bench -p migrate --bench migrate_1000 --profile {}` with BENCH_ROUNDS={}",
        settings.bench_profile,
        settings.runs.max(1)
    ));
    Ok(result)
}

fn parse(output: &str) -> Option<ScenarioResult> {
    let setup = output.lines().find(|l| l.starts_with("migrate_1000:"))?;
    let medians = output.lines().find(|l| l.starts_with("median:"))?;
    let info = output.lines().find(|l| l.starts_with("info over"))?;
    let (psql, engine) = (number_after(medians, "psql")?, number_after(medians, "engine")?);
    let (warm, cold) = (number_after(info, "rows:")?, number_after(info, "connection,")?);
    Some(ScenarioResult {
        scenario: "migrate".into(),
        notes: vec![
            setup.trim_start_matches("migrate_1000:").trim().to_owned(),
            "each migration: CREATE TABLE with a primary key, a 2-row INSERT, CREATE INDEX; the engine resolves, \
             checksums and parses every file, takes Flyway's lock and writes a history row per migration"
                .into(),
        ],
        metrics: vec![
            Metric::plain(
                "1,000 migrations applied to an empty database",
                "ms",
                engine,
                Better::Lower,
            )
            .against("psql, same files, one transaction each", psql)
            .target(Target::RatioAtMost(1.3)),
            Metric::plain(
                "info over the 1,000-row history, including connect",
                "ms",
                cold,
                Better::Lower,
            )
            .target(Target::Below(100.0)),
            Metric::plain(
                "info over the 1,000-row history, warm connection",
                "ms",
                warm,
                Better::Lower,
            ),
        ],
        seconds: 0.0,
        load_average: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_summary_is_read() {
        let output = "migrate_1000: 1000 migrations x 3 statements, 5 rounds, fsync off\n  round 1: psql 800.0 ms  engine 900.0 ms\n\
                      best:   psql 790.1 ms  engine 880.2 ms  ratio 1.11\n\
                      median: psql 812.4 ms  engine 901.7 ms  ratio engine/psql 1.11 (target <= 1.30) OK\n\
                      info over 1000 rows: 12.3 ms on a warm connection, 25.1 ms including connect (target < 100 ms) OK\n";
        let result = parse(output).unwrap();
        assert_eq!(result.metrics[0].value, 901.7);
        assert_eq!(result.metrics[0].baseline, Some(812.4));
        assert_eq!(result.metrics[0].met(), Some(true));
        assert_eq!(result.metrics[1].value, 25.1);
        assert_eq!(result.metrics[2].value, 12.3);
        assert_eq!(result.notes[0], "1000 migrations x 3 statements, 5 rounds, fsync off");
        assert!(parse("median: psql 1 ms engine 2 ms\n").is_none());
    }
}
