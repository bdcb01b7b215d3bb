//! Every routing decision is counted, twice: in the `metrics` facade (exported by whatever
//! recorder the service installs, e.g. Prometheus) and in plain atomics that
//! [`crate::Router::stats`] returns (health endpoints, tests).
//!
//! Hot-path handles are registered once, at router start, so a read costs two atomic adds.
//!
//! | name | type | labels |
//! |---|---|---|
//! | `db_router_reads_total` | counter | `consistency`, `target` |
//! | `db_router_writes_total` | counter | |
//! | `db_router_fallbacks_total` | counter | `reason` (read sent to the primary) |
//! | `db_router_fallbacks_refused_total` | counter | `reason` (shed: the primary had no headroom) |
//! | `db_router_fallback_limit` | gauge | (fallback reads allowed in flight now) |
//! | `db_router_fallback_in_flight` | gauge | |
//! | `db_router_fallback_queued` | gauge | (waiting for a slot) |
//! | `db_router_primary_healthy` | gauge | (1: probe latency near normal and no write waiting) |
//! | `db_router_primary_probe_seconds` | gauge | `level` = `recent` / `normal` |
//! | `db_router_token_waits_total` | counter | `outcome` = `caught_up` / `timeout` |
//! | `db_router_token_wait_seconds` | histogram | |
//! | `db_router_replica_lag_bytes` | gauge | `session` (replica session slot: its own node's lag) |
//! | `db_router_replica_staleness_seconds` | gauge | `session` |
//! | `db_router_target_up` | gauge | `target` |
//! | `db_router_pool_connections` | gauge | `target`, `state` = `in_use` / `idle` |
//! | `db_router_pool_waiting` | gauge | `target` |
//! | `db_router_pool_size` | gauge | `target`, `bound` = `min` / `max` (configured connections, shared sessions included) |
//! | `db_router_pool_max_lifetime_seconds` | gauge | `target` (configured; 0: connections are never replaced) |
//! | `db_router_checkout_timeouts_total` | counter | `target` |
//! | `db_router_connections_opened_total` | counter | `target` |
//! | `db_router_connections_rejected_total` | counter | `target` (wrong role) |
//! | `db_router_connect_failures_total` | counter | `target` |
//! | `db_router_credential_refreshes_total` | counter | |
//! | `db_router_fast_failures_total` | counter | (writes refused while the primary is down) |
//! | `db_router_errors_total` | counter | `target`, `class` |

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

use crate::class::{FailureClass, FallbackReason, Target};
use crate::consistency::Consistency;
use crate::fallback::FallbackStatus;

const CONSISTENCIES: [&str; 4] = ["strong", "read_your_writes", "bounded_staleness", "any"];
const REASONS: [FallbackReason; 5] = [
    FallbackReason::ReplicaDown,
    FallbackReason::TooStale,
    FallbackReason::TokenWaitTimeout,
    FallbackReason::TokenAhead,
    FallbackReason::ReplicaError,
];

fn ti(target: Target) -> usize {
    match target {
        Target::Primary => 0,
        Target::Replica => 1,
    }
}

fn ci(consistency: &Consistency) -> usize {
    match consistency {
        Consistency::Strong => 0,
        Consistency::ReadYourWrites(_) => 1,
        Consistency::BoundedStaleness(_) => 2,
        Consistency::Any => 3,
    }
}

fn ri(reason: FallbackReason) -> usize {
    REASONS.iter().position(|r| *r == reason).unwrap_or(0)
}

/// Counters read by [`crate::Router::stats`].
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub reads: [AtomicU64; 2],
    pub writes: AtomicU64,
    pub fallbacks: [AtomicU64; 5],
    pub refused: [AtomicU64; 5],
    pub token_waits: AtomicU64,
    pub token_wait_timeouts: AtomicU64,
    pub fast_failures: AtomicU64,
    pub credential_refreshes: AtomicU64,
    pub rejected: [AtomicU64; 2],
    pub opened: [AtomicU64; 2],
    pub checkout_timeouts: [AtomicU64; 2],
}

/// Registered metric handles plus the atomics.
pub(crate) struct Metrics {
    pub stats: Stats,
    reads: Vec<[Counter; 2]>,
    writes: Counter,
    fallbacks: Vec<Counter>,
    refused: Vec<Counter>,
    gate_limit: Gauge,
    gate_in_flight: Gauge,
    gate_queued: Gauge,
    primary_healthy: Gauge,
    probe_recent: Gauge,
    probe_normal: Gauge,
    waits_caught_up: Counter,
    waits_timeout: Counter,
    wait_seconds: Histogram,
    lag_bytes: Vec<Gauge>,
    staleness: Vec<Gauge>,
    up: [Gauge; 2],
    in_use: [Gauge; 2],
    idle: [Gauge; 2],
    waiting: [Gauge; 2],
    checkout_timeouts: [Counter; 2],
    opened: [Counter; 2],
    rejected: [Counter; 2],
    connect_failures: [Counter; 2],
    refreshes: Counter,
    fast_failures: Counter,
}

