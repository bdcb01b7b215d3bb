//! Scenario 2: the primary is killed (SIGKILL) under steady load, then restarted.
//! Guarantees: writes fail fast, as `503` problem documents with `Retry-After`, within 2 s of the
//! crash or of their arrival, and nothing hangs; replica reads (lists) continue; after the restart
//! writes succeed again with the same service process (no restart of the service).

use std::time::Duration;

use fault_suite::load::{self, Load, Op, Rates, Sample};
use fault_suite::{Metrics, PlatformOptions, Report};
use pg_launcher::NodeName;

use crate::common::{Rig, check_acknowledged, describe_failures, finish, first_ok_after, of, secs};

/// The user-visible bound we promise for a write during a primary outage (docs/RELIABILITY.md).
const FAIL_FAST: Duration = Duration::from_secs(2);

/// How long after the crash (or after its own arrival, if later) a request got its answer.
fn answered_after(s: &Sample, crash: Duration) -> Duration {
    s.end().saturating_sub(s.at.max(crash))
}

#[tokio::test]
async fn s2_primary_killed_and_restarted() {
    let mut report = Report::new("s2_primary_kill", "primary killed and restarted under load");
    let mut rig = Rig::start(PlatformOptions::default(), &[]).await;
    report.measured("setup_s", rig.setup_times());
    let clients = load::seed(&rig.api, 30).await;
    rig.replica_serving().await;
    let service_pid = rig.service.pid();
    let rates = Rates::steady();
    report.measured("load_rates_per_s", rates);
    let load = Load::start(rig.api.clone(), &clients, rates);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let crash = load.now();
    assert!(
        rig.platform
            .launcher("kill -9 primary", |c| c.kill(NodeName::Primary))
            .await
    );
    report.injected(format!(
        "kill -9 of the primary's postmaster at t={:.2}s",
        crash.as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restart = load.now();
    rig.platform
        .launcher("restart primary", |c| c.start(NodeName::Primary))
        .await;
    let restarted = load.now();
    report.injected(format!(
        "primary restarted at t={:.2}s (crash recovery took {:.2}s)",
        restart.as_secs_f64(),
        (restarted - restart).as_secs_f64()
    ));
    let first_write = first_ok_after(&load, &[Op::Create, Op::Patch], restarted, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let samples = load.stop().await;
    let metrics = Metrics::scrape(&rig.api).await;

    report.measured("requests", fault_suite::report::summarize(&samples));
    report.measured("outage_s", secs(restarted - crash));
    report.measured(
        "first_successful_write_after_restart_s",
        secs(first_write.saturating_sub(restarted)),
    );
    report.measured("fast_failures", metrics.sum("db_router_fast_failures_total", &[]));

    // Writes whose answer came after the crash and which started before the primary was back.
    let outage_writes: Vec<&Sample> = of(&samples, &[Op::Create, Op::Patch])
        .filter(|s| s.end() > crash && s.at < restarted)
        .collect();
    let failed: Vec<&&Sample> = outage_writes.iter().filter(|s| !s.reply.ok()).collect();
    let slowest = failed
        .iter()
        .map(|s| answered_after(s, crash))
        .max()
        .unwrap_or_default();
    report.measured("writes_during_outage", outage_writes.len());
    report.measured("writes_refused_during_outage", failed.len());
    report.measured("slowest_refusal_s", secs(slowest));
    let bad: Vec<&Sample> = failed
        .iter()
        .filter(|s| !(s.reply.is_retryable_refusal() && answered_after(s, crash) <= FAIL_FAST))
        .map(|s| **s)
        .collect();
    report.check(
        "writes fail fast: 503 problem+json with Retry-After within 2 s, no hang",
        !failed.is_empty() && bad.is_empty(),
        format!(
            "{} writes refused during the outage, slowest answer {:.3}s after the crash or its arrival; {}",
            failed.len(),
            slowest.as_secs_f64(),
            describe_failures(bad.into_iter())
        ),
    );
    let hung: Vec<&Sample> = samples.iter().filter(|s| s.reply.status == 0).collect();
    report.check(
        "no request hung or lost its connection",
        hung.is_empty(),
        describe_failures(hung.into_iter()),
    );
    let lists: Vec<&Sample> = of(&samples, &[Op::List])
        .filter(|s| s.at >= crash && s.at < restarted)
        .collect();
    let failed_lists: Vec<&Sample> = lists.iter().filter(|s| !s.reply.ok()).copied().collect();
    report.check(
        "reads continue (lists, served by the replica)",
        !lists.is_empty() && failed_lists.is_empty(),
        format!(
            "{} list reads during the outage; {}",
            lists.len(),
            describe_failures(failed_lists.into_iter())
        ),
    );
    let by_id: Vec<&Sample> = of(&samples, &[Op::ReadById])
        .filter(|s| s.end() > crash && s.at < restarted)
        .collect();
    let by_id_bad: Vec<&Sample> = by_id
        .iter()
        .filter(|s| !(s.reply.ok() || s.reply.is_retryable_refusal()))
        .copied()
        .collect();
    report.measured(
        "reads_by_id_refused_during_outage",
        by_id.iter().filter(|s| !s.reply.ok()).count(),
    );
    report.check(
        "reads by id (primary reads by design) are refused the same way",
        by_id_bad.is_empty(),
        describe_failures(by_id_bad.into_iter()),
    );
    let after: Vec<&Sample> = of(&samples, &[Op::Create, Op::Patch])
        .filter(|s| s.at >= first_write)
        .collect();
    let after_failed: Vec<&Sample> = after.iter().filter(|s| !s.reply.ok()).copied().collect();
    report.check(
        "after the restart writes succeed, without restarting the service",
        !after.is_empty() && after_failed.is_empty() && rig.service.pid() == service_pid,
        format!(
            "first write acknowledged {:.2}s after the restart; {} writes after it, {}; service pid unchanged: {}",
            first_write.saturating_sub(restarted).as_secs_f64(),
            after.len(),
            describe_failures(after_failed.into_iter()),
            rig.service.pid() == service_pid
        ),
    );
    let durability = check_acknowledged(&rig.platform.service_db().await, &samples).await;
    report.check(
        "every acknowledged write survived the crash",
        durability.problems.is_empty(),
        format!(
            "{} acknowledged writes on {} clients checked in the table; {} problems {:?}",
            durability.acknowledged,
            durability.clients,
            durability.problems.len(),
            durability.problems.iter().take(3).collect::<Vec<_>>()
        ),
    );
    rig.service.stop().await;
    finish(&report);
}
