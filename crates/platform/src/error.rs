//! Why bringing an environment up failed: which step, for which service, and the underlying error.

/// A failed step of [`crate::up`] or [`crate::clone_database`].
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The local cluster of a `local_cluster` environment could not be started.
    #[error("starting the local cluster in {dir}: {source}")]
    LocalCluster {
        /// The cluster directory.
        dir: String,
        /// The launcher's explanation.
        source: pg_launcher::LauncherError,
    },
    /// Provisioning (the manifest, the catalog, the secret store) failed.
    #[error(transparent)]
    Provision(#[from] provision::ProvisionError),
    /// No migrations for a service's schema among those given (named directories, or files built in).
    #[error("no migrations are given for schema `{0}`")]
    NoMigrations(String),
    /// The migration engine failed for a service.
    #[error("migrating {service}: {source}")]
    Migrate {
        /// The service.
        service: String,
        /// The engine's error (file, line and server message); boxed, it is large.
        source: Box<migrate::Error>,
    },
    /// The migration configuration derived from the manifest was refused (a bug: the values are derived).
    #[error("migration configuration of {service}: {source}")]
    Config {
        /// The service.
        service: String,
        /// The configuration model's error.
        source: migrate::ConfigError,
    },
    /// Connecting failed (as the migration login of a service, or as a local cluster's superuser).
    #[error("connecting to the primary as {service}: {source}")]
    Connect {
        /// Who connected (the migration login of a service, or a local superuser).
        service: String,
        /// Why.
        source: conninfo::ConnectError,
    },
    /// A statement of the platform's own (securing the history table, cloning a database) failed.
    #[error("{step}: {source}")]
    Statement {
        /// What was being done.
        step: String,
        /// The server's error.
        source: tokio_postgres::Error,
    },
    /// A database to clone has something cloning cannot reproduce.
    #[error("cannot clone database {database}: {reason}")]
    Unclonable {
        /// The template.
        database: String,
        /// What stands in the way.
        reason: String,
    },
    /// A blocking task (the launcher runs off the async runtime) panicked or was cancelled.
    #[error("{0}")]
    Task(String),
}
