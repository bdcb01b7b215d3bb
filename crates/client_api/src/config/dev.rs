//! Settings of the embedded default (no `PCC_DB_PRIMARY`): a local primary + replica provisioned from the
//! manifest's development environment. The manifest (deploy/pcc.toml) and the service's migrations are
//! built into the binary, so it runs from any directory; these variables point it elsewhere.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_DEV_MANIFEST` | built in (deploy/pcc.toml) | a platform manifest file to use instead |
//! | `PCC_DEV_ENV` | `dev` | its environment with a `local_cluster` (`.pcc/dev` under the working directory, the directory `pccdb dev up` uses) |
//! | `PCC_DEV_API_DIR` | `.pcc/api` | development signing key and JWKS |
//! | `PCC_DEV_DEMO_CLIENTS` | `3000` | size of the demo portfolio loaded into an empty database; `0` loads none |
//! | `PCC_DEV_MIGRATIONS` | built in (migrations/client_api) | a directory of the service's migrations to apply instead |

use std::path::PathBuf;

use super::{ConfigError, Env, parse_or};

/// Embedded default settings.
#[derive(Debug, Clone)]
pub struct DevConfig {
    /// A manifest file; `None`: the one built in.
    pub manifest: Option<PathBuf>,
    /// The environment within it.
    pub environment: String,
    /// Signing key directory.
    pub api_dir: PathBuf,
    /// Demo portfolio size.
    pub demo_clients: u32,
    /// A migrations directory; `None`: the migrations built in.
    pub migrations: Option<PathBuf>,
}

impl DevConfig {
    /// Reads the variables above.
    ///
    /// # Errors
    /// A demo size that is not a number.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            manifest: env.var("PCC_DEV_MANIFEST").map(PathBuf::from),
            environment: env.var("PCC_DEV_ENV").unwrap_or_else(|| "dev".to_owned()),
            api_dir: PathBuf::from(env.var("PCC_DEV_API_DIR").unwrap_or_else(|| ".pcc/api".to_owned())),
            demo_clients: parse_or(env, "PCC_DEV_DEMO_CLIENTS", 3000)?,
            migrations: env.var("PCC_DEV_MIGRATIONS").map(PathBuf::from),
        })
    }
}
