//! The benchmark scenarios. Each measures our figure and its baseline in the same run.

mod bulk;
mod crate_bench;
mod dev_up;
mod migrate;
mod router;
mod service;
mod soak;

use std::path::PathBuf;

use crate::report::ScenarioResult;

/// Settings shared by all scenarios.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Repetitions per measurement (medians are reported).
    pub runs: usize,
    /// Seconds per load measurement (wrk, pgbench, router rounds).
    pub seconds: u32,
    /// Portfolio sizes for the service scenario, in clients.
    pub sizes: Vec<u64>,
    /// A quick run (`--quick`): short measurements; the soak takes 3 minutes instead of 30.
    pub quick: bool,
    /// A smoke run: tiny sizes and debug binaries; proves the harness works, measures nothing worth keeping.
    pub smoke: bool,
    /// Where the workspace's binaries are (`target/release`, or `target/debug` for a smoke run).
    pub bin_dir: PathBuf,
    /// Cargo profile for the crate benches (`cargo bench --profile ...`).
    pub bench_profile: String,
    /// Leave the service scenario's cluster running at the end, to inspect its database.
    pub keep: bool,
}

/// A named scenario.
pub struct Scenario {
    /// Name used on the command line.
    pub name: &'static str,
    /// One line on what it measures.
    pub about: &'static str,
    /// Runs it.
    pub run: fn(&Settings) -> anyhow::Result<ScenarioResult>,
    /// Part of `all` (the soak takes 30 minutes and runs only when named, or in a smoke run).
    pub in_all: bool,
}

/// Every scenario, in the order `pcc-bench all` runs them.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "dev-up",
        about: "`pccdb dev up` from nothing to a streaming replica, against the same steps run by hand",
        run: dev_up::run,
        in_all: true,
    },
    Scenario {
        name: "migrate",
        about: "1,000 migrations by the engine against psql running the same files; `info` over them",
        run: migrate::run,
        in_all: true,
    },
    Scenario {
        name: "router",
        about: "db_router's overhead per query against bare tokio-postgres on the same replica",
        run: router::run,
        in_all: true,
    },
    Scenario {
        name: "service",
        about: "pcc-client-api under wrk at each portfolio size: point reads vs pgbench -S, list pages, \
                roll-up vs bare SQL, RSS, load time",
        run: service::run,
        in_all: true,
    },
    Scenario {
        name: "bulk",
        about: "100,000-row import through the service against COPY of the same rows; export of the whole book \
                against COPY TO STDOUT, with the service's RSS sampled",
        run: bulk::run,
        in_all: true,
    },
    Scenario {
        name: "soak",
        about: "30 minutes of mixed open-loop load (a quarter of the measured list capacity) with a rotation and a \
                replica restart: RSS, sessions, idempotency keys and p99 every 10 s (3 minutes with --quick)",
        run: soak::run,
        in_all: false,
    },
];

/// The known names, comma separated.
pub fn names() -> String {
    ALL.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// The median of some samples (NaN for none).
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The workspace's binary `name` in the run's binary directory (bench/run builds it first).
pub fn release_binary(settings: &Settings, name: &str) -> PathBuf {
    settings.bin_dir.join(name)
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0]), 4.0);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn scenario_names_are_unique() {
        let mut names: Vec<&str> = ALL.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}
