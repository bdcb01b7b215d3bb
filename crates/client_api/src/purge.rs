//! The service's own upkeep of `Idempotency-Key` rows: expired keys are deleted on a schedule
//! (`client_api.purge_expired_idempotency_keys`, in batches until a batch comes back short), so the table
//! holds at most about one TTL of keys however long the service runs. Several pods may purge at once: the
//! function skips rows another transaction holds. Failures are logged and counted, and the next round
//! tries again; a purge never fails a request.

use std::time::Duration;

use rand::RngExt as _;

use crate::db::Db;

/// Keys deleted per statement (short transactions; the function's own default).
const BATCH: i32 = 1000;

/// Starts the purge loop: every `every` (jittered by up to a fifth, so pods started together do not purge
/// together).
pub fn spawn_idempotency_purge(db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let jitter = rand::rng().random_range(0.0..0.2);
            tokio::time::sleep(every.mul_f64(1.0 - jitter)).await;
            purge_expired(&db).await;
        }
    })
}

/// Deletes expired keys in batches until a batch comes back short; returns how many went.
pub async fn purge_expired(db: &Db) -> u64 {
    let mut total = 0u64;
    loop {
        match db
            .router()
            .write()
            .query_one("SELECT client_api.purge_expired_idempotency_keys($1)", &[&BATCH])
            .await
        {
            Ok(committed) => {
                let purged: i32 = committed.value.get(0);
                let purged = u64::try_from(purged).unwrap_or(0);
                total += purged;
                metrics::counter!("idempotency_keys_purged_total").increment(purged);
                if purged < u64::try_from(BATCH).unwrap_or(u64::MAX) {
                    break;
                }
            }
            Err(error) => {
                metrics::counter!("idempotency_purge_failures_total").increment(1);
                tracing::warn!(%error, "purging expired idempotency keys failed; the next round retries");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(purged = total, "expired idempotency keys purged");
    }
    total
}
