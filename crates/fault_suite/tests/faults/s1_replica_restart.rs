//! Scenario 1: the replica is killed (SIGKILL, a crash) under steady load and restarted.
//! Guarantees: no read fails (list reads move to the primary within the fallback budget, reads by
//! id are on the primary anyway), and once the replica is back, reads return to it, shown by the
//! service's own counters and by the service's sessions in the replica's pg_stat_activity.

use std::time::Duration;

use fault_suite::load::{self, Load, Op, Rates};
use fault_suite::platform::{DATABASE, SERVICE};
use fault_suite::{Metrics, PlatformOptions, Report};
use pg_launcher::NodeName;

use crate::common::{Rig, describe_failures, finish, of, secs};

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

#[tokio::test]
async fn s1_replica_killed_and_restarted() {
    let mut report = Report::new("s1_replica_restart", "replica killed and restarted under load");
    let rig = Rig::start(PlatformOptions::default(), &[]).await;
    report.measured("setup_s", rig.setup_times());
    let clients = load::seed(&rig.api, 30).await;
    rig.replica_serving().await;
    let rates = Rates::steady();
    report.measured("load_rates_per_s", rates);
    let load = Load::start(rig.api.clone(), &clients, rates);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let at_kill = Metrics::scrape(&rig.api).await;
    let killed_at = load.now();
    let killed = rig
        .platform
        .launcher("kill -9 replica", |c| c.kill(NodeName::Replica))
        .await;
    assert!(killed, "the replica was running");
    report.injected(format!(
        "kill -9 of the replica's postmaster at t={:.2}s",
        killed_at.as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = Metrics::scrape(&rig.api).await;

    rig.platform
        .launcher("restart replica", |c| c.start(NodeName::Replica))
        .await;
    let restarted_at = load.now();
    report.injected(format!(
        "replica restarted (crash recovery) at t={:.2}s",
        restarted_at.as_secs_f64()
    ));
    let replica_reads = |m: &Metrics| m.sum("db_router_reads_total", &[("target", "replica")]);
    let before_back = replica_reads(&Metrics::scrape(&rig.api).await);
    let back_after = test_support::eventually("reads return to the replica", Duration::from_secs(60), || async {
        let now = replica_reads(&Metrics::scrape(&rig.api).await);
        (now > before_back).then(|| load.now() - restarted_at)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sessions = service_sessions_on_replica(&rig).await;
    let samples = load.stop().await;
    let after = Metrics::scrape(&rig.api).await;

    report.measured("requests", fault_suite::report::summarize(&samples));
    report.measured("outage_s", secs(restarted_at - killed_at));
    report.measured("reads_back_on_replica_after_s", secs(back_after));
    report.measured("fallbacks_to_primary", after.sum("db_router_fallbacks_total", &[]));
    report.measured("fallbacks_refused", after.sum("db_router_fallbacks_refused_total", &[]));
    report.measured(
        "replica_reads_during_outage",
        replica_reads(&during) - replica_reads(&at_kill),
    );
    report.measured(
        "fallbacks_during_outage",
        during.sum("db_router_fallbacks_total", &[]) - at_kill.sum("db_router_fallbacks_total", &[]),
    );
    report.measured("replica_reads_after_recovery", replica_reads(&after) - before_back);
    report.measured("service_sessions_on_replica_after_recovery", sessions);

    let failed_reads = of(&samples, &[Op::ReadById, Op::List]).filter(|s| !s.reply.ok());
    let failed_reads: Vec<_> = failed_reads.collect();
    report.check(
        "zero failed reads",
        failed_reads.is_empty(),
        describe_failures(failed_reads.into_iter()),
    );
    let reads = of(&samples, &[Op::List])
        .filter(|s| s.at >= killed_at && s.at < restarted_at)
        .count();
    report.check(
        "list reads were served during the outage",
        reads > 0,
        format!("{reads} list reads started while the replica was down"),
    );
    let failed_writes: Vec<_> = of(&samples, &[Op::Create, Op::Patch])
        .filter(|s| !s.reply.ok())
        .collect();
    report.check(
        "writes unaffected",
        failed_writes.is_empty(),
        describe_failures(failed_writes.into_iter()),
    );
    report.check(
        "reads return to the replica",
        replica_reads(&after) > before_back && sessions > 0,
        format!(
            "{} replica reads after the restart; {sessions} service sessions in the replica's pg_stat_activity",
            replica_reads(&after) - before_back
        ),
    );
    finish(&report);
}
