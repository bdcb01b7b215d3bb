//! The launcher's error type: every failure names what was being done and what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong while creating or operating a local cluster.
#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    /// No PostgreSQL server binaries (initdb, pg_ctl, postgres) were found anywhere we looked.
    #[error(
        "PostgreSQL server binaries not found (looked in: {searched}); install them (Debian/Ubuntu: \
         `apt-get install postgresql`) or set PCC_PG_BIN to the directory that holds initdb and pg_ctl"
    )]
    BinariesNotFound {
        /// The places that were searched, comma separated.
        searched: String,
    },
    /// We run as root, and the OS user that should own the servers does not exist.
    #[error(
        "running as root, and initdb/postgres refuse to run as root; the OS user `{user}` that would run them \
         does not exist: create it (`useradd --system --home /var/lib/postgresql postgres`, or install the \
         Debian package postgresql) or set PCC_PG_OS_USER to another unprivileged user"
    )]
    NoOsUser {
        /// The user name looked up (`postgres` or $PCC_PG_OS_USER).
        user: String,
    },
    /// A file system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing ("creating directory", "writing", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL program exited with an error.
    #[error("{program} failed ({status}) while {action}: {output}")]
    CommandFailed {
        /// The program (initdb, pg_ctl, pg_basebackup, psql).
        program: String,
        /// What it was asked to do.
        action: String,
        /// Its exit status.
        status: String,
        /// The tail of its output (never contains passwords: we pass none on command lines).
        output: String,
    },
    /// Something did not happen within its deadline.
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What we waited for.
        what: String,
        /// How long we waited.
        seconds: u64,
    },
    /// The directory does not hold a cluster created by this launcher.
    #[error("{dir} does not hold a pccdb cluster (no cluster.json); run `pccdb dev up` to create one")]
    NotACluster {
        /// The directory inspected.
        dir: PathBuf,
    },
    /// The cluster state file could not be read or written.
    #[error("cluster state {path} is unreadable: {reason}")]
    BadState {
        /// The state file.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// The operation needs a replica node (the replica, or the second replica) this cluster was created without.
    #[error("this cluster has no such replica (it was created without it)")]
    NoReplica,
    /// A generated certificate could not be produced.
    #[error("generating the TLS certificate failed: {0}")]
    Certificate(String),
    /// The cluster directory is not reachable by the OS user that runs the servers.
    #[error(
        "the OS user `{user}` cannot reach {path} (a parent directory is not searchable by it); \
         choose a cluster directory it can reach, e.g. under /tmp or /var/tmp"
    )]
    Unreachable {
        /// The server's OS user.
        user: String,
        /// The path it cannot traverse.
        path: PathBuf,
    },
}

/// Shorthand for launcher results.
pub type Result<T, E = LauncherError> = std::result::Result<T, E>;

/// Wraps an `io::Error` with the action and path that failed.
pub(crate) fn io_err(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LauncherError {
    let path = path.into();
    move |source| LauncherError::Io { action, path, source }
}
