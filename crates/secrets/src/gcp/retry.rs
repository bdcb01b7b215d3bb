//! How long the GCP backend keeps trying: a [`RetryPolicy`] (attempts, a total time budget,
//! exponential backoff with jitter) and the per-call [`Backoff`] that applies it, honouring
//! `Retry-After` (delta-seconds or HTTP-date, RFC 9110 10.2.3) when the server sends one.
//!
//! The budget is wall time since the first attempt, request time included, so "90 s" means
//! the call gives up about 90 s after it started however the time was spent. A wait the budget
//! cannot afford is not slept at all: the caller fails at once with what it saw, instead of
//! sleeping into a failure.

use std::time::{Duration, Instant, SystemTime};

/// Attempts and waits of one kind of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts at most (1 = no retry).
    pub max_attempts: u32,
    /// Give up once this much time has passed since the first attempt.
    pub budget: Duration,
    /// The first backoff (before jitter); it doubles per attempt.
    pub initial_backoff: Duration,
    /// The largest backoff (before jitter). A server's `Retry-After` is not capped by it, only
    /// by what remains of the budget.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Secret Manager calls: outlast a per-minute quota (a 429 clears within the minute) with
    /// about 90 s in all, backoff from 250 ms up to 16 s.
    pub const API: Self = Self {
        max_attempts: 30,
        budget: Duration::from_secs(90),
        initial_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(16),
    };

    /// Access tokens: the GKE metadata server answers only a few seconds after a pod starts
    /// under Workload Identity; 30 s covers that with room, backoff from 200 ms up to 5 s.
    pub const TOKEN: Self = Self {
        max_attempts: 30,
        budget: Duration::from_secs(30),
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(5),
    };

    /// One attempt, no retry.
    pub const ONCE: Self = Self {
        max_attempts: 1,
        budget: Duration::ZERO,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };
}

/// Why a [`Backoff`] refuses another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    /// The policy's attempts are used up.
    Attempts,
    /// The next wait (the server's `Retry-After`, or the backoff) would end past the budget.
    Budget {
        /// The wait that did not fit.
        wanted: Duration,
    },
}

/// The retry state of one call.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    started: Instant,
    attempts: u32,
}

impl Backoff {
    /// Starts the clock; call [`Self::attempted`] before each request.
    pub(crate) fn start(policy: RetryPolicy) -> Self {
        Self {
            policy,
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// Counts one attempt.
    pub(crate) fn attempted(&mut self) {
        self.attempts += 1;
    }

    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time since the first attempt.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The wait before the next attempt, or why there is none. `retry_after` is the server's
    /// instruction; without one the wait is the jittered exponential backoff.
    pub(crate) fn next_wait(&self, retry_after: Option<Duration>) -> Result<Duration, GiveUp> {
        if self.attempts >= self.policy.max_attempts {
            return Err(GiveUp::Attempts);
        }
        let wait = match retry_after {
            // A little jitter on top, so pods told the same second do not return in lockstep.
            Some(after) => after + jitter_up_to(Duration::from_millis(250).min(after / 10 + Duration::from_millis(1))),
            None => self.backoff(),
        };
        if self.elapsed() + wait > self.policy.budget {
            return Err(GiveUp::Budget { wanted: wait });
        }
        Ok(wait)
    }

    /// Waits before the next attempt, or says why not (see [`Self::next_wait`]).
    pub(crate) async fn wait(&self, retry_after: Option<Duration>) -> Result<(), GiveUp> {
        let wait = self.next_wait(retry_after)?;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// "Equal jitter": half the exponential step fixed, half random, so waits grow but never
    /// collapse to zero.
    fn backoff(&self) -> Duration {
        let exp = self.attempts.saturating_sub(1).min(20);
        let step = self
            .policy
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.policy.max_backoff);
        jittered(step)
    }
}

/// `base` scaled by a random factor in [0.5, 1]: a pause that does not repeat in lockstep.
pub(crate) fn jittered(base: Duration) -> Duration {
    base / 2 + jitter_up_to(base / 2)
}

/// A uniformly random duration in `[0, max]` (from the OS generator; zero if it fails, which
/// only loses the jitter).
fn jitter_up_to(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let r = getrandom::u64().unwrap_or(0);
    Duration::from_nanos(r % (nanos + 1))
}

/// Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), as a wait from `now`. A date in the past is a zero wait;
/// anything else unparsable is `None` (the caller falls back to its own backoff).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `Retry-After` of a response, if it has a usable one.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// `12.3 s` for messages.
pub(crate) fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date already past means "now".
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-1", "1.5", "soon", "99999999999999999999999"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn backoff_grows_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 100,
            budget: Duration::from_secs(3600),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        };
        let mut b = Backoff::start(policy);
        let mut steps = Vec::new();
        for _ in 0..8 {
            b.attempted();
            steps.push(b.next_wait(None).unwrap());
        }
        // Step n is in [s/2, s] for s = min(100 ms * 2^(n-1), 2 s).
        for (n, wait) in steps.iter().enumerate() {
            let s = Duration::from_millis(100 * (1 << n)).min(Duration::from_secs(2));
            assert!(
                *wait >= s / 2 && *wait <= s,
                "step {n}: {wait:?} outside [{:?}, {s:?}]",
                s / 2
            );
        }
    }

    #[test]
    fn attempts_and_budget_bound_the_retries() {
        let mut once = Backoff::start(RetryPolicy::ONCE);
        once.attempted();
        assert_eq!(once.next_wait(None), Err(GiveUp::Attempts));

        let policy = RetryPolicy {
            max_attempts: 10,
            budget: Duration::from_secs(90),
            ..RetryPolicy::API
        };
        let mut b = Backoff::start(policy);
        b.attempted();
        // A Retry-After the budget cannot afford is refused at once rather than slept.
        assert!(
            matches!(b.next_wait(Some(Duration::from_secs(120))), Err(GiveUp::Budget { wanted }) if wanted >= Duration::from_secs(120)),
        );
        let ok = b.next_wait(Some(Duration::from_secs(30))).unwrap();
        assert!(
            ok >= Duration::from_secs(30) && ok <= Duration::from_millis(30_250),
            "{ok:?}"
        );
        for _ in 1..10 {
            b.attempted();
        }
        assert_eq!(b.next_wait(None), Err(GiveUp::Attempts));
    }
}
