//! Fallback admission: how many reads meant for a replica may run on the primary at once, following the
//! primary's headroom instead of a fixed rate.
//!
//! A read that no replica can serve (the replica is down, too far behind, has not replayed a token, or
//! failed the read) may run on the primary's shared read sessions while the primary is healthy. The gate
//! admits at most `limit` such reads at a time; more wait, in arrival order, for at most `queue_wait`
//! (at most `queue` of them), and what still finds no slot is shed with a retryable error. So the
//! primary takes every fallback read it can serve, and only the excess is refused.
//!
//! The limit adapts every heartbeat (additive increase, multiplicative decrease) to two signals:
//! - the round trip of the heartbeat's position query on a shared primary session, a constant-cost
//!   statement pipelined behind whatever reads are queued there: while fallback reads run, it is
//!   compared with its *normal* level (learned while no fallback read runs); past
//!   `latency_tolerance` x normal + `latency_slack`, the primary is not keeping up and the limit halves;
//! - writes waiting for a pooled primary connection: writes come first, so the limit drops to its floor.
//!
//! Writes never pass this gate: they have their own pooled connections, and fallback reads use only the
//! shared sessions (a few backends at most), so a replica outage cannot take the primary's connections
//! from writes. When the shared sessions are reconnecting, a fallback read may borrow a pooled
//! connection only while the pool keeps `write_reserve` of its connections free for writes.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Settings of the fallback gate (see the module docs and the README's "Fallback to the primary").
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackConfig {
    /// The adaptive limit never goes below this many fallback reads in flight (keeps the primary's
    /// shared sessions busy: about two per session).
    pub min_in_flight: usize,
    /// ...nor above this many.
    pub max_in_flight: usize,
    /// Fallback reads that may wait for a slot at once; more are shed at once.
    pub queue: usize,
    /// How long a fallback read waits for a slot before it is shed.
    pub queue_wait: Duration,
    /// The primary keeps up while its probe round trip stays under this multiple of its normal level...
    pub latency_tolerance: f64,
    /// ...plus this much (absorbs scheduling noise on a busy machine).
    pub latency_slack: Duration,
    /// Share of the primary's pooled connections a fallback read never takes (kept for writes).
    pub write_reserve: f64,
}

impl Default for FallbackConfig {
    fn default() -> Self {
        FallbackConfig {
            min_in_flight: 4,
            max_in_flight: 32,
            queue: 128,
            queue_wait: Duration::from_millis(100),
            latency_tolerance: 3.0,
            latency_slack: Duration::from_millis(2),
            write_reserve: 0.5,
        }
    }
}

impl FallbackConfig {
    /// Why the settings cannot work, if they cannot: the setting at fault (`min_in_flight`,
    /// `max_in_flight`, `latency_tolerance`, `write_reserve`) and what it must be. Configuration layers
    /// (the service's environment variables) report it under their own names.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.min_in_flight == 0 || self.max_in_flight < self.min_in_flight {
            return Some((
                "max_in_flight",
                format!(
                    "in-flight limits must satisfy 1 <= min ({}) <= max ({})",
                    self.min_in_flight, self.max_in_flight
                ),
            ));
        }
        // NaN must be refused too, so the test is "not at least 1", not "below 1".
        if self
            .latency_tolerance
            .partial_cmp(&1.0)
            .is_none_or(std::cmp::Ordering::is_lt)
        {
            return Some((
                "latency_tolerance",
                format!("latency tolerance {} must be at least 1", self.latency_tolerance),
            ));
        }
        if !(0.0..1.0).contains(&self.write_reserve) {
            return Some((
                "write_reserve",
                format!("write reserve {} must be at least 0 and below 1", self.write_reserve),
            ));
        }
        None
    }
}

/// The gate's state, for status endpoints and metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FallbackStatus {
    /// Fallback reads allowed in flight now.
    pub limit: usize,
    /// Fallback reads running on the primary.
    pub in_flight: usize,
    /// Fallback reads waiting for a slot.
    pub queued: usize,
    /// Whether the primary kept up at the last heartbeat (probe latency near normal, no write waiting
    /// for a connection).
    pub primary_healthy: bool,
    /// Recent round trip of the primary's probe.
    pub primary_latency: Option<Duration>,
    /// Its normal level, learned while no fallback read runs.
    pub primary_normal_latency: Option<Duration>,
}

