//! What other tools need to connect, resolved from the manifest and the secret store, so a CI
//! step or a service needs no hand-built URL:
//! - [`migration_target`]: for `pccdb migrate --env devtest --service pcc-client-api`: the
//!   primary, the service database, the migrator's current credential, the schema and the
//!   initSql that makes migrations run as the owner role;
//! - [`runtime_connections`]: the service's primary and replica connection specs (Npgsql form
//!   on request), pool sizes from the manifest, credential from the `current` alias;
//! - [`runtime_specs`]: the same specs without a credential, as a service's pods are configured.

use secrecy::SecretString;
use secrets::{DbCredential, SecretName, VersionRef};

use conninfo::{ConnSpec, PoolSettings, TargetSessionAttrs};

use crate::desired::HISTORY_TABLE;
use crate::error::ProvisionError;
use crate::ident::quote_ident;
use crate::manifest::{Manifest, Pool};
use crate::naming::role_secret;
use crate::target::{endpoints, open_store, read_credential};

/// Everything a migration run needs.
#[derive(Debug, Clone)]
pub struct MigrationTarget {
    /// The primary, with database, user and password set.
    pub spec: ConnSpec,
    /// The service database.
    pub database: String,
    /// The migrator's login (`flyway_user`).
    pub user: String,
    /// Its password.
    pub password: SecretString,
    /// Flyway `schemas` / `defaultSchema`: the service schema (`client_api`).
    pub schema: String,
    /// Flyway `initSql`: `SET ROLE client_api_owner`, so objects belong to the owner role and
    /// default privileges grant the service what it needs (migrations contain no GRANTs).
    pub init_sql: String,
    /// The owner role.
    pub owner_role: String,
    /// The history table (`flyway_schema_history`).
    pub history_table: String,
    /// Statements to run once, right after the engine creates the history table: the service
    /// may read the history but not change it (default privileges gave it DML). Optional:
    /// `pccdb apply` revokes the same privileges on its next run.
    pub after_history_created: Vec<String>,
}

fn secret_name(name: &str) -> SecretName {
    SecretName::parse(name).expect("derived secret names are valid")
}

/// Resolves the migration target of `service` in `env`.
///
/// # Errors
/// Unknown environment or service, unusable endpoint, missing migrator credential (run
/// `pccdb apply` first).
pub async fn migration_target(
    manifest: &Manifest,
    env: &str,
    service: &str,
) -> Result<MigrationTarget, ProvisionError> {
    let d = manifest.deployment(env, service)?;
    let ends = endpoints(d.env)?;
    let store = open_store(&d.env.secrets)?;
    let secret = secret_name(&role_secret(&manifest.migrator.role, &d.env.name));
    let credential = read_credential(store.as_ref(), secret.as_str(), &VersionRef::current()).await?;
    let database = d.names.database.to_string();
    let spec = ends
        .primary
        .with_database(database.clone())
        .with_user(credential.username.clone())
        .with_password(credential.password.clone())
        .with_target_session_attrs(TargetSessionAttrs::ReadWrite)
        .with_application_name(format!("pccdb-migrate {service}"));
    let schema = d.names.schema.to_string();
    let owner = d.names.owner.to_string();
    let table = format!("{}.{}", quote_ident(&schema), quote_ident(HISTORY_TABLE));
    Ok(MigrationTarget {
        spec,
        database,
        user: credential.username,
        password: credential.password,
        init_sql: format!("SET ROLE {}", quote_ident(&owner)),
        after_history_created: vec![format!(
            "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM {}",
            quote_ident(d.names.app_group.as_str())
        )],
        schema,
        owner_role: owner,
        history_table: HISTORY_TABLE.to_owned(),
    })
}

/// A service's connections.
#[derive(Debug, Clone)]
pub struct RuntimeConnections {
    /// The primary (writes, transactional reads).
    pub primary: ConnSpec,
    /// The replica (lists, reporting), read-only session attributes, when the environment has
    /// one and the service has a replica pool.
    pub replica: Option<ConnSpec>,
    /// The secret the credential came from (re-read it after SQLSTATE 28P01).
    pub secret: SecretName,
    /// The credential in the specs.
    pub credential: DbCredential,
}

impl RuntimeConnections {
    /// The primary's Npgsql connection string (with the password).
    pub fn primary_npgsql(&self) -> SecretString {
        self.primary.to_npgsql_secret()
    }

    /// The replica's Npgsql connection string (with the password), if any.
    pub fn replica_npgsql(&self) -> Option<SecretString> {
        self.replica.as_ref().map(ConnSpec::to_npgsql_secret)
    }
}

fn pool_settings(base: &PoolSettings, pool: &Pool) -> PoolSettings {
    PoolSettings {
        min_size: pool.min,
        max_size: pool.max,
        max_lifetime: Some(pool.max_lifetime.duration()),
        ..base.clone()
    }
}

/// A service's connection specs without a credential: what its pods are configured with (`pccdb render
/// k8s`), the user and password coming from the mounted secret at run time.
#[derive(Debug, Clone)]
pub struct RuntimeSpecs {
    /// The primary: database, application name, search_path and the manifest's pool.
    pub primary: ConnSpec,
    /// The replica with read-only session attributes, when the environment has one and the service a
    /// replica pool.
    pub replica: Option<ConnSpec>,
}

/// Resolves `service`'s connection specs in `env`, without touching a secret store.
///
/// # Errors
/// Unknown environment or service, unusable endpoint.
pub fn runtime_specs(manifest: &Manifest, env: &str, service: &str) -> Result<RuntimeSpecs, ProvisionError> {
    let d = manifest.deployment(env, service)?;
    let ends = endpoints(d.env)?;
    let finish = |spec: ConnSpec, pool: &Pool| {
        let mut spec = spec
            .with_database(d.names.database.to_string())
            .with_application_name(service.to_owned());
        spec.search_path = Some(d.names.schema.to_string());
        let settings = pool_settings(&spec.pool, pool);
        spec.with_pool(settings)
    };
    let primary = finish(ends.primary, &d.sizing.pool);
    let replica = match (ends.replica, d.sizing.replica_pool) {
        (Some(spec), Some(pool)) => {
            let spec = if spec.target_session_attrs == TargetSessionAttrs::Any {
                spec.with_target_session_attrs(TargetSessionAttrs::ReadOnly)
            } else {
                spec
            };
            Some(finish(spec, &pool))
        }
        _ => None,
    };
    Ok(RuntimeSpecs { primary, replica })
}

/// Resolves `service`'s connections in `env` with the credential of its secret's `current` alias.
///
/// # Errors
/// Unknown environment or service, unusable endpoint, missing credential (run `pccdb apply`).
pub async fn runtime_connections(
    manifest: &Manifest,
    env: &str,
    service: &str,
) -> Result<RuntimeConnections, ProvisionError> {
    let d = manifest.deployment(env, service)?;
    if let Some(user) = d.iam_user() {
        return Err(ProvisionError::NoStoredCredential {
            service: service.to_owned(),
            env: env.to_owned(),
            user: user.to_owned(),
        });
    }
    let specs = runtime_specs(manifest, env, service)?;
    let store = open_store(&d.env.secrets)?;
    let secret = secret_name(&d.names.secret);
    let credential = read_credential(store.as_ref(), secret.as_str(), &VersionRef::current()).await?;
    let with_credential = |spec: ConnSpec| {
        spec.with_user(credential.username.clone())
            .with_password(credential.password.clone())
    };
    Ok(RuntimeConnections {
        primary: with_credential(specs.primary),
        replica: specs.replica.map(with_credential),
        secret,
        credential,
    })
}
