//! The shared connections of one target: a few long-lived read-only sessions on which
//! concurrent single-statement reads are pipelined by tokio-postgres (many requests in flight
//! on one socket), instead of checking a connection out of the pool per request.
//!
//! Why: on a 2-core machine a per-request checkout reached about 0.5x of pgbench on a point
//! read, while pipelining over two or three shared connections reached about 0.64x (see the
//! architecture notes). The server still runs one statement at a time per session, so this is
//! only for short reads; transactions and writes use dedicated pooled connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::conn::{OpenConn, TargetCore};
use crate::error::RouterError;

/// Slots holding the shared sessions; a slot is empty or holds a session that may have died.
pub(crate) struct SharedSet {
    slots: Vec<RwLock<Option<Arc<OpenConn>>>>,
    next: AtomicUsize,
}

impl SharedSet {
    pub(crate) fn new(size: usize) -> Self {
        SharedSet {
            slots: (0..size).map(|_| RwLock::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    fn get(&self, index: usize) -> Option<Arc<OpenConn>> {
        self.slots[index]
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The next usable session (round robin) that `accept` likes.
    pub(crate) fn pick(&self, accept: impl Fn(&OpenConn) -> bool) -> Option<Arc<OpenConn>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let len = self.slots.len();
        (0..len).find_map(|offset| {
            self.get((start + offset) % len)
                .filter(|conn| conn.usable() && accept(conn))
        })
    }

    /// Every usable session.
    pub(crate) fn live(&self) -> Vec<Arc<OpenConn>> {
        (0..self.slots.len())
            .filter_map(|i| self.get(i))
            .filter(|conn| conn.usable())
            .collect()
    }

    /// Every usable session with its slot number (the `session` label of per-session metrics).
    pub(crate) fn live_slots(&self) -> Vec<(usize, Arc<OpenConn>)> {
        (0..self.slots.len())
            .filter_map(|i| self.get(i).map(|conn| (i, conn)))
            .filter(|(_, conn)| conn.usable())
            .collect()
    }

    /// Whether any slot is empty, dead or past its lifetime.
    pub(crate) fn needs_repair(&self) -> bool {
        (0..self.slots.len()).any(|i| self.get(i).is_none_or(|conn| !conn.usable() || conn.expired()))
    }

    /// Replaces empty, dead and expired sessions. An expired one is replaced only once its
    /// successor is open (in-flight queries on it finish; it closes when the last user drops
    /// it). Returns the number of usable sessions, or the last error when there are none.
    pub(crate) async fn repair(&self, core: &TargetCore) -> Result<usize, RouterError> {
        let mut last_error = None;
        for (index, slot) in self.slots.iter().enumerate() {
            let current = self.get(index);
            let replace = current.as_ref().is_none_or(|conn| !conn.usable() || conn.expired());
            if !replace {
                continue;
            }
            match Box::pin(core.open(true)).await {
                Ok(conn) => {
                    *slot.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(conn));
                }
                Err(err) => {
                    if current.as_ref().is_some_and(|conn| !conn.usable()) {
                        slot.write().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                    }
                    last_error = Some(err);
                    // The server is unreachable or refusing: do not hammer it slot by slot.
                    break;
                }
            }
        }
        let live = self.live().len();
        match (live, last_error) {
            (0, Some(err)) => Err(err),
            (live, _) => Ok(live),
        }
    }
}
