//! Scenario 11: a replica that is reachable but 30 s behind. Its `recovery_min_apply_delay` is raised to
//! 30 s while it runs (ALTER SYSTEM + reload: from then on each change reaches it 30 s late), under the
//! steady production rate, with a closed loop of writers that read their own write back with its token and
//! readers that bound their staleness (`Pcc-Max-Staleness-Ms: 5000`); once it is 30 s behind, the delay
//! is lifted again.
//! Guarantees: bounded reads leave the replica once it is further behind than their bound (served by the
//! primary, or refused with 503 + Retry-After), never answered older; token reads never miss their write
//! (they wait, then reroute to the primary); untokened lists keep being served by the replica and report
//! a staleness that covers how far behind it is; the steady load sees no failure; after the delay is
//! lifted, the replica catches up and serves bounded reads again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fault_suite::load::{self, Load, Rates};
use fault_suite::{Api, PlatformOptions, Reply, Report};
use pg_launcher::NodeName;
use serde_json::json;

use crate::common::{Rig, calibrate, describe_failures, finish, secs};

const BEHIND: Duration = Duration::from_secs(30);
const BOUND_MS: u64 = 5000;
const WRITERS: usize = 4;
const READERS: usize = 4;

async fn set_delay(rig: &Rig, delay: &str) {
    let replica = rig.platform.superuser(NodeName::Replica, "postgres").await;
    // Two statements: ALTER SYSTEM cannot run inside the implicit transaction of a batch.
    for sql in [
        format!("ALTER SYSTEM SET recovery_min_apply_delay = '{delay}'"),
        "SELECT pg_catalog.pg_reload_conf()".to_owned(),
    ] {
        replica
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("setting the replica's apply delay ({sql}): {e:?}"));
    }
}

