//! Jittered exponential backoff ("equal jitter": a random delay between half and all of the current
//! ceiling), so many service instances do not reconnect in lockstep after an outage. Public so the
//! service can space its retries of failed transactions the same way.

use std::time::Duration;

use rand::RngExt as _;

/// Reconnect delays.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    ceiling: Duration,
}

impl Backoff {
    /// Delays starting at `initial` (at least 1 ms), doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Backoff {
            initial,
            max: max.max(initial),
            ceiling: initial,
        }
    }

    /// The next delay: uniform in [ceiling/2, ceiling], then the ceiling doubles up to `max`.
    /// (Half the ceiling as a floor keeps a tight loop from forming when the draw is near zero.)
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling;
        self.ceiling = (self.ceiling * 2).min(self.max);
        let low = ceiling / 2;
        let span = (ceiling - low).as_micros().max(1);
        let extra = rand::rng().random_range(0..=span);
        low + Duration::from_micros(u64::try_from(extra).unwrap_or(u64::MAX))
    }

    /// Back to the initial delay after a success.
    pub fn reset(&mut self) {
        self.ceiling = self.initial;
    }
}

/// A duration scaled by a random factor in `[1 - jitter, 1]` (connection lifetimes).
pub(crate) fn jittered(base: Duration, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    let factor = 1.0 - rand::rng().random_range(0.0..=jitter);
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_within_jitter_bounds() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings = [100, 200, 400, 800, 1000, 1000];
        for ceiling in ceilings {
            let d = backoff.next_delay();
            let ceiling = Duration::from_millis(ceiling);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{d:?} not in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn jittered_lifetimes_stay_in_range_and_differ() {
        let base = Duration::from_secs(3600);
        let samples: Vec<Duration> = (0..50).map(|_| jittered(base, 0.2)).collect();
        assert!(samples.iter().all(|d| *d <= base && *d >= base.mul_f64(0.8)));
        assert!(samples.iter().any(|d| *d != samples[0]));
        assert_eq!(jittered(base, 0.0), base);
    }
}
