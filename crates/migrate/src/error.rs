//! The engine's error type. Every message names what failed and says what to do next; none
//! carries a password (connection strings never reach this crate's errors).

use crate::config::ConfigError;
use crate::plan::PlanError;
use crate::resolve::ResolveError;
use crate::sql::script::ScriptError;

/// A server error, with the fields an operator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// SQLSTATE.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// DETAIL, if any.
    pub detail: Option<String>,
    /// HINT, if any.
    pub hint: Option<String>,
    /// 1-based character position in the statement, if any.
    pub position: Option<usize>,
}

impl ServerError {
    /// Extracts the server's error from a driver error (`None` for I/O and protocol errors).
    pub fn from_driver(e: &tokio_postgres::Error) -> Option<Self> {
        let db = e.as_db_error()?;
        let position = match db.position() {
            Some(tokio_postgres::error::ErrorPosition::Original(p)) => usize::try_from(*p).ok(),
            _ => None,
        };
        Some(Self {
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            position,
        })
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ERROR {}: {}", self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "\n  detail: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

fn driver_message(e: &tokio_postgres::Error) -> String {
    match ServerError::from_driver(e) {
        Some(server) => server.to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// A migration (or callback) statement that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementFailure {
    /// The script.
    pub script: String,
    /// Its version, if versioned.
    pub version: Option<String>,
    /// 1-based line of the failing statement (or of the error position inside it).
    pub line: Option<usize>,
    /// The statement's first line.
    pub statement: String,
    /// The server's error, or the connection error.
    pub error: String,
    /// SQLSTATE, when the server reported one.
    pub code: Option<String>,
    /// Whether the migration ran inside a transaction (and so left nothing behind).
    pub transactional: bool,
}

impl std::fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.line.map_or_else(String::new, |l| format!(":{l}"));
        let what = self
            .version
            .as_ref()
            .map_or_else(String::new, |v| format!(" (version {v})"));
        write!(f, "migration {}{at}{what} failed: {}", self.script, self.error)?;
        if !self.statement.is_empty() {
            write!(f, "\n  statement: {}", self.statement)?;
        }
        if self.transactional {
            write!(
                f,
                "\nIt ran in a transaction that was rolled back, so nothing of it was applied. Fix the file and run `pccdb migrate` again."
            )
        } else {
            write!(
                f,
                "\nIt ran outside a transaction, so the statements before the failing one stay applied, and its history row \
                 is recorded as failed. Undo or complete those changes, then run `pccdb repair` and `pccdb migrate` again."
            )
        }
    }
}

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Migrations could not be found or read.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// A script cannot be run (found before anything ran).
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// The plan cannot be made (validation failures, failed migrations, ...).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A statement of a migration or callback failed.
    #[error("{0}")]
    Statement(Box<StatementFailure>),
    /// A database operation of the engine itself failed.
    #[error("{what}: {message}")]
    Db {
        /// What the engine was doing.
        what: String,
        /// The server's or driver's message.
        message: String,
        /// SQLSTATE, if any.
        code: Option<String>,
    },
    /// Another run holds the migration lock for too long.
    #[error(
        "timed out after {waited_secs} s waiting for the migration lock on {table} (PostgreSQL advisory lock {key}){holder}; \
         another migrate, repair or baseline (pccdb or Flyway) is running. Wait for it to finish and try again, or raise \
         lockRetryCount (seconds to wait; -1 waits forever)"
    )]
    LockTimeout {
        /// The history table.
        table: String,
        /// The advisory lock key.
        key: i64,
        /// How long we waited.
        waited_secs: u64,
        /// Who holds it, as `, held by ...`.
        holder: String,
    },
    /// `clean` while `cleanDisabled` is true.
    #[error(
        "clean is disabled (cleanDisabled=true, Flyway's default) because it drops every object in the schemas; set cleanDisabled=false to allow it"
    )]
    CleanDisabled,
    /// `baseline` cannot be done.
    #[error("{0}")]
    Baseline(String),
    /// No schema to work in.
    #[error("no schema to use: the search_path of this session names no existing schema; set schemas or defaultSchema")]
    NoSchema,
    /// Connected to a standby.
    #[error(
        "connected to a read-only server (a standby in recovery); migrations need the primary: point the url at it, or add targetServerType=primary (JDBC) / target_session_attrs=read-write (libpq)"
    )]
    ReadOnly,
    /// A schema that does not exist while `createSchemas` is false.
    #[error("schema \"{0}\" does not exist and createSchemas is false; create it, or set createSchemas=true")]
    MissingSchema(String),
    /// A history row Flyway could not have written.
    #[error("schema history row with installed_rank {rank} is invalid: {message}")]
    InvalidHistory {
        /// The row.
        rank: i32,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Wraps a driver error with what the engine was doing.
    pub fn db(what: &str, e: impl std::borrow::Borrow<tokio_postgres::Error>) -> Self {
        let e = e.borrow();
        Self::Db {
            what: what.to_owned(),
            message: driver_message(e),
            code: ServerError::from_driver(e).map(|s| s.code),
        }
    }

    /// Whether this is a validation failure or drift (exit code 2), not an operational error.
    pub fn is_validation(&self) -> bool {
        matches!(self, Self::Plan(PlanError::Validation(_)))
    }
}

pub(crate) fn driver_error_text(e: &tokio_postgres::Error) -> String {
    driver_message(e)
}