/// Why a fallback read was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shed {
    /// `queue` reads were waiting already.
    QueueFull,
    /// No slot freed within `queue_wait`.
    Waited,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    queued: usize,
    last_active: Option<Instant>,
    recent: Option<f64>,
    normal: Option<f64>,
    healthy: bool,
}

/// The gate itself.
#[derive(Debug)]
pub(crate) struct Gate {
    config: FallbackConfig,
    state: Mutex<State>,
    freed: Notify,
}

/// A fallback read's slot; frees it when dropped.
#[derive(Debug)]
pub(crate) struct Permit<'a>(&'a Gate);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.lock().in_flight -= 1;
        self.0.freed.notify_one();
    }
}

/// How long after the last fallback read the probe counts as "normal" again.
const QUIET: Duration = Duration::from_secs(2);

impl Gate {
    pub(crate) fn new(config: FallbackConfig) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let limit = config.max_in_flight as f64;
        Gate {
            config,
            state: Mutex::new(State {
                limit,
                in_flight: 0,
                queued: 0,
                last_active: None,
                recent: None,
                normal: None,
                healthy: true,
            }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn try_enter(&self, state: &mut State) -> bool {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let limit = state.limit.floor() as usize;
        if state.in_flight < limit {
            state.in_flight += 1;
            state.last_active = Some(Instant::now());
            true
        } else {
            false
        }
    }

    /// A slot for one fallback read: at once if the limit allows, else after waiting in line for at most
    /// `queue_wait`.
    pub(crate) async fn admit(&self) -> Result<Permit<'_>, Shed> {
        {
            let mut state = self.lock();
            if self.try_enter(&mut state) {
                return Ok(Permit(self));
            }
            if state.queued >= self.config.queue {
                state.last_active = Some(Instant::now());
                return Err(Shed::QueueFull);
            }
            state.queued += 1;
        }
        let deadline = tokio::time::Instant::now() + self.config.queue_wait;
        let admitted = loop {
            // Registered before the check, so a slot freed in between is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.try_enter(&mut self.lock()) {
                break true;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                break self.try_enter(&mut self.lock());
            }
        };
        let mut state = self.lock();
        state.queued -= 1;
        if admitted {
            drop(state);
            Ok(Permit(self))
        } else {
            state.last_active = Some(Instant::now());
            drop(state);
            // Another waiter may use the notification this one consumed.
            self.freed.notify_one();
            Err(Shed::Waited)
        }
    }

    /// Whether a fallback read may borrow a pooled primary connection: the pool keeps `write_reserve`
    /// of its connections for writes.
    pub(crate) fn may_borrow(&self, in_use: usize, waiting: usize, max: usize) -> bool {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let usable = ((max as f64) * (1.0 - self.config.write_reserve)).floor() as usize;
        waiting == 0 && in_use < usable
    }

    /// One heartbeat's evidence: the primary's probe round trip (if it answered) and whether writes wait
    /// for a pooled connection. Adapts the limit while fallback reads run; learns the normal level while
    /// none does.
    pub(crate) fn observe(&self, probe: Option<Duration>, writes_waiting: bool) {
        let mut state = self.lock();
        let active =
            state.in_flight > 0 || state.queued > 0 || state.last_active.is_some_and(|at| at.elapsed() < QUIET);
        if let Some(rtt) = probe.map(|d| d.as_secs_f64()) {
            state.recent = Some(state.recent.map_or(rtt, |r| 0.5 * r + 0.5 * rtt));
            if !active {
                state.normal = Some(state.normal.map_or(rtt, |n| 0.8 * n + 0.2 * rtt));
            }
        }
        let normal = state.normal.or(state.recent).unwrap_or(0.0);
        let slow = probe.is_none()
            || state.recent.is_some_and(|recent| {
                recent > normal * self.config.latency_tolerance + self.config.latency_slack.as_secs_f64()
            });
        state.healthy = !slow && !writes_waiting;
        #[allow(clippy::cast_precision_loss)]
        let (min, max) = (self.config.min_in_flight as f64, self.config.max_in_flight as f64);
        let before = state.limit;
        state.limit = if writes_waiting {
            min
        } else if slow && active {
            (state.limit * 0.5).max(min)
        } else {
            (state.limit + (state.limit * 0.25).max(1.0)).min(max)
        };
        let grew = state.limit.floor() > before.floor();
        drop(state);
        if grew {
            self.freed.notify_waiters();
        }
    }

