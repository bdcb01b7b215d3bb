//! `migrate`: a Flyway-compatible migration engine for PostgreSQL.
//!
//! Same file names (`V1__x.sql`, `R__x.sql`, `B1__x.sql`, callbacks, `.sql.conf`), the same
//! `flyway_schema_history` table, rows, checksums and advisory lock as Flyway, so Flyway and this
//! engine can take turns on one database without noticing. On top of that: statements that
//! cannot run in a transaction are recognised (Flyway's list plus `REINDEX ... CONCURRENTLY` and
//! `DETACH PARTITION ... CONCURRENTLY`) and run outside one without ever hanging on the lock;
//! psql meta-commands (`\c`) are refused with their file and line before anything runs; a
//! migration and its history row commit together; statements are pipelined.
//!
//! Layers (each a module): pure parts — [`version`], [`name`], [`checksum`], [`placeholder`],
//! [`sql`] (splitter and classification), [`resolve`], [`plan`] (info, validate, migrate, repair
//! as pure functions), [`config`]; database parts — [`db`]; the commands — [`commands`].
//! The engine never prints: commands return serializable reports and report [`progress`].
//!
//! ```no_run
//! # async fn demo(client: &tokio_postgres::Client) -> Result<(), migrate::Error> {
//! let config = migrate::Config::defaults();
//! let report = migrate::migrate(client, &config, &()).await?;
//! println!("applied {} migrations", report.migrations_executed);
//! # Ok(()) }
//! ```

pub mod callback;
pub mod checksum;
pub mod commands;
pub mod config;
pub mod db;
pub mod error;
pub mod model;
pub mod name;
pub mod placeholder;
pub mod plan;
pub mod progress;
pub mod resolve;
pub mod sql;
pub mod version;

pub use commands::baseline::{BaselineReport, baseline};
pub use commands::clean::{CleanReport, clean};
pub use commands::info::{InfoReport, info};
pub use commands::migrate::{AppliedStep, MigrateReport, migrate};
pub use commands::repair::{RepairReport, repair};
pub use commands::validate::{ValidateReport, validate};
pub use config::{Config, ConfigError, ConfigLayer, ConfigSources};
pub use error::{Error, StatementFailure};
pub use model::{AppliedMigration, HistoryType, MigrationState, ResolvedMigration};
pub use plan::MigrationInfo;
pub use plan::validate::{ErrorCode, ValidationError};
pub use progress::{Observer, Progress};
pub use version::{MigrationVersion, Target};
