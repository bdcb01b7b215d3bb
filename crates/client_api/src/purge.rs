//! The service's scheduled purges, each a database function that deletes a batch and says how many went,
//! called until a batch comes back short:
//! - expired `Idempotency-Key` rows (`client_api.purge_expired_idempotency_keys`), so the table holds at most
//!   about one TTL of keys however long the service runs;
//! - the change history beyond the owner's retention (`client_api.purge_history_by_retention`, V17): the
//!   function takes no interval, so the service applies the owner's setting and can never shorten its own
//!   audit trail further (without a retention it deletes nothing).
//!
//! Several pods may purge at once: each batch takes the oldest rows, and the later caller finds fewer. Failures
//! are logged and counted, and the next round tries again; a purge never fails a request.

use std::time::Duration;

use rand::RngExt as _;

use crate::db::Db;

/// One scheduled purge: its statement (one `$1` batch size parameter) and the names it is counted and logged by.
#[derive(Debug, Clone, Copy)]
pub struct Purge {
    /// `SELECT <function>($1)` answering the rows deleted.
    sql: &'static str,
    /// Rows per statement (short transactions).
    batch: i32,
    /// What is purged, in logs.
    what: &'static str,
    /// Counter of rows purged.
    purged_metric: &'static str,
    /// Counter of failed rounds.
    failures_metric: &'static str,
}

/// Expired idempotency keys.
pub const IDEMPOTENCY_KEYS: Purge = Purge {
    sql: "SELECT client_api.purge_expired_idempotency_keys($1)",
    batch: 1000,
    what: "expired idempotency keys",
    purged_metric: "idempotency_keys_purged_total",
    failures_metric: "idempotency_purge_failures_total",
};

/// Change history entries older than the owner's retention.
pub const HISTORY: Purge = Purge {
    sql: "SELECT client_api.purge_history_by_retention($1)",
    batch: 5000,
    what: "change history entries beyond the retention",
    purged_metric: "history_entries_purged_total",
    failures_metric: "history_purge_failures_total",
};

/// Starts the purge loop of expired idempotency keys.
pub fn spawn_idempotency_purge(db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
    spawn(db, IDEMPOTENCY_KEYS, every)
}

/// Starts the loop of `purge`: every `every` (jittered by up to a fifth, so pods started together do not purge
/// together).
pub fn spawn(db: Db, purge: Purge, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let jitter = rand::rng().random_range(0.0..0.2);
            tokio::time::sleep(every.mul_f64(1.0 - jitter)).await;
            run(&db, purge).await;
        }
    })
}

/// Deletes expired idempotency keys; returns how many went.
pub async fn purge_expired(db: &Db) -> u64 {
    run(db, IDEMPOTENCY_KEYS).await
}

/// One round of `purge`: batches until one comes back short; returns how many rows went.
pub async fn run(db: &Db, purge: Purge) -> u64 {
    let mut total = 0u64;
    loop {
        match db.router().write().query_one(purge.sql, &[&purge.batch]).await {
            Ok(committed) => {
                let purged: i32 = committed.value.get(0);
                let purged = u64::try_from(purged).unwrap_or(0);
                total += purged;
                metrics::counter!(purge.purged_metric).increment(purged);
                if purged < u64::try_from(purge.batch).unwrap_or(u64::MAX) {
                    break;
                }
            }
            Err(error) => {
                metrics::counter!(purge.failures_metric).increment(1);
                tracing::warn!(%error, what = purge.what, "a purge failed; the next round retries");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(purged = total, what = purge.what, "purged");
    }
    total
}
