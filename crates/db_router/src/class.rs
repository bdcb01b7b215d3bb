//! Failure classes by SQLSTATE, the two sides of the router, and why a read fell back.
//!
//! Classes drive behavior: a lost connection or a shutting-down server marks the target down
//! and reconnects; a read-only violation on the primary means it was demoted; a recovery
//! conflict on a replica is retried elsewhere; an authentication failure re-reads credentials
//! once.

use std::fmt;

use tokio_postgres::error::SqlState;

/// Which side of the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The read-write primary.
    Primary,
    /// The read-only replica.
    Replica,
}

impl Target {
    /// `primary` or `replica`, for logs and metric labels.
    pub fn label(self) -> &'static str {
        match self {
            Target::Primary => "primary",
            Target::Replica => "replica",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// 25006: a write reached a read-only session (the primary was demoted, or a bug wrote
    /// through a read).
    ReadOnlyTransaction,
    /// 57P01, 57P02, 57P03: the server is shutting down, crashed, or not accepting connections yet.
    ServerShutdown,
    /// 08xxx or the socket closed: the connection is gone.
    ConnectionLost,
    /// 40001 / 40P01 on a standby: a query cancelled by a conflict with WAL replay.
    RecoveryConflict,
    /// 40001 / 40P01 on the primary: retry the transaction.
    SerializationFailure,
    /// 42P01, 42703, 42883, 42704 (undefined table, column, function, type) on a standby: the
    /// replica has not replayed a migration the primary has (a deployment rolls out new code right
    /// after migrating); the primary can answer.
    SchemaBehind,
    /// 53300: the server has no connection slots left.
    TooManyConnections,
    /// 28P01 / 28000: credentials rejected.
    AuthenticationFailed,
    /// 57014: cancelled, normally by `statement_timeout`.
    QueryCanceled,
    /// No answer within the client-side limit.
    Timeout,
    /// Anything else (constraint violations, syntax errors...): the caller's business.
    Other,
}

impl FailureClass {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            FailureClass::ReadOnlyTransaction => "read_only_transaction",
            FailureClass::ServerShutdown => "server_shutdown",
            FailureClass::ConnectionLost => "connection_lost",
            FailureClass::RecoveryConflict => "recovery_conflict",
            FailureClass::SerializationFailure => "serialization_failure",
            FailureClass::SchemaBehind => "schema_behind",
            FailureClass::TooManyConnections => "too_many_connections",
            FailureClass::AuthenticationFailed => "authentication_failed",
            FailureClass::QueryCanceled => "query_canceled",
            FailureClass::Timeout => "timeout",
            FailureClass::Other => "other",
        }
    }

    /// Whether retrying the same operation (possibly on another server) can succeed.
    pub fn is_retryable(self) -> bool {
        !matches!(
            self,
            FailureClass::Other | FailureClass::AuthenticationFailed | FailureClass::QueryCanceled
        )
    }

    /// Whether the connection that saw it must not be reused.
    pub fn connection_unusable(self) -> bool {
        matches!(
            self,
            FailureClass::ServerShutdown
                | FailureClass::ConnectionLost
                | FailureClass::ReadOnlyTransaction
                | FailureClass::Timeout
        )
    }
}

/// Classifies a tokio-postgres error; `on_standby` tells recovery conflicts from
/// serialization failures.
pub fn classify(err: &tokio_postgres::Error, on_standby: bool) -> FailureClass {
    if let Some(code) = err.code() {
        return classify_sqlstate(code, on_standby);
    }
    // No SQLSTATE: a closed connection or an I/O error means the session is gone; anything else
    // (a row-count mismatch, a type conversion) is the caller's.
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    let mut io = false;
    while let Some(cause) = source {
        io |= cause.is::<std::io::Error>();
        source = cause.source();
    }
    if err.is_closed() || io {
        FailureClass::ConnectionLost
    } else {
        FailureClass::Other
    }
}

/// Classifies a SQLSTATE.
pub fn classify_sqlstate(code: &SqlState, on_standby: bool) -> FailureClass {
    match code.code() {
        "25006" => FailureClass::ReadOnlyTransaction,
        "57P01" | "57P02" | "57P03" => FailureClass::ServerShutdown,
        "40001" | "40P01" if on_standby => FailureClass::RecoveryConflict,
        "40001" | "40P01" => FailureClass::SerializationFailure,
        "42P01" | "42703" | "42883" | "42704" if on_standby => FailureClass::SchemaBehind,
        "53300" => FailureClass::TooManyConnections,
        "28P01" | "28000" => FailureClass::AuthenticationFailed,
        "57014" => FailureClass::QueryCanceled,
        c if c.starts_with("08") => FailureClass::ConnectionLost,
        _ => FailureClass::Other,
    }
}

/// Why a read did not go where its consistency would normally send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FallbackReason {
    /// No replica is configured or none is connected.
    ReplicaDown,
    /// The replica is further behind than the read allows.
    TooStale,
    /// The replica did not replay the token's position within the wait bound.
    TokenWaitTimeout,
    /// The token is ahead of every position the primary has reported (forged or from another
    /// cluster): no replica wait is attempted.
    TokenAhead,
    /// The replica failed the read (connection lost, recovery conflict).
    ReplicaError,
}

impl FallbackReason {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            FallbackReason::ReplicaDown => "replica_down",
            FallbackReason::TooStale => "too_stale",
            FallbackReason::TokenWaitTimeout => "token_wait_timeout",
            FallbackReason::TokenAhead => "token_ahead",
            FallbackReason::ReplicaError => "replica_error",
        }
    }
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FallbackReason::ReplicaDown => "no replica is available",
            FallbackReason::TooStale => "the replica lags more than the read allows",
            FallbackReason::TokenWaitTimeout => "the replica has not replayed the write yet",
            FallbackReason::TokenAhead => "the token is ahead of the primary",
            FallbackReason::ReplicaError => "the replica failed the read",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_classes() {
        let cases = [
            ("25006", false, FailureClass::ReadOnlyTransaction),
            ("57P01", false, FailureClass::ServerShutdown),
            ("57P02", true, FailureClass::ServerShutdown),
            ("57P03", false, FailureClass::ServerShutdown),
            ("08006", false, FailureClass::ConnectionLost),
            ("08P01", true, FailureClass::ConnectionLost),
            ("40001", true, FailureClass::RecoveryConflict),
            ("40001", false, FailureClass::SerializationFailure),
            ("40P01", true, FailureClass::RecoveryConflict),
            ("53300", false, FailureClass::TooManyConnections),
            ("28P01", false, FailureClass::AuthenticationFailed),
            ("57014", false, FailureClass::QueryCanceled),
            ("42P01", true, FailureClass::SchemaBehind),
            ("42703", true, FailureClass::SchemaBehind),
            ("42P01", false, FailureClass::Other),
            ("23505", false, FailureClass::Other),
        ];
        for (code, standby, class) in cases {
            assert_eq!(classify_sqlstate(&SqlState::from_code(code), standby), class, "{code}");
        }
    }

    #[test]
    fn retryability() {
        assert!(FailureClass::RecoveryConflict.is_retryable());
        assert!(FailureClass::TooManyConnections.is_retryable());
        assert!(!FailureClass::Other.is_retryable());
        assert!(!FailureClass::AuthenticationFailed.is_retryable());
        assert!(FailureClass::ConnectionLost.connection_unusable());
        assert!(!FailureClass::RecoveryConflict.connection_unusable());
    }
}
