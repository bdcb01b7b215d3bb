//! Scenario 6: the service itself is killed with SIGKILL in the middle of a write-heavy load (no
//! drain, requests cut mid-flight). Guarantee: every write the service acknowledged with a 2xx is
//! in the database afterwards, exactly as acknowledged, and nothing beyond what was attempted;
//! the restarted service serves it. The load is an open loop of 250 writes/s and, beside it, a
//! closed loop of 8 callers writing as fast as the service answers; both are checked.

use std::time::Duration;

use fault_suite::load::{self, Load, Op, Rates};
use fault_suite::{PlatformOptions, Report};

use crate::common::{Rig, check_acknowledged, describe_failures, finish, of};

#[tokio::test]
async fn s6_service_killed_mid_load() {
    let mut report = Report::new("s6_service_kill", "service killed with -9 mid-load");
    let mut rig = Rig::start(PlatformOptions::default(), &[]).await;
    report.measured("setup_s", rig.setup_times());
    let clients = load::seed(&rig.api, 40).await;
    rig.replica_serving().await;
    // Write-heavy, so that writes are in flight at the kill.
    let rates = Rates {
        read_by_id: 20.0,
        list: 5.0,
        create: 100.0,
        patch: 150.0,
        moves: 0.0,
    };
    report.measured("load_rates_per_s", rates);
    let load = Load::start(rig.api.clone(), &clients, rates);
    let closed_clients = load::seed(&rig.api, 20).await;
    let closed = Load::closed_loop(rig.api.clone(), &closed_clients, 8, rates);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let killed_at = load.now();
    let pid = rig.service.pid();
    rig.service.kill9().await;
    report.injected(format!(
        "kill -9 of pcc-client-api (pid {pid:?}) at t={:.2}s, under {:.0} writes/s",
        killed_at.as_secs_f64(),
        rates.create + rates.patch
    ));
    // Requests in flight are cut; new ones are refused until the process is back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut samples = load.stop().await;
    let closed = closed.stop().await;
    report.measured(
        "closed_loop",
        serde_json::json!({
            "workers": 8,
            "requests": fault_suite::report::summarize(&closed),
            "acknowledged_writes": closed.iter().filter(|s| s.acked.is_some()).count(),
            "without_a_response_after_the_kill": closed.iter().filter(|s| s.end() >= killed_at && !s.reply.ok()).count(),
        }),
    );
    // Both loads' acknowledged writes are checked against the table.
    samples.extend(closed);

    let cut = samples.iter().filter(|s| s.end() >= killed_at && !s.reply.ok()).count();
    let cut_writes = of(&samples, &[Op::Create, Op::Patch])
        .filter(|s| s.at <= killed_at && s.reply.status == 0)
        .count();
    report.measured("requests", fault_suite::report::summarize(&samples));
    report.measured("requests_without_a_response_after_the_kill", cut);
    report.measured("writes_in_flight_at_the_kill", cut_writes);

    let db = rig.platform.service_db().await;
    let durability = check_acknowledged(&db, &samples).await;
    report.measured("acknowledged_writes", durability.acknowledged);
    report.measured("clients_checked", durability.clients);
    report.check(
        "every write acknowledged with 2xx is in the database, as acknowledged",
        durability.problems.is_empty() && durability.acknowledged > 0,
        format!(
            "{} acknowledged writes on {} clients compared with client_api.client; {} problems {:?}",
            durability.acknowledged,
            durability.clients,
            durability.problems.len(),
            durability.problems.iter().take(3).collect::<Vec<_>>()
        ),
    );
    let acked_before: Vec<_> = samples.iter().filter(|s| s.acked.is_some()).collect();
    let server_errors: Vec<_> = samples
        .iter()
        .filter(|s| s.reply.status >= 500 && s.reply.status != 503)
        .collect();
    report.check(
        "no 5xx other than documented 503s before the kill",
        server_errors.is_empty(),
        describe_failures(server_errors.into_iter()),
    );

    rig.service.restart().await;
    report.injected("service restarted with the same configuration");
    let mut mismatched = Vec::new();
    for s in acked_before.iter().rev().take(40) {
        let acked = s.acked.as_ref().unwrap_or_else(|| unreachable!("filtered"));
        let reply = rig.api.get(&format!("/v1/clients/{}", acked.id), None).await;
        let version = reply.body["version"].as_i64().unwrap_or(0);
        if !reply.ok() || version < acked.version {
            mismatched.push(format!(
                "{}: {} version {version}, acknowledged {}",
                acked.id, reply.status, acked.version
            ));
        }
    }
    // New load on the seed clients at the versions the table holds now.
    let ids: Vec<uuid::Uuid> = clients.iter().filter_map(|(id, _)| id.parse().ok()).collect();
    let current: Vec<(String, i64)> = db
        .query("SELECT id, version FROM client_api.client WHERE id = ANY($1)", &[&ids])
        .await
        .unwrap_or_else(|e| panic!("current versions: {e}"))
        .iter()
        .map(|r| (r.get::<_, uuid::Uuid>(0).to_string(), r.get(1)))
        .collect();
    let after = Load::start(rig.api.clone(), &current, Rates::steady());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = after.stop().await;
    let after_failed: Vec<_> = after.iter().filter(|s| !s.reply.ok()).collect();
    report.check(
        "the restarted service serves the acknowledged writes and new load",
        mismatched.is_empty() && after_failed.is_empty() && !after.is_empty(),
        format!(
            "40 newest acknowledged writes read back: {} mismatched {:?}; {} requests after the restart, {}",
            mismatched.len(),
            mismatched.iter().take(3).collect::<Vec<_>>(),
            after.len(),
            describe_failures(after_failed.into_iter())
        ),
    );
    rig.service.stop().await;
    finish(&report);
}
