//! What the service knows about its replica: reachable or not, how far it has replayed, how far behind the
//! primary it is. A background task refreshes it (every `interval`); reads consult it without a round trip,
//! /readyz reports it, and /metrics exposes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Pool;
use super::token::ConsistencyToken;

/// The replica's last observed state.
#[derive(Debug, Default)]
pub struct ReplicaState {
    up: AtomicBool,
    replayed: AtomicU64,
    lag_ms: AtomicU64,
    lag_bytes: AtomicU64,
    primary_up: AtomicBool,
}

impl ReplicaState {
    /// Reachable at the last check.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Whether the primary answered the last check.
    pub fn primary_is_up(&self) -> bool {
        self.primary_up.load(Ordering::Relaxed)
    }

    /// The highest WAL position known to be replayed.
    pub fn replayed(&self) -> u64 {
        self.replayed.load(Ordering::Relaxed)
    }

    /// Records a replay position seen by a read.
    pub fn observe_replayed(&self, position: u64) {
        self.replayed.fetch_max(position, Ordering::Relaxed);
    }

    /// Replay lag in time (0 when fully caught up).
    pub fn lag(&self) -> Duration {
        Duration::from_millis(self.lag_ms.load(Ordering::Relaxed))
    }

    /// Replay lag in bytes of WAL.
    pub fn lag_bytes(&self) -> u64 {
        self.lag_bytes.load(Ordering::Relaxed)
    }
}

async fn position(pool: &Pool, sql: &str) -> Option<(u64, Option<f64>)> {
    let conn = pool.get().await.ok()?;
    let row = tokio::time::timeout(Duration::from_secs(2), conn.query_one(sql, &[]))
        .await
        .ok()?
        .ok()?;
    let lsn: Option<String> = row.get(0);
    let seconds: Option<f64> = row.get(1);
    Some((ConsistencyToken::from_pg_lsn(&lsn?)?.0, seconds))
}

/// Refreshes `state` every `interval` until `stop` is cancelled.
pub fn spawn_monitor(
    primary: Pool,
    replica: Option<Pool>,
    state: Arc<ReplicaState>,
    interval: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let primary_pos = position(&primary, "SELECT pg_catalog.pg_current_wal_lsn()::text, NULL::float8").await;
            state.primary_up.store(primary_pos.is_some(), Ordering::Relaxed);
            if let Some(replica) = &replica {
                let replica_pos = position(
                    replica,
                    "SELECT pg_catalog.pg_last_wal_replay_lsn()::text, \
                     extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp())::float8",
                )
                .await;
                state.up.store(replica_pos.is_some(), Ordering::Relaxed);
                if let Some((replayed, seconds)) = replica_pos {
                    state.observe_replayed(replayed);
                    let behind = primary_pos.map_or(0, |(p, _)| p.saturating_sub(replayed));
                    // The replay timestamp ages while the primary is idle: only count time when WAL is pending.
                    let lag_ms = if behind == 0 {
                        0
                    } else {
                        (seconds.unwrap_or(0.0).max(0.0) * 1000.0) as u64
                    };
                    state.lag_bytes.store(behind, Ordering::Relaxed);
                    state.lag_ms.store(lag_ms, Ordering::Relaxed);
                    metrics::gauge!("db_replica_lag_bytes").set(behind as f64);
                    metrics::gauge!("db_replica_lag_seconds").set(lag_ms as f64 / 1000.0);
                }
                metrics::gauge!("db_replica_up").set(if state.is_up() { 1.0 } else { 0.0 });
            }
            for (role, pool) in [("primary", Some(&primary)), ("replica", replica.as_ref())] {
                if let Some(pool) = pool {
                    let status = pool.status();
                    metrics::gauge!("db_pool_size", "role" => role).set(status.size as f64);
                    metrics::gauge!("db_pool_available", "role" => role).set(status.available as f64);
                    metrics::gauge!("db_pool_waiting", "role" => role).set(status.waiting as f64);
                    metrics::gauge!("db_pool_max", "role" => role).set(status.max_size as f64);
                }
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    })
}
