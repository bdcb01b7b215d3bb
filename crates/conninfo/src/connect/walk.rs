//! The host walk behind [`super::Connector::connect_as`], generic over how one host is tried so
//! the golden host-choice table runs against this exact code.
//!
//! Npgsql's order: a first pass over hosts whose last observed state (if fresh) is one the
//! target prefers; a non-preferred but online session is kept as the `prefer-*` fallback; if the
//! first pass found nothing at all, the hosts skipped for their cached state are tried afresh.

use std::future::Future;
use std::time::Duration;

use super::error::{FailureReason, HostFailure};
use super::host_state;
use crate::host::HostSpec;
use crate::modes::{ServerRole, TargetSessionAttrs};

/// Tries hosts in `order` until one fits `attrs`; returns the session or every host's outcome.
pub(crate) async fn walk<C, F, Fut>(
    scope: &str,
    hosts: &[HostSpec],
    order: Vec<usize>,
    attrs: TargetSessionAttrs,
    recheck: Duration,
    mut attempt: F,
) -> Result<C, Vec<HostFailure>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(C, ServerRole), FailureReason>>,
{
    let mut failures = Vec::new();
    let mut fallback: Option<C> = None;
    let mut deferred = Vec::new();
    for pass in 0..2 {
        if pass == 1 && fallback.is_some() {
            break;
        }
        let candidates = if pass == 0 {
            order.clone()
        } else {
            std::mem::take(&mut deferred)
        };
        for index in candidates {
            let host = &hosts[index];
            if pass == 0
                && let Some(observed) = host_state::fresh(scope, host, recheck)
                && !observed.is_some_and(|role| attrs.prefers(role))
            {
                deferred.push(index);
                continue;
            }
            match attempt(index).await {
                Err(reason) => {
                    host_state::record(scope, host, None);
                    failures.push(HostFailure {
                        host: host.clone(),
                        reason,
                    });
                }
                Ok((session, role)) => {
                    host_state::record(scope, host, Some(role));
                    if attrs.prefers(role) {
                        return Ok(session);
                    }
                    failures.push(HostFailure {
                        host: host.clone(),
                        reason: FailureReason::WrongRole(role),
                    });
                    if attrs.falls_back_to_any() && fallback.is_none() {
                        fallback = Some(session);
                    }
                }
            }
        }
    }
    fallback.ok_or(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the walk over simulated hosts; each host's state comes from `states`.
    fn pick(attrs: TargetSessionAttrs, states: &[Option<ServerRole>], recheck: Duration, tag: &str) -> Option<usize> {
        let hosts: Vec<HostSpec> = (0..states.len())
            .map(|i| HostSpec::tcp(&format!("{tag}-{i}.invalid"), 5432))
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime
            .block_on(walk(tag, &hosts, (0..states.len()).collect(), attrs, recheck, |i| {
                let state = states[i];
                async move { state.map(|role| (i, role)).ok_or(FailureReason::Io("down".into())) }
            }))
            .ok()
    }

    #[test]
    fn matches_the_pure_choice_for_every_combination() {
        use ServerRole::*;
        let options = [None, Some(PrimaryReadWrite), Some(PrimaryReadOnly), Some(Standby)];
        for attrs in TargetSessionAttrs::ALL {
            for a in options {
                for b in options {
                    let states = [a, b];
                    assert_eq!(
                        pick(attrs, &states, Duration::ZERO, "pure"),
                        crate::choose_host(attrs, &states),
                        "{attrs} {states:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_stale_cache_does_not_block_a_promoted_host() {
        use ServerRole::*;
        let recheck = Duration::from_secs(60);
        // First look: host 1 is a standby, so `primary` finds host 0.
        assert_eq!(
            pick(
                TargetSessionAttrs::Primary,
                &[Some(PrimaryReadWrite), Some(Standby)],
                recheck,
                "promote"
            ),
            Some(0)
        );
        // Host 0 dies, host 1 is promoted; the cache still says "standby" but is rechecked.
        assert_eq!(
            pick(
                TargetSessionAttrs::Primary,
                &[None, Some(PrimaryReadWrite)],
                recheck,
                "promote"
            ),
            Some(1)
        );
    }

    #[test]
    fn the_cache_skips_a_known_unsuitable_host_first() {
        use ServerRole::*;
        let recheck = Duration::from_secs(60);
        assert_eq!(
            pick(
                TargetSessionAttrs::Standby,
                &[Some(PrimaryReadWrite), Some(Standby)],
                recheck,
                "skip"
            ),
            Some(1)
        );
        // Host 0 became a standby too, but the fresh cache says primary: host 1 is tried first.
        assert_eq!(
            pick(
                TargetSessionAttrs::Standby,
                &[Some(Standby), Some(Standby)],
                recheck,
                "skip"
            ),
            Some(1)
        );
    }
}
