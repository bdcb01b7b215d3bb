//! The change history's retention: how long entries are kept is the database owner's setting
//! (`client_api.set_history_retention`, docs/SCHEMA.md); the service only applies it, on this schedule.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_HISTORY_PURGE_INTERVAL_MS` | `3600000` | how often the service purges the history beyond the owner's retention (`0`: never; another process does it) |

use std::time::Duration;

use super::{ConfigError, Env, millis_or};

/// Change history settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Purge interval; `None` disables the purge.
    pub purge_every: Option<Duration>,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            purge_every: Some(Duration::from_secs(3600)),
        }
    }
}

impl HistoryConfig {
    /// Reads the variable above.
    ///
    /// # Errors
    /// A value that is not a number.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let every = millis_or(env, "PCC_HISTORY_PURGE_INTERVAL_MS", 3_600_000)?;
        Ok(Self {
            purge_every: (!every.is_zero()).then_some(every),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_runs_hourly_unless_told_otherwise() {
        let env = super::super::test_env(&[]);
        assert_eq!(HistoryConfig::from_env(&env).unwrap(), HistoryConfig::default());
        let env = super::super::test_env(&[("PCC_HISTORY_PURGE_INTERVAL_MS", "0")]);
        assert_eq!(HistoryConfig::from_env(&env).unwrap().purge_every, None);
        let env = super::super::test_env(&[("PCC_HISTORY_PURGE_INTERVAL_MS", "hourly")]);
        let error = HistoryConfig::from_env(&env).unwrap_err();
        assert!(error.to_string().contains("PCC_HISTORY_PURGE_INTERVAL_MS"), "{error}");
    }
}
