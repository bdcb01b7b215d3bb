//! `Idempotency-Key` retention.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_IDEMPOTENCY_TTL_S` | `86400` | how long a key's stored response is replayed (24 h) |
//! | `PCC_IDEMPOTENCY_PURGE_INTERVAL_MS` | `60000` | how often the service deletes expired keys (`0`: never; another process does it) |

use std::time::Duration;

use super::{ConfigError, Env, millis_or, parse_or};

/// Idempotency key settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// Time to live of a key.
    pub ttl: Duration,
    /// Purge interval; `None` disables the purge.
    pub purge_every: Option<Duration>,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(86_400),
            purge_every: Some(Duration::from_secs(60)),
        }
    }
}

impl IdempotencyConfig {
    /// Reads the variables above.
    ///
    /// # Errors
    /// A value that is not a number, or a zero TTL.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let ttl: u64 = parse_or(env, "PCC_IDEMPOTENCY_TTL_S", 86_400)?;
        if ttl == 0 {
            return Err(ConfigError::new("PCC_IDEMPOTENCY_TTL_S", "must be at least 1"));
        }
        let every = millis_or(env, "PCC_IDEMPOTENCY_PURGE_INTERVAL_MS", 60_000)?;
        Ok(Self {
            ttl: Duration::from_secs(ttl),
            purge_every: (!every.is_zero()).then_some(every),
        })
    }
}
