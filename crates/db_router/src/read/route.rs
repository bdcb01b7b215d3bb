//! The routing decision of a read: which replica session its consistency allows (judged by that
//! session's own replay position, never another session's), the bounded wait for a token, and the
//! admission of a fallback to the primary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::select_ok;

use super::Read;
use crate::class::FallbackReason;
use crate::conn::OpenConn;
use crate::consistency::{Consistency, ConsistencyToken, Lsn};
use crate::error::RouterError;
use crate::fallback::Permit;
use crate::router::Inner;
use crate::side::Side;

/// Where the routing decision sends a read.
pub(super) enum Choice<'a> {
    Replica {
        conn: Arc<OpenConn>,
        waited: Option<Duration>,
        check: Check,
    },
    Primary {
        fallback: Option<FallbackReason>,
        /// The fallback's slot on the primary, held until the read is done.
        permit: Option<Permit<'a>>,
    },
}

/// What a replica read requires of its own session. As the read is sent, the session's known position
/// (from a probe that ran on it before the read) is judged first; if that does not satisfy it, a probe
/// runs in front of the read in the same round trip, and the rows count only if the probe does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// Nothing (`Any`, or a session that just replayed a token while the read waited).
    Nothing,
    /// The token's position replayed.
    Replayed(Lsn),
    /// At most this far behind the primary, as of when the read is sent.
    FreshWithin(Duration),
}