fn lists(reply: &Reply, id: &str) -> bool {
    reply.body["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(|i| i["id"] == id))
}

/// A bounded read: when it was sent, from the delay's start, and what came back.
struct Bounded {
    at: Duration,
    reply: Reply,
}

async fn bounded_reader(api: Api, start: Instant, stop: Arc<AtomicBool>) -> Vec<Bounded> {
    let mut out = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let at = start.elapsed();
        let reply = Api::send(
            api.request(reqwest::Method::GET, "/v1/clients?limit=20&status=active")
                .header("pcc-max-staleness-ms", BOUND_MS.to_string()),
        )
        .await;
        out.push(Bounded { at, reply });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out
}

/// A writer: creates a client, lists it back at once with the token; returns (rounds, stale, failed).
async fn token_writer(api: Api, n: usize, stop: Arc<AtomicBool>) -> (usize, Vec<String>, Vec<Reply>) {
    let (mut rounds, mut stale, mut failed) = (0, Vec::new(), Vec::new());
    while !stop.load(Ordering::SeqCst) {
        rounds += 1;
        let mark = format!("behind{n}x{rounds}x{}", uuid::Uuid::now_v7().simple());
        let created = api.create_client(&mark).await;
        let (Some(token), Some(id)) = (created.token.clone(), created.body["id"].as_str()) else {
            failed.push(created);
            continue;
        };
        // The list that must hold the new client: a search for its unique name.
        let read = api.get(&format!("/v1/clients?q={mark}"), Some(&token)).await;
        if !read.ok() {
            failed.push(read);
        } else if !lists(&read, id) {
            stale.push(format!("{id} missing from a token read"));
        }
    }
    (rounds, stale, failed)
}

#[tokio::test]
async fn s11_replica_reachable_but_30_s_behind() {
    let mut report = Report::new("s11_replica_behind", "replica reachable but 30 s behind");
    let rig = Rig::start(PlatformOptions::default(), &[]).await;
    report.measured("setup_s", rig.setup_times());
    let clients = load::seed(&rig.api, 30).await;
    rig.replica_serving().await;
    let capacity = calibrate(&rig, &mut report).await;
    let rates = Rates::production(capacity.list_per_s);

    let steady = Load::start(rig.api.clone(), &clients, rates);
    set_delay(&rig, &format!("{}s", BEHIND.as_secs())).await;
    let start = Instant::now();
    report.injected("recovery_min_apply_delay raised to 30s on the running replica (ALTER SYSTEM, reload)");
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| tokio::spawn(bounded_reader(rig.api.clone(), start, stop.clone())))
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| tokio::spawn(token_writer(rig.api.clone(), n, stop.clone())))
        .collect();
    // Until the service itself reports the replica 30 s behind.
    let reached = test_support::eventually("the replica falls 30 s behind", Duration::from_secs(90), || async {
        let ready = Api::send(rig.api.anonymous(reqwest::Method::GET, "/readyz")).await;
        ready.body["replica_lag_ms"]
            .as_u64()
            .filter(|ms| *ms >= u64::try_from(BEHIND.as_millis()).unwrap_or(u64::MAX))
            .map(|_| start.elapsed())
    })
    .await;
    let untokened = rig.api.get("/v1/clients?limit=1", None).await;
    stop.store(true, Ordering::SeqCst);
    let mut bounded = Vec::new();
    for reader in readers {
        bounded.extend(reader.await.unwrap_or_else(|e| panic!("reader: {e}")));
    }
    let (mut rounds, mut stale, mut token_failed) = (0, Vec::new(), Vec::new());
    for writer in writers {
        let (r, s, f) = writer.await.unwrap_or_else(|e| panic!("writer: {e}"));
        rounds += r;
        stale.extend(s);
        token_failed.extend(f);
    }
    let steady = steady.stop().await;
    set_delay(&rig, "0").await;
    report.injected(format!(
        "delay lifted at t={:.1}s (the service reported 30 s behind at t={:.1}s)",
        start.elapsed().as_secs_f64(),
        reached.as_secs_f64()
    ));
    // Caught up again: a bounded read is served by the replica (it reports a staleness above zero).
    let recovered = test_support::eventually(
        "bounded reads return to the replica",
        Duration::from_secs(60),
        || async {
            let reply = Api::send(
                rig.api
                    .request(reqwest::Method::GET, "/v1/clients?limit=1")
                    .header("pcc-max-staleness-ms", BOUND_MS.to_string()),
            )
            .await;
            (reply.ok() && reply.staleness_ms.is_some_and(|ms| ms > 0)).then(|| start.elapsed())
        },
    )
    .await;

    // Judged only once the replica was surely past the bound (the bound plus a second of margin).
    let past_bound = Duration::from_millis(BOUND_MS + 1000);
    let late: Vec<&Bounded> = bounded.iter().filter(|b| b.at >= past_bound).collect();
    let too_old: Vec<&Bounded> = bounded
        .iter()
        .filter(|b| b.reply.ok() && b.reply.staleness_ms.is_none_or(|ms| ms > BOUND_MS))
        .collect();
    let late_bad: Vec<&Bounded> = late
        .iter()
        .filter(|b| !(b.reply.ok() || b.reply.is_retryable_refusal()))
        .copied()
        .collect();
    let late_on_primary = late
        .iter()
        .filter(|b| b.reply.ok() && b.reply.staleness_ms == Some(0))
        .count();
    let steady_failed: Vec<_> = steady.iter().filter(|s| !s.reply.ok()).collect();
    let token_refused_ok = token_failed.iter().all(Reply::is_retryable_refusal);
    report.measured("behind_s_reported_at", secs(reached));
    report.measured("bounded_reads_back_on_replica_at_s", secs(recovered));
    report.measured("untokened_list_staleness_ms_when_30s_behind", untokened.staleness_ms);
    report.measured(
        "steady",
        json!({
            "rates": rates,
            "requests": fault_suite::report::summarize(&steady),
            "failed": steady_failed.len(),
        }),
    );
    report.measured(
        "closed_loop",
        json!({
            "token_writers": WRITERS,
            "token_rounds": rounds,
            "token_reads_stale": stale.len(),
            "token_rounds_failed": token_failed.len(),
            "bounded_readers": READERS,
            "bounded_reads": bounded.len(),
            "bounded_reads_past_the_bound": late.len(),
            "bounded_reads_past_the_bound_on_primary": late_on_primary,
            "bounded_reads_past_the_bound_refused_503": late.iter().filter(|b| b.reply.is_retryable_refusal()).count(),
            "bounded_reads_answered_older_than_bound": too_old.len(),
        }),
    );
    report.check(
        "bounded reads are never answered older than their bound",
        too_old.is_empty() && !late.is_empty(),
        format!(
            "{} bounded reads, {} once the replica was past the bound ({late_on_primary} on the primary); {} answered older",
            bounded.len(),
            late.len(),
            too_old.len()
        ),
    );
    report.check(
        "past the bound they leave the replica: primary or 503 + Retry-After",
        late_bad.is_empty(),
        format!("{} otherwise", late_bad.len()),
    );
    report.check(
        "token reads never miss their write (they wait, then reroute)",
        stale.is_empty() && rounds > 0 && token_refused_ok,
        format!(
            "{rounds} rounds, {} stale, {} refused (all 503 + Retry-After: {token_refused_ok})",
            stale.len(),
            token_failed.len()
        ),
    );
    report.check(
        "untokened lists stay on the replica and report how far behind it is",
        untokened.ok()
            && untokened
                .staleness_ms
                .is_some_and(|ms| ms >= u64::try_from(BEHIND.as_millis()).unwrap_or(0)),
        format!(
            "status {}, Pcc-Read-Staleness-Ms {:?}",
            untokened.status, untokened.staleness_ms
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
