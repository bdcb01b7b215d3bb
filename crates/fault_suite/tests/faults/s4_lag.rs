//! Scenario 4: the replica applies WAL 2 s late (`recovery_min_apply_delay`). Writers change a
//! client and at once list it by the new value, with and without the write's consistency token.
//! The writers are a closed loop (each round starts when the last ended); a steady load at the production
//! rate (calibrated at the start) runs beside them.
//! Guarantees: a read carrying the token never answers with stale data (it is served by the
//! primary, or refused with a 503 when the primary has no headroom for it); a read without the token
//! says how stale it may be (`Pcc-Read-Staleness-Ms`), and when it did miss the write, that bound
//! covers the write's age; the steady load sees no failure.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fault_suite::load::{self, Load, Rates};
use fault_suite::{Api, Metrics, PlatformOptions, Reply, Report};

use crate::common::{Rig, calibrate, describe_failures, finish, secs};

const WRITERS: usize = 6;
const RUN_FOR: Duration = Duration::from_secs(6);

struct Round {
    tokened: Reply,
    untokened: Reply,
    /// The untokened read started this long after the write was acknowledged.
    write_age: Duration,
}

fn lists(reply: &Reply, id: &str) -> bool {
    reply.body["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(|i| i["id"] == id))
}

async fn writer(api: Api, id: String, mut version: i64, n: usize, rounds: Arc<Mutex<Vec<(String, Round)>>>) {
    let stop = Instant::now() + RUN_FOR;
    let mut i = 0;
    while Instant::now() < stop {
        i += 1;
        let owner = format!("lag-{n}-{i}");
        let write = api.set_owner(&id, version, &owner).await;
        assert!(write.ok(), "write failed: {write:?}");
        let acknowledged = Instant::now();
        version = write.body["version"].as_i64().unwrap_or(version + 1);
        let token = write
            .token
            .clone()
            .unwrap_or_else(|| panic!("a write without a consistency token"));
        let path = format!("/v1/clients?owner={owner}");
        let tokened = api.get(&path, Some(&token)).await;
        let started = Instant::now();
        let untokened = api.get(&path, None).await;
        let round = Round {
            tokened,
            untokened,
            write_age: started - acknowledged,
        };
        rounds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((id.clone(), round));
    }
}

#[tokio::test]
async fn s4_replica_lag_tokens() {
    let mut report = Report::new("s4_lag", "replica lag (recovery_min_apply_delay 2 s)");
    let rig = Rig::start(
        PlatformOptions {
            apply_delay: Some(Duration::from_secs(2)),
            ..PlatformOptions::default()
        },
        &[],
    )
    .await;
    report.measured("setup_s", rig.setup_times());
    let clients = load::seed(&rig.api, WRITERS).await;
    let steady_clients = load::seed(&rig.api, 20).await;
    rig.replica_serving().await;
    let capacity = calibrate(&rig, &mut report).await;
    let rates = Rates::production(capacity.list_per_s);
    report.injected("replica with recovery_min_apply_delay = 2s (every change reaches it 2 s late)");
    report.injected(format!(
        "{WRITERS} writers for {}s: PATCH owner, then at once GET /v1/clients?owner=<new> with and without the token",
        RUN_FOR.as_secs()
    ));

    // The service can bound the replica's staleness once the replica has replayed past the
    // service's first sample of the primary (about the apply delay after start): /readyz says so.
    test_support::eventually(
        "the service knows the replica's staleness",
        Duration::from_secs(60),
        || async {
            let ready = fault_suite::Api::send(rig.api.anonymous(reqwest::Method::GET, "/readyz")).await;
            ready.body["replica_lag_ms"].as_u64()
        },
    )
    .await;
    let before = Metrics::scrape(&rig.api).await;
    let window = Instant::now();
    let steady = Load::start(rig.api.clone(), &steady_clients, rates);
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(n, (id, version))| tokio::spawn(writer(rig.api.clone(), id.clone(), *version, n, rounds.clone())))
        .collect();
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("writer: {e}"));
    }
    let steady = steady.stop().await;
    let after = Metrics::scrape(&rig.api).await;
    let window = window.elapsed();
    let rounds = std::mem::take(&mut *rounds.lock().unwrap_or_else(std::sync::PoisonError::into_inner));

    let tokened_fresh = rounds
        .iter()
        .filter(|(id, r)| r.tokened.ok() && lists(&r.tokened, id))
        .count();
    let tokened_stale: Vec<_> = rounds
        .iter()
        .filter(|(id, r)| r.tokened.ok() && !lists(&r.tokened, id))
        .collect();
    let tokened_refused: Vec<_> = rounds.iter().filter(|(_, r)| !r.tokened.ok()).collect();
    let refused_properly = tokened_refused.iter().all(|(_, r)| r.tokened.is_retryable_refusal());
    let untokened_stale: Vec<_> = rounds
        .iter()
        .filter(|(id, r)| r.untokened.ok() && !lists(&r.untokened, id))
        .collect();
    let unreported = rounds
        .iter()
        .filter(|(_, r)| r.untokened.ok() && r.untokened.staleness_ms.is_none())
        .count();
    // A read that missed a write acknowledged before it started had data at least that old.
    let understated: Vec<String> = untokened_stale
        .iter()
        .filter(|(_, r)| {
            r.untokened
                .staleness_ms
                .is_none_or(|ms| u128::from(ms) < r.write_age.as_millis())
        })
        .map(|(_, r)| {
            format!(
                "reported {:?} ms for a write {} ms old",
                r.untokened.staleness_ms,
                r.write_age.as_millis()
            )
        })
        .collect();
    let mut reported: Vec<u64> = untokened_stale
        .iter()
        .filter_map(|(_, r)| r.untokened.staleness_ms)
        .collect();
    reported.sort_unstable();
    let fallbacks = after.sum("db_router_fallbacks_total", &[]) - before.sum("db_router_fallbacks_total", &[]);
    let refused =
        after.sum("db_router_fallbacks_refused_total", &[]) - before.sum("db_router_fallbacks_refused_total", &[]);

    report.measured("rounds", rounds.len());
    report.measured("tokened_reads_fresh", tokened_fresh);
    report.measured("tokened_reads_refused_503", tokened_refused.len());
    report.measured("untokened_reads_stale", untokened_stale.len());
    report.measured(
        "untokened_stale_reported_staleness_ms_min_median_max",
        [
            reported.first().copied(),
            reported.get(reported.len() / 2).copied(),
            reported.last().copied(),
        ],
    );
    report.measured("window_s", secs(window));
    report.measured("fallbacks_to_primary", fallbacks);
    report.measured("fallbacks_refused", refused);
    let steady_failed: Vec<_> = steady.iter().filter(|s| !s.reply.ok()).collect();
    report.measured(
        "steady",
        serde_json::json!({
            "rates": rates,
            "requests": fault_suite::report::summarize(&steady),
            "failed": steady_failed.len(),
        }),
    );
    report.measured(
        "closed_loop",
        serde_json::json!({
            "writers": WRITERS,
            "rounds": rounds.len(),
            "token_reads_failed": tokened_refused.len(),
            "token_reads_stale": tokened_stale.len(),
        }),
    );

    report.check(
        "reads carrying the token are never stale",
        tokened_stale.is_empty() && tokened_fresh > 0,
        format!(
            "{tokened_fresh} fresh, {} stale, {} refused",
            tokened_stale.len(),
            tokened_refused.len()
        ),
    );
    report.check(
        "token reads the primary has no headroom for are refused with 503 + Retry-After",
        refused_properly,
        format!("{} refused", tokened_refused.len()),
    );
    report.check(
        "reads without the token report their staleness",
        unreported == 0 && !untokened_stale.is_empty() && understated.is_empty(),
        format!(
            "{} of {} untokened reads missed the write; {unreported} without the header; {} understated {:?}",
            untokened_stale.len(),
            rounds.len(),
            understated.len(),
            understated.iter().take(3).collect::<Vec<_>>()
        ),
    );
    report.check(
        "the steady load at the production rate sees no failure",
        steady_failed.is_empty(),
        format!(
            "{} requests at {:.0}/s; {}",
            steady.len(),
            rates.total(),
            describe_failures(steady_failed.into_iter())
        ),
    );
    finish(&report);
}
