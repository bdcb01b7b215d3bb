//! The errors of this crate. Messages are lower-case, carry the offending value, say what to do
//! next where there is something to do, and never contain a password, verifier or token.

use std::path::PathBuf;

/// A name that breaks the naming convention or PostgreSQL's identifier rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Longer than PostgreSQL keeps (it would silently truncate it).
    #[error("{what} name {name:?} is {bytes} bytes; PostgreSQL keeps at most 63")]
    TooLong {
        /// `role`, `database`, `schema`.
        what: &'static str,
        /// The name.
        name: String,
        /// Its length in bytes.
        bytes: usize,
    },
    /// Not a plain lower-case identifier.
    #[error("{what} name {name:?} must be lower-case letters, digits and '_', starting with a letter or '_'")]
    Identifier {
        /// `role`, `database`, `schema`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A reserved word or a `pg_` name.
    #[error("{what} name {name:?} is reserved by PostgreSQL")]
    Reserved {
        /// `role`, `database`, `schema`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A service name that breaks the convention.
    #[error("service name {name:?} breaks the naming convention: {reason}")]
    Service {
        /// The name.
        name: String,
        /// Which rule.
        reason: String,
    },
    /// An environment name that is not a plain word.
    #[error("environment name {0:?} must be 1-20 lower-case letters and digits, starting with a letter")]
    Environment(String),
}

/// Why a manifest could not be loaded. Validation collects every problem, not just the first.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {}: {source}", path.display())]
    Read {
        /// The manifest path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type (toml's message has the line).
    #[error("manifest {}: {message}", path.display())]
    Syntax {
        /// The manifest path.
        path: PathBuf,
        /// toml's message, with line, column and the key involved.
        message: String,
    },
    /// Well-formed but wrong: every problem found, one per line.
    #[error("manifest {} has {} problem(s):\n  - {}", path.display(), problems.len(), problems.join("\n  - "))]
    Invalid {
        /// The manifest path.
        path: PathBuf,
        /// Each problem, naming the key (`services.pcc-client-api.pool.max`).
        problems: Vec<String>,
    },
    /// An environment or service the command asked for is not in the manifest.
    #[error("{what} {name:?} is not in the manifest (known: {known})")]
    Unknown {
        /// `environment` or `service`.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// The names the manifest has.
        known: String,
    },
}

/// Why a plan, apply, check, capacity or rotation run failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The manifest is wrong or does not have what was asked for.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// An endpoint in the manifest is not a usable connection string.
    #[error("environment {env}: {detail}")]
    Endpoint {
        /// The environment.
        env: String,
        /// What is wrong (never a password).
        detail: String,
    },
    /// The local cluster of a `local_cluster` environment could not be opened.
    #[error("environment {env}: cannot open the local cluster in {}: {source} (run `pccdb dev up` first)", dir.display())]
    LocalCluster {
        /// The environment.
        env: String,
        /// Its directory.
        dir: PathBuf,
        /// The launcher's error (boxed: it is large and rare).
        source: Box<pg_launcher::LauncherError>,
    },
    /// A secret could not be read or written.
    #[error("{what}: {source}")]
    Secret {
        /// What was being done (`reading the admin credential pcc-admin-devtest-db`).
        what: String,
        /// The store's error (boxed: it is large).
        source: Box<secrets::SecretError>,
    },
    /// No connection could be opened.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// Host, database and user (no password).
        target: String,
        /// Why, host by host (boxed: it is large).
        source: Box<conninfo::ConnectError>,
    },
    /// Reading the catalog failed.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// A statement failed.
    #[error("{context}: {statement}: {}", pg_message(source))]
    Sql {
        /// What was being done (`apply in database client_api_db_devtest`).
        context: String,
        /// The statement (with any password verifier redacted).
        statement: String,
        /// The server's error.
        source: tokio_postgres::Error,
    },
    /// The plan has items the connected role cannot do; nothing was executed.
    #[error("refusing to apply: {} item(s) cannot be done as {user}:\n{}", blocked.len(), blocked.iter().map(|b| format!("  - {}: {}; fix: {}", b.what, b.why, b.fix)).collect::<Vec<_>>().join("\n"))]
    Blocked {
        /// The connected role.
        user: String,
        /// What cannot be done.
        blocked: Vec<crate::diff::Blocked>,
    },
    /// After apply, a fresh plan still had steps (a grant from another grantor, a concurrent change).
    #[error("apply finished but the catalog still differs from the manifest; remaining steps:\n{}", remaining.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n"))]
    NotConverged {
        /// The statements a new plan still wants.
        remaining: Vec<String>,
    },
    /// Another apply or rotation holds the lock longer than we wait.
    #[error("another pccdb {what} holds the lock on {database} (waited {waited_s} s); retry when it finishes")]
    LockTimeout {
        /// `apply` or `rotate`.
        what: &'static str,
        /// The database holding the advisory lock.
        database: String,
        /// Seconds waited.
        waited_s: u64,
    },
    /// Rotation cannot proceed.
    #[error("rotation of {secret}: {detail}")]
    Rotation {
        /// The secret being rotated.
        secret: String,
        /// Why (and what to do).
        detail: String,
    },
    /// A rotation was asked of a service that logs in with IAM: it has no password.
    #[error(
        "{service} logs in to {env} as the IAM database user {user}: it has no password to rotate (its pods log in with short-lived access tokens, refreshed on their own); rotate other credentials with --role, or drop `auth = \"iam\"` from the manifest to go back to password logins"
    )]
    NothingToRotate {
        /// The service.
        service: String,
        /// The environment.
        env: String,
        /// Its IAM user.
        user: String,
    },
    /// A stored credential was asked for a service that logs in with IAM.
    #[error(
        "{service} logs in to {env} as the IAM database user {user}, which has no stored credential: connect with an access token as its password (the service: PCC_DB_AUTH=iam)"
    )]
    NoStoredCredential {
        /// The service.
        service: String,
        /// The environment.
        env: String,
        /// Its IAM user.
        user: String,
    },
    /// A file (capacity history, local credentials) could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The server's message with its SQLSTATE, or the client error.
pub(crate) fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}
