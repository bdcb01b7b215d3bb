//! Benchmark results and the report files: every figure is printed with its same-run baseline and the ratio
//! between them, compared with its target when it has one, and, for figures measured at several
//! portfolio sizes, tabled by size with its growth from the smallest to the largest.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use crate::machine::Machine;

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
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The value must be at most this ("5 s or less").
    AtMost(f64),
    /// The value must be below this ("under 5 ms").
    Below(f64),
    /// The value must be at least this.
    AtLeast(f64),
    /// The value divided by the baseline must be at most this ("at most 1.3x psql's time").
    RatioAtMost(f64),
    /// The value divided by the baseline must be at least this ("at least 0.8x of pgbench").
    RatioAtLeast(f64),
}

impl Target {
    fn text(self) -> String {
        match self {
            Target::AtMost(v) => format!("<= {v}"),
            Target::Below(v) => format!("< {v}"),
            Target::AtLeast(v) => format!(">= {v}"),
            Target::RatioAtMost(v) => format!("ratio <= {v}"),
            Target::RatioAtLeast(v) => format!("ratio >= {v}"),
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// What was measured (without the portfolio size).
    pub name: String,
    /// Portfolio size (clients) it was measured at, for figures that depend on it.
    pub size: Option<u64>,
    /// The unit of `value` and `baseline`.
    pub unit: String,
    /// Our figure (median of the runs unless the name says otherwise).
    pub value: f64,
    /// What the baseline is ("psql, one transaction per file").
    pub baseline_label: Option<String>,
    /// The baseline's figure, measured in the same run.
    pub baseline: Option<f64>,
    /// Direction of goodness.
    pub better: Better,
    /// The target, if the figure has one.
    pub target: Option<Target>,
}

impl Metric {
    /// A figure without baseline or target.
    pub fn plain(name: impl Into<String>, unit: &str, value: f64, better: Better) -> Self {
        Self {
            name: name.into(),
            size: None,
            unit: unit.into(),
            value,
            baseline_label: None,
            baseline: None,
            better,
            target: None,
        }
    }

    /// Adds the same-run baseline.
    #[must_use]
    pub fn against(mut self, label: impl Into<String>, baseline: f64) -> Self {
        self.baseline_label = Some(label.into());
        self.baseline = Some(baseline);
        self
    }

    /// Adds the figure's target.
    #[must_use]
    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Records the portfolio size.
    #[must_use]
    pub fn at(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// value / baseline.
    pub fn ratio(&self) -> Option<f64> {
        self.baseline.filter(|b| *b > 0.0).map(|b| self.value / b)
    }

    /// Whether the target is met (None without a target, or without a finite value).
    pub fn met(&self) -> Option<bool> {
        let target = self.target?;
        if !self.value.is_finite() {
            return Some(false);
        }
        Some(match target {
            Target::AtMost(max) => self.value <= max,
            Target::Below(max) => self.value < max,
            Target::AtLeast(min) => self.value >= min,
            Target::RatioAtMost(max) => self.ratio().is_some_and(|r| r <= max),
            Target::RatioAtLeast(min) => self.ratio().is_some_and(|r| r >= min),
        })
    }

    fn label(&self) -> String {
        match self.size {
            Some(size) => format!("{} @ {}", self.name, size_text(size)),
            None => self.name.clone(),
        }
    }
}

/// `10k`, `1M`, `2500`.
pub fn size_text(size: u64) -> String {
    if size >= 1_000_000 && size.is_multiple_of(1_000_000) {
        format!("{}M", size / 1_000_000)
    } else if size >= 1000 && size.is_multiple_of(1000) {
        format!("{}k", size / 1000)
    } else {
        size.to_string()
    }
}

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Scenario name.
    pub scenario: String,
    /// Free-form notes on the setup (sizes, concurrency, settings).
    pub notes: Vec<String>,
    /// The figures.
    pub metrics: Vec<Metric>,
    /// Wall-clock seconds the scenario took.
    pub seconds: f64,
    /// 1-minute load average while it ran: (min, mean, max) of the samples.
    pub load_average: Option<(f64, f64, f64)>,
}

fn number(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn met_text(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**NOT met**",
        None => "",
    }
}

fn row(m: &Metric) -> String {
    let baseline = match (&m.baseline_label, m.baseline) {
        (Some(label), Some(b)) => format!("{} {} ({label})", number(b), m.unit),
        _ => String::new(),
    };
    let ratio = m.ratio().map_or_else(String::new, |r| format!("{r:.2}x"));
    let target = m.target.map_or_else(String::new, Target::text);
    format!(
        "| {} | {} {} | {baseline} | {ratio} | {target} | {} |",
        m.label(),
        number(m.value),
        m.unit,
        met_text(m.met())
    )
}

/// The growth tables of a scenario: one row per figure measured at several sizes.
fn growth(result: &ScenarioResult) -> String {
    let mut sizes: Vec<u64> = result.metrics.iter().filter_map(|m| m.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.len() < 2 {
        return String::new();
    }
    let mut names: Vec<&str> = Vec::new();
    for m in result.metrics.iter().filter(|m| m.size.is_some()) {
        if !names.contains(&m.name.as_str()) {
            names.push(&m.name);
        }
    }
    let (first, last) = (sizes[0], sizes[sizes.len() - 1]);
    let mut out = String::from(
        "\nGrowth with the portfolio size (value, and ratio to its baseline where it has one):\n\n| figure |",
    );
    for s in &sizes {
        let _ = write!(out, " {} |", size_text(*s));
    }
    let _ = writeln!(out, " {} / {} |", size_text(last), size_text(first));
    out.push_str("|---|");
    out.push_str(&"---|".repeat(sizes.len() + 1));
    out.push('\n');
    for name in names {
        let at = |size: u64| result.metrics.iter().find(|m| m.name == name && m.size == Some(size));
        let unit = at(first).or_else(|| at(last)).map_or("", |m| m.unit.as_str());
        let _ = write!(out, "| {name} ({unit}) |");
        for s in &sizes {
            match at(*s) {
                Some(m) => match m.ratio() {
                    Some(r) => {
                        let _ = write!(out, " {} ({r:.2}x) |", number(m.value));
                    }
                    None => {
                        let _ = write!(out, " {} |", number(m.value));
                    }
                },
                None => out.push_str(" |"),
            }
        }
        match (at(first), at(last)) {
            (Some(a), Some(b)) if a.value > 0.0 => {
                let _ = writeln!(out, " {:.2}x |", b.value / a.value);
            }
            _ => out.push_str(" |\n"),
        }
    }
    out
}

fn scenario_markdown(r: &ScenarioResult) -> String {
    let mut out = format!("\n## {}\n\n", r.scenario);
    let _ = write!(out, "- took {:.0} s", r.seconds);
    if let Some((min, mean, max)) = r.load_average {
        let _ = write!(
            out,
            "; 1-minute load average while it ran: {mean:.2} (min {min:.2}, max {max:.2})"
        );
    }
    out.push('\n');
    for note in &r.notes {
        let _ = writeln!(out, "- {note}");
    }
    out.push_str("\n| figure | value | same-run baseline | ratio | target | |\n|---|---|---|---|---|---|\n");
    for m in &r.metrics {
        out.push_str(&row(m));
        out.push('\n');
    }
    out.push_str(&growth(r));
    out
}

/// The table of every figure that has a target, in scenario order.
fn targets(results: &[ScenarioResult]) -> String {
    let rows: Vec<(&str, &Metric)> = results
        .iter()
        .flat_map(|r| r.metrics.iter().map(move |m| (r.scenario.as_str(), m)))
        .filter(|(_, m)| m.target.is_some())
        .collect();
    let met = rows.iter().filter(|(_, m)| m.met() == Some(true)).count();
    let mut out = format!(
        "\n## Targets\n\n{met} of {} targets met.\n\n| scenario | figure | value | target | |\n|---|---|---|---|---|\n",
        rows.len()
    );
    for (scenario, m) in rows {
        let value = match m.ratio() {
            Some(r) => format!("{} {} ({r:.2}x)", number(m.value), m.unit),
            None => format!("{} {}", number(m.value), m.unit),
        };
        let target = m.target.map_or_else(String::new, Target::text);
        let _ = writeln!(
            out,
            "| {scenario} | {} | {value} | {target} | {} |",
            m.label(),
            met_text(m.met())
        );
    }
    out
}

/// The whole report as markdown.
pub fn markdown(machine: &Machine, results: &[ScenarioResult]) -> String {
    let mut out = String::from("# Benchmark report\n\n");
    out.push_str(&machine.markdown());
    out.push_str(
        "\nEvery ratio compares with a baseline measured in the same run, on the same machine, a few seconds apart.\n",
    );
    out.push_str(&targets(results));
    for r in results {
        out.push_str(&scenario_markdown(r));
    }
    out
}

/// Prints one scenario's table on stdout.
pub fn print(result: &ScenarioResult) {
    println!("{}", scenario_markdown(result));
}

/// Targets not met, over all results.
pub fn missed(results: &[ScenarioResult]) -> usize {
    results
        .iter()
        .flat_map(|r| &r.metrics)
        .filter(|m| m.met() == Some(false))
        .count()
}

/// Writes `report.md` and `report.json` into `dir`.
///
/// # Errors
/// When the directory or files cannot be written.
pub fn write(dir: &Path, machine: &Machine, results: &[ScenarioResult]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("report.md"), markdown(machine, results))
        .with_context(|| format!("writing {}/report.md", dir.display()))?;
    let json = serde_json::json!({ "machine": machine, "results": results });
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}/report.json", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(metrics: Vec<Metric>) -> ScenarioResult {
        ScenarioResult {
            scenario: "s".into(),
            notes: vec![],
            metrics,
            seconds: 1.0,
            load_average: None,
        }
    }

