//! What a scenario injected, what it measured and whether each guarantee held: rendered for the
//! test's output and written as one JSON document per scenario (`<target>/fault-report/<name>.json`)
//! from which docs/RELIABILITY.md's table is made.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use crate::load::{Op, Sample};

/// One asserted guarantee.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The guarantee, as a user would state it.
    pub what: String,
    /// Whether it held.
    pub held: bool,
    /// The evidence.
    pub detail: String,
}

/// A scenario's report.
#[derive(Debug)]
pub struct Report {
    scenario: String,
    title: String,
    started: Instant,
    injected: Vec<String>,
    measured: serde_json::Map<String, Value>,
    checks: Vec<Check>,
}

impl Report {
    /// A report for `scenario` (a file-name-safe id such as `s1_replica_restart`).
    pub fn new(scenario: &str, title: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            title: title.to_owned(),
            started: Instant::now(),
            injected: Vec::new(),
            measured: serde_json::Map::new(),
            checks: Vec::new(),
        }
    }

    /// Records a fault as it is injected.
    pub fn injected(&mut self, what: impl Into<String>) {
        self.injected.push(what.into());
    }

    /// Records a measurement.
    pub fn measured(&mut self, key: &str, value: impl Serialize) {
        self.measured
            .insert(key.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
    }

    /// Records whether a guarantee held.
    pub fn check(&mut self, what: &str, held: bool, detail: impl std::fmt::Display) {
        self.checks.push(Check {
            what: what.to_owned(),
            held,
            detail: detail.to_string(),
        });
    }

    /// Every check held (and there was at least one).
    pub fn held(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.held)
    }

    /// The checks that failed.
    pub fn failed(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.held).collect()
    }

    /// The machine-readable document.
    pub fn to_json(&self) -> Value {
        let now = time::OffsetDateTime::now_utc();
        json!({
            "scenario": self.scenario,
            "title": self.title,
            "finished_at": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "duration_s": (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "injected": self.injected,
            "measured": self.measured,
            "checks": self.checks,
            "held": self.held(),
        })
    }

    /// Writes `<dir>/<scenario>.json`.
    ///
    /// # Errors
    /// File system errors.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.json", self.scenario));
        let text = serde_json::to_string_pretty(&self.to_json()).map_err(std::io::Error::other)?;
        std::fs::write(&path, text + "\n")?;
        Ok(path)
    }

    /// The human rendering: injected, measured, and each check with HELD or FAILED.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "== {}: {}", self.scenario, self.title);
        for fault in &self.injected {
            let _ = writeln!(out, "   injected: {fault}");
        }
        for (key, value) in &self.measured {
            let _ = writeln!(out, "   measured: {key} = {value}");
        }
        for check in &self.checks {
            let verdict = if check.held { "HELD  " } else { "FAILED" };
            let _ = writeln!(out, "   {verdict} {}: {}", check.what, check.detail);
        }
        let _ = writeln!(
            out,
            "   => {} ({:.1} s)",
            if self.held() { "held" } else { "DID NOT HOLD" },
            self.started.elapsed().as_secs_f64()
        );
        out
    }
}

/// Per operation: requests, 2xx, statuses, slowest reply, median and 99th percentile latency.
pub fn summarize(samples: &[Sample]) -> Value {
    let mut by_op: BTreeMap<String, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by_op.entry(Op::name(s.op).to_owned()).or_default().push(s);
    }
    let mut out = serde_json::Map::new();
    for (op, list) in by_op {
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        for s in &list {
            *statuses.entry(s.reply.status.to_string()).or_default() += 1;
        }
        let mut ms: Vec<f64> = list.iter().map(|s| s.reply.latency.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            let i = ((ms.len() as f64 - 1.0) * q).round() as usize;
            ms.get(i).map_or(0.0, |v| (v * 10.0).round() / 10.0)
        };
        out.insert(
            op,
            json!({
                "requests": list.len(),
                "ok": list.iter().filter(|s| s.reply.ok()).count(),
                "statuses": statuses,
                "p50_ms": pick(0.5),
                "p99_ms": pick(0.99),
                "max_ms": pick(1.0),
            }),
        );
    }
    Value::Object(out)
}
