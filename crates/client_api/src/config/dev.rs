//! Settings of the embedded default (no `PCC_DB_PRIMARY`): a local primary + replica provisioned from the
//! manifest's development environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_DEV_MANIFEST` | `deploy/pcc.toml` | the platform manifest |
//! | `PCC_DEV_ENV` | `dev` | its environment with a `local_cluster` (`.pcc/dev`, the directory `pccdb dev up` uses) |
//! | `PCC_DEV_API_DIR` | `.pcc/api` | development signing key and JWKS |
//! | `PCC_DEV_DEMO_CLIENTS` | `3000` | size of the demo portfolio loaded into an empty database; `0` loads none |
//! | `PCC_DEV_MIGRATIONS` | `migrations/client_api` | the migration files to apply |

use std::path::PathBuf;

use super::{ConfigError, Env, parse_or};

/// Embedded default settings.
#[derive(Debug, Clone)]
pub struct DevConfig {
    /// The manifest.
    pub manifest: PathBuf,
    /// The environment within it.
    pub environment: String,
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
            manifest: PathBuf::from(
                env.var("PCC_DEV_MANIFEST")
                    .unwrap_or_else(|| "deploy/pcc.toml".to_owned()),
            ),
            environment: env.var("PCC_DEV_ENV").unwrap_or_else(|| "dev".to_owned()),
            api_dir: PathBuf::from(env.var("PCC_DEV_API_DIR").unwrap_or_else(|| ".pcc/api".to_owned())),
            demo_clients: parse_or(env, "PCC_DEV_DEMO_CLIENTS", 3000)?,
            migrations: PathBuf::from(
                env.var("PCC_DEV_MIGRATIONS")
                    .unwrap_or_else(|| "migrations/client_api".to_owned()),
            ),
        })
    }
}