impl Read<'_> {
    /// The routing decision for the read's consistency.
    pub(super) async fn choose(&self) -> Result<Choice<'_>, RouterError> {
        let inner = self.inner();
        let Some(replica) = &inner.replica else {
            return Ok(Choice::Primary {
                fallback: None,
                permit: None,
            });
        };
        match self.consistency {
            Consistency::Strong => Ok(Choice::Primary {
                fallback: None,
                permit: None,
            }),
            Consistency::Any => match replica.shared.pick(|_| true) {
                Some(conn) => Ok(replica_choice(conn, Check::Nothing)),
                None => self.replica_down(replica).await,
            },
            Consistency::BoundedStaleness(max) => {
                // Checked again as the read is sent (staleness grows while a replica lags).
                if let Some(conn) = replica.shared.pick(|conn| fresh_within(inner, conn, max)) {
                    return Ok(replica_choice(conn, Check::FreshWithin(max)));
                }
                // No session is known to be fresh enough; the freshest may have caught up since it was
                // last probed, which a probe in front of the read tells at no extra round trip.
                match freshest(&replica.shared.live()) {
                    Some(conn) => Ok(replica_choice(conn, Check::FreshWithin(max))),
                    None => self.replica_down(replica).await,
                }
            }
            Consistency::ReadYourWrites(token) => self.choose_for_token(replica, token).await,
        }
    }

    async fn choose_for_token(&self, replica: &Arc<Side>, token: ConsistencyToken) -> Result<Choice<'_>, RouterError> {
        let caught_up = |conn: &OpenConn| conn.lag.as_ref().is_some_and(|lag| lag.replay() >= token.lsn());
        if let Some(conn) = replica.shared.pick(caught_up) {
            return Ok(replica_choice(conn, Check::Replayed(token.lsn())));
        }
        let Some(conn) = freshest(&replica.shared.live()) else {
            return self.replica_down(replica).await;
        };
        if self.token_ahead_of_primary(token).await {
            return self.fallback(FallbackReason::TokenAhead).await;
        }
        // Most tokens are a few milliseconds old: the furthest session has likely replayed them by now.
        Ok(replica_choice(conn, Check::Replayed(token.lsn())))
    }

    /// After a session turned out behind the token: waits, up to `token_wait`, for any live session to
    /// replay it (each probed on its own, single flight per session), then reads there; else falls back.
    pub(super) async fn wait_for_token(&self, token: ConsistencyToken) -> Result<Choice<'_>, RouterError> {
        let inner = self.inner();
        let Some(replica) = &inner.replica else {
            return self.fallback(FallbackReason::ReplicaDown).await;
        };
        let live = replica.shared.live();
        if live.is_empty() {
            return self.replica_down(replica).await;
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + inner.token_wait;
        let poll = inner.token_poll;
        let waits = live.into_iter().map(|conn| {
            Box::pin(async move {
                let prober = conn.clone();
                let Some(lag) = conn.lag.as_ref() else { return Err(()) };
                let caught = lag
                    .wait_for(token.lsn(), deadline, poll, move || {
                        let conn = prober.clone();
                        async move { conn.probe().await.ok().flatten() }
                    })
                    .await;
                if caught { Ok(conn.clone()) } else { Err(()) }
            })
        });
        let caught = select_ok(waits).await.ok().map(|(conn, _)| conn);
        let waited = started.elapsed();
        inner.metrics.token_wait(caught.is_some(), waited.as_secs_f64());
        match caught {
            Some(conn) => Ok(Choice::Replica {
                conn,
                waited: Some(waited),
                check: Check::Nothing,
            }),
            None => self.fallback(FallbackReason::TokenWaitTimeout).await,
        }
    }

    /// A token beyond every position the primary reported cannot be satisfied by waiting
    /// (forged, or from another cluster). Checked against a fresh primary position first, since
    /// another service instance may have written after our last sample.
    async fn token_ahead_of_primary(&self, token: ConsistencyToken) -> bool {
        let inner = self.inner();
        if inner.history.latest().is_some_and(|(_, lsn)| token.lsn() <= lsn) {
            return false;
        }
        let Some(conn) = inner.primary.shared.pick(|_| true) else {
            // No primary to ask: let the bounded wait decide.
            return false;
        };
        let asked = Instant::now();
        match Inner::bounded(&inner.primary.core, conn.probe()).await {
            Ok(Some(lsn)) => {
                inner.saw_primary(asked, lsn);
                token.lsn() > lsn
            }
            _ => false,
        }
    }

    async fn replica_down(&self, replica: &Arc<Side>) -> Result<Choice<'_>, RouterError> {
        replica.kick();
        self.fallback(FallbackReason::ReplicaDown).await
    }

    /// Sends the read to the primary once the fallback gate admits it (at once while the primary has
    /// headroom, after a short wait in line when it is busy); sheds it when the primary has none.
    pub(super) async fn fallback(&self, reason: FallbackReason) -> Result<Choice<'_>, RouterError> {
        let inner = self.inner();
        if inner.primary.is_down() {
            return Err(inner.primary.unavailable());
        }
        match inner.gate.admit().await {
            Ok(permit) => {
                inner.metrics.fallback(reason);
                Ok(Choice::Primary {
                    fallback: Some(reason),
                    permit: Some(permit),
                })
            }
            Err(shed) => {
                inner.metrics.refused(reason);
                let status = inner.gate.status();
                tracing::debug!(?shed, %reason, limit = status.limit, queued = status.queued, "fallback read shed");
                Err(RouterError::Overloaded {
                    consistency: self.consistency.label(),
                    reason,
                    // The primary is saturated (its line was full or did not move): come back in a second.
                    retry_after: Duration::from_secs(1),
                })
            }
        }
    }
}

fn replica_choice<'a>(conn: Arc<OpenConn>, check: Check) -> Choice<'a> {
    Choice::Replica {
        conn,
        waited: None,
        check,
    }
}

/// Whether the session's known position bounds its staleness within `max`.
pub(super) fn fresh_within(inner: &Inner, conn: &OpenConn, max: Duration) -> bool {
    conn.lag
        .as_ref()
        .is_some_and(|lag| lag.known() && inner.staleness(lag.replay()).is_some_and(|s| s <= max))
}

/// The session furthest ahead by its own last probe.
fn freshest(live: &[Arc<OpenConn>]) -> Option<Arc<OpenConn>> {
    live.iter()
        .max_by_key(|conn| conn.lag.as_ref().map(|lag| lag.replay()))
        .cloned()
}
