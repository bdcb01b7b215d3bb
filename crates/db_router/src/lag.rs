//! Replication lag, measured cheaply.
//!
//! - The primary's WAL position is sampled (heartbeat, and every committed write's token) into
//!   a short history of `(time, lsn)`.
//! - Each replica *session*'s replay position is probed by the heartbeat and piggy-backed on reads
//!   (pipelined in front of the read when the last probe is older than a threshold: no extra round
//!   trip). Per session, not per host: behind a load-balanced endpoint (an AlloyDB read pool) two
//!   sessions to the same address may be on different nodes, each replaying WAL on its own, so a
//!   position one session reports vouches for nothing the other serves.
//! - A position vouches for a read only when the probe that read it ran on the same session before
//!   the read (the read's snapshot is then at least that new: replay only moves forward, and a
//!   snapshot taken after a commit record was replayed sees that commit).
//! - Staleness of a replica = now - the time of the newest primary sample the replica has
//!   replayed: an upper bound on how old its data can be. With the primary unreachable, a replica
//!   that replayed the last known position counts as current (nothing newer is reachable).
//! - Read-your-writes waits share one probe loop per session (single flight), so a burst of
//!   waiting reads costs one probe per session every `poll` interval, not one per read.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::consistency::Lsn;

/// How many primary samples are kept: with samples at least [`GRANULE`] apart, at least 40 s of
/// history under any write rate (about 8 minutes at the 250 ms heartbeat alone).
const HISTORY: usize = 2048;

/// Minimum spacing of kept samples (the newest always moves forward): bounds memory under heavy
/// write load at the cost of overstating staleness by at most twice this.
const GRANULE: Duration = Duration::from_millis(20);

/// The primary's recent WAL positions.
///
/// Each sample `(at, lsn)` states that every commit before `at` has a position below `lsn` (so
/// `at` is taken before the position is read). Samples are kept sorted by position with times
/// increasing: a sample implied by another (at or above its position and no newer) says nothing
/// more and is dropped. Concurrent writers report their positions out of order, and after a
/// failover the new primary's positions may go back; neither makes a sample wrong, so neither
/// clears the history (clearing it made a lagging replica look as fresh as the history was old).
#[derive(Debug, Default)]
pub(crate) struct PrimaryHistory {
    samples: Mutex<VecDeque<(Instant, Lsn)>>,
}

impl PrimaryHistory {
    /// Records that every commit before `at` has a position below `lsn`.
    pub(crate) fn record(&self, at: Instant, lsn: Lsn) {
        let mut samples = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The newest sample at or below this position has the latest time of them all: if it is
        // no older, this one adds nothing.
        let below = samples.partition_point(|(_, l)| *l <= lsn);
        if below > 0 && samples[below - 1].0 >= at {
            return;
        }
        // Samples at or above this position and no newer are implied by this one.
        let from = samples.partition_point(|(_, l)| *l < lsn);
        let to = from + samples.range(from..).take_while(|(t, _)| *t <= at).count();
        samples.drain(from..to);
        if from == samples.len() && samples.len() >= 2 {
            let n = samples.len();
            if samples[n - 1].0.saturating_duration_since(samples[n - 2].0) < GRANULE {
                samples.pop_back();
            }
        }
        if samples.len() == HISTORY {
            samples.pop_front();
        }
        let index = samples.partition_point(|(_, l)| *l < lsn);
        samples.insert(index, (at, lsn));
    }

    /// The newest sample.
    pub(crate) fn latest(&self) -> Option<(Instant, Lsn)> {
        let samples = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        samples.back().copied()
    }

    /// Upper bound of the staleness of a replica that has replayed `replay`; `None` when no
    /// sample bounds it (none yet, or the replica is behind the whole history).
    /// `primary_down` makes a replica that replayed the newest sample current.
    pub(crate) fn staleness(&self, replay: Lsn, now: Instant, primary_down: bool) -> Option<Duration> {
        let samples = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let &(newest_at, newest) = samples.back()?;
        if replay >= newest {
            return Some(if primary_down {
                Duration::ZERO
            } else {
                now.saturating_duration_since(newest_at)
            });
        }
        // The newest sample the replica has replayed. Behind the oldest one, the data may be
        // older than anything we know: no bound (a lower bound here would let a bounded-staleness
        // read accept a replica far behind).
        let index = samples.partition_point(|(_, lsn)| *lsn <= replay);
        let reference = samples.get(index.checked_sub(1)?)?.0;
        Some(now.saturating_duration_since(reference))
    }
}

/// One replica session's replay position (what the node this session's connection landed on has
/// replayed), learned only from probes on this session.
#[derive(Debug)]
pub(crate) struct SessionLag {
    epoch: Instant,
    replay: AtomicU64,
    probed_at_us: AtomicU64,
    probing: AtomicBool,
    next_piggyback_us: AtomicU64,
    changed: watch::Sender<u64>,
}

