//! Configuration, only from environment variables, one module per concern; each module's `//!` lists every
//! variable it reads. docs/API.md ("Running the service") has the same table for operators.
//!
//! Values are parsed into types here (durations, addresses, connection specs), so a bad value stops the
//! process at start with the variable's name and the reason; secret values are never echoed.

mod auth;
mod db;
mod dev;
mod history;
mod http;
mod idempotency;
mod log;
mod retry;
mod routing;

pub use auth::AuthConfig;
pub use db::{CredentialSource, DbConfig};
pub use dev::DevConfig;
pub use history::HistoryConfig;
pub use http::HttpConfig;
pub use idempotency::IdempotencyConfig;
pub use log::{LogConfig, LogFormat};
pub use retry::WriteRetryConfig;
pub use routing::RoutingConfig;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// Where variables come from (the process, or a map in tests).
pub trait Env {
    /// The variable's value, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.trim().is_empty())
    }
}

/// A variable with a value the service cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("environment variable {var}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// Why its value is refused (never the value of a secret).
    pub reason: String,
}

impl ConfigError {
    fn new(var: &'static str, reason: impl Into<String>) -> Self {
        Self {
            var,
            reason: reason.into(),
        }
    }
}

/// Parses `var` with `FromStr`, or returns `default` when unset.
fn parse_or<T: FromStr>(env: &dyn Env, var: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.var(var) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|e| ConfigError::new(var, format!("`{text}` is not valid: {e}"))),
    }
}

/// A duration in milliseconds.
fn millis_or(env: &dyn Env, var: &'static str, default_ms: u64) -> Result<Duration, ConfigError> {
    parse_or(env, var, default_ms).map(Duration::from_millis)
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP server.
    pub http: HttpConfig,
    /// Database; `None` runs the embedded default.
    pub db: Option<DbConfig>,
    /// Retries of write transactions (configured database and embedded default alike).
    pub write_retry: WriteRetryConfig,
    /// Token verification; `None` with the embedded default (which makes a development key).
    pub auth: Option<AuthConfig>,
    /// Logging.
    pub log: LogConfig,
    /// The embedded default.
    pub dev: DevConfig,
    /// Read routing: fallbacks to the primary, read pools. (The embedded default lays these over the
    /// manifest's `read_fallback`.)
    pub routing: RoutingConfig,
    /// Idempotency key retention and purge.
    pub idempotency: IdempotencyConfig,
    /// The change history's scheduled purge.
    pub history: HistoryConfig,
}

impl Config {
    /// Reads every concern.
    ///
    /// # Errors
    /// The first variable with an unusable value.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env)?,
            db: DbConfig::from_env(env)?,
            write_retry: WriteRetryConfig::from_env(env)?,
            auth: AuthConfig::from_env(env)?,
            log: LogConfig::from_env(env)?,
            dev: DevConfig::from_env(env)?,
            routing: RoutingConfig::from_env_over(env, &RoutingConfig::default())?,
            idempotency: IdempotencyConfig::from_env(env)?,
            history: HistoryConfig::from_env(env)?,
        })
    }
}

/// An environment of `pairs`, for tests.
#[cfg(test)]
fn test_env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::test_env as env;
    use super::*;

    #[test]
    fn no_database_means_the_embedded_default_with_local_defaults() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert!(config.db.is_none() && config.auth.is_none());
        assert_eq!(config.http.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.http.max_body_bytes, 65_536);
        assert_eq!(config.dev.environment, "dev");
        assert_eq!(config.dev.demo_clients, 3000);
        assert_eq!(config.log.format, LogFormat::Auto);
        assert_eq!(LogFormat::Auto.resolve(true), LogFormat::Text);
        assert_eq!(LogFormat::Auto.resolve(false), LogFormat::Json);
        assert_eq!(LogFormat::Json.resolve(true), LogFormat::Json);
        assert_eq!(config.write_retry.retries, 3);
    }

    #[test]
    fn a_configured_database_reads_every_setting() {
        let config = Config::from_env(&env(&[
            (
                "PCC_DB_PRIMARY",
                "Host=db1;Port=5433;Database=client_api_db_devtest;Username=u;Password=secret-pw",
            ),
            (
                "PCC_DB_REPLICA",
                "postgresql://u@db2:5432/client_api_db_devtest?target_session_attrs=read-only",
            ),
            ("PCC_DB_CREDENTIALS_FILE", "/var/run/secrets/pcc/db"),
            ("PCC_DB_POOL_MAX", "20"),
            ("PCC_DB_CHECKOUT_TIMEOUT_MS", "250"),
            ("PCC_AUTH_JWKS_URL", "https://idp.example/.well-known/jwks.json"),
            ("PCC_AUTH_ISSUER", "https://idp.example/"),
            ("PCC_HTTP_ADDR", "0.0.0.0:9000"),
        ]))
        .unwrap();
        let db = config.db.unwrap();
        assert_eq!(db.pool_max, 20);
        assert_eq!(db.checkout_timeout, Duration::from_millis(250));
        assert!(db.replica.is_some());
        assert!(matches!(db.credentials, CredentialSource::File(_)));
        assert!(
            !format!("{db:?}").contains("secret-pw"),
            "Debug never shows the password"
        );
        assert_eq!(config.auth.unwrap().audience, "pcc-client-api");
        assert_eq!(config.http.addr.port(), 9000);
    }

    #[test]
    fn bad_values_name_the_variable_and_never_echo_secrets() {
        for (pairs, var) in [
            (vec![("PCC_HTTP_ADDR", "localhost")], "PCC_HTTP_ADDR"),
            (vec![("PCC_HTTP_MAX_IN_FLIGHT", "0")], "PCC_HTTP_MAX_IN_FLIGHT"),
            (vec![("PCC_LOG_FORMAT", "xml")], "PCC_LOG_FORMAT"),
            (vec![("PCC_DB_REPLICA", "Host=x")], "PCC_DB_REPLICA"),
            (
                vec![("PCC_DB_PRIMARY", "Host=x"), ("PCC_DB_POOL_MAX", "2")],
                "PCC_DB_POOL_MAX",
            ),
            (
                vec![("PCC_DB_PRIMARY", "Host=x"), ("PCC_DB_SECRET_NAME", "s")],
                "PCC_DB_SECRET_GCP_PROJECT",
            ),
            (
                vec![("PCC_AUTH_JWKS_FILE", "/k"), ("PCC_AUTH_JWKS_URL", "https://x")],
                "PCC_AUTH_JWKS_URL",
            ),
            (
                vec![("PCC_AUTH_JWKS_URL", "http://idp.example/jwks")],
                "PCC_AUTH_JWKS_URL",
            ),
            (vec![("PCC_AUTH_JWKS_FILE", "/k")], "PCC_AUTH_ISSUER"),
            (vec![("PCC_DEV_DEMO_CLIENTS", "lots")], "PCC_DEV_DEMO_CLIENTS"),
            (vec![("PCC_DB_WRITE_RETRIES", "50")], "PCC_DB_WRITE_RETRIES"),
        ] {
            let error = Config::from_env(&env(&pairs)).unwrap_err();
            assert_eq!(error.var, var, "{pairs:?}: {error}");
        }
        let error = Config::from_env(&env(&[("PCC_DB_PRIMARY", "Host=x;Password=hunter2;Bogus Key=1")])).unwrap_err();
        assert_eq!(error.var, "PCC_DB_PRIMARY");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
