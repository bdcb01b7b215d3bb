//! [`Router`]: the two sides, the primary's WAL history, the fallback gate, and the heartbeat that
//! samples positions, probes every replica session, feeds the gate the primary's latency, prunes pools
//! and keeps gauges current.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::class::{FailureClass, Target};
use crate::config::RouterConfig;
use crate::conn::{CoreSettings, OpenConn, TargetCore};
use crate::consistency::{Consistency, Lsn};
use crate::credentials::CredentialCache;
use crate::error::RouterError;
use crate::fallback::{FallbackStatus, Gate};
use crate::lag::PrimaryHistory;
use crate::metrics::{Metrics, RouterStats};
use crate::pool;
use crate::read::Read;
use crate::side::{Side, TargetStatus};
use crate::write::Write;

/// Routes reads and writes between a primary and a replica. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Router {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub primary: Arc<Side>,
    pub replica: Option<Arc<Side>>,
    pub history: PrimaryHistory,
    pub gate: Gate,
    pub metrics: Arc<Metrics>,
    pub token_wait: Duration,
    pub token_poll: Duration,
    pub piggyback_after: Duration,
    probe_interval: Duration,
    idle_lifetime: [Duration; 2],
    pruning_interval: Duration,
    min_size: [usize; 2],
    heartbeat: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self
            .heartbeat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

/// Health of both sides and the fallback gate, for readiness endpoints.
#[derive(Debug, Clone)]
pub struct RouterStatus {
    /// The primary.
    pub primary: TargetStatus,
    /// The replica, if configured.
    pub replica: Option<TargetStatus>,
    /// Replica replay lag behind the newest primary sample, in bytes (the freshest session).
    pub replica_lag_bytes: Option<u64>,
    /// Upper bound of the replica's staleness (the freshest session).
    pub replica_staleness: Option<Duration>,
    /// Each live replica session's own lag, by slot: behind a load-balanced read pool the sessions
    /// may be on different nodes, each as far behind as its node.
    pub replica_sessions: Vec<SessionLagStatus>,
    /// Admission of replica reads to the primary.
    pub fallback: FallbackStatus,
}

/// One replica session's position, as its own probes report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLagStatus {
    /// The shared session's slot (the `session` label of the lag metrics).
    pub slot: usize,
    /// Replay lag behind the newest primary sample, in bytes.
    pub lag_bytes: Option<u64>,
    /// Upper bound of its staleness.
    pub staleness: Option<Duration>,
}

impl Router {
    /// Builds the router and starts connecting in the background (call inside a Tokio
    /// runtime). It does not wait for the servers: use [`Router::ready`] for that.
    ///
    /// # Errors
    /// [`RouterError::Config`] for inconsistent settings, [`RouterError::Connect`] when a TLS
    /// file cannot be loaded.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns its maintenance tasks).
    pub fn start(config: &RouterConfig) -> Result<Router, RouterError> {
        config.validate()?;
        let metrics = Arc::new(Metrics::new(
            config.replica.as_ref().map_or(0, |_| config.replica_sessions()),
        ));
        let credentials = config
            .credentials
            .clone()
            .map(|provider| Arc::new(CredentialCache::new(provider, config.min_credential_refresh)));
        let statement_timeout = config.effective_statement_timeout();
        let side = |target: Target, spec: &conninfo::ConnSpec, shared: usize| -> Result<Arc<Side>, RouterError> {
            let core = Arc::new(TargetCore::new(
                target,
                spec,
                CoreSettings {
                    statement_timeout,
                    grace: config.timeout_grace,
                    jitter: config.lifetime_jitter,
                    credentials: credentials.clone(),
                    metrics: metrics.clone(),
                },
            )?);
            Metrics::configured(target, &spec.pool);
            let max = usize::try_from(spec.pool.max_size).unwrap_or(usize::MAX) - shared;
            let connect = spec.connect_timeout.unwrap_or(conninfo::FALLBACK_CONNECT_TIMEOUT);
            let pool = pool::build(
                core.clone(),
                target == Target::Replica,
                max,
                config.checkout_timeout,
                connect,
            );
            Ok(Side::new(
                core,
                shared,
                pool,
                Backoff::new(config.reconnect_initial, config.reconnect_max),
            ))
        };
        let primary = side(Target::Primary, &config.primary, config.shared_connections)?;
        let replica = config
            .replica
            .as_ref()
            .map(|spec| side(Target::Replica, spec, config.replica_sessions()))
            .transpose()?;
        let min = |spec: Option<&conninfo::ConnSpec>, shared: usize| {
            spec.map_or(0, |s| {
                usize::try_from(s.pool.min_size).unwrap_or(0).saturating_sub(shared)
            })
        };
        let inner = Arc::new(Inner {
            primary,
            replica,
            history: PrimaryHistory::default(),
            gate: Gate::new(config.fallback.clone()),
            metrics,
            token_wait: config.token_wait,
            token_poll: config.token_poll,
            piggyback_after: config.piggyback_after,
            probe_interval: config.probe_interval,
            idle_lifetime: [
                config.primary.pool.idle_lifetime,
                config.replica.as_ref().map_or(Duration::MAX, |s| s.pool.idle_lifetime),
            ],
            pruning_interval: config.primary.pool.pruning_interval,
            min_size: [
                min(Some(&config.primary), config.shared_connections),
                min(config.replica.as_ref(), config.replica_sessions()),
            ],
            heartbeat: Mutex::new(None),
        });
        inner.primary.kick();
        if let Some(replica) = &inner.replica {
            replica.kick();
        }
        let task = tokio::spawn(heartbeat(Arc::downgrade(&inner)));
        *inner
            .heartbeat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
        Ok(Router { inner })
    }

