//! Upkeep of import jobs, on a schedule in every instance of the service: a running job whose heartbeat
//! stopped (its instance died or restarted: the rows it held in memory are gone, and its transaction rolled
//! back with its connection) is marked failed (`client_api.fail_stale_import_jobs`, V14), and finished jobs
//! older than the retention are deleted with their reports (`client_api.purge_import_jobs`). Failures are
//! logged and the next round tries again.

use std::time::Duration;

use crate::db::Db;

/// A running job silent for this long is failed: many heartbeats ([`super::job::HEARTBEAT`]) missed.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// Finished jobs are kept this long (their reports are read after the job ends).
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// Starts the upkeep loop, every `every`.
pub fn spawn(db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            round(&db, STALE_AFTER, RETENTION).await;
        }
    })
}

/// One round: fails stale jobs, purges old ones; returns (failed, purged).
pub async fn round(db: &Db, stale_after: Duration, retention: Duration) -> (i32, i32) {
    let write = db.router().write();
    let failed = match write
        .query_one(
            "SELECT client_api.fail_stale_import_jobs(pg_catalog.make_interval(secs => $1))",
            &[&stale_after.as_secs_f64()],
        )
        .await
    {
        Ok(c) => c.value.get::<_, i32>(0),
        Err(error) => {
            tracing::warn!(%error, "failing stale import jobs failed; the next round retries");
            0
        }
    };
    if failed > 0 {
        tracing::warn!(
            jobs = failed,
            "import jobs whose service instance stopped were marked failed"
        );
    }
    let purged = match write
        .query_one(
            "SELECT client_api.purge_import_jobs(pg_catalog.make_interval(secs => $1))",
            &[&retention.as_secs_f64()],
        )
        .await
    {
        Ok(c) => c.value.get::<_, i32>(0),
        Err(error) => {
            tracing::warn!(%error, "purging old import jobs failed; the next round retries");
            0
        }
    };
    (failed, purged)
}
