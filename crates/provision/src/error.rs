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
