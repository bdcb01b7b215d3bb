//! The service's one error type, [`ApiError`], rendered as an RFC 9457 `application/problem+json` document.
//!
//! Every failure a handler can meet becomes an `ApiError` of one [`ProblemKind`] (the table in `kind.rs`), so
//! clients see one envelope with one documented `type` per kind. Database errors are translated in
//! `database.rs` from their SQLSTATE and constraint name; nothing the database says is passed through raw.

mod database;
mod kind;
mod problem;

pub use database::{ServerError, from_db_error, from_router_error, from_sqlstate};
pub use kind::{KindInfo, ProblemKind};
pub use problem::{FieldError, Problem, REQUEST_ID};

use std::fmt;

/// A failed request: what kind, what exactly, and where in the request.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The kind (decides `type`, `title` and status).
    pub kind: ProblemKind,
    /// The occurrence-specific explanation.
    pub detail: String,
    /// Individual problems with the request, each with a JSON pointer or parameter name.
    pub errors: Vec<FieldError>,
    /// Seconds for `Retry-After` (503 and 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of `kind` with `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// A validation error with one entry pointing into the body.
    pub fn invalid_field(pointer: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self::validation(vec![FieldError::pointer(pointer, detail)])
    }

    /// A validation error with one entry naming a query parameter.
    pub fn invalid_parameter(name: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self::validation(vec![FieldError::parameter(name, detail)])
    }

    /// A validation error listing `errors`.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => one.detail.clone(),
            many => format!("{} values are invalid", many.len()),
        };
        Self {
            kind: ProblemKind::Validation,
            detail,
            errors,
            retry_after: None,
        }
    }

    /// 404 for a resource type and id.
    pub fn not_found(what: &str, id: impl fmt::Display) -> Self {
        Self::new(ProblemKind::NotFound, format!("{what} {id} does not exist"))
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ProblemKind::Unavailable, detail)
        }
    }

    /// 500; `detail` is logged, the client sees a generic text.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            ProblemKind::Internal,
            "the service failed unexpectedly; the request id identifies it in the logs",
        )
    }

    /// Adds an entry to `errors`.
    #[must_use]
    pub fn with_error(mut self, error: FieldError) -> Self {
        self.errors.push(error);
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.info().slug, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        from_db_error(&e)
    }
}
