//! Writes: always the primary, through dedicated pooled connections (the type offers no way to
//! hand a write to a replica). Every write returns a [`ConsistencyToken`]; while the primary is
//! known to be down, writes fail at once with the time of the next reconnect attempt.

use std::time::Instant;

use tokio_postgres::Row;

use crate::conn::retry_stale;
use crate::consistency::{ConsistencyToken, Lsn};
use crate::error::RouterError;
use crate::pool::Pooled;
use crate::read::{Params, exactly_one};
use crate::router::{Inner, Router};
use crate::tx::{Isolation, WriteTx};

/// The result of a committed write and the token that makes a later read see it.
#[derive(Debug)]
pub struct Committed<T> {
    /// What the statement returned.
    pub value: T,
    /// Pass to [`crate::Consistency::ReadYourWrites`].
    pub token: ConsistencyToken,
}

/// Writes on the primary.
pub struct Write<'r> {
    router: &'r Router,
}

impl<'r> Write<'r> {
    pub(crate) fn new(router: &'r Router) -> Self {
        Write { router }
    }

    async fn checkout(&self) -> Result<Pooled, RouterError> {
        let inner = &self.router.inner;
        if inner.primary.is_down() {
            inner.metrics.fast_failure();
            return Err(inner.primary.unavailable());
        }
        inner.primary.checkout().await
    }

    /// One statement in its own transaction; returns its rows and a token.
    ///
    /// # Errors
    /// `PrimaryUnavailable` at once while the primary is down; the server's error otherwise.
    pub async fn query(&self, sql: &str, params: Params<'_>) -> Result<Committed<Vec<Row>>, RouterError> {
        let core = &self.router.inner.primary.core;
        let conn = self.checkout().await?;
        let asked = Instant::now();
        let result = retry_stale(&conn, sql, || async {
            let statement = Inner::bounded(core, conn.statement(sql)).await?;
            // The statement and the position query are pipelined; the position is read after
            // the statement's implicit commit on the same session.
            Inner::bounded(core, async {
                let (rows, lsn) = tokio::join!(conn.client.query(&statement, params), conn.probe());
                rows.map(|rows| (rows, lsn))
            })
            .await
        })
        .await;
        self.committed(&conn, asked, result)
    }

    /// One statement that returns exactly one row (e.g. `INSERT ... RETURNING`).
    ///
    /// # Errors
    /// As [`Write::query`], plus a row count other than one (the statement is committed).
    pub async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Committed<Row>, RouterError> {
        let Committed { value, token } = self.query(sql, params).await?;
        Ok(Committed {
            value: exactly_one(value)?,
            token,
        })
    }

    /// One statement; returns the number of affected rows.
    ///
    /// # Errors
    /// As [`Write::query`].
    pub async fn execute(&self, sql: &str, params: Params<'_>) -> Result<Committed<u64>, RouterError> {
        // `query` returns the rows; for a count we need the command tag, so run it as execute.
        let core = &self.router.inner.primary.core;
        let conn = self.checkout().await?;
        let asked = Instant::now();
        let result = retry_stale(&conn, sql, || async {
            let statement = Inner::bounded(core, conn.statement(sql)).await?;
            Inner::bounded(core, async {
                let (count, lsn) = tokio::join!(conn.client.execute(&statement, params), conn.probe());
                count.map(|count| (count, lsn))
            })
            .await
        })
        .await;
        self.committed(&conn, asked, result)
    }

    /// The outcome of a statement run with the position query pipelined behind it: the value with
    /// a token for the position read after the commit, or the failure reported against the primary.
    /// (A plain fn rather than a shared async runner taking the statement as a closure: futures of
    /// higher-ranked async closures are not provably `Send`, and callers spawn these writes.)
    fn committed<T>(
        &self,
        conn: &Pooled,
        asked: Instant,
        result: Result<(T, Result<Option<Lsn>, tokio_postgres::Error>), RouterError>,
    ) -> Result<Committed<T>, RouterError> {
        let inner = &self.router.inner;
        match result {
            Ok((value, lsn)) => {
                let lsn = match lsn {
                    Ok(Some(lsn)) => {
                        inner.saw_primary(asked, lsn);
                        lsn
                    }
                    // Committed, but the position is unknown: a token only the primary satisfies.
                    _ => Lsn(u64::MAX),
                };
                inner.metrics.write();
                Ok(Committed {
                    value,
                    token: ConsistencyToken::at(lsn),
                })
            }
            Err(err) => {
                Inner::failed(&inner.primary, conn, &err);
                Err(err)
            }
        }
    }

    /// Starts a read-write transaction (READ COMMITTED).
    ///
    /// # Errors
    /// `PrimaryUnavailable` at once while the primary is down; `CheckoutTimeout`.
    pub async fn transaction(&self) -> Result<WriteTx, RouterError> {
        self.transaction_with(Isolation::ReadCommitted).await
    }

    /// Starts a read-write transaction at an isolation level.
    ///
    /// # Errors
    /// As [`Write::transaction`].
    pub async fn transaction_with(&self, isolation: Isolation) -> Result<WriteTx, RouterError> {
        let conn = self.checkout().await?;
        WriteTx::begin(self.router.inner.clone(), conn, isolation).await
    }
}