fn per_target<T>(make: impl Fn(&'static str) -> T) -> [T; 2] {
    [make("primary"), make("replica")]
}

impl Metrics {
    /// Handles for a router with `replica_sessions` shared replica sessions (per-session lag gauges).
    pub(crate) fn new(replica_sessions: usize) -> Self {
        let slots: Vec<String> = (0..replica_sessions).map(|i| i.to_string()).collect();
        Metrics {
            stats: Stats::default(),
            reads: CONSISTENCIES
                .iter()
                .map(|c| per_target(|t| counter!("db_router_reads_total", "consistency" => *c, "target" => t)))
                .collect(),
            writes: counter!("db_router_writes_total"),
            fallbacks: REASONS
                .iter()
                .map(|r| counter!("db_router_fallbacks_total", "reason" => r.label()))
                .collect(),
            refused: REASONS
                .iter()
                .map(|r| counter!("db_router_fallbacks_refused_total", "reason" => r.label()))
                .collect(),
            gate_limit: gauge!("db_router_fallback_limit"),
            gate_in_flight: gauge!("db_router_fallback_in_flight"),
            gate_queued: gauge!("db_router_fallback_queued"),
            primary_healthy: gauge!("db_router_primary_healthy"),
            probe_recent: gauge!("db_router_primary_probe_seconds", "level" => "recent"),
            probe_normal: gauge!("db_router_primary_probe_seconds", "level" => "normal"),
            waits_caught_up: counter!("db_router_token_waits_total", "outcome" => "caught_up"),
            waits_timeout: counter!("db_router_token_waits_total", "outcome" => "timeout"),
            wait_seconds: histogram!("db_router_token_wait_seconds"),
            lag_bytes: slots
                .iter()
                .map(|slot| gauge!("db_router_replica_lag_bytes", "session" => slot.clone()))
                .collect(),
            staleness: slots
                .iter()
                .map(|slot| gauge!("db_router_replica_staleness_seconds", "session" => slot.clone()))
                .collect(),
            up: per_target(|t| gauge!("db_router_target_up", "target" => t)),
            in_use: per_target(|t| gauge!("db_router_pool_connections", "target" => t, "state" => "in_use")),
            idle: per_target(|t| gauge!("db_router_pool_connections", "target" => t, "state" => "idle")),
            waiting: per_target(|t| gauge!("db_router_pool_waiting", "target" => t)),
            checkout_timeouts: per_target(|t| counter!("db_router_checkout_timeouts_total", "target" => t)),
            opened: per_target(|t| counter!("db_router_connections_opened_total", "target" => t)),
            rejected: per_target(|t| counter!("db_router_connections_rejected_total", "target" => t)),
            connect_failures: per_target(|t| counter!("db_router_connect_failures_total", "target" => t)),
            refreshes: counter!("db_router_credential_refreshes_total"),
            fast_failures: counter!("db_router_fast_failures_total"),
        }
    }

    /// The pool bounds and connection lifetime `target` was configured with, set once at start so a
    /// deployment can be compared with its manifest from outside the pod.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn configured(target: Target, pool: &conninfo::PoolSettings) {
        let t = target.label();
        gauge!("db_router_pool_size", "target" => t, "bound" => "min").set(f64::from(pool.min_size));
        gauge!("db_router_pool_size", "target" => t, "bound" => "max").set(f64::from(pool.max_size));
        gauge!("db_router_pool_max_lifetime_seconds", "target" => t)
            .set(pool.max_lifetime.map_or(0.0, |d| d.as_secs_f64()));
    }

    pub(crate) fn read(&self, consistency: &Consistency, target: Target) {
        self.reads[ci(consistency)][ti(target)].increment(1);
        self.stats.reads[ti(target)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn write(&self) {
        self.writes.increment(1);
        self.stats.writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fallback(&self, reason: FallbackReason) {
        self.fallbacks[ri(reason)].increment(1);
        self.stats.fallbacks[ri(reason)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self, reason: FallbackReason) {
        self.refused[ri(reason)].increment(1);
        self.stats.refused[ri(reason)].fetch_add(1, Ordering::Relaxed);
    }

    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn fallback_gate(&self, status: &FallbackStatus) {
        self.gate_limit.set(status.limit as f64);
        self.gate_in_flight.set(status.in_flight as f64);
        self.gate_queued.set(status.queued as f64);
        self.primary_healthy.set(if status.primary_healthy { 1.0 } else { 0.0 });
        if let Some(recent) = status.primary_latency {
            self.probe_recent.set(recent.as_secs_f64());
        }
        if let Some(normal) = status.primary_normal_latency {
            self.probe_normal.set(normal.as_secs_f64());
        }
    }

    pub(crate) fn token_wait(&self, caught_up: bool, seconds: f64) {
        if caught_up {
            self.waits_caught_up.increment(1);
        } else {
            self.waits_timeout.increment(1);
            self.stats.token_wait_timeouts.fetch_add(1, Ordering::Relaxed);
        }
        self.stats.token_waits.fetch_add(1, Ordering::Relaxed);
        self.wait_seconds.record(seconds);
    }

    /// One replica session's lag (its slot's gauges).
    pub(crate) fn session_lag(&self, slot: usize, bytes: Option<u64>, staleness_seconds: Option<f64>) {
        #[allow(clippy::cast_precision_loss)]
        if let (Some(gauge), Some(bytes)) = (self.lag_bytes.get(slot), bytes) {
            gauge.set(bytes as f64);
        }
        if let (Some(gauge), Some(seconds)) = (self.staleness.get(slot), staleness_seconds) {
            gauge.set(seconds);
        }
    }

    pub(crate) fn up(&self, target: Target, up: bool) {
        self.up[ti(target)].set(if up { 1.0 } else { 0.0 });
    }

    pub(crate) fn pool(&self, target: Target, in_use: usize, idle: usize, waiting: usize) {
        #[allow(clippy::cast_precision_loss)]
        {
            self.in_use[ti(target)].set(in_use as f64);
            self.idle[ti(target)].set(idle as f64);
            self.waiting[ti(target)].set(waiting as f64);
        }
    }

    pub(crate) fn checkout_timeout(&self, target: Target) {
        self.checkout_timeouts[ti(target)].increment(1);
        self.stats.checkout_timeouts[ti(target)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn opened(&self, target: Target) {
        self.opened[ti(target)].increment(1);
        self.stats.opened[ti(target)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rejected(&self, target: Target) {
        self.rejected[ti(target)].increment(1);
        self.stats.rejected[ti(target)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connect_failure(&self, target: Target) {
        self.connect_failures[ti(target)].increment(1);
    }

    pub(crate) fn credential_refresh(&self) {
        self.refreshes.increment(1);
        self.stats.credential_refreshes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fast_failure(&self) {
        self.fast_failures.increment(1);
        self.stats.fast_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Errors are rare; their labels are built on the spot.
    pub(crate) fn error(&self, target: Target, class: FailureClass) {
        counter!("db_router_errors_total", "target" => target.label(), "class" => class.label()).increment(1);
    }
}

/// A snapshot of the router's counters since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterStats {
    /// Reads served by the primary (including fallbacks and `Strong`).
    pub reads_primary: u64,
    /// Reads served by a replica.
    pub reads_replica: u64,
    /// Write operations (statements and transactions).
    pub writes: u64,
    /// Reads meant for a replica that the fallback gate sent to the primary.
    pub fallbacks: u64,
    /// Fallbacks by reason: replica down, too stale, token wait timeout, token ahead, replica error.
    pub fallbacks_by_reason: [u64; 5],
    /// Reads meant for a replica that were shed because the primary had no headroom for them.
    pub fallbacks_refused: u64,
    /// Read-your-writes waits, and how many timed out.
    pub token_waits: u64,
    /// Waits that ran out of time.
    pub token_wait_timeouts: u64,
    /// Writes refused at once because the primary was down.
    pub fast_failures: u64,
    /// Credential re-reads after authentication failures.
    pub credential_refreshes: u64,
    /// Connections dropped right after connecting because of their role (primary, replica).
    pub connections_rejected: [u64; 2],
    /// Connections opened (primary, replica).
    pub connections_opened: [u64; 2],
    /// Checkouts that timed out (primary, replica).
    pub checkout_timeouts: [u64; 2],
}

impl Stats {
    pub(crate) fn snapshot(&self) -> RouterStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let by_reason = [0, 1, 2, 3, 4].map(|i| load(&self.fallbacks[i]));
        RouterStats {
            reads_primary: load(&self.reads[0]),
            reads_replica: load(&self.reads[1]),
            writes: load(&self.writes),
            fallbacks: by_reason.iter().sum(),
            fallbacks_by_reason: by_reason,
            fallbacks_refused: self.refused.iter().map(load).sum(),
            token_waits: load(&self.token_waits),
            token_wait_timeouts: load(&self.token_wait_timeouts),
            fast_failures: load(&self.fast_failures),
            credential_refreshes: load(&self.credential_refreshes),
            connections_rejected: [load(&self.rejected[0]), load(&self.rejected[1])],
            connections_opened: [load(&self.opened[0]), load(&self.opened[1])],
            checkout_timeouts: [load(&self.checkout_timeouts[0]), load(&self.checkout_timeouts[1])],
        }
    }
}
