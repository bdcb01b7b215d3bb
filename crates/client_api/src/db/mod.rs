//! Database access with typed intent, through `db_router`. Handlers say [`Db::read`] with a
//! [`Consistency`] (Strong: the primary; ReadYourWrites: a replica that has replayed the token; Any: the
//! replica for lists and reports) and get a [`ReadSession`], or [`Db::write`] with a transaction body
//! that runs on a [`WriteSession`] (a transaction on the primary whose commit returns a consistency
//! token). The two are different types (`session.rs`): only a write session can `execute`, and
//! helpers that write take one, so a replica session cannot reach them. Nothing is routed by
//! inspecting SQL.
//!
//! A write's body is a closure the driver may call more than once (`retry.rs`): a transaction that
//! PostgreSQL aborts because of a concurrent one (40001, 40P01) is rolled back and run again from the
//! request, a bounded number of times, before the request gets 503. Single-statement reads run on
//! db_router's shared, pipelined sessions (statements prepared once per session); write transactions on
//! dedicated pooled connections. Every database error becomes an [`ApiError`] here
//! (`error::from_router_error`).

pub mod connection_limit;
mod retry;
mod session;
mod staleness;

use std::sync::Arc;

use db_router::ToSql;
use futures_util::future::BoxFuture;

pub use db_router::{Committed, Consistency, ConsistencyToken, Router, RouterConfig};
pub use retry::WriteRetryStats;
pub use session::{Query, ReadSession, WriteSession};
pub use staleness::{READS, ReadReport};

use crate::config::WriteRetryConfig;
use crate::error::ApiError;

/// The header that carries consistency tokens both ways.
pub const TOKEN_HEADER: &str = "pcc-consistency-token";

/// Query parameters.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// What a transaction body returns: a future borrowing the session for `'s`.
pub type TxBody<'s, T> = BoxFuture<'s, Result<T, ApiError>>;

/// The service's database: a db_router [`Router`] over the primary and the replica, and how write
/// transactions are retried.
#[derive(Clone)]
pub struct Db {
    router: Router,
    idempotency_ttl: std::time::Duration,
    retry: WriteRetryConfig,
    retries: Arc<retry::Counters>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("retry", &self.retry).finish_non_exhaustive()
    }
}

impl Db {
    /// Wraps a started router, with the default retries of [`WriteRetryConfig`].
    pub fn new(router: Router) -> Self {
        Self {
            router,
            idempotency_ttl: std::time::Duration::from_secs(86_400),
            retry: WriteRetryConfig::default(),
            retries: Arc::default(),
        }
    }

    /// Keeps `Idempotency-Key` responses for `ttl` (default 24 h; `PCC_IDEMPOTENCY_TTL_S`).
    #[must_use]
    pub fn with_idempotency_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.idempotency_ttl = ttl;
        self
    }

    /// How long a stored `Idempotency-Key` response is replayed.
    pub fn idempotency_ttl(&self) -> std::time::Duration {
        self.idempotency_ttl
    }

    /// The same database with other write retries (`PCC_DB_WRITE_RETRIES`, ...).
    #[must_use]
    pub fn with_write_retry(mut self, retry: WriteRetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The router (status for /readyz).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Retries of write transactions so far.
    pub fn write_retry_stats(&self) -> WriteRetryStats {
        self.retries.snapshot()
    }

    /// Reads with `consistency`; each statement is routed on its own (all satisfy the consistency).
    pub fn read(&self, consistency: Consistency) -> ReadSession {
        ReadSession::new(self.router.clone(), consistency)
    }

    /// Runs `body` in a write transaction on the primary whose audit columns and change history name `actor`
    /// (`pcc.actor`, V1) and the request being served (`pcc.request_id`, V10), commits, and returns the body's
    /// value with the commit's token. `body` may run more than once (see the module docs): it builds everything
    /// from the request, borrowed for `'env`, and its session.
    ///
    /// ```no_run
    /// # use client_api::db::{Db, Query as _};
    /// # async fn demo(db: &Db, id: uuid::Uuid, owner: &str) -> Result<(), client_api::ApiError> {
    /// let written = db
    ///     .write("alice", |tx| {
    ///         Box::pin(async move {
    ///             tx.execute("UPDATE client_api.client SET owner = $2 WHERE id = $1", &[&id, &owner])
    ///                 .await
    ///         })
    ///     })
    ///     .await?;
    /// let (updated, token) = (written.value, written.token);
    /// # let _ = (updated, token); Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The body's error (the transaction is rolled back); 503 when the primary is down, every pooled
    /// connection is busy (load shedding), or the transaction still collided after its last retry.
    pub async fn write<'env, T, F>(&self, actor: &str, body: F) -> Result<Committed<T>, ApiError>
    where
        F: for<'s> FnMut(&'s WriteSession<'env>) -> TxBody<'s, T>,
    {
        match retry::run(self, self.retry, actor, body, |_| true).await? {
            retry::Ended::Committed(committed) => Ok(committed),
            // `keep` above always keeps.
            retry::Ended::RolledBack(_) => Err(ApiError::internal("a write transaction was rolled back unasked")),
        }
    }

    /// As [`Db::write`], but the body's value decides whether its transaction commits: `keep(&value)` false rolls
    /// it back (a dry run, e.g. an import in `validate` mode) and still answers the value, with no token
    /// (`None`: nothing was written).
    ///
    /// # Errors
    /// As [`Db::write`].
    pub async fn write_or_roll_back<'env, T, F>(
        &self,
        actor: &str,
        body: F,
        keep: fn(&T) -> bool,
    ) -> Result<(T, Option<ConsistencyToken>), ApiError>
    where
        F: for<'s> FnMut(&'s WriteSession<'env>) -> TxBody<'s, T>,
    {
        match retry::run(self, self.retry, actor, body, keep).await? {
            retry::Ended::Committed(Committed { value, token }) => Ok((value, Some(token))),
            retry::Ended::RolledBack(value) => Ok((value, None)),
        }
    }

    /// A read-only snapshot transaction (REPEATABLE READ) routed by `consistency`: the replica for `Any`. For
    /// reads that span many statements over one snapshot (an export's cursor).
    ///
    /// # Errors
    /// 503 when no server can serve it.
    pub async fn snapshot(&self, consistency: Consistency) -> Result<db_router::ReadTx, ApiError> {
        self.router
            .read(consistency)
            .transaction()
            .await
            .map_err(|e| crate::error::from_router_error(&e))
    }
}
