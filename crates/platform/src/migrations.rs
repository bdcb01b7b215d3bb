//! Migrating one service's database the way `pccdb migrate --env E --service S` does: the migration
//! target resolved from the manifest and the secret store (provision), one Flyway configuration layer
//! derived from it ([`flyway_layer`], shared with pccdb so the two cannot drift), the engine (migrate), and
//! afterwards the service's access to its history table restricted ([`secure_history`]).

use std::path::PathBuf;

use migrate::config::{EmbeddedFile, Location};
use migrate::{Config, ConfigLayer, ConfigSources, MigrateReport};
use provision::Manifest;
use provision::resolve::MigrationTarget;
use secrecy::ExposeSecret as _;

use crate::error::PlatformError;

/// Where each service's migration files come from.
#[derive(Debug, Clone)]
pub enum Migrations {
    /// `<root>/<schema>` for each service: the repository's `migrations/` (`migrations/client_api`).
    Directory(PathBuf),
    /// One directory per schema, named explicitly (a service's migrations checked out elsewhere).
    Directories(Vec<(String, PathBuf)>),
    /// Files compiled into the program, by schema: a service binary that runs from any directory.
    Embedded(&'static [(&'static str, &'static [EmbeddedFile])]),
}

impl Migrations {
    /// The location of `schema`'s migrations.
    ///
    /// # Errors
    /// [`PlatformError::NoMigrations`] when no directory is named, or no files are built in, for `schema`.
    pub fn location(&self, schema: &str) -> Result<Location, PlatformError> {
        match self {
            Self::Directory(root) => {
                let path = root.join(schema);
                Ok(Location {
                    text: format!("filesystem:{}", path.display()),
                    path,
                    embedded: None,
                })
            }
            Self::Directories(dirs) => dirs
                .iter()
                .find(|(name, _)| name == schema)
                .map(|(_, path)| Location {
                    text: format!("filesystem:{}", path.display()),
                    path: path.clone(),
                    embedded: None,
                })
                .ok_or_else(|| PlatformError::NoMigrations(schema.to_owned())),
            Self::Embedded(sets) => sets
                .iter()
                .find(|(name, _)| *name == schema)
                .map(|(name, files)| Location::embedded(name, files))
                .ok_or_else(|| PlatformError::NoMigrations(schema.to_owned())),
        }
    }
}

/// Where the Flyway settings of [`flyway_layer`] come from, in messages.
pub const SOURCE: &str = "the platform manifest (--env/--service)";

/// The Flyway settings a migration target implies (url without the password, user, password, schemas,
/// defaultSchema, table, initSql), as one configuration layer. `locations` is not among them: the caller
/// knows where the files are (a directory, or files compiled in).
///
/// # Errors
/// Only if the configuration model refuses a derived value (a bug), or if the credential would end up in
/// the url.
pub fn flyway_layer(target: &MigrationTarget) -> Result<ConfigLayer, migrate::ConfigError> {
    let mut layer = ConfigLayer::new();
    // The url carries no password; the credential travels in its own (secret) setting.
    let mut spec = target.spec.clone();
    spec.password = None;
    let url = spec.to_libpq_uri_secret();
    if url.expose_secret().contains(target.password.expose_secret()) {
        return Err(migrate::ConfigError::Invalid {
            key: "url".to_owned(),
            origin: SOURCE.to_owned(),
            message: "refusing to put the migration credential into a url".to_owned(),
        });
    }
    layer.set("url", url.expose_secret(), SOURCE)?;
    layer.set("user", &target.user, SOURCE)?;
    layer.set("password", target.password.expose_secret(), SOURCE)?;
    layer.set("schemas", &target.schema, SOURCE)?;
    layer.set("defaultSchema", &target.schema, SOURCE)?;
    layer.set("table", &target.history_table, SOURCE)?;
    layer.set("initSql", &target.init_sql, SOURCE)?;
    Ok(layer)
}

/// The engine configuration for `target` with its files at `location`: [`flyway_layer`] resolved alone
/// (Flyway's defaults for everything else), as `pccdb migrate --env --service` resolves it when no file,
/// variable or flag overrides anything.
///
/// # Errors
/// As [`flyway_layer`].
pub fn migration_config(target: &MigrationTarget, location: Location) -> Result<Config, migrate::ConfigError> {
    let sources = ConfigSources {
        platform: vec![flyway_layer(target)?],
        ..ConfigSources::default()
    };
    let mut config = Config::resolve(&sources)?;
    config.locations = vec![location];
    Ok(config)
}

/// The service may read the migration history but not change it: runs the statements the platform gives
/// for right after the history table exists (idempotent; `pccdb apply` converges them too), as the owner
/// role (`initSql`), which owns the history table.
///
/// # Errors
/// [`PlatformError::Statement`] when the server refuses.
pub async fn secure_history(client: &tokio_postgres::Client, target: &MigrationTarget) -> Result<(), PlatformError> {
    let step = |what: &str| {
        let what = format!("{what} ({})", target.database);
        move |source| PlatformError::Statement { step: what, source }
    };
    client
        .batch_execute(&target.init_sql)
        .await
        .map_err(step("acting as the service's owner role"))?;
    for statement in &target.after_history_created {
        client
            .batch_execute(statement)
            .await
            .map_err(step("restricting the service's access to the migration history"))?;
    }
    Ok(())
}

/// Migrates `service`'s database in `env`: resolves the target from the manifest and the secret store,
/// then [`migrate_target`].
///
/// # Errors
/// Resolution (no migrator credential: provision first), then as [`migrate_target`].
pub async fn migrate_service(
    manifest: &Manifest,
    env: &str,
    service: &str,
    migrations: &Migrations,
) -> Result<MigrateReport, PlatformError> {
    let target = provision::resolve::migration_target(manifest, env, service).await?;
    migrate_target(&target, service, migrations).await
}

/// Migrates the database of `target` (`service` names it in errors): connects as the migration login,
/// runs the engine on `migrations` with [`migration_config`], secures the history table.
///
/// # Errors
/// Connection, engine and statement errors, each naming the service.
pub async fn migrate_target(
    target: &MigrationTarget,
    service: &str,
    migrations: &Migrations,
) -> Result<MigrateReport, PlatformError> {
    let config =
        migration_config(target, migrations.location(&target.schema)?).map_err(|source| PlatformError::Config {
            service: service.to_owned(),
            source,
        })?;
    let (client, _) = conninfo::connect(&target.spec)
        .await
        .map_err(|source| PlatformError::Connect {
            service: format!("the migration login of {service}"),
            source,
        })?;
    let report = migrate::migrate(&client, &config, &())
        .await
        .map_err(|source| PlatformError::Migrate {
            service: service.to_owned(),
            source: Box::new(source),
        })?;
    secure_history(&client, target).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: &[EmbeddedFile] = &[EmbeddedFile {
        path: "V1__init.sql",
        contents: b"SELECT 1;",
    }];

    #[test]
    fn a_directory_holds_one_subdirectory_per_schema() {
        let location = Migrations::Directory("migrations".into())
            .location("client_api")
            .unwrap();
        assert_eq!(location.path, PathBuf::from("migrations/client_api"));
        assert_eq!(location.text, "filesystem:migrations/client_api");
    }

    #[test]
    fn embedded_migrations_are_found_by_schema_and_a_missing_schema_is_named() {
        let migrations = Migrations::Embedded(&[("client_api", FILES)]);
        let location = migrations.location("client_api").unwrap();
        assert_eq!(location.text, "embedded:client_api");
        assert_eq!(location.embedded, Some(FILES));
        let error = migrations.location("billing").unwrap_err();
        assert_eq!(error.to_string(), "no migrations are given for schema `billing`");
    }
}
