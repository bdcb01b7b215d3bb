//! Reads: where a read goes for its consistency, the bounded wait for a token, the budgeted
//! fallback to the primary, and the two ways to run it (a pipelined single statement on a
//! shared session, or a read-only transaction on a dedicated connection).
//!
//! Every read session is read-only, on the primary too (`default_transaction_read_only=on`
//! for shared sessions, `BEGIN ... READ ONLY` for transactions), so a write sent through a read
//! fails the same way wherever it is routed.

mod route;

use std::sync::Arc;
use std::time::Duration;

use conninfo::HostSpec;
use tokio_postgres::Row;
use tokio_postgres::types::{PgLsn, ToSql};

use crate::class::{FailureClass, FallbackReason, Target};
use crate::conn::{OpenConn, retry_stale};
use crate::consistency::Consistency;
use crate::error::RouterError;
use crate::router::{Inner, Router};
use crate::tx::ReadTx;
use route::Choice;

/// Query parameters, as tokio-postgres takes them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Where a read was served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Primary or replica.
    pub target: Target,
    /// The host.
    pub host: HostSpec,
    /// Why a read meant for a replica went to the primary.
    pub fallback: Option<FallbackReason>,
    /// How long the read waited for the replica to replay its token.
    pub waited: Option<Duration>,
    /// An upper bound on how far behind the primary the data read may be: zero on the primary,
    /// the host's staleness bound on a replica (see the README's "Lag tracking"); `None` while
    /// the replica's position or the primary's history is not known yet. This is what a service
    /// reports to its callers about an untokened read.
    pub staleness: Option<Duration>,
}

/// A read with a consistency, ready to run.
pub struct Read<'r> {
    router: &'r Router,
    consistency: Consistency,
}

impl<'r> Read<'r> {
    pub(crate) fn new(router: &'r Router, consistency: Consistency) -> Self {
        Read { router, consistency }
    }

    fn inner(&self) -> &Inner {
        &self.router.inner
    }

    /// Runs one statement and returns its rows.
    ///
    /// # Errors
    /// [`RouterError`]: the server's error, `Overloaded` when the fallback budget is spent,
    /// `PrimaryUnavailable` when the read needs the primary and it is down.
    pub async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, RouterError> {
        self.run(sql, params, false).await.map(|(rows, _)| rows)
    }

    /// Runs one statement that must return one row.
    ///
    /// # Errors
    /// As [`Read::query`], plus a row count other than one.
    pub async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, RouterError> {
        let rows = self.query(sql, params).await?;
        exactly_one(rows)
    }

