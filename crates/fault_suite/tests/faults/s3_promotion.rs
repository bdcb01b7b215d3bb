//! Scenario 3: failover. The service's primary string lists both servers
//! (`Host=primary:p1,replica:p2`, as a deployment configures it); the primary crashes and the
//! replica is promoted, under the steady production rate and, at the same time, a closed loop of 8
//! callers (a promotion happens once per cluster). Guarantee: writes follow the new primary without
//! restarting the service; failures meanwhile are 503 problems with Retry-After, and nothing hangs. How
//! soon writes follow (we aim for 10 s) is a measurement in the report, not a check: other scenarios
//! load the same cores.

use std::time::Duration;

use fault_suite::load::{self, Load, Op, Rates, Sample};
use fault_suite::{Metrics, PlatformOptions, Report};
use pg_launcher::NodeName;

use crate::common::{Rig, calibrate, describe_failures, finish, first_ok_after, of, secs};

#[tokio::test]
async fn s3_replica_promoted_writes_follow() {
    let mut report = Report::new("s3_promotion", "replica promoted, multi-host primary string");
    let platform = fault_suite::Platform::start(PlatformOptions::default()).await;
    let issuer = fault_suite::Issuer::new(platform.dir());
    let primary_string = platform.multi_host_primary().await;
    let env = fault_suite::Service::env_for(&platform, &issuer, &[("PCC_DB_PRIMARY", primary_string.clone())]).await;
    let mut rig = Rig::with_env(platform, issuer, env).await;
    report.measured("setup_s", rig.setup_times());
    report.measured("primary_string", primary_string.split(';').take(1).collect::<String>());
    let clients = load::seed(&rig.api, 30).await;
    rig.replica_serving().await;
    let service_pid = rig.service.pid();
    let capacity = calibrate(&rig, &mut report).await;
    let rates = Rates::production(capacity.list_per_s);
    report.measured("load_rates_per_s", rates);
    let load = Load::start(rig.api.clone(), &clients, rates);
    let closed_clients = load::seed(&rig.api, 20).await;
    let closed = Load::closed_loop(rig.api.clone(), &closed_clients, 8, Rates::steady());
    tokio::time::sleep(Duration::from_secs(2)).await;

    let crash = load.now();
    let closed_crash = closed.now();
    assert!(
        rig.platform
            .launcher("kill -9 primary", |c| c.kill(NodeName::Primary))
            .await
    );
    report.injected(format!("kill -9 of the primary at t={:.2}s", crash.as_secs_f64()));
    rig.platform.launcher("promote the replica", |c| c.promote()).await;
    let promoted = load.now();
    report.injected(format!(
        "replica promoted (pg_ctl promote -w returned) at t={:.2}s",
        promoted.as_secs_f64()
    ));
    let first_write = first_ok_after(&load, &[Op::Create, Op::Patch], promoted, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let samples = load.stop().await;
    let closed = closed.stop().await;
    let metrics = Metrics::scrape(&rig.api).await;

    let follow = first_write.saturating_sub(promoted);
    report.measured("requests", fault_suite::report::summarize(&samples));
    report.measured("promotion_s", secs(promoted - crash));
    report.measured("writes_follow_after_s", secs(follow));
    report.measured("first_write_after_crash_s", secs(first_write.saturating_sub(crash)));
    report.measured("fallbacks_to_primary", metrics.sum("db_router_fallbacks_total", &[]));
    report.measured(
        "fallbacks_refused",
        metrics.sum("db_router_fallbacks_refused_total", &[]),
    );
    // Streaming replication is asynchronous: a kill -9 of the primary loses the commits the replica had not
    // received yet, so a write the load made (and the service acknowledged) in the last moments before the
    // crash may be missing on the promoted server: a create (the client does not exist) or a patch (the
    // client is at an older version). Requests that depend on exactly those writes answer 404 (reads and
    // patches of a lost client) or 412 (a patch whose If-Match is the lost version): the truth on the new
    // primary, not a service fault; they are counted, not failed. A write sent after the crash and
    // acknowledged must never be lost.
    let promoted_server = rig
        .platform
        .superuser(NodeName::Replica, fault_suite::platform::DATABASE)
        .await;
    let mut lost_creates = std::collections::HashSet::new();
    let mut lost_patches = std::collections::HashSet::new();
    let mut lost_after_crash = Vec::new();
    let writes = samples
        .iter()
        .map(|s| (s, crash))
        .chain(closed.iter().map(|s| (s, closed_crash)))
        .filter(|(s, _)| matches!(s.op, Op::Create | Op::Patch));
    for (sample, crashed_at) in writes {
        let Some(acked) = sample.acked.as_ref() else { continue };
        let version: Option<i64> = promoted_server
            .query_opt(
                "SELECT version FROM client_api.client WHERE id = $1::text::uuid",
                &[&acked.id],
            )
            .await
            .unwrap_or_else(|e| panic!("reading the promoted server: {e}"))
            .map(|row| row.get(0));
        let held = version.is_some_and(|v| v >= acked.version);
        if !held {
            match sample.op {
                Op::Create => lost_creates.insert(acked.id.clone()),
                _ => lost_patches.insert(acked.id.clone()),
            };
            if sample.at > crashed_at {
                lost_after_crash.push((sample.op, acked.id.clone(), acked.version, version));
            }
        }
    }
    report.check(
        "no write sent after the crash and acknowledged is lost",
        lost_after_crash.is_empty(),
        format!(
            "{} lost (op, id, acknowledged version, promoted version): {lost_after_crash:?}",
            lost_after_crash.len()
        ),
    );
    report.measured("acknowledged_creates_lost_by_async_replication", lost_creates.len());
    report.measured("acknowledged_patches_lost_by_async_replication", lost_patches.len());
    let of_lost = |s: &Sample| {
        let target = s.target.as_ref();
        (s.reply.status == 404 && target.is_some_and(|t| lost_creates.contains(t)))
            || (s.reply.status == 412 && s.op == Op::Patch && target.is_some_and(|t| lost_patches.contains(t)))
    };
    let closed_bad: Vec<&Sample> = closed
        .iter()
        .filter(|s| !(s.reply.ok() || s.reply.is_retryable_refusal() || of_lost(s)))
        .collect();
    report.measured(
        "closed_loop",
        serde_json::json!({
            "workers": 8,
            "requests": fault_suite::report::summarize(&closed),
            "failed": closed.iter().filter(|s| !s.reply.ok()).count(),
            "failed_otherwise_than_503": closed_bad.len(),
        }),
    );
    report.measured("steady_failed", samples.iter().filter(|s| !s.reply.ok()).count());
    report.check(
        "closed loop: every failure is a 503 problem with Retry-After; nothing hangs",
        closed_bad.is_empty(),
        describe_failures(closed_bad.into_iter()),
    );
    let after: Vec<&Sample> = of(&samples, &[Op::Create, Op::Patch])
        .filter(|s| s.at > first_write && !of_lost(s))
        .collect();
    let after_failed: Vec<&Sample> = after.iter().filter(|s| !s.reply.ok()).copied().collect();
    report.check(
        "and keep succeeding, with the same service process",
        !after.is_empty() && after_failed.is_empty() && rig.service.pid() == service_pid,
        format!(
            "{} writes after the first, {}",
            after.len(),
            describe_failures(after_failed.into_iter())
        ),
    );
    let bad: Vec<&Sample> = samples
        .iter()
        .filter(|s| !(s.reply.ok() || s.reply.is_retryable_refusal() || of_lost(s)))
        .collect();
    report.check(
        "during the failover every failure is a 503 problem with Retry-After; nothing hangs",
        bad.is_empty(),
        describe_failures(bad.into_iter()),
    );
    // The acknowledged write is on the promoted server (the old primary is dead).
    let last = samples
        .iter()
        .rev()
        .find_map(|s| s.acked.as_ref().filter(|_| s.op == Op::Create));
    let on_new_primary = match last {
        Some(acked) => promoted_server
            .query_opt(
                "SELECT 1 FROM client_api.client WHERE id = $1::text::uuid",
                &[&acked.id],
            )
            .await
            .ok()
            .flatten()
            .is_some(),
        None => false,
    };
    report.check(
        "writes land on the promoted server",
        on_new_primary,
        "the last acknowledged create is in the promoted server's table",
    );
    rig.service.stop().await;
    finish(&report);
}
