//! Why a connect failed, host by host. Messages carry host names, SQLSTATEs and server
//! messages, never credentials.

use std::fmt;
use std::time::Duration;

use crate::host::HostSpec;
use crate::modes::{ServerRole, TargetSessionAttrs};
use crate::tls::TlsError;

/// What happened on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// No session within the connect timeout (TCP, TLS and authentication together).
    Timeout(Duration),
    /// The server answered with an error (authentication failed, database missing, too many
    /// connections, starting up...).
    Server {
        /// The SQLSTATE, e.g. `28P01`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// Network or TLS failure.
    Io(String),
    /// Connected, but the server's role does not match the target session attributes.
    WrongRole(ServerRole),
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Timeout(limit) => write!(f, "timed out after {limit:?}"),
            FailureReason::Server { code, message } => write!(f, "server error {code}: {message}"),
            FailureReason::Io(message) => f.write_str(message),
            FailureReason::WrongRole(role) => write!(f, "server is {role}"),
        }
    }
}

impl FailureReason {
    pub(crate) fn from_pg(err: &tokio_postgres::Error) -> Self {
        match err.as_db_error() {
            Some(db) => FailureReason::Server {
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
            },
            None => {
                // tokio-postgres' Display stops at its own message ("error performing TLS
                // handshake"); the cause chain says why (e.g. "invalid peer certificate: ...").
                let mut message = err.to_string();
                let mut source = std::error::Error::source(err);
                while let Some(cause) = source {
                    let text = cause.to_string();
                    if !message.contains(&text) {
                        message.push_str(": ");
                        message.push_str(&text);
                    }
                    source = cause.source();
                }
                FailureReason::Io(message)
            }
        }
    }
}

/// One host's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFailure {
    /// The host.
    pub host: HostSpec,
    /// What happened.
    pub reason: FailureReason,
}

fn summary(failures: &[HostFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{}: {}", f.host, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why no session was opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TLS could not be configured (missing root certificate, unreadable key...).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// No user name anywhere (spec, `PGUSER`, `USER`, `LOGNAME`).
    #[error("no user name: set Username / user, or PGUSER")]
    NoUser,
    /// A client encoding tokio-postgres cannot speak.
    #[error("client encoding `{0}` is not supported: the client speaks UTF8 only")]
    Encoding(String),
    /// Hosts answered, but none has a role the target session attributes accept.
    #[error("no host matches target session attributes {attrs} ({})", summary(.failures))]
    NoSuitableHost {
        /// The setting.
        attrs: TargetSessionAttrs,
        /// Every host's outcome.
        failures: Vec<HostFailure>,
    },
    /// No host accepted a connection.
    #[error("could not connect to any host ({})", summary(.failures))]
    AllHostsFailed {
        /// Every host's outcome.
        failures: Vec<HostFailure>,
    },
}

impl ConnectError {
    pub(crate) fn from_failures(attrs: TargetSessionAttrs, failures: Vec<HostFailure>) -> Self {
        if failures.iter().any(|f| matches!(f.reason, FailureReason::WrongRole(_))) {
            ConnectError::NoSuitableHost { attrs, failures }
        } else {
            ConnectError::AllHostsFailed { failures }
        }
    }

    /// Each host's outcome (empty for configuration errors).
    pub fn failures(&self) -> &[HostFailure] {
        match self {
            ConnectError::NoSuitableHost { failures, .. } | ConnectError::AllHostsFailed { failures } => failures,
            _ => &[],
        }
    }

    /// The first SQLSTATE a server answered with, e.g. `28P01` for a rejected password.
    pub fn sqlstate(&self) -> Option<&str> {
        self.failures().iter().find_map(|f| match &f.reason {
            FailureReason::Server { code, .. } => Some(code.as_str()),
            _ => None,
        })
    }

    /// Whether a server rejected the credentials (28P01 invalid_password, 28000 invalid
    /// authorization).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.sqlstate(), Some("28P01" | "28000"))
    }
}
