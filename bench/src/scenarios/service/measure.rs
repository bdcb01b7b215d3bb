//! The service scenario's measurements at one portfolio size, each alternating with its baseline so that
//! drift on a shared machine hits both: point reads (wrk against `pgbench -S -M prepared`), a list page from
//! the replica, and a subtree roll-up against its bare SQL. Each hot path against its limit: [`super::limits`].

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use secrecy::{ExposeSecret as _, SecretString};

use super::tools::{PgbenchResult, WrkResult, pgbench, wrk};
use crate::scenarios::median;

/// Connections for point reads (the target is stated at 32 connections).
pub const POINT_CONNECTIONS: u32 = 32;
/// Connections for list pages.
pub const LIST_CONNECTIONS: u32 = 8;
/// The list page measured at every size.
pub const LIST_PAGE: &str = "/v1/clients?limit=50&status=active&country=DE";

/// How to run the tools.
pub struct Tools {
    /// The pgbench binary.
    pub pgbench: PathBuf,
    /// PG* variables for the primary.
    pub primary_env: Vec<(String, String)>,
    /// PG* variables for the replica.
    pub replica_env: Vec<(String, String)>,
    /// Scratch directory (scripts, pgbench logs).
    pub dir: PathBuf,
    /// Seconds per measurement.
    pub seconds: u32,
    /// Repetitions (medians are reported).
    pub runs: usize,
    /// The bearer token; wrk gets it from a script file of mode 0600 ([`Tools::wrk_script`]).
    pub token: SecretString,
    /// The service's base URL.
    pub base: String,
}

/// Medians of several wrk runs.
pub(super) fn wrk_median(results: &[WrkResult]) -> WrkResult {
    let pick = |f: fn(&WrkResult) -> f64| median(results.iter().map(f).collect());
    WrkResult {
        rps: pick(|r| r.rps),
        mean_ms: pick(|r| r.mean_ms),
        p50_ms: pick(|r| r.p50_ms),
        p99_ms: pick(|r| r.p99_ms),
        errors: results.iter().map(|r| r.errors).sum(),
    }
}

/// Medians of several pgbench runs.
pub(super) fn pgbench_median(results: &[PgbenchResult]) -> PgbenchResult {
    let pick = |f: fn(&PgbenchResult) -> f64| median(results.iter().map(f).collect());
    PgbenchResult {
        tps: pick(|r| r.tps),
        mean_ms: pick(|r| r.mean_ms),
        p50_ms: pick(|r| r.p50_ms),
        p99_ms: pick(|r| r.p99_ms),
    }
}

fn no_errors(result: &WrkResult, what: &str) -> anyhow::Result<()> {
    if result.errors > 0 {
        bail!("{} failed requests during {what}; see the service log", result.errors);
    }
    Ok(())
}

/// Point-read figures.
pub struct PointReads {
    /// wrk against `GET /v1/clients/{id}`.
    pub service: WrkResult,
    /// `pgbench -S -M prepared` at the same concurrency (for comparison with the SQL floor of PostgreSQL).
    pub select_only: PgbenchResult,
}

impl Tools {
    fn pgbench_primary(&self, args: &[&str]) -> anyhow::Result<PgbenchResult> {
        pgbench(&self.pgbench, &self.primary_env, &self.dir, args)
    }

