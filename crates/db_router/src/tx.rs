//! Transactions on dedicated pooled connections: [`WriteTx`] on the primary (its commit returns
//! a consistency token, fetched in the same round trip as the COMMIT) and [`ReadTx`], a
//! read-only snapshot on whichever side the read's consistency chose.
//!
//! A transaction dropped without `commit`/`rollback` (an error path, a cancelled request) is
//! rolled back at once on a spawned task, which then returns the connection to the pool: its row
//! and advisory locks must not outlive the request that took them. (Without a runtime, the pool
//! rolls back when the connection is next checked out.) After a failed statement, `commit` rolls back and reports
//! [`RouterError::Aborted`] (PostgreSQL would silently turn the COMMIT into a ROLLBACK).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use conninfo::HostSpec;
use tokio_postgres::{Client, Row};

use crate::class::Target;
use crate::conn::stale_plan;
use crate::consistency::{ConsistencyToken, Lsn};
use crate::error::RouterError;
use crate::pool::Pooled;
use crate::read::{Params, exactly_one};
use crate::router::Inner;
use crate::side::Side;

/// How a read transaction starts: one snapshot (taken by its first statement), read-only.
const READ_TX_BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// Isolation level of a write transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// PostgreSQL's default.
    #[default]
    ReadCommitted,
    /// One snapshot for the whole transaction.
    RepeatableRead,
    /// Serializable; be ready to retry on 40001.
    Serializable,
}

impl Isolation {
    fn begin(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "BEGIN",
            Isolation::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }
}

/// The connection of a transaction and what happened on it.
struct TxConn {
    inner: Arc<Inner>,
    target: Target,
    conn: Held,
    failed: bool,
}

/// A transaction's pooled connection; see the module docs for what happens when it is dropped
/// with the transaction still open.
struct Held(Option<Pooled>);

impl Deref for Held {
    type Target = Pooled;

    fn deref(&self) -> &Pooled {
        // Only `drop` takes the connection out.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("transaction connection used after drop"))
    }
}

impl DerefMut for Held {
    fn deref_mut(&mut self) -> &mut Pooled {
        self.0
            .as_mut()
            .unwrap_or_else(|| unreachable!("transaction connection used after drop"))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(conn) = self.0.take() else { return };
        if !conn.in_transaction.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // the pool's recycle rolls back
        };
        runtime.spawn(async move {
            if conn.client.batch_execute("ROLLBACK").await.is_ok() {
                conn.in_transaction.store(false, Ordering::Relaxed);
            }
            // Back to the pool now (recycle discards it if the ROLLBACK did not get through).
            drop(conn);
        });
    }
}

impl TxConn {
    async fn begin(inner: Arc<Inner>, target: Target, conn: Pooled, begin: &str) -> Result<Self, RouterError> {
        let mut tx = TxConn {
            inner,
            target,
            conn: Held(Some(conn)),
            failed: false,
        };
        tx.conn.in_transaction.store(true, Ordering::Relaxed);
        tx.batch(begin).await?;
        Ok(tx)
    }

    fn side(&self) -> &Arc<Side> {
        match self.target {
            Target::Primary => &self.inner.primary,
            Target::Replica => self
                .inner
                .replica
                .as_ref()
                .unwrap_or_else(|| unreachable!("replica transaction")),
        }
    }

    /// A statement failed: inside a transaction a retry is impossible (it is aborted), but a
    /// stale cached plan is dropped so the next transaction prepares afresh.
    fn fail_statement(&mut self, sql: &str, err: RouterError) -> RouterError {
        if stale_plan(&err) {
            self.conn.forget(sql);
        }
        self.fail(err)
    }

    fn fail(&mut self, err: RouterError) -> RouterError {
        self.failed = true;
        Inner::failed(self.side(), &self.conn, &err);
        err
    }

    async fn batch(&mut self, sql: &str) -> Result<(), RouterError> {
        let result = Inner::bounded(&self.side().core, self.conn.client.batch_execute(sql)).await;
        result.map_err(|err| self.fail(err))
    }

    async fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, RouterError> {
        let core = &self.side().core;
        let result = async {
            let statement = Inner::bounded(core, self.conn.statement(sql)).await?;
            Inner::bounded(core, self.conn.client.query(&statement, params)).await
        }
        .await;
        result.map_err(|err| self.fail_statement(sql, err))
    }

    async fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, RouterError> {
        let core = &self.side().core;
        let result = async {
            let statement = Inner::bounded(core, self.conn.statement(sql)).await?;
            Inner::bounded(core, self.conn.client.execute(&statement, params)).await
        }
        .await;
        result.map_err(|err| self.fail_statement(sql, err))
    }

    /// Ends the transaction; on the primary also returns the WAL position right after it.
    async fn finish(mut self, commit: bool) -> Result<Option<Lsn>, RouterError> {
        if self.failed || !commit {
            self.batch("ROLLBACK").await?;
            self.conn.in_transaction.store(false, Ordering::Relaxed);
            return if commit { Err(RouterError::Aborted) } else { Ok(None) };
        }
        let core = &self.side().core;
        let client = &self.conn.client;
        let position = if self.target == Target::Primary {
            // COMMIT and the position query are pipelined: one round trip, and the position is
            // read after the commit record on this same session.
            let lsn = Inner::bounded(core, async {
                let (committed, lsn) = tokio::join!(client.batch_execute("COMMIT"), self.conn.probe());
                committed.map(|()| lsn)
            })
            .await
            .map_err(|err| self.fail(err))?;
            Some(lsn.ok().flatten().unwrap_or(Lsn(u64::MAX)))
        } else {
            Inner::bounded(core, client.batch_execute("COMMIT"))
                .await
                .map_err(|err| self.fail(err))?;
            None
        };
        self.conn.in_transaction.store(false, Ordering::Relaxed);
        Ok(position)
    }
}

