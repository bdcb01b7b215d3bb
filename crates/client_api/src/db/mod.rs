//! Database access with typed intent, through `db_router` (issue 5): handlers say [`Db::write`] (a
//! transaction on the primary whose commit returns a consistency token) or [`Db::read`] with a
//! [`Consistency`] (Strong: the primary; ReadYourWrites: a replica that has replayed the token; Any: the
//! replica for lists and reports). Nothing is routed by inspecting SQL.
//!
//! [`Session`] gives both kinds the same small query surface, so lookups shared by read and write handlers
//! (`clients::load`, ...) take one type. Single-statement reads run on db_router's shared, pipelined
//! sessions (statements prepared once per session); write transactions on dedicated pooled connections.
//! Every database error becomes an [`ApiError`] here (`error::from_router_error`).

mod staleness;

use db_router::{Row, ToSql, WriteTx};
use tokio::sync::Mutex;

pub use db_router::{Consistency, ConsistencyToken, Router, RouterConfig};
pub use staleness::{READS, ReadReport};

use crate::error::{ApiError, from_router_error};

/// The header that carries consistency tokens both ways.
pub const TOKEN_HEADER: &str = "pcc-consistency-token";

/// Query parameters.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The service's database: a db_router [`Router`] over the primary and the replica.
#[derive(Clone)]
pub struct Db {
    router: Router,
    idempotency_ttl: std::time::Duration,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Wraps a started router.
    pub fn new(router: Router) -> Self {
        Self {
            router,
            idempotency_ttl: std::time::Duration::from_secs(86_400),
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

    /// The router (status for /readyz).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Starts a write transaction on the primary whose audit columns name `actor` (`pcc.actor`, V1).
    ///
    /// # Errors
    /// 503 problems when the primary is down or every pooled connection is busy (load shedding).
    pub async fn write(&self, actor: &str) -> Result<Session, ApiError> {
        let mut tx = self
            .router
            .write()
            .transaction()
            .await
            .map_err(|e| from_router_error(&e))?;
        tx.execute("SELECT pg_catalog.set_config('pcc.actor', $1, true)", &[&actor])
            .await
            .map_err(|e| from_router_error(&e))?;
        Ok(Session {
            kind: Kind::Write(Box::new(Mutex::new(Some(tx)))),
        })
    }

    /// Reads with `consistency`; each statement is routed on its own (all satisfy the consistency).
    ///
    /// # Errors
    /// Never at this point; statements report routing failures.
    #[allow(clippy::unused_async)] // the same shape as `write`, so handlers read alike
    pub async fn read(&self, consistency: Consistency) -> Result<Session, ApiError> {
        Ok(Session {
            kind: Kind::Read {
                router: self.router.clone(),
                consistency,
            },
        })
    }
}

enum Kind {
    Write(Box<Mutex<Option<WriteTx>>>),
    Read { router: Router, consistency: Consistency },
}

/// A write transaction or a read context, with one query surface.
pub struct Session {
    kind: Kind,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Write(_) => "write",
            Kind::Read { .. } => "read",
        };
        f.debug_struct("Session").field("kind", &kind).finish()
    }
}

impl Session {
    /// Runs a statement and returns its rows.
    ///
    /// # Errors
    /// The statement's problem (SQLSTATE mapped), or 503 when the server cannot be reached.
    pub async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, ApiError> {
        let result = match &self.kind {
            Kind::Write(tx) => {
                let mut guard = tx.lock().await;
                let tx = guard
                    .as_mut()
                    .ok_or_else(|| ApiError::internal("transaction already finished"))?;
                tx.query(sql, params).await
            }
            Kind::Read { router, consistency } => {
                router
                    .read(*consistency)
                    .query_routed(sql, params)
                    .await
                    .map(|(rows, route)| {
                        // How old the data may be, for the response's Pcc-Read-Staleness-Ms.
                        ReadReport::record(route.staleness);
                        rows
                    })
            }
        };
        result.map_err(|e| from_router_error(&e))
    }

    /// Runs a statement that returns exactly one row.
    ///
    /// # Errors
    /// As [`Session::query`]; no row or several is a bug (500).
    pub async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, ApiError> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(ApiError::internal(format!("expected one row, got {n}"))),
        }
    }

    /// Runs a statement that returns at most one row.
    ///
    /// # Errors
    /// As [`Session::query`]; several rows is a bug (500).
    pub async fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, ApiError> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(ApiError::internal(format!("expected at most one row, got {n}"))),
        }
    }

    /// Runs a statement and returns the number of rows it affected (write sessions).
    ///
    /// # Errors
    /// As [`Session::query`].
    pub async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, ApiError> {
        match &self.kind {
            Kind::Write(tx) => {
                let mut guard = tx.lock().await;
                let tx = guard
                    .as_mut()
                    .ok_or_else(|| ApiError::internal("transaction already finished"))?;
                tx.execute(sql, params).await.map_err(|e| from_router_error(&e))
            }
            Kind::Read { .. } => Err(ApiError::internal("execute on a read session")),
        }
    }

    /// Rolls a write session back (a read session has nothing to roll back).
    ///
    /// # Errors
    /// The connection failed (the router discards it then).
    pub async fn rollback(mut self) -> Result<(), ApiError> {
        match self.take_tx() {
            Some(tx) => tx.rollback().await.map_err(|e| from_router_error(&e)),
            None => Ok(()),
        }
    }

    fn take_tx(&mut self) -> Option<WriteTx> {
        match &mut self.kind {
            Kind::Write(tx) => tx.get_mut().take(),
            Kind::Read { .. } => None,
        }
    }

    /// Commits a write session and returns the token covering it.
    ///
    /// # Errors
    /// The commit's problem (a deferred constraint, a lost connection): nothing was written.
    pub async fn commit(mut self) -> Result<ConsistencyToken, ApiError> {
        let tx = self
            .take_tx()
            .ok_or_else(|| ApiError::internal("commit on a read session or a finished transaction"))?;
        tx.commit().await.map_err(|e| from_router_error(&e))
    }
}
