//! The load tools and their output: wrk (HTTP, Debian package `wrk`) and pgbench (the baseline), run as
//! child processes, their reports parsed into numbers.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

/// What a wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct WrkResult {
    /// Requests per second.
    pub rps: f64,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Non-2xx/3xx responses.
    pub errors: u64,
}

/// What a pgbench run measured.
#[derive(Debug, Clone, Copy)]
pub struct PgbenchResult {
    /// Transactions per second.
    pub tps: f64,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// Median latency, ms (from the per-transaction log).
    pub p50_ms: f64,
    /// 99th percentile latency, ms (from the per-transaction log).
    pub p99_ms: f64,
}

fn duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|v| v * factor)
}

/// Runs wrk with `connections` for `seconds` against `url`, with a Lua script (which sets the headers: none
/// go on the command line, where the process list would show them).
///
/// # Errors
/// wrk missing or failing, or output without the expected lines.
pub fn wrk(url: &str, connections: u32, seconds: u32, script: &Path) -> anyhow::Result<WrkResult> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", connections.clamp(1, 2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        // The service's own request timeout (PCC_HTTP_REQUEST_TIMEOUT_MS, 10 s) answers 503 past it; wrk's
        // default of 2 s would count a slow answer as a socket error and leave it out of the latencies.
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(script)
        .arg(url);
    let output = command
        .output()
        .context("running wrk (apt-get install wrk; bench/run installs it)")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("wrk failed: {}{}", text, String::from_utf8_lossy(&output.stderr));
    }
    // A script may name what its refused requests were (the write paths' do).
    for line in text.lines().filter(|l| l.starts_with("first failure: ")) {
        eprintln!("    wrk {url}: {line}");
    }
    parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut rps = None;
    let mut mean = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value, ..] => rps = value.parse().ok(),
            // "Latency  1.52ms ..." (thread stats); not the "Latency Distribution" heading.
            ["Latency", avg, ..] if duration_ms(avg).is_some() => mean = duration_ms(avg),
            ["50%", value] => p50 = duration_ms(value),
            ["99%", value] => p99 = duration_ms(value),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", ..] => errors += 1,
            _ => {}
        }
    }
    Some(WrkResult {
        rps: rps?,
        mean_ms: mean?,
        p50_ms: p50?,
        p99_ms: p99?,
        errors,
    })
}

/// Runs pgbench with `args` (the connection comes from the PG* variables in `env`), logging a fifth of the
/// transactions' latencies into `log_dir` for the percentiles.
///
/// # Errors
/// pgbench failing, or output without the expected lines.
pub fn pgbench(
    program: &Path,
    env: &[(String, String)],
    log_dir: &Path,
    args: &[&str],
) -> anyhow::Result<PgbenchResult> {
    let prefix = log_dir.join("pgbench-latency");
    let output = Command::new(program)
        .args(args)
        .arg("--log")
        .arg("--sampling-rate=0.2")
        .arg(format!("--log-prefix={}", prefix.display()))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "pgbench {args:?} failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(log_dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pgbench-latency."))
        {
            latencies.extend(parse_pgbench_log(&std::fs::read_to_string(&path)?));
            std::fs::remove_file(&path)?;
        }
    }
    let (tps, mean_ms) = parse_pgbench(&text).with_context(|| format!("unexpected pgbench output:\n{text}"))?;
    if latencies.is_empty() {
        bail!("pgbench wrote no latency log under {}", log_dir.display());
    }
    latencies.sort_by(f64::total_cmp);
    Ok(PgbenchResult {
        tps,
        mean_ms,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    })
}

/// (tps, mean latency ms) from pgbench's summary.
fn parse_pgbench(text: &str) -> Option<(f64, f64)> {
    let mut tps = None;
    let mut mean = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("tps = ") {
            tps = rest.split_whitespace().next().and_then(|v| v.parse().ok());
        }
        if let Some(rest) = line.strip_prefix("latency average = ") {
            mean = rest.split_whitespace().next().and_then(|v| v.parse().ok());
        }
    }
    Some((tps?, mean?))
}

/// Latencies (ms) from a pgbench per-transaction log: `client transaction latency_us script epoch us`.
fn parse_pgbench_log(text: &str) -> impl Iterator<Item = f64> + '_ {
    text.lines().filter_map(|line| {
        let latency_us: f64 = line.split_whitespace().nth(2)?.parse().ok()?;
        Some(latency_us / 1000.0)
    })
}

/// The `q` quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs pgbench's initialization (`-i`) quietly.
///
/// # Errors
/// pgbench failing.
pub fn pgbench_init(program: &Path, env: &[(String, String)], scale: u32) -> anyhow::Result<()> {
    let output = Command::new(program)
        .args(["-i", "-q", "-s", &scale.to_string()])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .context("running pgbench -i")?;
    if !output.status.success() {
        bail!("pgbench -i failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_reports_are_parsed() {
        let text = "Running 10s test @ http://127.0.0.1:8080/\n  2 threads and 32 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     1.52ms  410.11us   9.87ms   80.00%\n    Req/Sec    10.50k   300.00    11.00k    70.00%\n  Latency Distribution\n     50%    1.45ms\n     75%    1.70ms\n     90%    2.00ms\n     99%    3.10ms\n  209000 requests in 10.00s, 100.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:  20900.12\nTransfer/sec:     10.00MB\n";
        let r = parse_wrk(text).unwrap();
        assert!((r.rps - 20900.12).abs() < 1e-6);
        assert!((r.mean_ms - 1.52).abs() < 1e-9);
        assert!((r.p50_ms - 1.45).abs() < 1e-9);
        assert!((r.p99_ms - 3.10).abs() < 1e-9);
        assert_eq!(r.errors, 3);
        assert!((duration_ms("410.11us").unwrap() - 0.41011).abs() < 1e-12);
        assert_eq!(duration_ms("2.5s"), Some(2500.0));
    }

    #[test]
    fn pgbench_reports_and_logs_are_parsed() {
        let text = "transaction type: <builtin: select only>\nlatency average = 1.234 ms\ninitial connection time = 20.1 ms\ntps = 25000.123456 (without initial connection time)\n";
        assert_eq!(parse_pgbench(text), Some((25000.123456, 1.234)));
        assert_eq!(parse_pgbench("tps = 1\n"), None);
        let log: Vec<f64> =
            parse_pgbench_log("0 199 1532 0 1700000000 123456\n3 200 250 0 1700000000 123999\n").collect();
        assert_eq!(log, vec![1.532, 0.25]);
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.5), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&sorted[..1], 0.99), 1.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
