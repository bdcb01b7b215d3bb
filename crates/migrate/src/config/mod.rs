//! Configuration with Flyway's names, sources and precedence:
//! command line > `FLYWAY_*` environment > platform layers (e.g. the manifest) > config files.
//!
//! Files are `flyway.toml` (`[flyway]` + `[environments.<name>]`, Flyway 10+) and legacy
//! `flyway.conf` (`flyway.<key>=value`); by default `~/flyway.toml`, `~/flyway.conf`,
//! `./flyway.toml` and `./flyway.conf` are read when they exist (later files win), or the files
//! named by `--config-file` / `FLYWAY_CONFIG_FILES`. Every layer is a [`ConfigLayer`], so a
//! caller can add its own (the platform manifest supplies url, user, password, schemas, initSql).

pub mod flyway_toml;
pub mod layer;
pub mod properties;
mod resolve;
pub mod sources;

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;

pub use flyway_toml::to_flyway_toml;
pub use layer::{ConfigLayer, Value};
pub use resolve::{ConfigSources, EmbeddedFile, Location, default_files};
pub use sources::FileLayer;

use crate::name::NamingConfig;
use crate::plan::patterns::IgnorePatterns;
use crate::version::{MigrationVersion, Target};

/// A configuration problem, naming the key and where it was set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A key Flyway does not have.
    #[error("unknown configuration property {key} (in {origin})")]
    UnknownKey {
        /// The key.
        key: String,
        /// Where it was set.
        origin: String,
    },
    /// A value of the wrong form.
    #[error("invalid value for {key} (from {origin}): {message}")]
    Invalid {
        /// The key.
        key: String,
        /// Where it was set.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A file that cannot be read.
    #[error("cannot read configuration file {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// A file that cannot be parsed.
    #[error("syntax error in configuration file {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// `${env.NAME}` with NAME unset.
    #[error("environment variable {name} referenced by ${{env.{name}}} (in {origin}) is not set")]
    MissingEnv {
        /// The variable.
        name: String,
        /// Where it was referenced.
        origin: String,
    },
    /// An environment chosen explicitly but defined nowhere.
    #[error("environment {0:?} is not defined in any configuration file ([environments.{0}])")]
    UnknownEnvironment(String),
    /// A location pccdb cannot read.
    #[error("unsupported location {location} (from {origin}): only filesystem: locations are supported")]
    UnsupportedLocation {
        /// The location.
        location: String,
        /// Where it was set.
        origin: String,
    },
}

/// The resolved configuration with Flyway's defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// `url`: JDBC, libpq URI or keywords, or Npgsql connection string.
    pub url: Option<SecretString>,
    /// `user`.
    pub user: Option<String>,
    /// `password`.
    pub password: Option<SecretString>,
    /// `environment` (default `default`).
    pub environment: String,
    /// `locations` (default `filesystem:sql`).
    pub locations: Vec<Location>,
    /// `schemas`.
    pub schemas: Vec<String>,
    /// `defaultSchema`.
    pub default_schema: Option<String>,
    /// `table` (default `flyway_schema_history`).
    pub table: String,
    /// `tablespace` of the history table.
    pub tablespace: Option<String>,
    /// `initSql`, run on every connection before anything else.
    pub init_sql: Option<String>,
    /// `installedBy` (default: `current_user` after initSql).
    pub installed_by: Option<String>,
    /// `baselineVersion` (default `1`).
    pub baseline_version: MigrationVersion,
    /// `baselineDescription` (default `<< Flyway Baseline >>`).
    pub baseline_description: String,
    /// `baselineOnMigrate` (default false).
    pub baseline_on_migrate: bool,
    /// `validateOnMigrate` (default true).
    pub validate_on_migrate: bool,
    /// `cleanDisabled` (default true).
    pub clean_disabled: bool,
    /// `outOfOrder` (default false).
    pub out_of_order: bool,
    /// `target` (default latest).
    pub target: Target,
    /// `mixed` (default false).
    pub mixed: bool,
    /// `group` (default false).
    pub group: bool,
    /// `executeInTransaction` (default true).
    pub execute_in_transaction: bool,
    /// `createSchemas` (default true).
    pub create_schemas: bool,
    /// `placeholderReplacement` (default true).
    pub placeholder_replacement: bool,
    /// `placeholderPrefix` (default `${`).
    pub placeholder_prefix: String,
    /// `placeholderSuffix` (default `}`).
    pub placeholder_suffix: String,
    /// `placeholders.*`, names lower-cased.
    pub placeholders: BTreeMap<String, String>,
    /// File naming (`sqlMigrationPrefix`, ...).
    pub naming: NamingConfig,
    /// `ignoreMigrationPatterns` (default `*:future`).
    pub ignore_migration_patterns: IgnorePatterns,
    /// `validateMigrationNaming` (default false: badly named files are skipped with a warning).
    pub validate_migration_naming: bool,
    /// `lockRetryCount` (default 50): seconds to wait for another run's lock; -1 waits forever.
    pub lock_retry_count: i32,
    /// `postgresql.transactional.lock` (accepted; pccdb always uses the session-level lock,
    /// which is what `false` selects in Flyway, because the transactional one hangs CIC).
    pub transactional_lock: bool,
    /// `connectRetries` (default 0).
    pub connect_retries: u32,
    /// `connectRetriesInterval` in seconds (default 120, as Flyway's maximum back-off).
    pub connect_retries_interval: u32,
    /// `failOnMissingLocations` (default false).
    pub fail_on_missing_locations: bool,
    /// Things worth telling the operator (ignored settings and variables).
    pub warnings: Vec<String>,
}

impl Config {
    /// The default configuration (every Flyway default).
    ///
    /// # Panics
    /// Never: the defaults are constants.
    pub fn defaults() -> Self {
        Self::resolve(&ConfigSources::default()).expect("defaults resolve")
    }

    /// Resolves layers into a configuration (see [`ConfigSources`]).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad key and its source.
    pub fn resolve(sources: &ConfigSources) -> Result<Self, ConfigError> {
        resolve::resolve(sources)
    }
}
