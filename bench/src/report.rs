//! Benchmark results and the report files: every figure is printed with its same-run baseline and
//! the ratio between them, and compared with its target when it has one.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

/// Whether smaller or larger is better for a figure.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Times, latencies, memory.
    Lower,
    /// Throughput.
    Higher,
}

/// A target a figure must meet.
#[derive(Debug, Clone, Serialize)]
pub enum Target {
    /// The absolute value must be at most this.
    AtMost(f64),
    /// The value divided by the baseline must be at most this.
    RatioAtMost(f64),
    /// The value divided by the baseline must be at least this.
    RatioAtLeast(f64),
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// What was measured.
    pub name: String,
    /// The unit of `value` and `baseline`.
    pub unit: String,
    /// Our figure (median of the runs).
    pub value: f64,
    /// What the baseline is ("psql, one transaction per file").
    pub baseline_label: Option<String>,
    /// The baseline's figure, measured in the same run.
    pub baseline: Option<f64>,
    /// Direction of goodness.
    pub better: Better,
    /// The target, if the issue sets one.
    pub target: Option<Target>,
}

impl Metric {
    /// value / baseline.
    pub fn ratio(&self) -> Option<f64> {
        self.baseline.filter(|b| *b > 0.0).map(|b| self.value / b)
    }

    /// Whether the target is met (None without a target).
    pub fn met(&self) -> Option<bool> {
        let target = self.target.as_ref()?;
        Some(match target {
            Target::AtMost(max) => self.value <= *max,
            Target::RatioAtMost(max) => self.ratio().is_some_and(|r| r <= *max),
            Target::RatioAtLeast(min) => self.ratio().is_some_and(|r| r >= *min),
        })
    }
}

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Scenario name.
    pub scenario: String,
    /// Free-form notes on the setup (sizes, concurrency, machine).
    pub notes: Vec<String>,
    /// The figures.
    pub metrics: Vec<Metric>,
}

fn target_text(target: &Target) -> String {
    match target {
        Target::AtMost(v) => format!("<= {v}"),
        Target::RatioAtMost(v) => format!("ratio <= {v}"),
        Target::RatioAtLeast(v) => format!("ratio >= {v}"),
    }
}

fn row(m: &Metric) -> String {
    let baseline = match (&m.baseline_label, m.baseline) {
        (Some(label), Some(b)) => format!("{b:.3} ({label})"),
        _ => "-".to_owned(),
    };
    let ratio = m.ratio().map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
    let target = m.target.as_ref().map_or_else(|| "-".to_owned(), target_text);
    let met = match m.met() {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "-",
    };
    format!(
        "| {} | {:.3} {} | {baseline} | {ratio} | {target} | {met} |",
        m.name, m.value, m.unit
    )
}

/// Prints one scenario's table on stdout.
pub fn print(result: &ScenarioResult) {
    println!("{}", markdown(std::slice::from_ref(result)));
}

fn markdown(results: &[ScenarioResult]) -> String {
    let mut out = String::new();
    for r in results {
        out.push_str(&format!("\n### {}\n\n", r.scenario));
        for note in &r.notes {
            out.push_str(&format!("- {note}\n"));
        }
        out.push_str("\n| figure | value | same-run baseline | ratio | target | |\n|---|---|---|---|---|---|\n");
        for m in &r.metrics {
            out.push_str(&row(m));
            out.push('\n');
        }
    }
    out
}

/// Writes `report.md` and `report.json` into `dir`.
///
/// # Errors
/// When the directory or files cannot be written.
pub fn write(dir: &Path, results: &[ScenarioResult]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let now = time::OffsetDateTime::now_utc();
    let header = format!(
        "# Benchmark report\n\nRun at {now} on {} cores; every ratio compares with a baseline measured in the same run.\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    std::fs::write(dir.join("report.md"), header + &markdown(results))
        .with_context(|| format!("writing {}/report.md", dir.display()))?;
    let json = serde_json::json!({ "generated_at": now.to_string(), "results": results });
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}/report.json", dir.display()))?;
    Ok(())
}
