//! Database access with typed intent: handlers say [`Db::write`] (primary, one transaction, returns a
//! consistency token on commit) or [`Db::read`] with a [`Consistency`] (primary, or the replica when it is
//! fresh enough). Nothing is routed by inspecting SQL.
//!
//! Stand-in for `crates/db_router` (issue 5), which was not usable yet when this service was built: the same
//! intent API over two deadpool pools (`pool.rs`), a replica-position monitor (`monitor.rs`) and WAL-position
//! tokens (`token.rs`). Replacing it with db_router changes this module only.

mod credentials;
mod monitor;
mod pool;
mod token;

pub use credentials::Credentials;
pub use monitor::{ReplicaState, spawn_monitor};
pub use pool::{Conn, ConnectFailure, Manager, Pool, Role, Session, build as build_pool};
pub use token::{ConsistencyToken, HEADER as TOKEN_HEADER, TokenError};

use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::managed::PoolError;
use tokio_postgres::Client;

use crate::error::ApiError;

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// The primary: sees every committed write.
    Strong,
    /// A replica that has replayed past the token (waits briefly), else the primary.
    ReadYourWrites(ConsistencyToken),
    /// A replica at most this far behind, else the primary.
    BoundedStaleness(Duration),
    /// The replica when there is one (lists, reports), else the primary.
    Any,
}

impl Consistency {
    fn label(self) -> &'static str {
        match self {
            Consistency::Strong => "strong",
            Consistency::ReadYourWrites(_) => "read_your_writes",
            Consistency::BoundedStaleness(_) => "bounded_staleness",
            Consistency::Any => "any",
        }
    }
}

/// The service's two pools and what it knows about the replica.
#[derive(Debug, Clone)]
pub struct Db {
    primary: Pool,
    replica: Option<Pool>,
    replica_state: Arc<ReplicaState>,
    /// How long a read-your-writes read waits for the replica before it goes to the primary.
    ryw_wait: Duration,
}

impl Db {
    /// Pools for the primary and (optionally) the replica.
    pub fn new(primary: Pool, replica: Option<Pool>, ryw_wait: Duration) -> Self {
        Self {
            primary,
            replica,
            replica_state: Arc::new(ReplicaState::default()),
            ryw_wait,
        }
    }

    /// The primary pool.
    pub fn primary_pool(&self) -> &Pool {
        &self.primary
    }

    /// The replica pool, when configured.
    pub fn replica_pool(&self) -> Option<&Pool> {
        self.replica.as_ref()
    }

    /// What the monitor last saw of the replica.
    pub fn replica_state(&self) -> &Arc<ReplicaState> {
        &self.replica_state
    }

    /// Starts a write transaction on the primary, recording `actor` for the audit columns.
    ///
    /// # Errors
    /// 503 problems when the pool is exhausted or the primary is unreachable.
    pub async fn write(&self, actor: &str) -> Result<WriteTx, ApiError> {
        let conn = checkout(&self.primary, Role::Primary).await?;
        let begin = format!(
            "BEGIN; SELECT pg_catalog.set_config('pcc.actor', {}, true)",
            quote_literal(actor)
        );
        conn.batch_execute(&begin).await?;
        Ok(WriteTx { conn: Some(conn) })
    }

    /// A session for reading with the given consistency.
    ///
    /// # Errors
    /// 503 problems when no server can serve the read.
    pub async fn read(&self, consistency: Consistency) -> Result<ReadConn, ApiError> {
        let target = self.route(consistency).await;
        metrics::counter!("db_reads_total", "target" => target.0.as_str(), "consistency" => consistency.label())
            .increment(1);
        match target {
            (Role::Replica, Some(conn)) => Ok(ReadConn {
                conn,
                served_by: Role::Replica,
            }),
            _ => Ok(ReadConn {
                conn: checkout(&self.primary, Role::Primary).await?,
                served_by: Role::Primary,
            }),
        }
    }

    async fn route(&self, consistency: Consistency) -> (Role, Option<Conn>) {
        let Some(replica) = &self.replica else {
            return (Role::Primary, None);
        };
        let state = &self.replica_state;
        let eligible = match consistency {
            Consistency::Strong => false,
            Consistency::Any => state.is_up(),
            Consistency::BoundedStaleness(max) => state.is_up() && state.lag() <= max,
            Consistency::ReadYourWrites(_) => state.is_up(),
        };
        if !eligible {
            if consistency != Consistency::Strong {
                metrics::counter!("db_replica_fallbacks_total", "reason" => "replica_unavailable_or_stale")
                    .increment(1);
            }
            return (Role::Primary, None);
        }
        let Ok(conn) = replica.timeout_get(&short_timeouts()).await else {
            metrics::counter!("db_replica_fallbacks_total", "reason" => "replica_checkout").increment(1);
            return (Role::Primary, None);
        };
        if let Consistency::ReadYourWrites(token) = consistency
            && !self.wait_for_replay(&conn, token).await
        {
            metrics::counter!("db_replica_fallbacks_total", "reason" => "token_not_replayed").increment(1);
            return (Role::Primary, None);
        }
        (Role::Replica, Some(conn))
    }

