//! What the service sustains on this machine right now, measured at run time instead of hard-coded: a
//! short closed-loop run of list reads (8 workers, as `wrk -c8`), the page the replica serves. Scenarios
//! derive their production rate from it ([`crate::Rates::production`]: half of it in lists), so the suite
//! loads a fast machine as hard as a slow one, relative to what each can do.

use std::time::Duration;

use serde::Serialize;

use crate::api::Api;
use crate::load::{Load, Rates};

/// Workers of the calibration run.
pub const WORKERS: usize = 8;

/// The calibration's result.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Capacity {
    /// Successful list reads per second, closed loop.
    pub list_per_s: f64,
    /// Of how many requests.
    pub requests: usize,
    /// How many failed (a healthy service: none).
    pub failed: usize,
}

/// Measures list throughput: `warm_up` discarded, then `measure`.
pub async fn list_capacity(api: &Api, warm_up: Duration, measure: Duration) -> Capacity {
    let load = Load::closed_loop(api.clone(), &[], WORKERS, Rates::lists(1.0));
    tokio::time::sleep(warm_up + measure).await;
    let samples = load.stop().await;
    let window: Vec<_> = samples
        .iter()
        .filter(|s| s.at >= warm_up && s.at < warm_up + measure)
        .collect();
    let ok = window.iter().filter(|s| s.reply.ok()).count();
    #[allow(clippy::cast_precision_loss)]
    Capacity {
        list_per_s: ok as f64 / measure.as_secs_f64(),
        requests: window.len(),
        failed: window.len() - ok,
    }
}