impl Default for SessionLag {
    fn default() -> Self {
        SessionLag {
            epoch: Instant::now(),
            replay: AtomicU64::new(0),
            probed_at_us: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            next_piggyback_us: AtomicU64::new(0),
            changed: watch::channel(0).0,
        }
    }
}

impl SessionLag {
    /// The last replay position seen (0 before the first probe).
    pub(crate) fn replay(&self) -> Lsn {
        Lsn(self.replay.load(Ordering::Acquire))
    }

    /// Whether a probe has ever succeeded.
    pub(crate) fn known(&self) -> bool {
        self.probed_at_us.load(Ordering::Acquire) != 0
    }

    /// Time since the last probe.
    pub(crate) fn probe_age(&self) -> Duration {
        let at = self.probed_at_us.load(Ordering::Acquire);
        if at == 0 {
            return Duration::MAX;
        }
        self.epoch.elapsed().saturating_sub(Duration::from_micros(at))
    }

    /// Whether this read should carry a replay probe: the last probe is older than `every` and
    /// no other read claimed the slot (one piggy-backed probe per `every` per session).
    pub(crate) fn claim_piggyback(&self, every: Duration) -> bool {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let due = self.next_piggyback_us.load(Ordering::Relaxed);
        if now < due || self.probe_age() < every {
            return false;
        }
        let next = now + u64::try_from(every.as_micros()).unwrap_or(u64::MAX);
        self.next_piggyback_us
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Records a probe result (positions only move forward).
    pub(crate) fn update(&self, lsn: Lsn) {
        self.replay.fetch_max(lsn.0, Ordering::AcqRel);
        let micros = u64::try_from(self.epoch.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.probed_at_us.store(micros, Ordering::Release);
        self.changed.send_replace(lsn.0);
    }

    /// Waits until the session has replayed `target` or `deadline` passes, probing with `probe`
    /// at most every `poll`; concurrent waiters share one prober. Returns whether it caught up.
    pub(crate) async fn wait_for<F, Fut>(
        &self,
        target: Lsn,
        deadline: tokio::time::Instant,
        poll: Duration,
        probe: F,
    ) -> bool
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Option<Lsn>>,
    {
        let mut changes = self.changed.subscribe();
        loop {
            if self.replay() >= target {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            if self
                .probing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let guard = ProbingGuard(self);
                let result = tokio::time::timeout_at(deadline, probe()).await;
                drop(guard);
                match result {
                    Ok(Some(lsn)) => self.update(lsn),
                    // The probe failed or ran out of time: give up, the caller falls back.
                    _ => return self.replay() >= target,
                }
                if self.replay() < target {
                    let pause = poll.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
                    tokio::time::sleep(pause).await;
                }
            } else if tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                return self.replay() >= target;
            }
        }
    }
}

/// Clears the single-flight flag even when the prober's future is dropped mid-probe, and wakes
/// the waiters so one of them takes over.
struct ProbingGuard<'a>(&'a SessionLag);

