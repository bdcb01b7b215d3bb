//! Scenario 8: pool exhaustion under a flood of slow requests. A separate session locks five
//! clients (`SELECT ... FOR UPDATE`), then 200 requests that must update those rows (recording a
//! risk assessment updates the client) arrive at once: the few that get a transaction connection
//! wait on the row locks for real, the rest find the pool or the in-flight limit full.
//! Guarantees: the service sheds the excess (past its in-flight limit after the short admission wait,
//! `PCC_HTTP_ADMISSION_WAIT_MS`) with `503` problems carrying `Retry-After`, never a growing queue;
//! `/healthz` keeps answering throughout, and once the locks are released the accepted requests
//! complete and normal traffic is served again.

use std::time::Duration;

use fault_suite::load::{self, Load, Rates};
use fault_suite::{Api, Metrics, PlatformOptions, Reply, Report};
use reqwest::Method;

use crate::common::{Rig, describe_failures, finish, secs};

const FLOOD: usize = 200;
const HOT: usize = 5;
const HOLD: Duration = Duration::from_secs(3);

async fn assess(api: Api, id: String) -> Reply {
    Api::send(
        api.request(Method::POST, &format!("/v1/clients/{id}/risk-assessments"))
            .json(&serde_json::json!({"rating": "medium", "rationale": "flood"})),
    )
    .await
}