    /// Waits until the primary (and the replica, if configured) have answered a first
    /// connection attempt, and the primary is up.
    ///
    /// # Errors
    /// The primary's last connection error (e.g. authentication failed) when it is down or not
    /// up within `timeout`.
    pub async fn ready(&self, timeout: Duration) -> Result<(), RouterError> {
        let deadline = Instant::now() + timeout;
        loop {
            let replica_settled = self.inner.replica.as_ref().is_none_or(|r| r.is_up() || r.is_down());
            if self.inner.primary.is_up() && replica_settled {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.inner.primary.unavailable());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Reads with the given consistency.
    pub fn read(&self, consistency: Consistency) -> Read<'_> {
        Read::new(self, consistency)
    }

    /// Writes on the primary.
    pub fn write(&self) -> Write<'_> {
        Write::new(self)
    }

    /// Counters since start.
    pub fn stats(&self) -> RouterStats {
        self.inner.metrics.stats.snapshot()
    }

    /// Health of both sides, each replica session's lag, the fallback gate.
    pub fn status(&self) -> RouterStatus {
        let inner = &self.inner;
        let sessions = inner.session_lags();
        let best = sessions
            .iter()
            .filter(|s| s.lag_bytes.is_some())
            .min_by_key(|s| s.lag_bytes);
        RouterStatus {
            primary: inner.primary.status(),
            replica: inner.replica.as_ref().map(|r| r.status()),
            replica_lag_bytes: best.and_then(|s| s.lag_bytes),
            replica_staleness: best.and_then(|s| s.staleness),
            replica_sessions: sessions,
            fallback: inner.gate.status(),
        }
    }

    /// The newest primary WAL position this router has seen.
    pub fn primary_lsn(&self) -> Option<Lsn> {
        self.inner.history.latest().map(|(_, lsn)| lsn)
    }
}

