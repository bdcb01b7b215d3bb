//! Waiting for a condition with a deadline, so a broken behavior fails the test with a message
//! instead of hanging it. The limits are hang detectors, far above what a healthy run needs; they
//! are not measurements.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 20 ms until it returns `Some`, and returns that value.
///
/// # Panics
/// After `limit`, naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Returns once `replica` has replayed everything `primary` had written when this was called (so replica
/// reads see what a test wrote on the primary, through the service or behind its back).
///
/// # Panics
/// After a minute (the replica is not streaming), or when either server refuses the position queries.
pub async fn replica_caught_up(primary: &tokio_postgres::Client, replica: &tokio_postgres::Client) {
    let target: String = primary
        .query_one("SELECT pg_catalog.pg_current_wal_insert_lsn()::text", &[])
        .await
        .unwrap_or_else(|e| panic!("the primary's WAL position: {e}"))
        .get(0);
    eventually(
        "the replica replays the primary's WAL",
        Duration::from_secs(60),
        || async {
            let row = replica
                .query_one(
                    "SELECT pg_catalog.pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                    &[&target],
                )
                .await
                .ok()?;
            row.get::<_, Option<bool>>(0).filter(|caught_up| *caught_up)
        },
    )
    .await;
}
