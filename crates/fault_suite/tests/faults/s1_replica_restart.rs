//! Scenario 1: the replica is killed (SIGKILL, a crash) under load and restarted, twice: once under the
//! steady production rate (half the list throughput measured at the start), once under a closed loop of 8
//! callers (as `wrk -c8`).
//! Guarantees, each time: at most 1 % of list reads fail while the primary is healthy (they move to the
//! primary through the fallback gate; reads by id are primary reads anyway); writes are unaffected; once
//! the replica is back, reads return to it, shown by the service's own counters and by the service's
//! sessions in the replica's pg_stat_activity.

use std::time::Duration;

use fault_suite::load::{self, Drive, Load, Op, Rates};
use fault_suite::platform::{DATABASE, SERVICE};
use fault_suite::{Metrics, PlatformOptions, Report};
use pg_launcher::NodeName;
use serde_json::json;

use crate::common::{Rig, calibrate, describe_failures, finish, of, secs};

/// The share of list reads that may fail during the outage.
const MAX_FAILED: f64 = 0.01;

async fn service_sessions_on_replica(rig: &Rig) -> i64 {
    rig.platform
        .superuser(NodeName::Replica, "postgres")
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
            &[&DATABASE, &SERVICE],
        )
        .await
        .map_or(0, |row| row.get(0))
}

fn replica_reads(m: &Metrics) -> f64 {
    m.sum("db_router_reads_total", &[("target", "replica")])
}

/// One outage under `drive`; records its figures under `label` and its checks.
async fn outage(rig: &Rig, drive: Drive, label: &str, report: &mut Report) {
    // Fresh clients per outage: each phase knows the versions of what it patches.
    let clients = load::seed(&rig.api, 30).await;
    let load = Load::drive(rig.api.clone(), &clients, drive);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let at_kill = Metrics::scrape(&rig.api).await;
    let killed_at = load.now();
    let killed = rig
        .platform
        .launcher("kill -9 replica", |c| c.kill(NodeName::Replica))
        .await;
    assert!(killed, "the replica was running");
    report.injected(format!(
        "{label}: kill -9 of the replica's postmaster at t={:.2}s",
        killed_at.as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = Metrics::scrape(&rig.api).await;
    rig.platform
        .launcher("restart replica", |c| c.start(NodeName::Replica))
        .await;
    let restarted_at = load.now();
    report.injected(format!(
        "{label}: replica restarted (crash recovery) at t={:.2}s",
        restarted_at.as_secs_f64()
    ));
    let before_back = replica_reads(&Metrics::scrape(&rig.api).await);
    let back_after = test_support::eventually("reads return to the replica", Duration::from_secs(60), || async {
        let now = replica_reads(&Metrics::scrape(&rig.api).await);
        (now > before_back).then(|| load.now() - restarted_at)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sessions = service_sessions_on_replica(rig).await;
    let samples = load.stop().await;
    let after = Metrics::scrape(&rig.api).await;

    let lists: Vec<_> = of(&samples, &[Op::List])
        .filter(|s| s.at >= killed_at && s.at < restarted_at)
        .collect();
    let failed_lists: Vec<_> = lists.iter().filter(|s| !s.reply.ok()).copied().collect();
    let failed_reads = of(&samples, &[Op::ReadById, Op::List])
        .filter(|s| !s.reply.ok())
        .count();
    let failed_writes: Vec<_> = of(&samples, &[Op::Create, Op::Patch])
        .filter(|s| !s.reply.ok())
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let share = failed_lists.len() as f64 / lists.len().max(1) as f64;
    report.measured(
        label,
        json!({
            "drive": drive,
            "requests": fault_suite::report::summarize(&samples),
            "outage_s": secs(restarted_at - killed_at),
            "list_reads_during_outage": lists.len(),
            "list_reads_failed_during_outage": failed_lists.len(),
            "reads_failed": failed_reads,
            "writes_failed": failed_writes.len(),
            "reads_back_on_replica_after_s": secs(back_after),
            "fallbacks_during_outage": during.sum("db_router_fallbacks_total", &[]) - at_kill.sum("db_router_fallbacks_total", &[]),
            "fallbacks_refused_during_outage": during.sum("db_router_fallbacks_refused_total", &[])
                - at_kill.sum("db_router_fallbacks_refused_total", &[]),
            "replica_reads_during_outage": replica_reads(&during) - replica_reads(&at_kill),
            "fallback_limit_during_outage": during.sum("db_router_fallback_limit", &[]),
            "replica_reads_after_recovery": replica_reads(&after) - before_back,
            "service_sessions_on_replica_after_recovery": sessions,
        }),
    );
    report.check(
        &format!("{label}: at most 1 % of list reads fail during the outage"),
        !lists.is_empty() && share <= MAX_FAILED,
        format!(
            "{} of {} list reads started while the replica was down failed ({:.2} %); {}",
            failed_lists.len(),
            lists.len(),
            share * 100.0,
            describe_failures(failed_lists.into_iter())
        ),
    );
    report.check(
        &format!("{label}: writes unaffected"),
        failed_writes.is_empty(),
        describe_failures(failed_writes.into_iter()),
    );
    report.check(
        &format!("{label}: reads return to the replica"),
        replica_reads(&after) > before_back && sessions > 0,
        format!(
            "{} replica reads after the restart; {sessions} service sessions in the replica's pg_stat_activity",
            replica_reads(&after) - before_back
        ),
    );
}

#[tokio::test]
async fn s1_replica_killed_and_restarted() {
    let mut report = Report::new("s1_replica_restart", "replica killed and restarted under load");
    let rig = Rig::start(PlatformOptions::default(), &[]).await;
    report.measured("setup_s", rig.setup_times());
    load::seed(&rig.api, 30).await;
    rig.replica_serving().await;
    let capacity = calibrate(&rig, &mut report).await;
    let rates = Rates::production(capacity.list_per_s);
    outage(&rig, Drive::Steady(rates), "steady", &mut report).await;
    // The closed loop of the replica-outage experiment: lists, plus a trickle of writes to show they
    // stay unaffected.
    let mix = Rates {
        read_by_id: 0.0,
        list: 20.0,
        create: 1.0,
        patch: 1.0,
        moves: 0.0,
    };
    let closed = Drive::ClosedLoop { workers: 8, mix };
    outage(&rig, closed, "closed_loop", &mut report).await;
    finish(&report);
}
