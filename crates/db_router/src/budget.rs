//! The fallback budget: a token bucket that lets reads meant for a replica go to the primary
//! only at a bounded rate, so a replica outage cannot stampede the primary.

use std::sync::Mutex;
use std::time::Instant;

/// Token bucket with `capacity` tokens refilled at `refill_per_sec`.
#[derive(Debug)]
pub(crate) struct Budget {
    capacity: f64,
    refill_per_sec: f64,
    state: Mutex<(f64, Instant)>,
}

impl Budget {
    pub(crate) fn new(capacity: u32, refill_per_sec: f64) -> Self {
        let capacity = f64::from(capacity);
        Budget {
            capacity,
            refill_per_sec: refill_per_sec.max(0.0),
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    fn refill(&self, state: &mut (f64, Instant), now: Instant) {
        let elapsed = now.saturating_duration_since(state.1).as_secs_f64();
        state.0 = (state.0 + elapsed * self.refill_per_sec).min(self.capacity);
        state.1 = now;
    }

    /// Takes one token if there is one.
    pub(crate) fn try_take(&self) -> bool {
        self.try_take_at(Instant::now())
    }

    pub(crate) fn try_take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.refill(&mut state, now);
        if state.0 >= 1.0 {
            state.0 -= 1.0;
            true
        } else {
            false
        }
    }

    /// Tokens left now.
    pub(crate) fn remaining(&self) -> f64 {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.refill(&mut state, Instant::now());
        state.0
    }

    /// Seconds until one token is available (for `Retry-After`).
    pub(crate) fn seconds_to_next(&self) -> f64 {
        let left = self.remaining();
        if left >= 1.0 || self.refill_per_sec == 0.0 {
            return if left >= 1.0 { 0.0 } else { f64::INFINITY };
        }
        (1.0 - left) / self.refill_per_sec
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn spends_capacity_then_refills_at_the_rate() {
        let budget = Budget::new(3, 2.0);
        let start = Instant::now();
        assert!(budget.try_take_at(start));
        assert!(budget.try_take_at(start));
        assert!(budget.try_take_at(start));
        assert!(!budget.try_take_at(start));
        // Half a second at 2 tokens/s gives one token back.
        assert!(budget.try_take_at(start + Duration::from_millis(500)));
        assert!(!budget.try_take_at(start + Duration::from_millis(500)));
        // Never more than the capacity.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(budget.try_take_at(later));
        }
        assert!(!budget.try_take_at(later));
    }

    #[test]
    fn zero_rate_never_refills() {
        let budget = Budget::new(1, 0.0);
        assert!(budget.try_take());
        assert!(!budget.try_take_at(Instant::now() + Duration::from_secs(3600)));
        assert!(budget.seconds_to_next().is_infinite());
    }
}
