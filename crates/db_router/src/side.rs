//! One side of the router (primary or replica): its connection core, shared sessions, pool,
//! health, and the maintenance task that reconnects with jittered backoff.
//!
//! Health is `unknown` until the first connection, `up` while shared sessions exist, `down`
//! after a failed reconnect. While the primary is down, writes fail at once with the time of
//! the next attempt instead of each waiting for a connect timeout.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::class::Target;
use crate::conn::TargetCore;
use crate::error::RouterError;
use crate::pool::{Pool, Pooled, checkout_error};
use crate::shared::SharedSet;

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

#[derive(Debug)]
struct HealthState {
    since: Instant,
    last_error: Option<String>,
    next_attempt: Option<Instant>,
}

/// Health as reported by [`crate::Router::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    /// `None` before the first connection attempt finished.
    pub up: Option<bool>,
    /// Time in the current state.
    pub for_duration: Duration,
    /// The last connection failure.
    pub last_error: Option<String>,
    /// Hosts of the open shared sessions.
    pub hosts: Vec<String>,
    /// Pool: open connections, idle ones, waiting checkouts, maximum.
    pub pool: (usize, usize, usize, usize),
}

pub(crate) struct Side {
    pub core: Arc<TargetCore>,
    pub shared: SharedSet,
    pub pool: Pool,
    state: AtomicU8,
    health: Mutex<HealthState>,
    backoff: Mutex<Backoff>,
    maintaining: AtomicBool,
}

impl Side {
    pub(crate) fn new(core: Arc<TargetCore>, shared: usize, pool: Pool, backoff: Backoff) -> Arc<Self> {
        Arc::new(Side {
            core,
            shared: SharedSet::new(shared),
            pool,
            state: AtomicU8::new(UNKNOWN),
            health: Mutex::new(HealthState {
                since: Instant::now(),
                last_error: None,
                next_attempt: None,
            }),
            backoff: Mutex::new(backoff),
            maintaining: AtomicBool::new(false),
        })
    }

    pub(crate) fn target(&self) -> Target {
        self.core.target
    }

    pub(crate) fn is_down(&self) -> bool {
        self.state.load(Ordering::Acquire) == DOWN
    }

    pub(crate) fn is_up(&self) -> bool {
        self.state.load(Ordering::Acquire) == UP
    }

    fn health(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mark_up(&self) {
        let previous = self.state.swap(UP, Ordering::AcqRel);
        if previous != UP {
            let mut health = self.health();
            if previous == DOWN {
                tracing::info!(target = %self.target(), down_ms = health.since.elapsed().as_millis(), "connections restored");
            }
            health.since = Instant::now();
            health.next_attempt = None;
            self.core.metrics.up(self.target(), true);
        }
    }

    fn mark_down(&self, err: &RouterError, next_attempt: Instant) {
        let previous = self.state.swap(DOWN, Ordering::AcqRel);
        let mut health = self.health();
        if previous != DOWN {
            tracing::warn!(target = %self.target(), error = %err, "unavailable; reconnecting with backoff");
            health.since = Instant::now();
            self.core.metrics.up(self.target(), false);
        }
        health.last_error = Some(err.to_string());
        health.next_attempt = Some(next_attempt);
    }

    /// The error a write gets while the primary is down.
    pub(crate) fn unavailable(&self) -> RouterError {
        let health = self.health();
        RouterError::PrimaryUnavailable {
            reason: health.last_error.clone().unwrap_or_else(|| "not connected".into()),
            retry_after: health
                .next_attempt
                .map_or(Duration::ZERO, |at| at.saturating_duration_since(Instant::now())),
        }
    }

    pub(crate) fn status(&self) -> TargetStatus {
        let health = self.health();
        let status = self.pool.status();
        TargetStatus {
            up: match self.state.load(Ordering::Acquire) {
                UP => Some(true),
                DOWN => Some(false),
                _ => None,
            },
            for_duration: health.since.elapsed(),
            last_error: health.last_error.clone(),
            hosts: self.shared.live().iter().map(|c| c.host.host.to_string()).collect(),
            pool: (status.size, status.available, status.waiting, status.max_size),
        }
    }

    /// Starts the maintenance task unless it runs already.
    pub(crate) fn kick(self: &Arc<Self>) {
        if self
            .maintaining
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tokio::spawn(maintain(Arc::downgrade(self)));
        }
    }

    /// Reacts to an operation's failure: connection-level problems start a reconnect.
    pub(crate) fn report(self: &Arc<Self>, err: &RouterError) {
        if let Some(class) = err.class() {
            self.core.metrics.error(self.target(), class);
            if class.connection_unusable() || matches!(err, RouterError::Connect { .. } | RouterError::WrongRole { .. })
            {
                self.kick();
            }
        }
    }

    /// A dedicated connection from the pool.
    pub(crate) async fn checkout(self: &Arc<Self>) -> Result<Pooled, RouterError> {
        match self.pool.get().await {
            Ok(conn) => {
                let status = self.pool.status();
                self.core.metrics.pool(
                    self.target(),
                    status.size - status.available,
                    status.available,
                    status.waiting,
                );
                Ok(conn)
            }
            Err(err) => {
                let err = checkout_error(&self.core, &self.pool, err);
                self.report(&err);
                Err(err)
            }
        }
    }
}

/// Reconnects shared sessions until all slots are healthy, with jittered backoff between
/// failed rounds. Ends when the side is dropped.
async fn maintain(side: Weak<Side>) {
    loop {
        let Some(s) = side.upgrade() else { return };
        if !s.shared.needs_repair() {
            s.maintaining.store(false, Ordering::Release);
            // A failure reported between the check and the flag reset must not be lost.
            if s.shared.needs_repair()
                && s.maintaining
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                continue;
            }
            return;
        }
        let delay = match s.shared.repair(&s.core).await {
            Ok(_) => {
                s.mark_up();
                let mut backoff = s.backoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if s.shared.needs_repair() {
                    Some(backoff.next_delay())
                } else {
                    backoff.reset();
                    None
                }
            }
            Err(err) => {
                let delay = s
                    .backoff
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .next_delay();
                s.mark_down(&err, Instant::now() + delay);
                Some(delay)
            }
        };
        drop(s);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }
}
