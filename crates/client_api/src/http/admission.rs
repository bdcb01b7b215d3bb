//! Admission of API requests: at most `PCC_HTTP_MAX_IN_FLIGHT` at once, of which reads may hold only three
//! quarters and writes only three quarters, so a flood of one class can never take every slot from the
//! other: a replica outage sends every list to the primary, which sheds most of them, and writes go on;
//! writes piling up behind locked rows leave room for reads. Past its limit a request is refused at once
//! with a 503 problem and `Retry-After` (load shedding, never a queue that grows without bound).
//!
//! Reads are `GET` and `HEAD`; every other method changes something and counts as a write.

use std::sync::Arc;

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
}

/// What a request holds while it is served: a slot of its class's share and one of the whole budget.
type Permits = (OwnedSemaphorePermit, OwnedSemaphorePermit);

impl Admission {
    /// `max_in_flight` requests at once, each class at most three quarters of them (at least one).
    pub fn new(max_in_flight: usize) -> Self {
        let max_in_flight = max_in_flight.max(1);
        Self {
            all: Arc::new(Semaphore::new(max_in_flight)),
            reads: Arc::new(Semaphore::new(Self::share(max_in_flight))),
            writes: Arc::new(Semaphore::new(Self::share(max_in_flight))),
        }
    }

    /// How many of `max_in_flight` slots one class may hold at once.
    pub fn share(max_in_flight: usize) -> usize {
        (max_in_flight - max_in_flight / 4).max(1)
    }

    /// Slots for one request, or `None` when its class or the whole budget is at its limit.
    fn admit(&self, read: bool) -> Option<Permits> {
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
    let Some(_permits) = admission.admit(read) else {
        metrics::counter!("http_shed_total", "reason" => "in_flight").increment(1);
        return ApiError::unavailable("the service is at capacity; retry shortly", 1).into_response();
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(admission: &Admission, read: bool) -> Vec<Permits> {
        std::iter::from_fn(|| admission.admit(read)).take(100).collect()
    }

    #[test]
    fn a_flood_of_reads_leaves_a_quarter_of_the_slots_to_writes() {
        let admission = Admission::new(8);
        let reads = fill(&admission, true);
        assert_eq!(reads.len(), 6, "reads hold at most three quarters");
        let writes = fill(&admission, false);
        assert_eq!(writes.len(), 2, "writes get the rest while reads are at their share");
        assert!(admission.admit(true).is_none() && admission.admit(false).is_none());
        drop(reads);
        assert!(admission.admit(true).is_some(), "a finished read frees its slot");
    }

    #[test]
    fn a_flood_of_writes_leaves_a_quarter_of_the_slots_to_reads() {
        let admission = Admission::new(8);
        let writes = fill(&admission, false);
        assert_eq!(writes.len(), 6);
        assert_eq!(fill(&admission, true).len(), 2);
        drop(writes);
    }

    #[test]
    fn a_request_refused_by_the_whole_budget_gives_its_share_back() {
        let admission = Admission::new(4);
        let reads = fill(&admission, true);
        let writes = fill(&admission, false);
        assert_eq!((reads.len(), writes.len()), (3, 1));
        for _ in 0..10 {
            assert!(admission.admit(false).is_none(), "the whole budget is taken");
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
}