impl Drop for ProbingGuard<'_> {
    fn drop(&mut self) {
        self.0.probing.store(false, Ordering::Release);
        self.0.changed.send_modify(|_| {});
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn staleness_is_bounded_by_the_newest_replayed_sample() {
        let history = PrimaryHistory::default();
        let t0 = Instant::now();
        history.record(t0, Lsn(100));
        history.record(t0 + Duration::from_secs(1), Lsn(200));
        history.record(t0 + Duration::from_secs(2), Lsn(300));
        let now = t0 + Duration::from_secs(3);
        assert_eq!(history.staleness(Lsn(300), now, false), Some(Duration::from_secs(1)));
        assert_eq!(history.staleness(Lsn(250), now, false), Some(Duration::from_secs(2)));
        assert_eq!(history.staleness(Lsn(200), now, false), Some(Duration::from_secs(2)));
        assert_eq!(
            history.staleness(Lsn(50), now, false),
            None,
            "behind the history: unbounded"
        );
        assert_eq!(history.staleness(Lsn(300), now, true), Some(Duration::ZERO));
        assert_eq!(PrimaryHistory::default().staleness(Lsn(1), now, false), None);
    }

    #[test]
    fn an_idle_primary_keeps_one_sample_per_position_fresh() {
        let history = PrimaryHistory::default();
        let t0 = Instant::now();
        for i in 0..10 {
            history.record(t0 + Duration::from_secs(i), Lsn(500));
        }
        assert_eq!(history.samples.lock().unwrap().len(), 1);
        assert_eq!(history.latest().unwrap().0, t0 + Duration::from_secs(9));
        // A caught-up replica of an idle primary is as fresh as the last sample.
        let now = t0 + Duration::from_secs(10);
        assert_eq!(history.staleness(Lsn(500), now, false), Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_lower_position_replaces_the_samples_it_implies() {
        // After a failover the new primary's positions may be lower than the old one's.
        let history = PrimaryHistory::default();
        let t0 = Instant::now();
        history.record(t0, Lsn(100));
        history.record(t0 + Duration::from_secs(1), Lsn(900));
        history.record(t0 + Duration::from_secs(2), Lsn(400));
        assert_eq!(history.latest().unwrap(), (t0 + Duration::from_secs(2), Lsn(400)));
        assert_eq!(history.samples.lock().unwrap().len(), 2);
        let now = t0 + Duration::from_secs(3);
        assert_eq!(history.staleness(Lsn(400), now, false), Some(Duration::from_secs(1)));
        assert_eq!(history.staleness(Lsn(399), now, false), Some(Duration::from_secs(3)));
    }

    #[test]
    fn concurrent_writers_reporting_out_of_order_keep_the_history() {
        // Two writers: the one that read the higher position records first. The old history
        // (the replica is 10 s behind) must survive, or the replica looks fresh.
        let history = PrimaryHistory::default();
        let t0 = Instant::now();
        for i in 0..10u64 {
            history.record(t0 + Duration::from_secs(i), Lsn(1000 + i * 100));
        }
        let t = t0 + Duration::from_secs(10);
        history.record(t + Duration::from_millis(5), Lsn(2100));
        history.record(t, Lsn(2050));
        let now = t0 + Duration::from_secs(11);
        assert_eq!(history.staleness(Lsn(1000), now, false), Some(Duration::from_secs(11)));
        assert_eq!(history.staleness(Lsn(2050), now, false), Some(Duration::from_secs(1)));
        assert_eq!(
            history.staleness(Lsn(2100), now, false),
            Some(Duration::from_millis(995))
        );
        // An out-of-order sample another one implies is dropped: (t-1s, 2200) says less than (t, 2050).
        history.record(t - Duration::from_secs(1), Lsn(2200));
        assert_eq!(history.latest().unwrap().1, Lsn(2100));
    }

    #[test]
    fn bursts_are_thinned_and_the_history_stays_bounded() {
        let history = PrimaryHistory::default();
        let t0 = Instant::now();
        // 100,000 writes, one per 0.1 ms (10 s): samples at least GRANULE apart, plus the newest.
        for i in 0..100_000u64 {
            history.record(t0 + Duration::from_micros(i * 100), Lsn(i + 1));
        }
        let len = history.samples.lock().unwrap().len();
        assert!(len <= 10_000 / 20 + 2, "{len} samples");
        let now = t0 + Duration::from_secs(10);
        // Every bound is an upper bound, overstating by at most twice the granule.
        for replay in [1u64, 5_000, 50_000, 99_999] {
            let truth = now - (t0 + Duration::from_micros((replay - 1) * 100));
            let bound = history.staleness(Lsn(replay), now, false).unwrap();
            assert!(
                bound >= truth && bound <= truth + 2 * GRANULE,
                "{replay}: {bound:?} vs {truth:?}"
            );
        }
    }

    #[tokio::test]
    async fn waiters_share_one_prober_and_see_progress() {
        let lag = Arc::new(SessionLag::default());
        let position = Arc::new(AtomicU64::new(10));
        let probes = Arc::new(AtomicUsize::new(0));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let waiters: Vec<_> = (0..16)
            .map(|_| {
                let (lag, position, probes) = (lag.clone(), position.clone(), probes.clone());
                tokio::spawn(async move {
                    lag.wait_for(Lsn(40), deadline, Duration::from_millis(2), || {
                        let (position, probes) = (position.clone(), probes.clone());
                        async move {
                            probes.fetch_add(1, Ordering::SeqCst);
                            // Replay advances by 10 per probe.
                            Some(Lsn(position.fetch_add(10, Ordering::SeqCst) + 10))
                        }
                    })
                    .await
                })
            })
            .collect();
        for waiter in waiters {
            assert!(waiter.await.unwrap());
        }
        // 10 -> 20 -> 30 -> 40: three probes for everyone, not one per waiter.
        assert_eq!(probes.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_wait_gives_up_at_the_deadline() {
        let lag = SessionLag::default();
        lag.update(Lsn(5));
        let deadline = tokio::time::Instant::now() + Duration::from_millis(30);
        let caught_up = lag
            .wait_for(Lsn(6), deadline, Duration::from_millis(2), || async { Some(Lsn(5)) })
            .await;
        assert!(!caught_up);
        assert!(lag.known());
        assert!(lag.probe_age() < Duration::from_secs(5));
    }
}
