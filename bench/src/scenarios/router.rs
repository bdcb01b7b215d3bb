//! `router`: db_router's own benchmark (`cargo bench -p db_router --bench router_overhead`): a
//! prepared point read on the replica by 32 tasks, through `router.read(Any)` against two bare tokio-postgres
//! sessions doing the same (the router's own mechanism without the router), variants alternating within each
//! round. The target applies to the median of the paired per-round throughput ratios: overhead under 5 %.
//! Also reported: each variant's median throughput and client CPU per query.

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
    let executable = crate_bench::build("db_router", "router_overhead", &settings.bench_profile)?;
    // Rounds are short slices; the bench's default of nine gives its paired median room to settle.
    let rounds = if settings.smoke { 1 } else { (settings.runs * 3).max(3) };
    let seconds = settings.seconds.clamp(1, 3);
    let output = crate_bench::run(
        &executable,
        &[
            ("BENCH_ROUNDS", rounds.to_string()),
            ("BENCH_SECONDS", seconds.to_string()),
        ],
    )?;
    let mut result = parse(&output).with_context(|| format!("unexpected router_overhead output:\n{output}"))?;
    result.notes.push(format!(
        "run by this harness as `cargo bench -p db_router --bench router_overhead --profile {}` with \
         BENCH_ROUNDS={rounds} BENCH_SECONDS={seconds}",
        settings.bench_profile
    ));
    Ok(result)
}

/// (queries/s, client CPU µs per query) of a variant's median line.
fn variant(output: &str, name: &str) -> Option<(f64, f64)> {
    let line = output.lines().find(|l| {
        let mut words = l.split_whitespace();
        words.next() == Some("median") && words.next() == Some(name)
    })?;
    let words: Vec<&str> = line.split_whitespace().collect();
    Some((words.get(2)?.parse().ok()?, words.get(4)?.parse().ok()?))
}

fn parse(output: &str) -> Option<ScenarioResult> {
    let setup = output.lines().find(|l| l.starts_with("router_overhead:"))?;
    let summary = output.lines().find(|l| l.starts_with("router-any / bare-shared:"))?;
    let overhead = number_after(summary, "(overhead")?;
    let cpu_ratio = number_after(summary, "client CPU per query")?;
    let (bare_qps, bare_cpu) = variant(output, "bare-shared")?;
    let (router_qps, router_cpu) = variant(output, "router-any")?;
    let mut metrics = vec![
        Metric::plain(
            "router overhead per query (median of paired throughput ratios)",
            "%",
            overhead,
            Better::Lower,
        )
        .target(Target::Below(5.0)),
        Metric::plain(
            "point reads through router.read(Any)",
            "queries/s",
            router_qps,
            Better::Higher,
        )
        .against("bare tokio-postgres, same sessions and statement", bare_qps),
        Metric::plain("client CPU per query, router", "us", router_cpu, Better::Lower)
            .against("bare tokio-postgres", bare_cpu),
    ];
    if let Some((pool_qps, _)) = variant(output, "bare-pool") {
        metrics.push(
            Metric::plain(
                "point reads through router.read(Any), vs a pool",
                "queries/s",
                router_qps,
                Better::Higher,
            )
            .against("deadpool-postgres checkout per query", pool_qps),
        );
    }
    Some(ScenarioResult {
        scenario: "router".into(),
        notes: vec![
            setup.trim_start_matches("router_overhead:").trim().to_owned(),
            format!("client CPU per query, router / bare (paired median): {cpu_ratio:.3}"),
        ],
        metrics,
        seconds: 0.0,
        load_average: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_summary_is_read() {
        let output = "router_overhead: point read on the replica, 32 tasks, 2 runtime threads, 2 s x 9 rounds\n\
                      round  1 bare-shared      20000 queries/s   40.0 us client CPU/query\n\n\
                      median bare-shared      20100 queries/s   41.0 us client CPU/query\n\
                      median router-any       19800 queries/s   43.5 us client CPU/query\n\
                      median bare-pool        15000 queries/s   60.2 us client CPU/query\n\
                      router-any / bare-shared: throughput 0.985 (overhead 1.5 %, target < 5 %), client CPU per query 1.061 (+6.1 %)\n\
                      router-any / bare-pool:   throughput 1.320\n";
        let result = parse(output).unwrap();
        assert_eq!(result.metrics[0].value, 1.5);
        assert_eq!(result.metrics[0].met(), Some(true));
        assert_eq!(
            (result.metrics[1].value, result.metrics[1].baseline),
            (19800.0, Some(20100.0))
        );
        assert_eq!(
            (result.metrics[2].value, result.metrics[2].baseline),
            (43.5, Some(41.0))
        );
        assert_eq!(result.metrics[3].baseline, Some(15000.0));
        assert!(result.notes[1].contains("1.061"));
        assert!(parse("router_overhead: x\n").is_none());
    }
}