    /// True once the replica behind `conn` has replayed past `token` (waiting up to `ryw_wait`).
    async fn wait_for_replay(&self, conn: &Client, token: ConsistencyToken) -> bool {
        if self.replica_state.replayed() >= token.0 {
            return true;
        }
        let deadline = Instant::now() + self.ryw_wait;
        loop {
            let replayed = conn
                .query_one("SELECT pg_catalog.pg_last_wal_replay_lsn()::text", &[])
                .await
                .ok()
                .and_then(|row| row.get::<_, Option<String>>(0))
                .and_then(|text| ConsistencyToken::from_pg_lsn(&text));
            match replayed {
                Some(position) if position >= token => {
                    self.replica_state.observe_replayed(position.0);
                    return true;
                }
                None => return false,
                Some(_) if Instant::now() >= deadline => return false,
                Some(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    }
}

fn short_timeouts() -> deadpool::managed::Timeouts {
    deadpool::managed::Timeouts {
        wait: Some(Duration::from_millis(50)),
        create: Some(Duration::from_secs(2)),
        recycle: Some(Duration::from_secs(1)),
    }
}

async fn checkout(pool: &Pool, role: Role) -> Result<Conn, ApiError> {
    let started = Instant::now();
    let result = pool.get().await;
    metrics::histogram!("db_checkout_seconds", "role" => role.as_str()).record(started.elapsed().as_secs_f64());
    result.map_err(|e| match e {
        PoolError::Timeout(_) => {
            metrics::counter!("db_pool_exhausted_total", "role" => role.as_str()).increment(1);
            ApiError::unavailable(format!("all {} connections are busy; retry shortly", role.as_str()), 1)
        }
        PoolError::Backend(e) => {
            tracing::warn!(db.role = role.as_str(), error = %e, "database unavailable");
            ApiError::unavailable(format!("the {} database is not reachable", role.as_str()), 2)
        }
        other => ApiError::unavailable(format!("the {} pool is not available: {other:?}", role.as_str()), 2),
    })
}

/// A SQL string literal (standard_conforming_strings is on in every supported server).
fn quote_literal(text: &str) -> String {
    let cleaned: String = text.chars().filter(|c| *c != '\0').collect();
    format!("'{}'", cleaned.replace('\'', "''"))
}

/// A write transaction on the primary. Dropped without [`WriteTx::commit`], it rolls back.
#[derive(Debug)]
pub struct WriteTx {
    conn: Option<Conn>,
}

impl WriteTx {
    /// Commits and returns the consistency token covering this write: the WAL insert position after the
    /// commit, which is past the commit record even with `synchronous_commit = off` (where the write
    /// position can still be behind it).
    ///
    /// # Errors
    /// The commit's error (a deferred constraint, a lost connection): nothing was written.
    pub async fn commit(mut self) -> Result<ConsistencyToken, ApiError> {
        let Some(conn) = self.conn.take() else {
            return Err(ApiError::internal("transaction already finished"));
        };
        conn.batch_execute("COMMIT").await?;
        let row = conn
            .query_one("SELECT pg_catalog.pg_current_wal_insert_lsn()::text", &[])
            .await?;
        let text: String = row.get(0);
        ConsistencyToken::from_pg_lsn(&text).ok_or_else(|| ApiError::internal(format!("unexpected pg_lsn {text}")))
    }

    /// Rolls back explicitly (e.g. an idempotent replay that must not write).
    ///
    /// # Errors
    /// The server's error.
    pub async fn rollback(mut self) -> Result<(), ApiError> {
        if let Some(conn) = self.conn.take() {
            conn.batch_execute("ROLLBACK").await?;
        }
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.conn
            .as_deref()
            .unwrap_or_else(|| unreachable!("WriteTx used after commit"))
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // The session is mid-transaction: roll back before it returns to the pool. Without a runtime (at
            // shutdown) the session is detached and closed instead.
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(async move {
                        if conn.batch_execute("ROLLBACK").await.is_err() {
                            let _ = deadpool::managed::Object::take(conn);
                        }
                    });
                }
                Err(_) => {
                    let _ = deadpool::managed::Object::take(conn);
                }
            }
        }
    }
}

/// A session for reads, with the server that serves it.
#[derive(Debug)]
pub struct ReadConn {
    conn: Conn,
    /// Which server answers.
    pub served_by: Role,
}

impl Deref for ReadConn {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::quote_literal;

    #[test]
    fn literals_double_quotes_and_drop_nul() {
        assert_eq!(quote_literal("o'brien"), "'o''brien'");
        assert_eq!(quote_literal("a\0b"), "'ab'");
    }
}
