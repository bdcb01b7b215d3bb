//! Scenario 2: the primary is killed (SIGKILL) under load, then restarted; twice, once under the steady
//! production rate and once under a closed loop of 8 callers.
//! Guarantees: writes fail fast, as `503` problem documents with `Retry-After`, and nothing hangs;
//! replica reads (lists) continue; after the restart writes succeed again with the same service
//! process (no restart of the service); every acknowledged write survives. How fast the refusals came
//! (the slowest after the crash or its arrival; we aim for under 2 s) is a measurement in the report,
//! not a check: other scenarios load the same cores.

use std::time::Duration;

use fault_suite::load::{self, Drive, Load, Op, Rates, Sample};
use fault_suite::{Metrics, PlatformOptions, Report};
use pg_launcher::NodeName;

use crate::common::{Rig, calibrate, check_acknowledged, describe_failures, finish, first_ok_after, of, secs};

/// How long after the crash (or after its own arrival, if later) a request got its answer.
fn answered_after(s: &Sample, crash: Duration) -> Duration {
    s.end().saturating_sub(s.at.max(crash))
}

#[tokio::test]
async fn s2_primary_killed_and_restarted() {
    let mut report = Report::new("s2_primary_kill", "primary killed and restarted under load");
    let mut rig = Rig::start(PlatformOptions::default(), &[]).await;
    report.measured("setup_s", rig.setup_times());
    load::seed(&rig.api, 10).await;
    rig.replica_serving().await;
    let capacity = calibrate(&rig, &mut report).await;
    let steady = Drive::Steady(Rates::production(capacity.list_per_s));
    outage(&mut rig, steady, "steady", &mut report).await;
    let closed = Drive::ClosedLoop {
        workers: 8,
        mix: Rates::steady(),
    };
    outage(&mut rig, closed, "closed_loop", &mut report).await;
    rig.service.stop().await;
    finish(&report);
}

async fn outage(rig: &mut Rig, drive: Drive, label: &str, report: &mut Report) {
    let clients = load::seed(&rig.api, 30).await;
    let service_pid = rig.service.pid();
    report.measured(&format!("{label}_drive"), drive);
    let load = Load::drive(rig.api.clone(), &clients, drive);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let crash = load.now();
    assert!(
        rig.platform
            .launcher("kill -9 primary", |c| c.kill(NodeName::Primary))
            .await
    );
    report.injected(format!(
        "{label}: kill -9 of the primary's postmaster at t={:.2}s",
        crash.as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restart = load.now();
    rig.platform
        .launcher("restart primary", |c| c.start(NodeName::Primary))
        .await;
    let restarted = load.now();
    report.injected(format!(
        "{label}: primary restarted at t={:.2}s (crash recovery took {:.2}s)",
        restart.as_secs_f64(),
        (restarted - restart).as_secs_f64()
    ));
    let first_write = first_ok_after(&load, &[Op::Create, Op::Patch], restarted, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let samples = load.stop().await;
    let metrics = Metrics::scrape(&rig.api).await;

    report.measured(&format!("{label}_requests"), fault_suite::report::summarize(&samples));
    report.measured(&format!("{label}_outage_s"), secs(restarted - crash));
    report.measured(
        &format!("{label}_first_successful_write_after_restart_s"),
        secs(first_write.saturating_sub(restarted)),
    );
    report.measured(
        &format!("{label}_fast_failures"),
        metrics.sum("db_router_fast_failures_total", &[]),
    );

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
    report.measured(&format!("{label}_writes_during_outage"), outage_writes.len());
    report.measured(&format!("{label}_writes_refused_during_outage"), failed.len());
    report.measured(&format!("{label}_slowest_refusal_s"), secs(slowest));
    let bad: Vec<&Sample> = failed
        .iter()
        .filter(|s| !s.reply.is_retryable_refusal())
        .map(|s| **s)
        .collect();
    report.check(
        &format!("{label}: writes fail fast: 503 problem+json with Retry-After"),
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
        &format!("{label}: no request hung or lost its connection"),
        hung.is_empty(),
        describe_failures(hung.into_iter()),
    );
    let lists: Vec<&Sample> = of(&samples, &[Op::List])
        .filter(|s| s.at >= crash && s.at < restarted)
        .collect();
    let failed_lists: Vec<&Sample> = lists.iter().filter(|s| !s.reply.ok()).copied().collect();
    report.check(
        &format!("{label}: reads continue (lists, served by the replica)"),
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
        &format!("{label}_reads_by_id_refused_during_outage"),
        by_id.iter().filter(|s| !s.reply.ok()).count(),
    );
    report.check(
        &format!("{label}: reads by id (primary reads by design) are refused the same way"),
        by_id_bad.is_empty(),
        describe_failures(by_id_bad.into_iter()),
    );
    let after: Vec<&Sample> = of(&samples, &[Op::Create, Op::Patch])
        .filter(|s| s.at >= first_write)
        .collect();
    let after_failed: Vec<&Sample> = after.iter().filter(|s| !s.reply.ok()).copied().collect();
    report.check(
        &format!("{label}: after the restart writes succeed, without restarting the service"),
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
        &format!("{label}: every acknowledged write survived the crash"),
        durability.problems.is_empty(),
        format!(
            "{} acknowledged writes on {} clients checked in the table; {} problems {:?}",
            durability.acknowledged,
            durability.clients,
            durability.problems.len(),
            durability.problems.iter().take(3).collect::<Vec<_>>()
        ),
    );
}