    /// Writes a wrk script: the bearer token as a default header, then `body`. A file of mode 0600 in the
    /// scratch directory, because a header given with `-H` would show the token in the process list.
    ///
    /// # Errors
    /// The file cannot be written.
    pub(super) fn wrk_script(&self, name: &str, body: &str) -> anyhow::Result<PathBuf> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(
            file,
            "wrk.headers[\"Authorization\"] = \"Bearer {}\"",
            self.token.expose_secret()
        )?;
        file.write_all(body.as_bytes())?;
        Ok(path)
    }

    /// `GET /v1/clients/{id}` (random ids from `script`, a [`point_read_script`]) against its baselines,
    /// alternating the order.
    ///
    /// # Errors
    /// A tool failing, or any failed request.
    pub fn point_reads(&self, script: &str) -> anyhow::Result<PointReads> {
        let (connections, seconds) = (POINT_CONNECTIONS.to_string(), self.seconds.to_string());
        let select_only = [
            "-n",
            "-S",
            "-M",
            "prepared",
            "-c",
            &connections,
            "-j",
            "2",
            "-T",
            &seconds,
        ];
        let url = format!("{}/", self.base);
        let script = self.wrk_script("get-client.lua", script)?;
        // Warm-up, not counted: connections, caches, prepared statements.
        wrk(&url, POINT_CONNECTIONS, 1, &script)?;
        // A warm-up's figures are thrown away, and so is its failure: 32 TLS logins can take longer than
        // its one second on a busy machine (then pgbench reports no transaction, which is no error).
        let _ = self.pgbench_primary(&["-n", "-S", "-M", "prepared", "-c", &connections, "-j", "2", "-T", "1"]);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 0..self.runs {
            let measure_ours = || wrk(&url, POINT_CONNECTIONS, self.seconds, &script);
            if run % 2 == 0 {
                theirs.push(self.pgbench_primary(&select_only)?);
                ours.push(measure_ours()?);
            } else {
                ours.push(measure_ours()?);
                theirs.push(self.pgbench_primary(&select_only)?);
            }
            no_errors(ours.last().expect("pushed"), "the point-read load")?;
        }
        Ok(PointReads {
            service: wrk_median(&ours),
            select_only: pgbench_median(&theirs),
        })
    }

    /// The list page from the replica at [`LIST_CONNECTIONS`].
    ///
    /// # Errors
    /// wrk failing, or any failed request.
    pub fn list_page(&self) -> anyhow::Result<WrkResult> {
        let url = format!("{}{LIST_PAGE}", self.base);
        let script = self.wrk_script("list.lua", "")?;
        wrk(&url, LIST_CONNECTIONS, 1, &script)?;
        let mut runs = Vec::new();
        for _ in 0..self.runs {
            let result = wrk(&url, LIST_CONNECTIONS, self.seconds.min(5), &script)?;
            no_errors(&result, "the list-page load")?;
            runs.push(result);
        }
        Ok(wrk_median(&runs))
    }

    /// The roll-up of the subtree under `root` (one connection) against its bare SQL on the replica
    /// (pgbench, one client): mean latencies in ms, (ours, bare).
    ///
    /// # Errors
    /// A tool failing, or any failed request.
    pub fn rollup(&self, root: &str, path: &str) -> anyhow::Result<(f64, f64)> {
        let sql = self.dir.join("rollup.sql");
        std::fs::write(&sql, rollup_statement(path))?;
        let file = sql.display().to_string();
        let seconds = self.seconds.min(5).to_string();
        let url = format!(
            "{}/v1/reports/portfolio-summary?group_by=industry_sector&root={root}",
            self.base
        );
        let script = self.wrk_script("rollup.lua", "")?;
        wrk(&url, 1, 1, &script)?;
        let (mut ours, mut bare) = (Vec::new(), Vec::new());
        for _ in 0..self.runs {
            let args = ["-n", "-c", "1", "-T", &seconds, "-M", "prepared", "-f", &file];
            bare.push(pgbench(&self.pgbench, &self.replica_env, &self.dir, &args)?.mean_ms);
            let result = wrk(&url, 1, self.seconds.min(5), &script)?;
            no_errors(&result, "the roll-up load")?;
            ours.push(result.mean_ms);
        }
        Ok((median(ours), median(bare)))
    }
}

/// The statement the service runs for the roll-up (reports/portfolio_summary.rs), with the path inlined.
pub fn rollup_statement(path: &str) -> String {
    format!(
        "SELECT i.sector_code AS key, max(s.title) AS label, count(*) AS clients, \
         COALESCE(sum(c.employee_count), 0)::bigint AS employees, \
         count(*) FILTER (WHERE c.risk_category IN ('high', 'critical')) AS high_or_critical \
         FROM client_api.client AS c \
         LEFT JOIN client_api.industry_code AS i ON i.scheme = c.industry_scheme AND i.code = c.industry_code \
         LEFT JOIN client_api.industry_code AS s ON s.scheme = i.scheme AND s.code = i.sector_code \
         WHERE c.deleted_at IS NULL AND (c.path >= '{path}' AND c.path < '{path}' || '~') \
         GROUP BY i.sector_code ORDER BY clients DESC, key NULLS LAST;\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rollup_statement_inlines_the_path() {
        assert!(rollup_statement("/x/").contains("c.path >= '/x/' AND c.path < '/x/' || '~'"));
    }
}
