//! Errors of parsing a connection string. Every variant names the key (or position) at fault
//! and never carries a secret: values of password keys are not echoed.

use crate::modes::Syntax;

/// Why a connection string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text does not follow the syntax (unbalanced quote, a pair without `=`, bad URI).
    /// Mirrors .NET's "Format of the initialization string does not conform to specification".
    #[error("format of the {syntax} connection string does not conform to specification at index {position}: {reason}")]
    Format {
        /// The syntax being parsed.
        syntax: Syntax,
        /// Character index where the offending pair or token starts.
        position: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A keyword that the syntax does not define.
    #[error("unknown {syntax} keyword `{key}`")]
    UnknownKey {
        /// The syntax being parsed.
        syntax: Syntax,
        /// The keyword as written.
        key: String,
    },
    /// A known keyword with a value it does not accept.
    #[error("invalid value `{value}` for `{key}`: {reason}")]
    InvalidValue {
        /// The keyword (or environment variable) as written.
        key: String,
        /// The offending value (`********` for secrets).
        value: String,
        /// What is accepted instead.
        reason: String,
    },
    /// A keyword or value that is valid in its syntax but that this crate cannot honor.
    #[error("`{key}` is not supported: {reason}")]
    Unsupported {
        /// The keyword as written.
        key: String,
        /// Why, and what to use instead.
        reason: String,
    },
    /// No host was given (Npgsql and JDBC require one).
    #[error("host is required (set `Host`)")]
    MissingHost,
    /// Settings that are each valid but contradict each other.
    #[error("inconsistent settings: {0}")]
    Inconsistent(String),
}

impl ParseError {
    /// Builds an [`ParseError::InvalidValue`].
    pub(crate) fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Self {
        ParseError::InvalidValue {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// Builds an [`ParseError::Unsupported`].
    pub(crate) fn unsupported(key: &str, reason: impl Into<String>) -> Self {
        ParseError::Unsupported {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    /// The key this error is about, if it is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ParseError::UnknownKey { key, .. }
            | ParseError::InvalidValue { key, .. }
            | ParseError::Unsupported { key, .. } => Some(key),
            ParseError::MissingHost => Some("Host"),
            ParseError::Format { .. } | ParseError::Inconsistent(_) => None,
        }
    }
}