    #[test]
    fn targets_are_judged_by_their_kind() {
        let m = |value: f64, baseline: f64, target: Target| {
            Metric::plain("x", "ms", value, Better::Lower)
                .against("b", baseline)
                .target(target)
                .met()
        };
        assert_eq!(m(5.0, 1.0, Target::AtMost(5.0)), Some(true));
        assert_eq!(m(5.0, 1.0, Target::Below(5.0)), Some(false));
        assert_eq!(m(13.0, 10.0, Target::RatioAtMost(1.3)), Some(true));
        assert_eq!(m(13.1, 10.0, Target::RatioAtMost(1.3)), Some(false));
        assert_eq!(m(7.9, 10.0, Target::RatioAtLeast(0.8)), Some(false));
        assert_eq!(m(f64::NAN, 10.0, Target::AtMost(1.0)), Some(false));
        assert_eq!(Metric::plain("x", "ms", 1.0, Better::Lower).met(), None);
    }

    #[test]
    fn growth_tables_span_the_sizes() {
        let r = result(vec![
            Metric::plain("rss", "MiB", 20.0, Better::Lower).at(10_000),
            Metric::plain("rss", "MiB", 30.0, Better::Lower).at(1_000_000),
            Metric::plain("list", "ms", 1.0, Better::Lower)
                .against("sql", 0.5)
                .at(10_000),
            Metric::plain("list", "ms", 2.0, Better::Lower)
                .against("sql", 0.5)
                .at(1_000_000),
            Metric::plain("other", "s", 2.0, Better::Lower),
        ]);
        let table = growth(&r);
        assert!(table.contains("| figure | 10k | 1M | 1M / 10k |"), "{table}");
        assert!(table.contains("| rss (MiB) | 20.0 | 30.0 | 1.50x |"), "{table}");
        assert!(
            table.contains("| list (ms) | 1.00 (2.00x) | 2.00 (4.00x) | 2.00x |"),
            "{table}"
        );
        assert!(!table.contains("other"));
        assert_eq!(
            growth(&result(vec![Metric::plain("a", "s", 1.0, Better::Lower).at(5)])),
            ""
        );
    }

    #[test]
    fn the_target_table_counts_what_was_met() {
        let r = result(vec![
            Metric::plain("fast", "s", 1.0, Better::Lower).target(Target::AtMost(5.0)),
            Metric::plain("slow", "s", 9.0, Better::Lower).target(Target::AtMost(5.0)),
            Metric::plain("free", "s", 9.0, Better::Lower),
        ]);
        let table = targets(std::slice::from_ref(&r));
        assert!(table.contains("1 of 2 targets met."), "{table}");
        assert!(table.contains("| s | slow | 9.00 s | <= 5 | **NOT met** |"), "{table}");
        assert_eq!(missed(&[r]), 1);
        assert_eq!(size_text(1_000_000), "1M");
        assert_eq!(size_text(100_000), "100k");
        assert_eq!(size_text(2500), "2500");
    }
}
