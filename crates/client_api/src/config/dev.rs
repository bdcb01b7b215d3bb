//! Settings of the embedded default (no `PCC_DB_PRIMARY`): a local primary + replica under `.pcc/dev`.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_DEV_DIR` | `.pcc/dev` | the pg_launcher cluster directory (the same one `pccdb dev up` uses) |
//! | `PCC_DEV_API_DIR` | `.pcc/api` | development signing key and JWKS |
//! | `PCC_DEV_DEMO_CLIENTS` | `3000` | size of the demo portfolio loaded into an empty database; `0` loads none |
//! | `PCC_DEV_MIGRATIONS` | `migrations/client_api` | the migration files to apply |

use std::path::PathBuf;

use super::{ConfigError, Env, parse_or};

/// Embedded default settings.
#[derive(Debug, Clone)]
pub struct DevConfig {
    /// Cluster directory.
    pub cluster_dir: PathBuf,
    /// Signing key directory.
    pub api_dir: PathBuf,
    /// Demo portfolio size.
    pub demo_clients: u32,
    /// Migrations directory.
    pub migrations: PathBuf,
}

impl DevConfig {
    /// Reads the variables above.
    ///
    /// # Errors
    /// A demo size that is not a number.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            cluster_dir: PathBuf::from(env.var("PCC_DEV_DIR").unwrap_or_else(|| ".pcc/dev".to_owned())),
            api_dir: PathBuf::from(env.var("PCC_DEV_API_DIR").unwrap_or_else(|| ".pcc/api".to_owned())),
            demo_clients: parse_or(env, "PCC_DEV_DEMO_CLIENTS", 3000)?,
            migrations: PathBuf::from(
                env.var("PCC_DEV_MIGRATIONS")
                    .unwrap_or_else(|| "migrations/client_api".to_owned()),
            ),
        })
    }
}
