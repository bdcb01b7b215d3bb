//! The router's error type. Messages omit the server's DETAIL unless `Include Error Detail` is
//! on, because DETAIL can carry row values.

use std::fmt;
use std::time::Duration;

use crate::class::{FailureClass, FallbackReason, Target, classify};

/// A server error, rendered without DETAIL unless allowed.
#[derive(Debug)]
pub struct DbFailure {
    /// Where it happened.
    pub target: Target,
    /// Its class.
    pub class: FailureClass,
    /// The tokio-postgres error (with the full server error, DETAIL included).
    pub source: tokio_postgres::Error,
    pub(crate) include_detail: bool,
}

impl fmt::Display for DbFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source.as_db_error() {
            Some(db) => {
                write!(
                    f,
                    "{}: {} {}: {}",
                    self.target,
                    db.severity(),
                    db.code().code(),
                    db.message()
                )?;
                if self.include_detail
                    && let Some(detail) = db.detail()
                {
                    write!(f, " (detail: {detail})")?;
                }
                Ok(())
            }
            None => write!(f, "{}: {}", self.target, self.source),
        }
    }
}

/// Why a routed operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The primary is known to be down: writes fail at once instead of hanging.
    #[error("primary unavailable: {reason}; retry after {retry_after:?}")]
    PrimaryUnavailable {
        /// The last failure seen.
        reason: String,
        /// When the next reconnect attempt is due.
        retry_after: Duration,
    },
    /// No replica can serve the read and the primary fallback budget is spent.
    #[error(
        "read ({consistency}) not served: {reason} and the primary fallback budget is spent; retry after {retry_after:?}"
    )]
    Overloaded {
        /// The consistency asked for.
        consistency: &'static str,
        /// Why the replica could not serve it.
        reason: FallbackReason,
        /// When the budget has a token again.
        retry_after: Duration,
    },
    /// No pooled connection became free in time.
    #[error("no {target} connection free within {waited:?} (pool of {max_size} saturated)")]
    CheckoutTimeout {
        /// The pool.
        target: Target,
        /// How long we waited.
        waited: Duration,
        /// The pool size.
        max_size: usize,
    },
    /// The server did not answer within the statement timeout plus a grace period.
    #[error("{target} did not answer within {after:?}")]
    Timeout {
        /// Where.
        target: Target,
        /// The client-side limit.
        after: Duration,
    },
    /// Connecting failed (every host, with reasons).
    #[error("connecting to the {target}: {source}")]
    Connect {
        /// Which pool.
        target: Target,
        /// Per-host reasons.
        #[source]
        source: conninfo::ConnectError,
    },
    /// A connected server has the wrong role (a promoted replica, a demoted primary).
    #[error("{target} connection refused: the server at {host} is {role}")]
    WrongRole {
        /// Which pool.
        target: Target,
        /// The host.
        host: String,
        /// What it turned out to be.
        role: conninfo::ServerRole,
    },
    /// Credentials were rejected, also after re-reading them once.
    #[error("authentication to the {target} failed after re-reading credentials: {source}")]
    AuthFailed {
        /// Which pool.
        target: Target,
        /// The last connect error.
        #[source]
        source: conninfo::ConnectError,
    },
    /// The credential provider failed.
    #[error("reading credentials: {0}")]
    Credentials(#[from] crate::credentials::CredentialError),
    /// A server error.
    #[error("{0}")]
    Db(DbFailure),
    /// A statement returned another number of rows than the call expects.
    #[error("query returned {got} rows, expected {expected}")]
    RowCount {
        /// What the call expects.
        expected: &'static str,
        /// What came back.
        got: usize,
    },
    /// A transaction was used after one of its statements failed.
    #[error("the transaction was aborted by an earlier error and has been rolled back")]
    Aborted,
    /// Invalid router configuration.
    #[error("invalid router configuration: {0}")]
    Config(String),
}

impl RouterError {
    pub(crate) fn db(target: Target, source: tokio_postgres::Error, include_detail: bool) -> Self {
        let class = classify(&source, target == Target::Replica);
        RouterError::Db(DbFailure {
            target,
            class,
            source,
            include_detail,
        })
    }

    /// The failure class, when there is one.
    pub fn class(&self) -> Option<FailureClass> {
        match self {
            RouterError::Db(failure) => Some(failure.class),
            RouterError::Timeout { .. } => Some(FailureClass::Timeout),
            RouterError::AuthFailed { .. } => Some(FailureClass::AuthenticationFailed),
            RouterError::Connect { .. } | RouterError::PrimaryUnavailable { .. } | RouterError::WrongRole { .. } => {
                Some(FailureClass::ConnectionLost)
            }
            _ => None,
        }
    }

    /// Whether the caller may retry (after [`RouterError::retry_after`], if given).
    pub fn is_retryable(&self) -> bool {
        match self {
            RouterError::PrimaryUnavailable { .. }
            | RouterError::Overloaded { .. }
            | RouterError::CheckoutTimeout { .. }
            | RouterError::Timeout { .. }
            | RouterError::Connect { .. }
            | RouterError::WrongRole { .. } => true,
            RouterError::Db(failure) => failure.class.is_retryable(),
            RouterError::AuthFailed { .. }
            | RouterError::Credentials(_)
            | RouterError::Config(_)
            | RouterError::RowCount { .. }
            | RouterError::Aborted => false,
        }
    }

    /// A hint for `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RouterError::PrimaryUnavailable { retry_after, .. } | RouterError::Overloaded { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The server's error, for callers that map SQLSTATEs (unique violation -> 409...).
    pub fn as_db_error(&self) -> Option<&tokio_postgres::error::DbError> {
        match self {
            RouterError::Db(failure) => failure.source.as_db_error(),
            _ => None,
        }
    }
}
