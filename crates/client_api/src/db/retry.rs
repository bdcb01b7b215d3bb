//! The write driver: one request's write transaction, run again when it failed because of a concurrent
//! transaction, up to `PCC_DB_WRITE_RETRIES` times with jittered backoff, then 503 + Retry-After. What
//! counts (see [`Transient`]): PostgreSQL gave up on it (40001 serialization_failure, 40P01
//! deadlock_detected) at any statement or at COMMIT, or the body's own version check lost to a commit
//! that landed between its read and its write (`WriteSession::changed_concurrently`).
//!
//! Each attempt is a new transaction on the primary: `BEGIN`, `pcc.actor` and `pcc.request_id` (the id of the
//! request being served, for the change history), the handler's body, then
//! `COMMIT` once the body returned. A failed attempt is rolled back before the next one starts, so an
//! attempt never sees a trace of an earlier one and a request is applied exactly once or not at all.
//! The body is called anew for every attempt and must derive everything from the request and from what
//! it reads in its own transaction (a new id, a version check, the stored idempotent response).
//!
//! Every retry is counted in `db_write_retries_total{reason, at}` (`reason`: `serialization_failure`,
//! `deadlock_detected`, `concurrent_change`; `at`: `statement` or `commit`);
//! every transaction that needed one in `db_write_retry_outcomes_total{outcome}` (`committed`,
//! `exhausted`: still failing after the last retry, `failed`: a retry failed for another reason).

use std::sync::atomic::{AtomicU64, Ordering};

use db_router::{Backoff, Committed};

use super::session::{Transient, WriteSession};
use super::{Db, TxBody};
use crate::config::WriteRetryConfig;
use crate::error::{ApiError, REQUEST_ID, from_router_error};

/// Where in the transaction the failure came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Statement,
    Commit,
}

impl At {
    fn label(self) -> &'static str {
        match self {
            At::Statement => "statement",
            At::Commit => "commit",
        }
    }
}

/// How one attempt ended when it did not commit.
enum Failed {
    /// It failed because of a concurrent transaction; a new attempt may succeed.
    Transient(Transient, At),
    /// Anything else: the request's answer.
    Final(ApiError),
}

/// How a retried transaction ended.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Committed,
    Exhausted,
    Failed,
}

