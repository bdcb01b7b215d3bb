//! Retries of write transactions that failed for a reason the caller cannot fix: PostgreSQL gave up on
//! the transaction because of a concurrent one (40001 serialization_failure, e.g. the hierarchy's tree
//! locks of V4/V9; 40P01 deadlock_detected), or the transaction's own version check lost to a concurrent
//! commit. The service replays the whole transaction from the request (`db::Db::write`) before it answers
//! 503 + Retry-After.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_DB_WRITE_RETRIES` | `3` | how many times a write transaction that failed with 40001 or 40P01 (at any statement or at COMMIT), or lost its version check to a concurrent commit, is run again before the request gets 503 + Retry-After (0-10; `0` turns retries off) |
//! | `PCC_DB_WRITE_RETRY_BACKOFF_MS` | `20` | the wait before the first retry (1-1000); each further wait doubles (at most 16 times this), every wait drawn between half and all of its ceiling |

use std::time::Duration;

use super::{ConfigError, Env, millis_or, parse_or};

/// The most retries allowed: a request should fail over to the client's own retry long before its
/// HTTP timeout.
const MAX_RETRIES: u32 = 10;

/// How write transactions are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRetryConfig {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait; later ones double.
    pub backoff: Duration,
}

impl Default for WriteRetryConfig {
    fn default() -> Self {
        Self {
            retries: 3,
            backoff: Duration::from_millis(20),
        }
    }
}

impl WriteRetryConfig {
    /// Reads the variables above.
    ///
    /// # Errors
    /// A value that is not a number or out of its range.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let default = Self::default();
        let retries: u32 = parse_or(env, "PCC_DB_WRITE_RETRIES", default.retries)?;
        if retries > MAX_RETRIES {
            return Err(ConfigError::new(
                "PCC_DB_WRITE_RETRIES",
                format!("must be at most {MAX_RETRIES}"),
            ));
        }
        let backoff = millis_or(env, "PCC_DB_WRITE_RETRY_BACKOFF_MS", 20)?;
        if backoff.is_zero() || backoff > Duration::from_secs(1) {
            return Err(ConfigError::new(
                "PCC_DB_WRITE_RETRY_BACKOFF_MS",
                "must be between 1 and 1000",
            ));
        }
        Ok(Self { retries, backoff })
    }

    /// The longest single wait.
    pub fn max_backoff(&self) -> Duration {
        self.backoff * 16
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_env as env;
    use super::*;

    #[test]
    fn defaults_values_and_bounds() {
        assert_eq!(
            WriteRetryConfig::from_env(&env(&[])).unwrap(),
            WriteRetryConfig::default()
        );
        let set = WriteRetryConfig::from_env(&env(&[
            ("PCC_DB_WRITE_RETRIES", "0"),
            ("PCC_DB_WRITE_RETRY_BACKOFF_MS", "5"),
        ]))
        .unwrap();
        assert_eq!((set.retries, set.backoff), (0, Duration::from_millis(5)));
        assert_eq!(set.max_backoff(), Duration::from_millis(80));
        for (var, value) in [
            ("PCC_DB_WRITE_RETRIES", "11"),
            ("PCC_DB_WRITE_RETRIES", "-1"),
            ("PCC_DB_WRITE_RETRIES", "many"),
            ("PCC_DB_WRITE_RETRY_BACKOFF_MS", "0"),
            ("PCC_DB_WRITE_RETRY_BACKOFF_MS", "1001"),
        ] {
            let error = WriteRetryConfig::from_env(&env(&[(var, value)])).unwrap_err();
            assert_eq!(error.var, var, "{value}: {error}");
        }
    }
}
