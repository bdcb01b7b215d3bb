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

/// Runs wrk with `connections` for `seconds` against `url`, with an optional Lua script and headers.
///
/// # Errors
/// wrk missing or failing, or output without the expected lines.
pub fn wrk(
    url: &str,
    connections: u32,
    seconds: u32,
    script: Option<&Path>,
    headers: &[String],
) -> anyhow::Result<WrkResult> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", connections.clamp(1, 2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency");
    for header in headers {
        command.arg("-H").arg(header);
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url);
    let output = command
        .output()
        .context("running wrk (apt-get install wrk; bench/run installs it)")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("wrk failed: {}{}", text, String::from_utf8_lossy(&output.stderr));
    }
    parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut rps = None;
    let mut mean = None;
    let mut p99 = None;
    let mut errors = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value, ..] => rps = value.parse().ok(),
            // "Latency  1.52ms ..." (thread stats); not the "Latency Distribution" heading.
            ["Latency", avg, ..] if duration_ms(avg).is_some() => mean = duration_ms(avg),
            ["99%", value] => p99 = duration_ms(value),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", ..] => errors += 1,
            _ => {}
        }
    }
    Some(WrkResult {
        rps: rps?,
        mean_ms: mean?,
        p99_ms: p99?,
        errors,
    })
}

/// Runs pgbench with `args` (the connection comes from the PG* variables in `env`).
///
/// # Errors
/// pgbench failing, or output without the expected lines.
pub fn pgbench(program: &Path, env: &[(String, String)], args: &[&str]) -> anyhow::Result<PgbenchResult> {
    let output = Command::new(program)
        .args(args)
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
    match (tps, mean) {
        (Some(tps), Some(mean_ms)) => Ok(PgbenchResult { tps, mean_ms }),
        _ => bail!("unexpected pgbench output:\n{text}"),
    }
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
        assert!((r.p99_ms - 3.10).abs() < 1e-9);
        assert_eq!(r.errors, 3);
        assert!((duration_ms("410.11us").unwrap() - 0.41011).abs() < 1e-12);
        assert_eq!(duration_ms("2.5s"), Some(2500.0));
    }
}
