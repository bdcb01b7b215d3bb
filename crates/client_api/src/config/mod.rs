//! Configuration, only from environment variables, one module per concern; each module's `//!` lists every
//! variable it reads. docs/API.md ("Running the service") has the same table for operators.
//!
//! Values are parsed into types here (durations, addresses, connection specs), so a bad value stops the
//! process at start with the variable's name and the reason; secret values are never echoed.

mod auth;
mod db;
mod dev;
mod http;
mod log;

pub use auth::AuthConfig;
pub use db::{CredentialSource, DbConfig};
pub use dev::DevConfig;
pub use http::HttpConfig;
pub use log::{LogConfig, LogFormat};

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
    /// Token verification; `None` with the embedded default (which makes a development key).
    pub auth: Option<AuthConfig>,
    /// Logging.
    pub log: LogConfig,
    /// The embedded default.
    pub dev: DevConfig,
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
            auth: AuthConfig::from_env(env)?,
            log: LogConfig::from_env(env)?,
            dev: DevConfig::from_env(env)?,
        })
    }
}