impl Inner {
    /// Runs `work` within the client-side statement limit of `core`.
    pub(crate) async fn bounded<T, F>(core: &TargetCore, work: F) -> Result<T, RouterError>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let result = match core.client_timeout {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .map_err(|_| RouterError::Timeout {
                    target: core.target,
                    after: limit,
                })?,
            None => work.await,
        };
        result.map_err(|e| RouterError::db(core.target, e, core.include_detail))
    }

    /// Runs a request on a shared session under the stall watchdog (see [`Inner::watchdog`]).
    pub(crate) async fn watched<T, F>(core: &TargetCore, conn: &OpenConn, work: F) -> Result<T, RouterError>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let _in_flight = conn.track();
        work.await
            .map_err(|e| RouterError::db(core.target, e, core.include_detail))
    }

    /// Closes shared sessions that are busy but have completed nothing for longer than the
    /// client-side limit; their pending requests fail with a lost connection (retryable), and
    /// the side reconnects. This bounds how long a blackholed server can hold a request, to the
    /// limit plus one heartbeat, without arming a timer per request.
    fn watchdog(side: &Arc<Side>) {
        let Some(limit) = side.core.client_timeout else { return };
        for conn in side.shared.live() {
            if conn.stalled(limit) {
                tracing::warn!(target = %side.target(), host = %conn.host.host, limit_ms = limit.as_millis(), "shared session stopped answering; closing it");
                conn.mark_broken();
                conn.host.session.close();
                side.report(&RouterError::Timeout {
                    target: side.target(),
                    after: limit,
                });
            }
        }
    }

    /// Records a failed operation on `conn` of `side`.
    pub(crate) fn failed(side: &Arc<Side>, conn: &OpenConn, err: &RouterError) {
        if err.class().is_some_and(FailureClass::connection_unusable) {
            conn.mark_broken();
        }
        side.report(err);
    }

    /// Records a primary position (heartbeat or a commit).
    /// Records the primary's position `lsn`, read after `asked` (taken before the query was sent,
    /// so every commit before it is below `lsn`: the staleness bounds stay upper bounds).
    pub(crate) fn saw_primary(&self, asked: Instant, lsn: Lsn) {
        self.history.record(asked, lsn);
    }

    /// Staleness bound of a replica host.
    pub(crate) fn staleness(&self, replay: Lsn) -> Option<Duration> {
        self.staleness_at(replay, Instant::now())
    }

    /// Staleness bound of a replica position as of `at` (e.g. when a read was sent).
    pub(crate) fn staleness_at(&self, replay: Lsn, at: Instant) -> Option<Duration> {
        self.history.staleness(replay, at, self.primary.is_down())
    }

    /// Each live replica session's lag, from its own probes.
    fn session_lags(&self) -> Vec<SessionLagStatus> {
        let Some(replica) = &self.replica else {
            return Vec::new();
        };
        let primary = self.history.latest().map(|(_, lsn)| lsn);
        replica
            .shared
            .live_slots()
            .into_iter()
            .map(|(slot, conn)| {
                let replay = conn.lag.as_ref().filter(|lag| lag.known()).map(|lag| lag.replay());
                SessionLagStatus {
                    slot,
                    lag_bytes: replay
                        .zip(primary)
                        .map(|(replay, primary)| primary.0.saturating_sub(replay.0)),
                    staleness: replay.and_then(|replay| self.staleness(replay)),
                }
            })
            .collect()
    }

    async fn beat(&self, tick: u64) {
        Self::watchdog(&self.primary);
        if let Some(replica) = &self.replica {
            Self::watchdog(replica);
        }
        // Primary position (one pipelined statement on a shared session). Its round trip, behind
        // whatever reads are queued on that session, is the fallback gate's measure of the primary.
        let mut probe_rtt = None;
        if let Some(conn) = self.primary.shared.pick(|_| true) {
            let asked = Instant::now();
            match Self::bounded(&self.primary.core, conn.probe()).await {
                Ok(Some(lsn)) => {
                    probe_rtt = Some(asked.elapsed());
                    self.saw_primary(asked, lsn);
                }
                Ok(None) => {}
                Err(err) => Self::failed(&self.primary, &conn, &err),
            }
        }
        let writes_waiting = self.primary.pool.status().waiting > 0;
        self.gate
            .observe(probe_rtt.filter(|_| !self.primary.is_down()), writes_waiting);
        if self.primary.shared.needs_repair() {
            self.primary.kick();
        }
        // Replica replay positions: every session on its own (behind a read pool each may be on
        // another node), all at once, unless reads probed it recently.
        if let Some(replica) = &self.replica {
            let due: Vec<_> = replica
                .shared
                .live()
                .into_iter()
                .filter(|conn| {
                    conn.lag
                        .as_ref()
                        .is_some_and(|lag| lag.probe_age() >= self.probe_interval / 2)
                })
                .collect();
            let probes = due.iter().map(|conn| Self::bounded(&replica.core, conn.probe()));
            for (conn, result) in due.iter().zip(join_all(probes).await) {
                match result {
                    Ok(Some(lsn)) => {
                        if let Some(lag) = &conn.lag {
                            lag.update(lsn);
                        }
                    }
                    Ok(None) => {
                        // Replay position NULL: the server left recovery (promoted).
                        tracing::warn!(host = %conn.host.host, "replica is no longer in recovery; dropping its session");
                        conn.mark_broken();
                        replica.kick();
                    }
                    Err(err) => Self::failed(replica, conn, &err),
                }
            }
            if replica.shared.needs_repair() {
                replica.kick();
            }
            for session in self.session_lags() {
                self.metrics.session_lag(
                    session.slot,
                    session.lag_bytes,
                    session.staleness.map(|s| s.as_secs_f64()),
                );
            }
        }
        self.metrics.fallback_gate(&self.gate.status());
        let prune_every = (self.pruning_interval.as_millis() / self.probe_interval.as_millis().max(1)).max(1);
        if u128::from(tick) % prune_every == 0 {
            self.prune();
        }
    }

    /// Closes idle connections past their idle lifetime (above the minimum size), dead and
    /// expired ones; tops the pools up to their minimum.
    fn prune(&self) {
        let sides = [Some(&self.primary), self.replica.as_ref()];
        for (index, side) in sides.into_iter().enumerate() {
            let Some(side) = side else { continue };
            let min = self.min_size[index];
            let idle = self.idle_lifetime[index];
            let mut kept = 0usize;
            let result = side.pool.retain(|conn, metrics| {
                let keep = conn.usable() && !conn.expired() && (kept < min || metrics.last_used() < idle);
                kept += usize::from(keep);
                keep
            });
            drop(result);
            let status = side.pool.status();
            self.metrics.pool(
                side.target(),
                status.size - status.available,
                status.available,
                status.waiting,
            );
            if !side.is_down() && status.size < min {
                for _ in status.size..min {
                    let side = side.clone();
                    tokio::spawn(async move { drop(side.checkout().await) });
                }
            }
        }
    }
}

async fn heartbeat(inner: Weak<Inner>) {
    let Some(interval) = inner.upgrade().map(|i| i.probe_interval) else {
        return;
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = 0u64;
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        inner.beat(tick).await;
        tick += 1;
    }
}
