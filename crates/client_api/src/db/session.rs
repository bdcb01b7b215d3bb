//! The two kinds of session a handler can hold, as two types: [`ReadSession`] (statements routed by a
//! [`Consistency`], each on db_router's shared pipelined read sessions, replica or primary) and
//! [`WriteSession`] (one read-write transaction on the primary). Lookups that both kinds run
//! (`clients::load`, ...) are generic over the sealed [`Query`] trait, the way tokio-postgres'
//! `GenericClient` spans `Client` and `Transaction`; what only a write may do (`execute`, the
//! idempotency-key helpers) takes a `WriteSession`, so handing it a read session does not compile:
//!
//! ```compile_fail
//! use client_api::db::{Consistency, Db, WriteSession};
//!
//! async fn write_helper(tx: &WriteSession<'_>) {
//!     let _ = tx.execute("DELETE FROM client_api.client_address", &[]).await;
//! }
//!
//! async fn handler(db: &Db) {
//!     let replica = db.read(Consistency::Any);
//!     write_helper(&replica).await; // expected `&WriteSession`, found `&ReadSession`
//! }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};

use db_router::{FailureClass, Router, RouterError, Row, WriteTx};

use super::staleness::ReadReport;
use super::{Consistency, Params};
use crate::error::{ApiError, ProblemKind, from_router_error};

mod sealed {
    /// Only this module's sessions can run queries for the service.
    pub trait Sealed {}
}

/// The statements every session runs: the shared surface of [`ReadSession`] and [`WriteSession`].
pub trait Query: sealed::Sealed + Sync {
    /// Runs a statement and returns its rows.
    ///
    /// # Errors
    /// The statement's problem (SQLSTATE mapped), or 503 when the server cannot be reached.
    fn query(&self, sql: &str, params: Params<'_>) -> impl Future<Output = Result<Vec<Row>, ApiError>> + Send;

    /// Runs a statement that returns exactly one row.
    ///
    /// # Errors
    /// As [`Query::query`]; no row or several is a bug (500).
    fn query_one(&self, sql: &str, params: Params<'_>) -> impl Future<Output = Result<Row, ApiError>> + Send {
        async move {
            let mut rows = self.query(sql, params).await?;
            match rows.len() {
                1 => Ok(rows.remove(0)),
                n => Err(ApiError::internal(format!("expected one row, got {n}"))),
            }
        }
    }

    /// Runs a statement that returns at most one row.
    ///
    /// # Errors
    /// As [`Query::query`]; several rows is a bug (500).
    fn query_opt(&self, sql: &str, params: Params<'_>) -> impl Future<Output = Result<Option<Row>, ApiError>> + Send {
        async move {
            let mut rows = self.query(sql, params).await?;
            match rows.len() {
                0 | 1 => Ok(rows.pop()),
                n => Err(ApiError::internal(format!("expected at most one row, got {n}"))),
            }
        }
    }
}

/// Reads with one consistency; each statement is routed on its own (every route satisfies it).
pub struct ReadSession {
    router: Router,
    consistency: Consistency,
}

impl std::fmt::Debug for ReadSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadSession")
            .field("consistency", &self.consistency.label())
            .finish()
    }
}

impl ReadSession {
    pub(super) fn new(router: Router, consistency: Consistency) -> Self {
        Self { router, consistency }
    }
}

impl sealed::Sealed for ReadSession {}

impl Query for ReadSession {
    async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, ApiError> {
        let (rows, route) = self
            .router
            .read(self.consistency)
            .query_routed(sql, params)
            .await
            .map_err(|e| from_router_error(&e))?;
        // How old the data may be, for the response's Pcc-Read-Staleness-Ms.
        ReadReport::record(route.staleness);
        Ok(rows)
    }
}

/// Why an attempt of a write transaction failed in a way a new attempt may not meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transient {
    /// 40001 serialization_failure (PostgreSQL gave up on the transaction because of a concurrent one).
    Serialization,
    /// 40P01 deadlock_detected (PostgreSQL broke a lock cycle by aborting this transaction).
    Deadlock,
    /// A row changed between this transaction's read of it and its write (READ COMMITTED lets a
    /// concurrent commit land in between): the body's own version check failed, not the request's.
    ConcurrentChange,
}

