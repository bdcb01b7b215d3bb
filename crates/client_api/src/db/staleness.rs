//! What the reads of one request saw: the largest staleness bound of the reads it ran (db_router's
//! `Route::staleness`: zero on the primary, the replica's bound otherwise), kept in a task-local that
//! the HTTP layer opens per request (`http::staleness`) and reports as `Pcc-Read-Staleness-Ms`.

use std::sync::Mutex;
use std::time::Duration;

tokio::task_local! {
    /// The reads of the request being served (absent outside a request, e.g. in background tasks).
    pub static READS: ReadReport;
}

/// The reads of one request.
#[derive(Debug, Default)]
pub struct ReadReport {
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    reads: u32,
    unknown: bool,
    max: Duration,
}

impl ReadReport {
    /// Records one read's staleness bound (`None`: the replica's position is not known yet) in the
    /// current request's report, if there is one.
    pub fn record(staleness: Option<Duration>) {
        let _ = READS.try_with(|report| {
            let mut state = report.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            state.reads += 1;
            match staleness {
                Some(d) => state.max = state.max.max(d),
                None => state.unknown = true,
            }
        });
    }

    /// The bound over every read of the request; `None` when it ran no read or a bound was unknown.
    pub fn bound(&self) -> Option<Duration> {
        let state = *self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.reads > 0 && !state.unknown).then_some(state.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_largest_bound_of_a_request_is_reported_and_unknown_means_none() {
        let (seen, unknown, none) = READS
            .scope(ReadReport::default(), async {
                ReadReport::record(Some(Duration::ZERO));
                ReadReport::record(Some(Duration::from_millis(250)));
                ReadReport::record(Some(Duration::from_millis(40)));
                let seen = READS.with(ReadReport::bound);
                ReadReport::record(None);
                (seen, READS.with(ReadReport::bound), ReadReport::default().bound())
            })
            .await;
        assert_eq!(seen, Some(Duration::from_millis(250)));
        assert_eq!(unknown, None);
        assert_eq!(none, None, "no read, no report");
        // Outside a request, recording is a no-op.
        ReadReport::record(Some(Duration::from_secs(1)));
    }
}
