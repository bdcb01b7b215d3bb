//! `pccdb migrate --env devtest --service pcc-client-api`: the migration target from the platform
//! manifest (deploy/pcc.toml) and the secret store, so a CI/CD step needs no hand-built URL.
//!
//! The manifest gives the primary's endpoint, the database name (`client_api_db_devtest`), the
//! schema (`client_api`), the owner role migrations run as (`initSql = SET ROLE client_api_owner`)
//! and where flyway_user's credential lives; the secret store gives that credential. They become
//! one Flyway configuration layer that sits above config files and below `FLYWAY_*` variables and
//! flags, so anything can still be overridden.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use migrate::ConfigLayer;
use provision::resolve::MigrationTarget;

use super::manifest_args::runtime;

/// Where migrations come from by convention: `migrations/<schema>` (e.g. migrations/client_api).
const MIGRATIONS_ROOT: &str = "migrations";

/// Platform options: resolve everything from the manifest for one service and environment.
#[derive(Debug, Args, Default)]
pub struct PlatformArgs {
    /// Platform environment (a key of `[environments]` in the manifest, e.g. devtest). With
    /// --service, the url, user, password, schema, initSql and locations come from the manifest
    /// and the secret store.
    #[arg(long = "env", env = "PCC_ENV", requires = "service")]
    pub env: Option<String>,
    /// Service whose database to migrate (e.g. pcc-client-api); needs --env.
    #[arg(long, env = "PCC_SERVICE", requires = "env")]
    pub service: Option<String>,
    /// The platform manifest.
    #[arg(long, default_value = "deploy/pcc.toml", env = "PCC_MANIFEST")]
    pub manifest: PathBuf,
}

impl PlatformArgs {
    /// The service's migration target, when --env and --service were given.
    ///
    /// # Errors
    /// An invalid manifest, an unknown environment or service, or a missing migrator credential.
    pub fn resolve(&self) -> anyhow::Result<Option<MigrationTarget>> {
        let (Some(env), Some(service)) = (&self.env, &self.service) else {
            return Ok(None);
        };
        let manifest = provision::Manifest::load(&self.manifest)
            .with_context(|| format!("loading the manifest {}", self.manifest.display()))?;
        let target = runtime()?
            .block_on(provision::resolve::migration_target(&manifest, env, service))
            .with_context(|| format!("resolving the migration target of {service} in {env}"))?;
        Ok(Some(target))
    }
}

/// The Flyway settings a migration target implies, as a configuration layer: the platform library's
/// (shared with the embedded default, the tests and the fault suite) plus the conventional location
/// `migrations/<schema>`.
///
/// # Errors
/// Only if a derived value is refused by the configuration model (a bug).
pub fn layer(target: &MigrationTarget) -> anyhow::Result<ConfigLayer> {
    let mut layer = platform::flyway_layer(target)?;
    layer.set(
        "locations",
        &format!("filesystem:{MIGRATIONS_ROOT}/{}", target.schema),
        platform::SOURCE,
    )?;
    Ok(layer)
}
