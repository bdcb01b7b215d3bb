//! How reads are routed when the replica cannot serve them, and how a load-balanced read pool is read.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_DB_FALLBACK_MIN_IN_FLIGHT` | `4` | replica reads the primary always takes at once while the replica cannot serve (the adaptive limit's floor) |
//! | `PCC_DB_FALLBACK_MAX_IN_FLIGHT` | `32` | ... at most (its ceiling) |
//! | `PCC_DB_FALLBACK_QUEUE` | `128` | reads that may wait for a slot at once; more get 503 + Retry-After at once |
//! | `PCC_DB_FALLBACK_QUEUE_WAIT_MS` | `100` | how long one waits for a slot before it gets 503 + Retry-After |
//! | `PCC_DB_FALLBACK_LATENCY_TOLERANCE` | `3` | the primary keeps up while its probe latency stays under this multiple of its normal level (+ 2 ms) |
//! | `PCC_DB_FALLBACK_WRITE_RESERVE` | `0.5` | share of the primary's pooled connections a replica read never borrows (kept for writes) |
//! | `PCC_DB_READ_POOL_SESSIONS` | `4` | shared replica sessions when the replica string says `Read Pool=true` (a load-balanced read pool) |
//! | `PCC_DB_SHARED_SESSIONS` | `2` | shared pipelined sessions per server for single-statement reads (the rest of each pool serves transactions) |
//!
//! The manifest's `read_fallback` of the service (deploy/pcc.toml) gives the embedded default the same
//! settings; a variable set here wins.

use std::time::Duration;

use db_router::FallbackConfig;

use super::{ConfigError, Env, parse_or};

/// Routing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingConfig {
    /// Admission of replica reads to the primary.
    pub fallback: FallbackConfig,
    /// Shared replica sessions for a read pool endpoint.
    pub read_pool_sessions: usize,
    /// Shared pipelined sessions per server otherwise.
    pub shared_sessions: usize,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            fallback: FallbackConfig::default(),
            read_pool_sessions: 4,
            shared_sessions: 2,
        }
    }
}

impl RoutingConfig {
    /// Reads the variables above over `base` (the defaults, or the manifest's settings).
    ///
    /// # Errors
    /// A value that is not a number, or limits that cannot work together.
    pub fn from_env_over(env: &dyn Env, base: &RoutingConfig) -> Result<Self, ConfigError> {
        let b = &base.fallback;
        let fallback = FallbackConfig {
            min_in_flight: parse_or(env, "PCC_DB_FALLBACK_MIN_IN_FLIGHT", b.min_in_flight)?,
            max_in_flight: parse_or(env, "PCC_DB_FALLBACK_MAX_IN_FLIGHT", b.max_in_flight)?,
            queue: parse_or(env, "PCC_DB_FALLBACK_QUEUE", b.queue)?,
            queue_wait: match env.var("PCC_DB_FALLBACK_QUEUE_WAIT_MS") {
                None => b.queue_wait,
                Some(_) => Duration::from_millis(parse_or(env, "PCC_DB_FALLBACK_QUEUE_WAIT_MS", 0)?),
            },
            latency_tolerance: parse_or(env, "PCC_DB_FALLBACK_LATENCY_TOLERANCE", b.latency_tolerance)?,
            write_reserve: parse_or(env, "PCC_DB_FALLBACK_WRITE_RESERVE", b.write_reserve)?,
            ..b.clone()
        };
        // db_router states what the gate needs; the error names the variable of the setting at fault.
        if let Some((setting, problem)) = fallback.problem() {
            let var = match setting {
                "latency_tolerance" => "PCC_DB_FALLBACK_LATENCY_TOLERANCE",
                "write_reserve" => "PCC_DB_FALLBACK_WRITE_RESERVE",
                _ => "PCC_DB_FALLBACK_MAX_IN_FLIGHT",
            };
            return Err(ConfigError::new(var, problem));
        }
        let read_pool_sessions = parse_or(env, "PCC_DB_READ_POOL_SESSIONS", base.read_pool_sessions)?;
        if read_pool_sessions == 0 {
            return Err(ConfigError::new("PCC_DB_READ_POOL_SESSIONS", "must be at least 1"));
        }
        let shared_sessions = parse_or(env, "PCC_DB_SHARED_SESSIONS", base.shared_sessions)?;
        if shared_sessions == 0 {
            return Err(ConfigError::new("PCC_DB_SHARED_SESSIONS", "must be at least 1"));
        }
        Ok(Self {
            fallback,
            read_pool_sessions,
            shared_sessions,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn variables_override_the_base_and_impossible_limits_name_the_variable() {
        let base = RoutingConfig::default();
        assert_eq!(RoutingConfig::from_env_over(&env(&[]), &base).unwrap(), base);
        let set = RoutingConfig::from_env_over(
            &env(&[
                ("PCC_DB_FALLBACK_MAX_IN_FLIGHT", "64"),
                ("PCC_DB_FALLBACK_QUEUE_WAIT_MS", "250"),
                ("PCC_DB_READ_POOL_SESSIONS", "6"),
            ]),
            &base,
        )
        .unwrap();
        assert_eq!(set.fallback.max_in_flight, 64);
        assert_eq!(set.fallback.queue_wait, Duration::from_millis(250));
        assert_eq!(set.read_pool_sessions, 6);
        for (pairs, var) in [
            (
                vec![("PCC_DB_FALLBACK_MIN_IN_FLIGHT", "40")],
                "PCC_DB_FALLBACK_MAX_IN_FLIGHT",
            ),
            (vec![("PCC_DB_FALLBACK_QUEUE", "many")], "PCC_DB_FALLBACK_QUEUE"),
            (
                vec![("PCC_DB_FALLBACK_WRITE_RESERVE", "1")],
                "PCC_DB_FALLBACK_WRITE_RESERVE",
            ),
            (
                vec![("PCC_DB_FALLBACK_LATENCY_TOLERANCE", "0.5")],
                "PCC_DB_FALLBACK_LATENCY_TOLERANCE",
            ),
            (vec![("PCC_DB_READ_POOL_SESSIONS", "0")], "PCC_DB_READ_POOL_SESSIONS"),
        ] {
            let error = RoutingConfig::from_env_over(&env(&pairs), &base).unwrap_err();
            assert_eq!(error.var, var, "{pairs:?}: {error}");
        }
    }
}
