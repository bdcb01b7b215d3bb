//! The routing decision of a read: which side its consistency allows, the bounded wait for a
//! token, and the budgeted fallback to the primary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Read;
use crate::class::FallbackReason;
use crate::conn::OpenConn;
use crate::consistency::{Consistency, ConsistencyToken};
use crate::error::RouterError;
use crate::router::Inner;
use crate::side::Side;

/// Where the routing decision sends a read.
pub(super) enum Choice {
    Replica {
        conn: Arc<OpenConn>,
        waited: Option<Duration>,
    },
    Primary {
        fallback: Option<FallbackReason>,
    },
}

impl Read<'_> {
    /// The routing decision for the read's consistency.
    pub(super) async fn choose(&self) -> Result<Choice, RouterError> {
        let inner = self.inner();
        let Some(replica) = &inner.replica else {
            return Ok(Choice::Primary { fallback: None });
        };
        match self.consistency {
            Consistency::Strong => Ok(Choice::Primary { fallback: None }),
            Consistency::Any => match replica.shared.pick(|_| true) {
                Some(conn) => Ok(Choice::Replica { conn, waited: None }),
                None => self.replica_down(replica),
            },
            Consistency::BoundedStaleness(max) => {
                if replica.shared.live().is_empty() {
                    return self.replica_down(replica);
                }
                let fresh = |conn: &OpenConn| {
                    conn.lag
                        .as_ref()
                        .is_some_and(|lag| lag.known() && inner.staleness(lag.replay()).is_some_and(|s| s <= max))
                };
                match replica.shared.pick(fresh) {
                    Some(conn) => Ok(Choice::Replica { conn, waited: None }),
                    None => self.fallback(FallbackReason::TooStale),
                }
            }
            Consistency::ReadYourWrites(token) => self.choose_for_token(replica, token).await,
        }
    }

    async fn choose_for_token(&self, replica: &Arc<Side>, token: ConsistencyToken) -> Result<Choice, RouterError> {
        let inner = self.inner();
        let caught_up = |conn: &OpenConn| conn.lag.as_ref().is_some_and(|lag| lag.replay() >= token.lsn());
        if let Some(conn) = replica.shared.pick(caught_up) {
            return Ok(Choice::Replica { conn, waited: None });
        }
        // Wait on the replica session that is furthest ahead.
        let Some(conn) = replica
            .shared
            .live()
            .into_iter()
            .max_by_key(|conn| conn.lag.as_ref().map(|lag| lag.replay()))
        else {
            return self.replica_down(replica);
        };
        if self.token_ahead_of_primary(token).await {
            return self.fallback(FallbackReason::TokenAhead);
        }
        let Some(lag) = conn.lag.clone() else {
            return self.fallback(FallbackReason::ReplicaError);
        };
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + inner.token_wait;
        let probe_conn = conn.clone();
        let caught = lag
            .wait_for(token.lsn(), deadline, inner.token_poll, move || {
                let conn = probe_conn.clone();
                async move { conn.probe().await.ok().flatten() }
            })
            .await;
        let waited = started.elapsed();
        inner.metrics.token_wait(caught, waited.as_secs_f64());
        if caught {
            Ok(Choice::Replica {
                conn,
                waited: Some(waited),
            })
        } else {
            self.fallback(FallbackReason::TokenWaitTimeout)
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

    fn replica_down(&self, replica: &Arc<Side>) -> Result<Choice, RouterError> {
        replica.kick();
        self.fallback(FallbackReason::ReplicaDown)
    }

    /// Sends the read to the primary if the budget allows, else fails fast.
    pub(super) fn fallback(&self, reason: FallbackReason) -> Result<Choice, RouterError> {
        let inner = self.inner();
        if inner.budget.try_take() {
            inner.metrics.fallback(reason, inner.budget.remaining());
            Ok(Choice::Primary { fallback: Some(reason) })
        } else {
            inner.metrics.refused(reason, inner.budget.remaining());
            let seconds = inner.budget.seconds_to_next();
            Err(RouterError::Overloaded {
                consistency: self.consistency.label(),
                reason,
                retry_after: if seconds.is_finite() {
                    Duration::from_secs_f64(seconds.max(0.001))
                } else {
                    Duration::from_secs(60)
                },
            })
        }
    }
}