/// A read-write transaction on the primary.
pub struct WriteTx {
    tx: TxConn,
}

impl WriteTx {
    pub(crate) async fn begin(inner: Arc<Inner>, conn: Pooled, isolation: Isolation) -> Result<Self, RouterError> {
        Ok(WriteTx {
            tx: TxConn::begin(inner, Target::Primary, conn, isolation.begin()).await?,
        })
    }

    /// The underlying client, for what the helpers do not cover (COPY, portals).
    pub fn client(&self) -> &Client {
        &self.tx.conn.client
    }

    /// Runs a statement and returns its rows (statements are prepared once per connection).
    ///
    /// # Errors
    /// The server's error; the transaction is then aborted.
    pub async fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, RouterError> {
        self.tx.query(sql, params).await
    }

    /// Runs a statement that returns exactly one row.
    ///
    /// # Errors
    /// As [`WriteTx::query`], plus a row count other than one.
    pub async fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, RouterError> {
        exactly_one(self.tx.query(sql, params).await?)
    }

    /// Runs a statement that returns at most one row.
    ///
    /// # Errors
    /// As [`WriteTx::query`], plus more than one row.
    pub async fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>, RouterError> {
        let mut rows = self.tx.query(sql, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(RouterError::RowCount {
                expected: "at most one",
                got: n,
            }),
        }
    }

    /// Runs a statement and returns the number of rows it affected.
    ///
    /// # Errors
    /// As [`WriteTx::query`].
    pub async fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, RouterError> {
        self.tx.execute(sql, params).await
    }

    /// Runs statements without parameters (simple protocol), e.g. `SET LOCAL ...`.
    ///
    /// # Errors
    /// As [`WriteTx::query`].
    pub async fn batch_execute(&mut self, sql: &str) -> Result<(), RouterError> {
        self.tx.batch(sql).await
    }

    /// Commits and returns the token a later read passes to see this transaction's writes.
    ///
    /// # Errors
    /// The commit's error (e.g. 40001), or [`RouterError::Aborted`] after a failed statement.
    pub async fn commit(self) -> Result<ConsistencyToken, RouterError> {
        let inner = self.tx.inner.clone();
        let asked = Instant::now();
        let lsn = self.tx.finish(true).await?.unwrap_or(Lsn(u64::MAX));
        if lsn.0 != u64::MAX {
            inner.saw_primary(asked, lsn);
        }
        inner.metrics.write();
        Ok(ConsistencyToken::at(lsn))
    }

    /// Rolls back.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn rollback(self) -> Result<(), RouterError> {
        self.tx.finish(false).await.map(drop)
    }
}

/// A read-only snapshot transaction.
pub struct ReadTx {
    tx: TxConn,
}

impl ReadTx {
    pub(crate) async fn begin(inner: Arc<Inner>, target: Target, conn: Pooled) -> Result<Self, RouterError> {
        Ok(ReadTx {
            tx: TxConn::begin(inner, target, conn, READ_TX_BEGIN).await?,
        })
    }

    /// A replica transaction whose connection's own replay position is read in the round trip of the
    /// `BEGIN`, by a probe that runs before it (so before the snapshot, which the first statement takes):
    /// the snapshot holds at least what the probe reports.
    pub(crate) async fn begin_probed(inner: Arc<Inner>, conn: Pooled) -> Result<(Self, Option<Lsn>), RouterError> {
        let mut tx = TxConn {
            inner,
            target: Target::Replica,
            conn: Held(Some(conn)),
            failed: false,
        };
        tx.conn.in_transaction.store(true, Ordering::Relaxed);
        let core = &tx.side().core;
        let conn = &tx.conn;
        let probed = Inner::bounded(core, async {
            let (probe, begun) = tokio::join!(
                biased;
                conn.probe(),
                conn.client.batch_execute(READ_TX_BEGIN)
            );
            begun.map(|()| probe)
        })
        .await;
        let position = match probed {
            Ok(probe) => probe.ok().flatten(),
            Err(err) => return Err(tx.fail(err)),
        };
        if let (Some(lag), Some(lsn)) = (tx.conn.lag.as_ref(), position) {
            lag.update(lsn);
        }
        Ok((ReadTx { tx }, position))
    }

    /// Where it runs.
    pub fn target(&self) -> Target {
        self.tx.target
    }

    /// The host it runs on.
    pub fn host(&self) -> &HostSpec {
        &self.tx.conn.host.host
    }

    /// Runs a statement and returns its rows.
    ///
    /// # Errors
    /// The server's error; the transaction is then aborted.
    pub async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, RouterError> {
        // Reads do not change the transaction's state on success; a failure marks it through
        // the pool's rollback on return, so `&self` suffices here.
        let core = &self.tx.side().core;
        let result = async {
            let statement = Inner::bounded(core, self.tx.conn.statement(sql)).await?;
            Inner::bounded(core, self.tx.conn.client.query(&statement, params)).await
        }
        .await;
        result.inspect_err(|err| {
            if stale_plan(err) {
                self.tx.conn.forget(sql);
            }
            Inner::failed(self.tx.side(), &self.tx.conn, err);
        })
    }

    /// Runs a statement that returns exactly one row.
    ///
    /// # Errors
    /// As [`ReadTx::query`], plus a row count other than one.
    pub async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, RouterError> {
        exactly_one(self.query(sql, params).await?)
    }

    /// Ends the snapshot.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn commit(self) -> Result<(), RouterError> {
        self.tx.finish(true).await.map(drop)
    }
}
