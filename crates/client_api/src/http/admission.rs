//! Admission of API requests: at most `PCC_HTTP_MAX_IN_FLIGHT` at once, of which reads may hold only three
//! quarters and writes only three quarters, so a flood of one class can never take every slot from the
//! other: a replica outage sends every list to the primary, which sheds most of them, and writes go on;
//! writes piling up behind locked rows leave room for reads. Past its limit a request waits for a slot at
//! most `PCC_HTTP_ADMISSION_WAIT_MS` (first come, first served), then is refused with a 503 problem and
//! `Retry-After` (load shedding, never a queue that grows without bound or waits long).
//!
//! Why wait at all: under steady open-loop load a stall of the machine of a tenth of a second (a
//! checkpoint, a neighbour, the scheduler) lets hundreds of requests arrive while few finish. Refusing
//! at once turned such a stall into a burst of 503s in the 30-minute soak (114 requests in 0.1 s, each
//! refused in 0.02 ms) although the service caught up a moment later; a short wait rides it out and a
//! real overload is still refused within the wait. Waiting requests are bounded by the open client
//! connections (HTTP/1.1: one request in flight per connection).
//!
//! Reads are `GET` and `HEAD`; every other method changes something and counts as a write.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The in-flight budget shared by every API route (cheap to clone).
#[derive(Clone, Debug)]
pub struct Admission {
    all: Arc<Semaphore>,
    reads: Arc<Semaphore>,
    writes: Arc<Semaphore>,
    wait: Duration,
}

/// What a request holds while it is served: a slot of its class's share and one of the whole budget.
type Permits = (OwnedSemaphorePermit, OwnedSemaphorePermit);

impl Admission {
    /// `max_in_flight` requests at once, each class at most three quarters of them (at least one); a
    /// request past a limit waits at most `wait` for a slot.
    pub fn new(max_in_flight: usize, wait: Duration) -> Self {
        let max_in_flight = max_in_flight.max(1);
        Self {
            all: Arc::new(Semaphore::new(max_in_flight)),
            reads: Arc::new(Semaphore::new(Self::share(max_in_flight))),
            writes: Arc::new(Semaphore::new(Self::share(max_in_flight))),
            wait,
        }
    }

    /// How many of `max_in_flight` slots one class may hold at once.
    pub fn share(max_in_flight: usize) -> usize {
        (max_in_flight - max_in_flight / 4).max(1)
    }

    /// Slots for one request: at once when both are free, otherwise within the wait (tokio's semaphore
    /// serves waiters in order); `None` when its class or the whole budget stayed at its limit.
    async fn admit(&self, read: bool) -> Option<Permits> {
        if let Some(permits) = self.try_admit(read) {
            return Some(permits);
        }
        if self.wait.is_zero() {
            return None;
        }
        let class = if read { &self.reads } else { &self.writes };
        tokio::time::timeout(self.wait, async {
            let share = class.clone().acquire_owned().await.ok()?;
            let slot = self.all.clone().acquire_owned().await.ok()?;
            Some((share, slot))
        })
        .await
        .ok()
        .flatten()
    }

    /// Slots for one request if both are free now.
    fn try_admit(&self, read: bool) -> Option<Permits> {
        // The class's share first; a request refused by the whole budget gives it back when dropped.
        let class = if read { &self.reads } else { &self.writes };
        let share = class.clone().try_acquire_owned().ok()?;
        let slot = self.all.clone().try_acquire_owned().ok()?;
        Some((share, slot))
    }
}

/// Middleware: serves the request while it holds its slots (until its response head is ready), or
/// refuses it with 503 + `Retry-After`.
pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let read = matches!(*request.method(), http::Method::GET | http::Method::HEAD);
    let Some(_permits) = admission.admit(read).await else {
        metrics::counter!("http_shed_total", "reason" => "in_flight").increment(1);
        return ApiError::unavailable("the service is at capacity; retry shortly", 1).into_response();
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(admission: &Admission, read: bool) -> Vec<Permits> {
        std::iter::from_fn(|| admission.try_admit(read)).take(100).collect()
    }

    #[test]
    fn a_flood_of_reads_leaves_a_quarter_of_the_slots_to_writes() {
        let admission = Admission::new(8, Duration::ZERO);
        let reads = fill(&admission, true);
        assert_eq!(reads.len(), 6, "reads hold at most three quarters");
        let writes = fill(&admission, false);
        assert_eq!(writes.len(), 2, "writes get the rest while reads are at their share");
        assert!(admission.try_admit(true).is_none() && admission.try_admit(false).is_none());
        drop(reads);
        assert!(admission.try_admit(true).is_some(), "a finished read frees its slot");
    }

    #[test]
    fn a_flood_of_writes_leaves_a_quarter_of_the_slots_to_reads() {
        let admission = Admission::new(8, Duration::ZERO);
        let writes = fill(&admission, false);
        assert_eq!(writes.len(), 6);
        assert_eq!(fill(&admission, true).len(), 2);
        drop(writes);
    }

    #[test]
    fn a_request_refused_by_the_whole_budget_gives_its_share_back() {
        let admission = Admission::new(4, Duration::ZERO);
        let reads = fill(&admission, true);
        let writes = fill(&admission, false);
        assert_eq!((reads.len(), writes.len()), (3, 1));
        for _ in 0..10 {
            assert!(admission.try_admit(false).is_none(), "the whole budget is taken");
        }
        drop(reads);
        assert_eq!(fill(&admission, false).len(), 2, "no write share leaked while refused");
    }

    #[test]
    fn tiny_budgets_still_admit_both_classes() {
        assert_eq!(Admission::share(1), 1);
        assert_eq!(Admission::share(3), 3);
        assert_eq!(Admission::share(512), 384);
    }

    #[tokio::test]
    async fn a_request_past_the_limit_waits_for_a_slot_within_the_wait_and_no_longer() {
        let admission = Admission::new(4, Duration::from_millis(200));
        let held = fill(&admission, true);
        assert_eq!(held.len(), 3);
        // A slot freed within the wait admits the waiting read.
        let waiting = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.admit(true).await.is_some() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiting.await.expect("join"), "admitted once a read finished");
        // Nothing freed: refused when the wait is over, not before and not never.
        let held = fill(&admission, true);
        let started = tokio::time::Instant::now();
        assert!(admission.admit(true).await.is_none());
        assert!(started.elapsed() >= Duration::from_millis(200), "waited the whole wait");
        drop(held);
        let refuse_at_once = Admission::new(1, Duration::ZERO);
        let _one = refuse_at_once.admit(false).await.expect("a free slot");
        assert!(refuse_at_once.admit(false).await.is_none());
    }
}
