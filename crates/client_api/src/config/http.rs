//! HTTP server settings.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_HTTP_ADDR` | `127.0.0.1:8080` | listen address (`0.0.0.0:8080` in a container) |
//! | `PCC_HTTP_MAX_BODY_BYTES` | `65536` | larger request bodies get 413 |
//! | `PCC_HTTP_REQUEST_TIMEOUT_MS` | `10000` | a request still running after this gets 503 |
//! | `PCC_HTTP_DRAIN_TIMEOUT_MS` | `20000` | on SIGTERM, how long in-flight requests may finish |
//! | `PCC_HTTP_MAX_IN_FLIGHT` | `512` | API requests served at once, reads (`GET`, `HEAD`) and writes each at most three quarters of them, so a flood of one never takes every slot from the other; more wait for a slot (below) and then get 503 + Retry-After (operations endpoints are exempt) |
//! | `PCC_HTTP_ADMISSION_WAIT_MS` | `100` | how long a request past that limit waits for a slot before it is refused; rides out a stall of a tenth of a second under steady load instead of refusing what arrives in it (`0`: refuse at once). The wait is bounded, and so are the requests waiting: one per open client connection |
//! | `PCC_HTTP_WORKERS` | CPU count | async worker threads (1 avoids cross-thread wake-ups on a tiny pod) |

use std::net::SocketAddr;
use std::time::Duration;

use super::{ConfigError, Env, millis_or, parse_or};

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Listen address.
    pub addr: SocketAddr,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// Per-request time limit.
    pub request_timeout: Duration,
    /// Graceful drain limit.
    pub drain_timeout: Duration,
    /// Concurrency limit for API routes.
    pub max_in_flight: usize,
    /// How long a request past the concurrency limit waits for a slot.
    pub admission_wait: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(20),
            max_in_flight: 512,
            admission_wait: Duration::from_millis(100),
        }
    }
}

impl HttpConfig {
    /// `PCC_HTTP_WORKERS` (1 to 64; unset or invalid: the CPU count, since the runtime starts before
    /// configuration errors can be reported).
    pub fn workers_from(env: &dyn Env) -> usize {
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        env.var("PCC_HTTP_WORKERS")
            .and_then(|v| v.trim().parse().ok())
            .filter(|n| (1..=64).contains(n))
            .unwrap_or(cpus)
    }

    /// Reads the variables above.
    ///
    /// # Errors
    /// A value that does not parse.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let d = Self::default();
        let max_in_flight: usize = parse_or(env, "PCC_HTTP_MAX_IN_FLIGHT", d.max_in_flight)?;
        if max_in_flight == 0 {
            return Err(ConfigError::new("PCC_HTTP_MAX_IN_FLIGHT", "must be at least 1"));
        }
        Ok(Self {
            addr: parse_or(env, "PCC_HTTP_ADDR", d.addr)?,
            max_body_bytes: parse_or(env, "PCC_HTTP_MAX_BODY_BYTES", d.max_body_bytes)?,
            request_timeout: millis_or(env, "PCC_HTTP_REQUEST_TIMEOUT_MS", 10_000)?,
            drain_timeout: millis_or(env, "PCC_HTTP_DRAIN_TIMEOUT_MS", 20_000)?,
            max_in_flight,
            admission_wait: millis_or(env, "PCC_HTTP_ADMISSION_WAIT_MS", 100)?,
        })
    }
}
