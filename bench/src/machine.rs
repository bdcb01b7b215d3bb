//! The machine a run measured: CPU, memory, kernel, PostgreSQL version, how busy it was before the run (a
//! two-second sample of /proc/stat) and the load average while each scenario ran (sampled every two seconds
//! on a background thread). Benchmarks on a shared two-core machine mean little without these.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Description of the machine and of the run's conditions.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// When it finished.
    pub finished_at: String,
    /// CPU model name.
    pub cpu: String,
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// Physical memory, GiB.
    pub memory_gib: f64,
    /// Operating system (PRETTY_NAME of /etc/os-release).
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// PostgreSQL version of the server binaries.
    pub postgres: String,
    /// Share of CPU time busy (any process) over two seconds before the run, percent.
    pub cpu_busy_before_pct: f64,
    /// 1-minute load average over the whole run: (min, mean, max).
    pub load_average: Option<(f64, f64, f64)>,
    /// The command line of the run.
    pub command: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// (busy, total) jiffies from the first line of /proc/stat.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = read("/proc/stat");
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle + iowait
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

impl Machine {
    /// Describes this machine; takes two seconds (the CPU sample).
    pub fn describe(postgres: String) -> Self {
        let before = cpu_jiffies();
        std::thread::sleep(Duration::from_secs(2));
        let after = cpu_jiffies();
        let cpu_busy_before_pct = match (before, after) {
            #[allow(clippy::cast_precision_loss)]
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 * 100.0 / (t1 - t0) as f64,
            _ => f64::NAN,
        };
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".into(), |(_, v)| v.trim().to_owned());
        let memory_gib = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1_048_576.0);
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map_or_else(|| "unknown".into(), |v| v.trim_matches('"').to_owned());
        Self {
            started_at: now_text(),
            finished_at: String::new(),
            cpu,
            cores: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            memory_gib,
            os,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            postgres,
            cpu_busy_before_pct,
            load_average: None,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }

    /// Records the end of the run.
    pub fn finish(&mut self, load: &LoadSampler) {
        self.finished_at = now_text();
        self.load_average = load.summary(None);
    }

    /// The markdown paragraph.
    pub fn markdown(&self) -> String {
        let load = self.load_average.map_or_else(
            || "not sampled".to_owned(),
            |(min, mean, max)| format!("mean {mean:.2}, min {min:.2}, max {max:.2}"),
        );
        format!(
            "- run: {} to {} (UTC), `{}`\n- machine: {} cores ({}), {:.1} GiB memory, {}, kernel {}\n- PostgreSQL {}\n\
             - before the run the CPUs were {:.0} % busy (other processes); 1-minute load average during the run: {load}\n",
            self.started_at,
            self.finished_at,
            self.command,
            self.cores,
            self.cpu,
            self.memory_gib,
            self.os,
            self.kernel,
            self.postgres,
            self.cpu_busy_before_pct,
        )
    }
}

/// Samples the 1-minute load average every two seconds until dropped.
pub struct LoadSampler {
    samples: Arc<Mutex<Vec<(Instant, f64)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

fn load_average() -> Option<f64> {
    read("/proc/loadavg").split_whitespace().next()?.parse().ok()
}

impl LoadSampler {
    /// Starts sampling.
    pub fn start() -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(v) = load_average()
                    && let Ok(mut samples) = s.lock()
                {
                    samples.push((Instant::now(), v));
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        });
        Self { samples, stop }
    }

    /// (min, mean, max) of the samples taken since `since` (all samples for None).
    pub fn summary(&self, since: Option<Instant>) -> Option<(f64, f64, f64)> {
        let samples = self.samples.lock().ok()?;
        let values: Vec<f64> = samples
            .iter()
            .filter(|(t, _)| since.is_none_or(|s| *t >= s))
            .map(|(_, v)| *v)
            .collect();
        if values.is_empty() {
            return None;
        }
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        #[allow(clippy::cast_precision_loss)]
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some((min, mean, max))
    }
}

impl Drop for LoadSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