    pub(crate) fn status(&self) -> FallbackStatus {
        let state = self.lock();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        FallbackStatus {
            limit: state.limit.floor() as usize,
            in_flight: state.in_flight,
            queued: state.queued,
            primary_healthy: state.healthy,
            primary_latency: state.recent.map(Duration::from_secs_f64),
            primary_normal_latency: state.normal.map(Duration::from_secs_f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn gate(min: usize, max: usize, queue: usize, wait_ms: u64) -> Arc<Gate> {
        Arc::new(Gate::new(FallbackConfig {
            min_in_flight: min,
            max_in_flight: max,
            queue,
            queue_wait: Duration::from_millis(wait_ms),
            ..FallbackConfig::default()
        }))
    }

    #[tokio::test]
    async fn admits_up_to_the_limit_then_queues_then_sheds() {
        let gate = gate(1, 2, 1, 50);
        let a = gate.admit().await.unwrap();
        let _b = gate.admit().await.unwrap();
        // Third waits in line; a fourth finds the line full.
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.admit().await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(gate.status().queued, 1);
        assert_eq!(gate.admit().await.unwrap_err(), Shed::QueueFull);
        // A freed slot goes to the one waiting.
        drop(a);
        assert_eq!(waiting.await.unwrap(), Ok(()));
        // Nobody frees the remaining slot: a wait ends shed.
        let started = Instant::now();
        let _c = gate.admit().await.unwrap();
        assert_eq!(gate.admit().await.unwrap_err(), Shed::Waited);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(gate.status().queued, 0);
    }

    #[test]
    fn the_limit_halves_while_the_primary_is_slow_and_recovers_when_it_keeps_up() {
        let gate = gate(4, 32, 8, 10);
        let ms = Duration::from_millis;
        // Normal level learned while no fallback runs.
        for _ in 0..5 {
            gate.observe(Some(ms(1)), false);
        }
        assert_eq!(gate.status().primary_normal_latency, Some(ms(1)));
        assert_eq!(gate.status().limit, 32);
        // Fallback reads running, probe at 20x normal: halve down to the floor.
        gate.lock().in_flight = 4;
        for expected in [16, 8, 4, 4] {
            gate.observe(Some(ms(20)), false);
            assert_eq!(gate.status().limit, expected);
            assert!(!gate.status().primary_healthy);
        }
        // The normal level did not learn from the loaded samples.
        assert_eq!(gate.status().primary_normal_latency, Some(ms(1)));
        // Back near normal: grows again.
        for _ in 0..3 {
            gate.observe(Some(ms(1)), false);
        }
        assert!(gate.status().limit > 4 && gate.status().primary_healthy);
        // Writes waiting for a connection: straight to the floor, whatever the latency.
        gate.observe(Some(ms(1)), true);
        assert_eq!(gate.status().limit, 4);
        assert!(!gate.status().primary_healthy);
    }

    #[test]
    fn pooled_connections_are_borrowed_only_outside_the_write_reserve() {
        let gate = gate(1, 2, 1, 1);
        // Half of 10 kept for writes.
        assert!(gate.may_borrow(4, 0, 10));
        assert!(!gate.may_borrow(5, 0, 10));
        assert!(!gate.may_borrow(0, 1, 10), "a write is waiting");
    }

    #[test]
    fn impossible_settings_are_named() {
        let bad = FallbackConfig {
            min_in_flight: 8,
            max_in_flight: 4,
            ..FallbackConfig::default()
        };
        assert!(bad.problem().unwrap().1.contains("min (8) <= max (4)"));
        let bad = FallbackConfig {
            write_reserve: 1.0,
            ..FallbackConfig::default()
        };
        assert!(bad.problem().is_some());
        assert!(FallbackConfig::default().problem().is_none());
    }
}