impl Transient {
    /// The failure a router error is, when it is one the transaction can be replayed for.
    pub(super) fn of(error: &RouterError) -> Option<Self> {
        // Writes run on the primary, where db_router classes 40001 and 40P01 as serialization
        // failures (on a standby they would be recovery conflicts).
        if error.class() != Some(FailureClass::SerializationFailure) {
            return None;
        }
        match error.as_db_error().map(|db| db.code().code()) {
            Some("40P01") => Some(Self::Deadlock),
            _ => Some(Self::Serialization),
        }
    }

    /// The reason, for metrics and logs.
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Serialization => "serialization_failure",
            Self::Deadlock => "deadlock_detected",
            Self::ConcurrentChange => "concurrent_change",
        }
    }
}

/// One read-write transaction on the primary, inside [`super::Db::write`]: the transaction body
/// runs its statements here, and the driver commits or rolls back once the body has returned.
///
/// `'env` is the lifetime of what the body borrows from the handler (its parsed request); it lets
/// the body borrow instead of copying for every attempt. (Contravariant, so a wrapper such as the
/// idempotency key's can pass its own session on to the handler's body.)
pub struct WriteSession<'env> {
    // tokio-postgres runs one statement at a time per connection anyway; the lock lets `Query`
    // take `&self` like the read side.
    tx: tokio::sync::Mutex<WriteTx>,
    /// Set when a statement failed for a reason a new attempt may not meet (the transaction is then
    /// aborted, whatever the body made of the error), or when the body reported a race.
    transient: Mutex<Option<Transient>>,
    _env: PhantomData<fn(&'env ())>,
}

impl std::fmt::Debug for WriteSession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSession").finish_non_exhaustive()
    }
}

impl WriteSession<'_> {
    pub(super) fn new(tx: WriteTx) -> Self {
        Self {
            tx: tokio::sync::Mutex::new(tx),
            transient: Mutex::new(None),
            _env: PhantomData,
        }
    }

    /// Runs a statement and returns the number of rows it affected.
    ///
    /// # Errors
    /// As [`Query::query`].
    pub async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, ApiError> {
        let result = self.tx.lock().await.execute(sql, params).await;
        result.map_err(|e| self.failed(&e))
    }

    /// The body's own optimistic check lost to a concurrent commit: a row it read in this transaction
    /// had another version by the time it wrote (an `UPDATE ... WHERE version = $read` that matched no
    /// row, or the schema's PC008 for the version the body passed). The request's own precondition
    /// (`If-Match`) held when the body checked it, so this is a race the caller cannot fix: the driver
    /// runs the transaction again, which reads afresh and checks `If-Match` against what it reads
    /// (a stale one then gets its 412 for good). Returns the 412 answered if it is not run again.
    pub fn changed_concurrently(&self, detail: impl Into<String>) -> ApiError {
        self.note(Transient::ConcurrentChange);
        ApiError::new(ProblemKind::PreconditionFailed, detail)
    }

    /// As [`WriteSession::changed_concurrently`] for an error the body got from a statement that checks
    /// a version the body read itself: a precondition failure becomes a race, anything else stays.
    pub fn raced(&self, error: ApiError) -> ApiError {
        if error.kind == ProblemKind::PreconditionFailed {
            self.note(Transient::ConcurrentChange);
        }
        error
    }

    fn note(&self, transient: Transient) {
        self.transient
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(transient);
    }

    /// Notes a transient failure, then maps the error for the client.
    fn failed(&self, error: &RouterError) -> ApiError {
        if let Some(transient) = Transient::of(error) {
            self.note(transient);
        }
        from_router_error(error)
    }

    /// Whether this attempt failed in a way a new attempt may not meet.
    pub(super) fn transient(&self) -> Option<Transient> {
        *self.transient.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The transaction, for the driver to end.
    pub(super) fn into_tx(self) -> WriteTx {
        self.tx.into_inner()
    }
}

impl sealed::Sealed for WriteSession<'_> {}

impl Query for WriteSession<'_> {
    async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, ApiError> {
        let result = self.tx.lock().await.query(sql, params).await;
        result.map_err(|e| self.failed(&e))
    }
}
