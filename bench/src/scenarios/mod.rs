//! The benchmark scenarios. Each measures our figure and its baseline in the same run.

mod dev_up;
mod service;

use crate::report::ScenarioResult;

/// Settings shared by all scenarios.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Repetitions per measurement.
    pub runs: usize,
}

/// A named scenario.
pub struct Scenario {
    /// Name used on the command line.
    pub name: &'static str,
    /// One line on what it measures.
    pub about: &'static str,
    /// Runs it.
    pub run: fn(&Settings) -> anyhow::Result<ScenarioResult>,
}

/// Every scenario, in the order `pcc-bench` runs them by default.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "dev-up",
        about: "`pccdb dev up` from nothing to a streaming replica, against the same steps run by hand",
        run: dev_up::run,
    },
    Scenario {
        name: "service",
        about: "pcc-client-api under wrk: point reads vs pgbench -S, list pages at 10k vs 1M clients, roll-up vs bare SQL, RSS",
        run: service::run,
    },
];

/// The known names, comma separated.
pub fn names() -> String {
    ALL.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// The median of some durations, in seconds.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The workspace's release binary `name` (bench/run builds it first).
pub fn release_binary(name: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join("target").join("release").join(name)
}