/// Counts since the service started (per [`Db`] and its clones), for tests and /readyz-style reports.
#[derive(Debug, Default)]
pub(super) struct Counters {
    retries_serialization: AtomicU64,
    retries_deadlock: AtomicU64,
    retries_concurrent_change: AtomicU64,
    retries_at_commit: AtomicU64,
    committed: AtomicU64,
    exhausted: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of the retry counts of one [`Db`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteRetryStats {
    /// Retries after 40001 serialization_failure.
    pub retries_serialization: u64,
    /// Retries after 40P01 deadlock_detected.
    pub retries_deadlock: u64,
    /// Retries after the body's own version check lost to a concurrent commit.
    pub retries_concurrent_change: u64,
    /// Of all retries, those whose attempt failed at COMMIT.
    pub retries_at_commit: u64,
    /// Retried transactions that then committed.
    pub committed: u64,
    /// Retried transactions still failing after the last retry (answered 503).
    pub exhausted: u64,
    /// Retried transactions whose retry failed for another reason (a 409, a 412, ...).
    pub failed: u64,
}

impl WriteRetryStats {
    /// Every retry.
    pub fn retries(&self) -> u64 {
        self.retries_serialization + self.retries_deadlock + self.retries_concurrent_change
    }
}

impl Counters {
    pub(super) fn snapshot(&self) -> WriteRetryStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WriteRetryStats {
            retries_serialization: load(&self.retries_serialization),
            retries_deadlock: load(&self.retries_deadlock),
            retries_concurrent_change: load(&self.retries_concurrent_change),
            retries_at_commit: load(&self.retries_at_commit),
            committed: load(&self.committed),
            exhausted: load(&self.exhausted),
            failed: load(&self.failed),
        }
    }

    fn retry(&self, transient: Transient, at: At) {
        let by_code = match transient {
            Transient::Serialization => &self.retries_serialization,
            Transient::Deadlock => &self.retries_deadlock,
            Transient::ConcurrentChange => &self.retries_concurrent_change,
        };
        by_code.fetch_add(1, Ordering::Relaxed);
        if at == At::Commit {
            self.retries_at_commit.fetch_add(1, Ordering::Relaxed);
        }
        metrics::counter!("db_write_retries_total", "reason" => transient.label(), "at" => at.label()).increment(1);
    }

    fn outcome(&self, outcome: Outcome) {
        let (counter, label) = match outcome {
            Outcome::Committed => (&self.committed, "committed"),
            Outcome::Exhausted => (&self.exhausted, "exhausted"),
            Outcome::Failed => (&self.failed, "failed"),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("db_write_retry_outcomes_total", "outcome" => label).increment(1);
    }
}

/// How an attempt that the body completed ended: committed (with the commit's token), or rolled back because
/// `keep` said so (a dry run).
pub(super) enum Ended<T> {
    Committed(Committed<T>),
    RolledBack(T),
}

/// Runs `body` in a write transaction as `actor`, retrying as the module docs say; `keep` decides from the
/// body's value whether the transaction commits (true) or rolls back and still answers that value.
pub(super) async fn run<'env, T, F>(
    db: &Db,
    policy: WriteRetryConfig,
    actor: &str,
    mut body: F,
    keep: fn(&T) -> bool,
) -> Result<Ended<T>, ApiError>
where
    F: for<'s> FnMut(&'s WriteSession<'env>) -> TxBody<'s, T>,
{
    let mut backoff = Backoff::new(policy.backoff, policy.max_backoff());
    let mut retries = 0;
    loop {
        let failure = match attempt(db, actor, &mut body, keep).await {
            Ok(committed) => {
                if retries > 0 {
                    db.retries.outcome(Outcome::Committed);
                    tracing::info!(db.retries = retries, "write transaction committed after retrying");
                }
                return Ok(committed);
            }
            Err(failure) => failure,
        };
        match failure {
            Failed::Transient(transient, at) if retries < policy.retries => {
                retries += 1;
                db.retries.retry(transient, at);
                let delay = backoff.next_delay();
                tracing::debug!(
                    db.retry_reason = transient.label(),
                    db.at = at.label(),
                    db.retry = retries,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "write transaction collided with a concurrent one; running it again"
                );
                tokio::time::sleep(delay).await;
            }
            Failed::Transient(transient, at) => {
                if retries > 0 {
                    db.retries.outcome(Outcome::Exhausted);
                }
                tracing::warn!(
                    db.retry_reason = transient.label(),
                    db.at = at.label(),
                    db.retries = retries,
                    "write transaction still colliding with concurrent ones after its last retry"
                );
                return Err(ApiError::unavailable(
                    "the request kept colliding with concurrent changes and was not applied; retry",
                    1,
                ));
            }
            Failed::Final(error) => {
                if retries > 0 {
                    db.retries.outcome(Outcome::Failed);
                }
                return Err(error);
            }
        }
    }
}

/// One attempt: a transaction, the body, and COMMIT or ROLLBACK.
async fn attempt<'env, T, F>(db: &Db, actor: &str, body: &mut F, keep: fn(&T) -> bool) -> Result<Ended<T>, Failed>
where
    F: for<'s> FnMut(&'s WriteSession<'env>) -> TxBody<'s, T>,
{
    let tx = db
        .router
        .write()
        .transaction()
        .await
        .map_err(|e| Failed::Final(from_router_error(&e)))?;
    let session = WriteSession::new(tx);
    // Who and which request, for the audit columns and the change history (V1, V10). Outside a request
    // (background work) the request id is empty, which the schema records as none.
    let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
    let outcome = match session
        .execute(
            "SELECT pg_catalog.set_config('pcc.actor', $1, true), pg_catalog.set_config('pcc.request_id', $2, true)",
            &[&actor, &request_id],
        )
        .await
    {
        Ok(_) => body(&session).await,
        Err(error) => Err(error),
    };
    // A statement that failed with 40001 / 40P01 aborted the transaction, whatever the body returned;
    // a race the body reported ends the attempt too.
    if let Some(transient) = session.transient() {
        rollback(session).await;
        return Err(Failed::Transient(transient, At::Statement));
    }
    let value = match outcome {
        Ok(value) => value,
        Err(error) => {
            rollback(session).await;
            return Err(Failed::Final(error));
        }
    };
    if !keep(&value) {
        rollback(session).await;
        return Ok(Ended::RolledBack(value));
    }
    match session.into_tx().commit().await {
        Ok(token) => Ok(Ended::Committed(Committed { value, token })),
        Err(error) => Err(match Transient::of(&error) {
            Some(transient) => Failed::Transient(transient, At::Commit),
            None => Failed::Final(from_router_error(&error)),
        }),
    }
}

/// Ends a failed attempt now, so its locks are gone before a retry or the answer. (A ROLLBACK that
/// does not get through leaves the connection to db_router, which discards it.)
async fn rollback(session: WriteSession<'_>) {
    if let Err(error) = session.into_tx().rollback().await {
        tracing::debug!(error = %error, "rolling back a failed write transaction");
    }
}