    /// Runs one statement that returns at most one row.
    ///
    /// # Errors
    /// As [`Read::query`], plus more than one row.
    pub async fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, RouterError> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.pop()),
            n => Err(RouterError::RowCount {
                expected: "at most one",
                got: n,
            }),
        }
    }

    /// Runs one statement and also says where it ran.
    ///
    /// # Errors
    /// As [`Read::query`].
    pub async fn query_routed(&self, sql: &str, params: Params<'_>) -> Result<(Vec<Row>, Route), RouterError> {
        let (rows, route) = self.run(sql, params, true).await?;
        Ok((rows, route.unwrap_or_else(|| unreachable!("a route was asked for"))))
    }

    /// Routes and runs one statement; describes the route only when asked (it costs a copy of
    /// the host name, which the hot path skips).
    async fn run(
        &self,
        sql: &str,
        params: Params<'_>,
        describe: bool,
    ) -> Result<(Vec<Row>, Option<Route>), RouterError> {
        let inner = self.inner();
        match self.choose().await? {
            Choice::Replica { conn, waited } => {
                let replica = inner.replica.as_ref().unwrap_or_else(|| unreachable!("replica chosen"));
                match replica_query(inner, &conn, sql, params).await {
                    Ok(rows) => {
                        inner.metrics.read(&self.consistency, Target::Replica);
                        let route = describe.then(|| Route {
                            target: Target::Replica,
                            host: conn.host.host.clone(),
                            fallback: None,
                            waited,
                            staleness: conn
                                .lag
                                .as_ref()
                                .filter(|lag| lag.known())
                                .and_then(|lag| inner.staleness(lag.replay())),
                        });
                        Ok((rows, route))
                    }
                    Err(err) if replica_retryable(&err) => {
                        Inner::failed(replica, &conn, &err);
                        tracing::debug!(error = %err, "replica failed a read; retrying on the primary");
                        self.fallback(FallbackReason::ReplicaError)?;
                        self.on_primary(sql, params, Some(FallbackReason::ReplicaError), describe)
                            .await
                    }
                    Err(err) => {
                        Inner::failed(replica, &conn, &err);
                        Err(err)
                    }
                }
            }
            Choice::Primary { fallback } => self.on_primary(sql, params, fallback, describe).await,
        }
    }

    /// Starts a read-only transaction (`REPEATABLE READ READ ONLY`: one snapshot for all its
    /// statements) on a dedicated connection chosen by the consistency.
    ///
    /// # Errors
    /// As [`Read::query`], plus `CheckoutTimeout` when the pool is saturated.
    pub async fn transaction(&self) -> Result<ReadTx, RouterError> {
        let inner = self.inner();
        if let Choice::Replica { conn, .. } = self.choose().await? {
            let replica = inner.replica.as_ref().unwrap_or_else(|| unreachable!("replica chosen"));
            let pooled = replica.checkout().await;
            // The pooled connection may be on another host than the shared one we judged.
            let ok = match &pooled {
                Ok(pooled) => self.host_satisfies(&pooled.host.host, &conn).await,
                Err(_) => false,
            };
            if let (Ok(pooled), true) = (pooled, ok) {
                inner.metrics.read(&self.consistency, Target::Replica);
                return ReadTx::begin(self.router.inner.clone(), Target::Replica, pooled).await;
            }
            self.fallback(FallbackReason::ReplicaError)?;
        }
        let primary = &inner.primary;
        if primary.is_down() {
            return Err(primary.unavailable());
        }
        let pooled = primary.checkout().await?;
        inner.metrics.read(&self.consistency, Target::Primary);
        ReadTx::begin(self.router.inner.clone(), Target::Primary, pooled).await
    }

    /// Whether a replica host other than the judged one meets the read's requirement too.
    async fn host_satisfies(&self, host: &HostSpec, judged: &OpenConn) -> bool {
        if *host == judged.host.host {
            return true;
        }
        let inner = self.inner();
        let Some(replica) = &inner.replica else { return false };
        let lag = replica.core.host_lag(host);
        match self.consistency {
            Consistency::ReadYourWrites(token) => lag.replay() >= token.lsn(),
            Consistency::BoundedStaleness(max) => {
                lag.known() && inner.staleness(lag.replay()).is_some_and(|s| s <= max)
            }
            Consistency::Any | Consistency::Strong => true,
        }
    }

    /// Runs the read on the primary's shared read-only sessions (or, while they reconnect, a
    /// pooled connection inside a read-only transaction).
    async fn on_primary(
        &self,
        sql: &str,
        params: Params<'_>,
        fallback: Option<FallbackReason>,
        describe: bool,
    ) -> Result<(Vec<Row>, Option<Route>), RouterError> {
        let inner = self.inner();
        let primary = &inner.primary;
        if primary.is_down() {
            return Err(primary.unavailable());
        }
        let (rows, host) = match primary.shared.pick(|_| true) {
            Some(conn) => {
                let rows = retry_stale(&conn, sql, || async {
                    let statement = match conn.cached(sql) {
                        Some(statement) => statement,
                        None => Inner::watched(&primary.core, &conn, conn.statement(sql)).await?,
                    };
                    Inner::watched(&primary.core, &conn, conn.client.query(&statement, params)).await
                })
                .await
                .inspect_err(|err| Inner::failed(primary, &conn, err))?;
                (rows, describe.then(|| conn.host.host.clone()))
            }
            None => {
                primary.kick();
                let tx = ReadTx::begin(inner_arc(self.router), Target::Primary, primary.checkout().await?).await?;
                let rows = tx.query(sql, params).await?;
                let host = describe.then(|| tx.host().clone());
                tx.commit().await?;
                (rows, host)
            }
        };
        inner.metrics.read(&self.consistency, Target::Primary);
        let route = host.map(|host| Route {
            target: Target::Primary,
            host,
            fallback,
            waited: None,
            staleness: Some(Duration::ZERO),
        });
        Ok((rows, route))
    }
}

fn inner_arc(router: &Router) -> Arc<Inner> {
    router.inner.clone()
}

/// Failures worth retrying on the primary: the replica went away, cancelled the query, or has not
/// replayed the migration that created what the query names.
fn replica_retryable(err: &RouterError) -> bool {
    matches!(
        err.class(),
        Some(
            FailureClass::ConnectionLost
                | FailureClass::ServerShutdown
                | FailureClass::RecoveryConflict
                | FailureClass::SchemaBehind
                | FailureClass::Timeout
        )
    )
}

/// One statement on a replica session; carries a replay probe in the same round trip when the
/// host's last probe is old (pipelined: sent right behind the query on the same socket).
async fn replica_query(inner: &Inner, conn: &OpenConn, sql: &str, params: Params<'_>) -> Result<Vec<Row>, RouterError> {
    retry_stale(conn, sql, || replica_attempt(inner, conn, sql, params)).await
}

async fn replica_attempt(
    inner: &Inner,
    conn: &OpenConn,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, RouterError> {
    let core = &inner
        .replica
        .as_ref()
        .unwrap_or_else(|| unreachable!("replica read"))
        .core;
    let statement = match conn.cached(sql) {
        Some(statement) => statement,
        None => Inner::watched(core, conn, conn.statement(sql)).await?,
    };
    let lag = conn.lag.as_ref();
    if lag.is_some_and(|lag| lag.claim_piggyback(inner.piggyback_after)) {
        let (rows, probe) = Inner::watched(core, conn, async {
            let (rows, probe) = tokio::join!(
                conn.client.query(&statement, params),
                conn.client.query_opt(conn.probe_statement(), &[])
            );
            rows.map(|rows| (rows, probe))
        })
        .await?;
        if let (Some(lag), Ok(Some(row))) = (lag, probe)
            && let Ok(Some(lsn)) = row.try_get::<_, Option<PgLsn>>(0)
        {
            lag.update(lsn.into());
        }
        Ok(rows)
    } else {
        Inner::watched(core, conn, conn.client.query(&statement, params)).await
    }
}

pub(crate) fn exactly_one(mut rows: Vec<Row>) -> Result<Row, RouterError> {
    match rows.len() {
        1 => Ok(rows.pop().unwrap_or_else(|| unreachable!("one row"))),
        n => Err(RouterError::RowCount {
            expected: "exactly one",
            got: n,
        }),
    }
}
