//! Reads: where a read goes for its consistency, the bounded wait for a token, the budgeted
//! fallback to the primary, and the two ways to run it (a pipelined single statement on a
//! shared session, or a read-only transaction on a dedicated connection).
//!
//! Every read session is read-only, on the primary too (`default_transaction_read_only=on`
//! for shared sessions, `BEGIN ... READ ONLY` for transactions), so a write sent through a read
//! fails the same way wherever it is routed.

mod route;

use std::sync::Arc;
use std::time::{Duration, Instant};

use conninfo::HostSpec;
use tokio_postgres::Row;
use tokio_postgres::types::{PgLsn, ToSql};

use crate::class::{FailureClass, FallbackReason, Target};
use crate::conn::{OpenConn, retry_stale};
use crate::consistency::{Consistency, Lsn};
use crate::error::RouterError;
use crate::lag::SessionLag;
use crate::router::{Inner, Router};
use crate::tx::ReadTx;
use route::{Check, Choice};

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
        let mut choice = self.choose().await?;
        // At most three rounds: a replica attempt whose session turns out behind, then a wait for a
        // session that replays the token (whose reads need no check) or a fallback, which ends here.
        loop {
            match choice {
                Choice::Replica { conn, waited, check } => {
                    let replica = inner.replica.as_ref().unwrap_or_else(|| unreachable!("replica chosen"));
                    match replica_query(inner, &conn, sql, params, check).await {
                        Ok(served) => {
                            inner.metrics.read(&self.consistency, Target::Replica);
                            let route = describe.then(|| Route {
                                target: Target::Replica,
                                host: conn.host.host.clone(),
                                fallback: None,
                                waited,
                                staleness: served.staleness,
                            });
                            return Ok((served.rows, route));
                        }
                        Err(Attempt::Behind) => {
                            // The session's node had not replayed what the read needs; its rows were
                            // discarded.
                            choice = match self.consistency {
                                Consistency::ReadYourWrites(token) => self.wait_for_token(token).await?,
                                _ => self.fallback(FallbackReason::TooStale).await?,
                            };
                        }
                        Err(Attempt::Failed(err)) if replica_retryable(&err) => {
                            Inner::failed(replica, &conn, &err);
                            tracing::debug!(error = %err, "replica failed a read; retrying on the primary");
                            choice = self.fallback(FallbackReason::ReplicaError).await?;
                        }
                        Err(Attempt::Failed(err)) => {
                            Inner::failed(replica, &conn, &err);
                            return Err(err);
                        }
                    }
                }
                Choice::Primary { fallback, permit } => {
                    let result = self.on_primary(sql, params, fallback, describe).await;
                    drop(permit);
                    return result;
                }
            }
        }
    }

    /// Starts a read-only transaction (`REPEATABLE READ READ ONLY`: one snapshot for all its
    /// statements) on a dedicated connection chosen by the consistency. On a replica, that
    /// connection's own replay position is probed in the round trip of the `BEGIN` (before the
    /// snapshot, which the first statement takes), and must satisfy the read.
    ///
    /// # Errors
    /// As [`Read::query`], plus `CheckoutTimeout` when the pool is saturated.
    pub async fn transaction(&self) -> Result<ReadTx, RouterError> {
        let inner = self.inner();
        let mut fallback = None;
        let mut permit = None;
        match self.choose().await? {
            Choice::Replica { .. } => {
                let replica = inner.replica.as_ref().unwrap_or_else(|| unreachable!("replica chosen"));
                let reason = match self.consistency {
                    Consistency::ReadYourWrites(_) => FallbackReason::TokenWaitTimeout,
                    Consistency::BoundedStaleness(_) => FallbackReason::TooStale,
                    Consistency::Any | Consistency::Strong => FallbackReason::ReplicaError,
                };
                match replica.checkout().await {
                    Ok(pooled) => {
                        // A token is awaited on this very connection (its node may be another than the
                        // shared sessions'), with probes before the BEGIN.
                        let caught_up = match self.consistency {
                            Consistency::ReadYourWrites(token) => match pooled.lag.as_ref() {
                                Some(lag) => {
                                    let deadline = tokio::time::Instant::now() + inner.token_wait;
                                    lag.wait_for(token.lsn(), deadline, inner.token_poll, || async {
                                        pooled.probe().await.ok().flatten()
                                    })
                                    .await
                                }
                                None => false,
                            },
                            _ => true,
                        };
                        if caught_up {
                            let (tx, position) = ReadTx::begin_probed(inner_arc(self.router), pooled).await?;
                            if self.position_satisfies(position) {
                                inner.metrics.read(&self.consistency, Target::Replica);
                                return Ok(tx);
                            }
                            tx.commit().await?;
                        }
                    }
                    Err(err) => tracing::debug!(error = %err, "no replica connection for a read transaction"),
                }
                if let Choice::Primary { fallback: f, permit: p } = self.fallback(reason).await? {
                    (fallback, permit) = (f, p);
                }
            }
            Choice::Primary { fallback: f, permit: p } => (fallback, permit) = (f, p),
        }
        let primary = &inner.primary;
        if primary.is_down() {
            return Err(primary.unavailable());
        }
        // A transaction holds a pooled connection: a fallback may take one only outside the share kept
        // for writes.
        if let Some(reason) = fallback {
            let status = primary.pool.status();
            if !inner
                .gate
                .may_borrow(status.size - status.available, status.waiting, status.max_size)
            {
                inner.metrics.refused(reason);
                return Err(RouterError::Overloaded {
                    consistency: self.consistency.label(),
                    reason,
                    retry_after: Duration::from_secs(1),
                });
            }
        }
        drop(permit);
        let pooled = primary.checkout().await?;
        inner.metrics.read(&self.consistency, Target::Primary);
        ReadTx::begin(self.router.inner.clone(), Target::Primary, pooled).await
    }

    /// Whether a replica position probed before the read meets the read's requirement.
    fn position_satisfies(&self, position: Option<Lsn>) -> bool {
        let inner = self.inner();
        match (self.consistency, position) {
            (Consistency::Any | Consistency::Strong, _) => true,
            (_, None) => false,
            (Consistency::ReadYourWrites(token), Some(lsn)) => lsn >= token.lsn(),
            (Consistency::BoundedStaleness(max), Some(lsn)) => inner.staleness(lsn).is_some_and(|s| s <= max),
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
                if let Some(reason) = fallback {
                    let status = primary.pool.status();
                    if !inner
                        .gate
                        .may_borrow(status.size - status.available, status.waiting, status.max_size)
                    {
                        inner.metrics.refused(reason);
                        return Err(RouterError::Overloaded {
                            consistency: self.consistency.label(),
                            reason,
                            retry_after: Duration::from_secs(1),
                        });
                    }
                }
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

/// Why a replica attempt did not serve the read.
enum Attempt {
    /// The session's own probe, run in front of the read, showed its node behind what the read needs.
    Behind,
    /// The statement failed.
    Failed(RouterError),
}

/// A replica read's rows and how far behind the primary its data was when the read was sent (from the
/// replay position of a probe that ran on the same session before the read), if known.
struct Served {
    rows: Vec<Row>,
    staleness: Option<Duration>,
}

/// One statement on a replica session. The position that admits it comes from this session: its last
/// probe when that already satisfies the read, else a probe pipelined in front of the read in the same
/// round trip (also every `piggyback_after`, to keep the position fresh at no extra latency).
async fn replica_query(
    inner: &Inner,
    conn: &OpenConn,
    sql: &str,
    params: Params<'_>,
    check: Check,
) -> Result<Served, Attempt> {
    match retry_stale(conn, sql, || replica_attempt(inner, conn, sql, params, check)).await {
        Ok(Some(served)) => Ok(served),
        Ok(None) => Err(Attempt::Behind),
        Err(err) => Err(Attempt::Failed(err)),
    }
}

async fn replica_attempt(
    inner: &Inner,
    conn: &OpenConn,
    sql: &str,
    params: Params<'_>,
    check: Check,
) -> Result<Option<Served>, RouterError> {
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
    // Read before the statement is sent: a probe that completed on this session ran before it.
    let known = lag.filter(|lag| lag.known()).map(SessionLag::replay);
    let sent = Instant::now();
    let known_staleness = known.and_then(|lsn| inner.staleness_at(lsn, sent));
    let satisfied = match check {
        Check::Nothing => true,
        Check::Replayed(token) => known.is_some_and(|lsn| lsn >= token),
        Check::FreshWithin(max) => known_staleness.is_some_and(|s| s <= max),
    };
    let probe = !satisfied || lag.is_some_and(|lag| lag.claim_piggyback(inner.piggyback_after));
    if !probe {
        let rows = Inner::watched(core, conn, conn.client.query(&statement, params)).await?;
        return Ok(Some(Served {
            rows,
            staleness: known_staleness,
        }));
    }
    // Probe first, read second, one round trip: the read's snapshot is taken after the probe ran, so
    // it holds at least everything the probe reports replayed.
    let (probe, rows) = Inner::watched(core, conn, async {
        let (probe, rows) = tokio::join!(
            biased;
            conn.client.query_opt(conn.probe_statement(), &[]),
            conn.client.query(&statement, params)
        );
        rows.map(|rows| (probe, rows))
    })
    .await?;
    let position = match probe {
        Ok(Some(row)) => row.try_get::<_, Option<PgLsn>>(0).ok().flatten().map(Lsn::from),
        _ => None,
    };
    if let (Some(lag), Some(lsn)) = (lag, position) {
        lag.update(lsn);
    }
    let staleness = position.or(known).and_then(|lsn| inner.staleness_at(lsn, sent));
    let admitted = match check {
        Check::Nothing => true,
        Check::Replayed(token) => position.is_some_and(|lsn| lsn >= token),
        Check::FreshWithin(max) => staleness.is_some_and(|s| s <= max),
    };
    Ok(admitted.then_some(Served { rows, staleness }))
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