#[tokio::test]
async fn s8_pool_exhaustion_and_slow_flood() {
    let mut report = Report::new("s8_overload", "pool exhaustion and a flood of slow requests");
    let extra = [
        ("PCC_DB_POOL_MAX", "6".to_owned()),
        ("PCC_HTTP_MAX_IN_FLIGHT", "64".to_owned()),
    ];
    let rig = Rig::start(PlatformOptions::default(), &extra).await;
    report.measured("setup_s", rig.setup_times());
    report.measured(
        "service_limits",
        "PCC_DB_POOL_MAX=6 (2 shared read sessions + 4 transaction connections), PCC_HTTP_MAX_IN_FLIGHT=64, PCC_DB_CHECKOUT_TIMEOUT_MS=1000 (default)",
    );
    let clients = load::seed(&rig.api, 20).await;
    rig.replica_serving().await;
    let hot: Vec<String> = clients.iter().take(HOT).map(|(id, _)| id.clone()).collect();
    let cold = clients[HOT].0.clone();

    let locker = rig.platform.service_db().await;
    let ids: Vec<uuid::Uuid> = hot.iter().filter_map(|id| id.parse().ok()).collect();
    locker
        .batch_execute("BEGIN")
        .await
        .unwrap_or_else(|e| panic!("BEGIN: {e}"));
    locker
        .query(
            "SELECT id FROM client_api.client WHERE id = ANY($1) FOR UPDATE",
            &[&ids],
        )
        .await
        .unwrap_or_else(|e| panic!("locking the hot clients: {e}"));
    report.injected(format!(
        "{HOT} clients locked FOR UPDATE by another session for {}s",
        HOLD.as_secs()
    ));

    let flood: Vec<_> = (0..FLOOD)
        .map(|i| tokio::spawn(assess(rig.api.clone(), hot[i % HOT].clone())))
        .collect();
    report.injected(format!("{FLOOD} concurrent POST /v1/clients/{{hot}}/risk-assessments"));
    // While the locks are held: liveness probes and reads of an unlocked client.
    let mut probes = Vec::new();
    let mut reads = Vec::new();
    let until = tokio::time::Instant::now() + HOLD;
    while tokio::time::Instant::now() < until {
        probes.push(rig.api.healthz().await);
        reads.push(rig.api.get(&format!("/v1/clients/{cold}"), None).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pending_at_release = flood.iter().filter(|f| !f.is_finished()).count();
    let during = Metrics::scrape(&rig.api).await;
    locker
        .batch_execute("ROLLBACK")
        .await
        .unwrap_or_else(|e| panic!("ROLLBACK: {e}"));
    report.injected("locks released");
    let mut replies = Vec::new();
    for f in flood {
        replies.push(f.await.unwrap_or_else(|e| panic!("flood request: {e}")));
    }
    // Recovery: ordinary traffic right after.
    let current: Vec<(String, i64)> = {
        let rows = locker
            .query("SELECT id, version FROM client_api.client WHERE id = ANY($1)", &[&ids])
            .await
            .unwrap_or_else(|e| panic!("versions: {e}"));
        rows.iter()
            .map(|r| (r.get::<_, uuid::Uuid>(0).to_string(), r.get(1)))
            .collect()
    };
    let after = Load::start(rig.api.clone(), &current, Rates::steady());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = after.stop().await;
    // The pool gauges are sampled by db_router's heartbeat (every 250 ms).
    let in_use = test_support::eventually("the pool drains", Duration::from_secs(10), || async {
        let m = Metrics::scrape(&rig.api).await;
        let in_use = m.sum(
            "db_router_pool_connections",
            &[("target", "primary"), ("state", "in_use")],
        );
        (in_use == 0.0).then_some(in_use)
    })
    .await;

    let accepted = replies.iter().filter(|r| r.status == 201).count();
    let shed: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    let other: Vec<&Reply> = replies.iter().filter(|r| r.status != 201 && r.status != 503).collect();
    let slowest_shed = shed.iter().map(|r| r.latency).max().unwrap_or_default();
    let slowest_probe = probes.iter().map(|r| r.latency).max().unwrap_or_default();
    report.measured("flood_accepted_201", accepted);
    report.measured("flood_shed_503", shed.len());
    report.measured("flood_other", other.iter().map(|r| r.status).collect::<Vec<_>>());
    report.measured("slowest_shed_s", secs(slowest_shed));
    report.measured("flood_pending_when_released", pending_at_release);
    report.measured("healthz_probes_during_flood", probes.len());
    report.measured("slowest_healthz_s", secs(slowest_probe));
    report.measured("http_shed_total_during", during.sum("http_shed_total", &[]));
    report.measured(
        "checkout_timeouts_during",
        during.sum("db_router_checkout_timeouts_total", &[]),
    );
    report.measured("requests_after", fault_suite::report::summarize(&after));

    report.check(
        "the excess is shed with 503 problems carrying Retry-After",
        !shed.is_empty() && shed.iter().all(|r| r.is_retryable_refusal()) && other.is_empty(),
        format!(
            "{} of {FLOOD} shed (slowest answer {:.3}s), {accepted} accepted, others: {:?}",
            shed.len(),
            slowest_shed.as_secs_f64(),
            other
                .iter()
                .map(|r| (r.status, r.transport_error.clone()))
                .collect::<Vec<_>>()
        ),
    );
    report.check(
        "/healthz answers throughout, while slow requests are pending",
        !probes.is_empty() && probes.iter().all(|r| r.status == 200) && pending_at_release > 0,
        format!(
            "{} probes, all 200: {}; slowest {:.3}s; {pending_at_release} flood requests still pending when the locks were released",
            probes.len(),
            probes.iter().all(|r| r.status == 200),
            slowest_probe.as_secs_f64()
        ),
    );
    let failed_reads: Vec<&Reply> = reads.iter().filter(|r| !r.ok()).collect();
    report.check(
        "reads of other clients are served during the flood",
        failed_reads.is_empty() && !reads.is_empty(),
        format!("{} reads, {} failed", reads.len(), failed_reads.len()),
    );
    report.check(
        "accepted requests complete once the rows are free",
        accepted > 0 && accepted == pending_at_release,
        format!("{accepted} risk assessments recorded, {pending_at_release} were waiting on the locks"),
    );
    let after_failed: Vec<_> = after.iter().filter(|s| !s.reply.ok()).collect();
    report.check(
        "the service recovers: ordinary traffic succeeds and the pool drains",
        !after.is_empty() && after_failed.is_empty() && in_use == 0.0,
        format!(
            "{} requests after the flood, {}; primary connections in use {in_use}",
            after.len(),
            describe_failures(after_failed.into_iter())
        ),
    );
    finish(&report);
}
