//! Scenario 10: the primary saturated by reads during a replica outage. The replica is killed; list reads
//! then arrive at twice the list throughput measured at the start (steady, open loop), and afterwards from
//! 256 callers at once (closed loop), while writes go on at 8 creates and 12 patches per second.
//! Guarantees: writes keep succeeding; the reads the primary cannot take are shed as `503` problem
//! documents with `Retry-After` (never a hang or another error); the primary still serves fallback reads
//! meanwhile.

use std::time::Duration;

use fault_suite::load::{self, Drive, Load, Op, Rates, Sample};
use fault_suite::{Metrics, PlatformOptions, Report};
use pg_launcher::NodeName;
use serde_json::json;

use crate::common::{Rig, calibrate, describe_failures, finish, of};

const WRITES: Rates = Rates {
    read_by_id: 0.0,
    list: 0.0,
    create: 8.0,
    patch: 12.0,
    moves: 0.0,
};
const FLOOD_FOR: Duration = Duration::from_secs(4);

/// One flood of list reads (`lists`) with the steady writes beside it; records and checks it.
async fn flood(rig: &Rig, lists: Drive, label: &str, report: &mut Report) {
    let clients = load::seed(&rig.api, 30).await;
    let before = Metrics::scrape(&rig.api).await;
    let writes = Load::start(rig.api.clone(), &clients, WRITES);
    let reads = Load::drive(rig.api.clone(), &[], lists);
    tokio::time::sleep(FLOOD_FOR).await;
    let reads = reads.stop().await;
    let writes = writes.stop().await;
    let after = Metrics::scrape(&rig.api).await;
    let served: Vec<&Sample> = reads.iter().filter(|s| s.reply.ok()).collect();
    let shed: Vec<&Sample> = reads.iter().filter(|s| s.reply.is_retryable_refusal()).collect();
    let other: Vec<&Sample> = reads
        .iter()
        .filter(|s| !s.reply.ok() && !s.reply.is_retryable_refusal())
        .collect();
    let failed_writes: Vec<&Sample> = of(&writes, &[Op::Create, Op::Patch])
        .filter(|s| !s.reply.ok())
        .collect();
    let refused =
        after.sum("db_router_fallbacks_refused_total", &[]) - before.sum("db_router_fallbacks_refused_total", &[]);
    let fell_back = after.sum("db_router_fallbacks_total", &[]) - before.sum("db_router_fallbacks_total", &[]);
    let shed_by = |reason: &str| {
        after.sum("http_shed_total", &[("reason", reason)]) - before.sum("http_shed_total", &[("reason", reason)])
    };
    report.measured(
        label,
        json!({
            "lists": lists,
            "list_reads": reads.len(),
            "list_reads_served": served.len(),
            "list_reads_shed_503": shed.len(),
            "list_reads_failed_otherwise": other.len(),
            "served_per_s": (served.len() as f64 / FLOOD_FOR.as_secs_f64()).round(),
            "fallbacks_to_primary": fell_back,
            "fallbacks_shed": refused,
            "http_shed_in_flight": shed_by("in_flight"),
            "http_shed_pool_exhausted": shed_by("pool_exhausted"),
            "writes": fault_suite::report::summarize(&writes),
            "writes_failed": failed_writes.len(),
        }),
    );
    report.check(
        &format!("{label}: writes keep succeeding"),
        !writes.is_empty() && failed_writes.is_empty(),
        format!(
            "{} writes; {}",
            writes.len(),
            describe_failures(failed_writes.into_iter())
        ),
    );
    report.check(
        &format!("{label}: reads the primary cannot take are shed as 503 + Retry-After, nothing else"),
        other.is_empty(),
        format!(
            "{} served, {} shed with 503 + Retry-After; {}",
            served.len(),
            shed.len(),
            describe_failures(other.into_iter())
        ),
    );
    report.check(
        &format!("{label}: the primary serves fallback reads meanwhile"),
        !served.is_empty() && fell_back > 0.0,
        format!(
            "{} list reads served, {fell_back} fallbacks to the primary",
            served.len()
        ),
    );
}

#[tokio::test]
async fn s10_primary_saturated_during_a_replica_outage() {
    let mut report = Report::new(
        "s10_saturated_primary",
        "primary saturated by reads during a replica outage",
    );
    let rig = Rig::start(PlatformOptions::default(), &[]).await;
    report.measured("setup_s", rig.setup_times());
    load::seed(&rig.api, 10).await;
    rig.replica_serving().await;
    let capacity = calibrate(&rig, &mut report).await;
    assert!(
        rig.platform
            .launcher("kill -9 replica", |c| c.kill(NodeName::Replica))
            .await
    );
    report.injected("kill -9 of the replica (down for the whole scenario)");
    let steady = Rates::lists(capacity.list_per_s * 2.0);
    report.injected(format!(
        "steady: {:.0} list reads/s (twice the measured list throughput) for {}s, with 8 creates + 12 patches/s",
        steady.list,
        FLOOD_FOR.as_secs()
    ));
    flood(&rig, Drive::Steady(steady), "steady", &mut report).await;
    report.injected(format!(
        "closed loop: 256 callers reading lists for {}s, with 8 creates + 12 patches/s",
        FLOOD_FOR.as_secs()
    ));
    flood(
        &rig,
        Drive::ClosedLoop {
            workers: 256,
            mix: Rates::lists(1.0),
        },
        "closed_loop",
        &mut report,
    )
    .await;
    rig.platform
        .launcher("restart replica", |c| c.start(NodeName::Replica))
        .await;
    finish(&report);
}
