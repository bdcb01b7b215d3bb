//! Scenario 9: a flood of malformed and hostile requests (`fault_suite::fuzz`, reproducible with
//! `PCC_FAULT_SEED`): mutated JSON bodies for every write endpoint, broken bytes, odd headers,
//! junk query strings and paths. Guarantees: no 5xx, every refusal is a problem document, and no
//! partial write: rows change only where a request succeeded (table sizes grow by exactly the
//! number of acknowledged creates, clients change only when a 2xx write addressed them, and
//! tables no successful request could touch are byte-for-byte unchanged).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use fault_suite::fuzz::{Case, Fuzzer, Targets};
use fault_suite::load;
use fault_suite::{Api, PlatformOptions, Reply, Report};
use tokio_postgres::Client;

use crate::common::{Rig, finish};

const CASES: usize = 4000;
const CONCURRENCY: usize = 8;
const TABLES: &[&str] = &[
    "client",
    "contact",
    "client_address",
    "risk_assessment",
    "client_contact",
    "client_move",
    "idempotency_key",
];

/// Row count and a hash of every row's text, per table.
async fn tables(db: &Client) -> BTreeMap<&'static str, (i64, i64)> {
    let mut out = BTreeMap::new();
    for table in TABLES {
        let row = db
            .query_one(
                &format!(
                    "SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0)::bigint FROM client_api.{table} t"
                ),
                &[],
            )
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        out.insert(*table, (row.get(0), row.get(1)));
    }
    out
}

/// Each client's row as text.
async fn clients(db: &Client) -> BTreeMap<String, String> {
    db.query("SELECT id::text, c::text FROM client_api.client c", &[])
        .await
        .unwrap_or_else(|e| panic!("clients: {e}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The tables a successful request of this kind may change.
fn touches(kind: &str) -> &'static [&'static str] {
    match kind {
        "create client" => &["client", "idempotency_key"],
        "patch client" => &["client", "client_move"],
        "delete client" => &["client", "client_contact"],
        "create address" => &["client_address", "client", "idempotency_key"],
        "create risk assessment" => &["risk_assessment", "client", "idempotency_key"],
        "link contact" => &["client_contact", "idempotency_key"],
        "create contact" => &["contact", "idempotency_key"],
        _ => &[],
    }
}

/// The table a successful create of this kind adds one row to.
fn creates(kind: &str) -> Option<&'static str> {
    match kind {
        "create client" => Some("client"),
        "create address" => Some("client_address"),
        "create risk assessment" => Some("risk_assessment"),
        "link contact" => Some("client_contact"),
        "create contact" => Some("contact"),
        _ => None,
    }
}

async fn send(api: &Api, reader: &Api, case: &Case) -> Option<Reply> {
    let mut request = if case.custom_auth {
        api.anonymous(case.method.clone(), &case.path)
    } else if case.read_only {
        reader.request(case.method.clone(), &case.path)
    } else {
        api.request(case.method.clone(), &case.path)
    };
    for (name, value) in &case.headers {
        // A value no HTTP client can send (control characters) is left out.
        if let Ok(value) = reqwest::header::HeaderValue::from_bytes(value) {
            request = request.header(*name, value);
        }
    }
    if !case.body.is_empty() {
        request = request.body(case.body.clone());
    }
    let reply = Api::send(request).await;
    // A URL the client library refuses to build never reached the service.
    (reply.status != 0 || !reply.transport_error.as_deref().unwrap_or_default().contains("builder")).then_some(reply)
}

#[tokio::test]
async fn s9_bad_input_flood() {
    let mut report = Report::new(
        "s9_bad_input",
        "bad input flood (fuzzed bodies, headers, query strings)",
    );
    let rig = Rig::start(PlatformOptions::default(), &[]).await;
    report.measured("setup_s", rig.setup_times());
    let seeded = load::seed(&rig.api, 20).await;
    let contact = Api::send(
        rig.api
            .request(reqwest::Method::POST, "/v1/contacts")
            .json(&serde_json::json!({"family_name": "Target", "given_name": "T"})),
    )
    .await;
    assert_eq!(contact.status, 201, "{:?}", contact.body);
    rig.replica_serving().await;
    let seed: u64 = std::env::var("PCC_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    report.measured("seed", seed);
    report.injected(format!(
        "{CASES} fuzzed requests, {CONCURRENCY} at a time (rerun with PCC_FAULT_SEED={seed})"
    ));
    let mut fuzzer = Fuzzer::new(
        seed,
        Targets {
            clients: seeded,
            contact: contact.body["id"].as_str().unwrap_or_default().to_owned(),
        },
    );
    let db = rig.platform.service_db().await;
    let tables_before = tables(&db).await;
    let clients_before = clients(&db).await;

    let queue = Arc::new(Mutex::new((0..CASES).map(|_| fuzzer.case()).collect::<Vec<_>>()));
    let results = Arc::new(Mutex::new(Vec::new()));
    // Some cases present a token with only the read scope.
    let reader = Api::new(rig.api.base(), rig.issuer.token_with("fuzz-reader", "clients:read"));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (api, reader, queue, results) = (rig.api.clone(), reader.clone(), queue.clone(), results.clone());
            tokio::spawn(async move {
                loop {
                    let Some(case) = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop() else {
                        break;
                    };
                    let reply = send(&api, &reader, &case).await;
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((case, reply));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap_or_else(|e| panic!("fuzz worker: {e}"));
    }
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    let tables_after = tables(&db).await;
    let clients_after = clients(&db).await;

    let sent: Vec<(&Case, &Reply)> = results.iter().filter_map(|(c, r)| r.as_ref().map(|r| (c, r))).collect();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (case, reply) in &sent {
        *statuses.entry(reply.status).or_default() += 1;
        let entry = kinds.entry(case.kind).or_default();
        entry.0 += 1;
        entry.1 += usize::from(reply.ok());
    }
    report.measured("requests_sent", sent.len());
    report.measured("not_sendable", results.len() - sent.len());
    report.measured("statuses", &statuses);
    report.measured("by_kind_sent_and_2xx", &kinds);

    let server_errors: Vec<String> = sent
        .iter()
        .filter(|(_, r)| r.status >= 500 || r.status == 0)
        .map(|(c, r)| {
            format!(
                "{} {} {} (path {} bytes, headers {:?}, body {} bytes) -> {} {}",
                c.kind,
                c.method,
                c.path.chars().take(60).collect::<String>(),
                c.path.len(),
                c.headers.iter().map(|(n, v)| (*n, v.len())).collect::<Vec<_>>(),
                c.body.len(),
                r.status,
                r.body["detail"].as_str().map_or_else(
                    || r.transport_error
                        .as_deref()
                        .unwrap_or_default()
                        .rsplit(": ")
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    str::to_owned
                )
            )
        })
        .collect();
    report.check(
        "no 5xx (and no dropped connection)",
        server_errors.is_empty(),
        format!(
            "{} of {}: {:?}",
            server_errors.len(),
            sent.len(),
            server_errors.iter().take(5).collect::<Vec<_>>()
        ),
    );
    let not_problems: Vec<String> = sent
        .iter()
        .filter(|(_, r)| (400..500).contains(&r.status) && !r.is_problem())
        .map(|(c, r)| {
            format!(
                "{} {} -> {} {:?}",
                c.kind,
                c.path.chars().take(60).collect::<String>(),
                r.status,
                r.content_type
            )
        })
        .collect();
    report.check(
        "every refusal is a problem document (application/problem+json)",
        not_problems.is_empty(),
        format!(
            "{} not: {:?}",
            not_problems.len(),
            not_problems.iter().take(5).collect::<Vec<_>>()
        ),
    );

    // No partial writes.
    let ok: Vec<&(&Case, &Reply)> = sent.iter().filter(|(_, r)| r.ok()).collect();
    let mut problems = Vec::new();
    let touched: BTreeSet<&str> = ok.iter().flat_map(|(c, _)| touches(c.kind).iter().copied()).collect();
    for table in TABLES {
        let (before, after) = (tables_before[table], tables_after[table]);
        let created = ok
            .iter()
            .filter(|(c, r)| r.status == 201 && creates(c.kind) == Some(table))
            .count();
        let expected = match *table {
            "idempotency_key" => ok
                .iter()
                .filter(|(c, _)| c.keyed && c.method == reqwest::Method::POST)
                .count(),
            _ => created,
        };
        let grew = after.0 - before.0;
        let expected_growth = i64::try_from(expected).unwrap_or(i64::MAX);
        if creates_any(table) && grew != expected_growth {
            problems.push(format!("{table}: {grew} new rows, {expected} acknowledged creates"));
        }
        if !touched.contains(table) && before != after {
            problems.push(format!(
                "{table}: changed although no successful request could touch it"
            ));
        }
    }
    let addressed: BTreeSet<&str> = ok.iter().filter_map(|(c, _)| c.client.as_deref()).collect();
    for (id, row) in &clients_before {
        if clients_after.get(id) != Some(row) && !addressed.contains(id.as_str()) {
            problems.push(format!(
                "client {id} changed without a successful request addressing it"
            ));
        }
    }
    report.measured("successful_requests", ok.len());
    report.check(
        "no partial write: rows change only where a request succeeded",
        problems.is_empty(),
        format!(
            "{} tables compared (count and content hash), {} existing clients; {problems:?}",
            TABLES.len(),
            clients_before.len()
        ),
    );
    let read_only_writes: Vec<&(&Case, &Reply)> = sent
        .iter()
        .filter(|(c, _)| c.read_only && c.method != reqwest::Method::GET)
        .collect();
    let written: Vec<String> = read_only_writes
        .iter()
        .filter(|(_, r)| r.ok())
        .map(|(c, r)| format!("{} {} -> {}", c.method, c.path, r.status))
        .collect();
    report.check(
        "a token without the write scope never writes",
        written.is_empty(),
        format!(
            "{} writes with a read-only token: statuses {:?}; {written:?}",
            read_only_writes.len(),
            read_only_writes.iter().map(|(_, r)| r.status).collect::<BTreeSet<_>>()
        ),
    );
    // Valid creates of clients and contacts cannot conflict with anything the flood does.
    let valid_creates: Vec<&(&Case, &Reply)> = sent
        .iter()
        .filter(|(c, _)| c.valid && matches!(c.kind, "create client" | "create contact"))
        .collect();
    let refused: Vec<String> = valid_creates
        .iter()
        .filter(|(_, r)| r.status != 201)
        .map(|(c, r)| format!("{} -> {} {:?}", c.kind, r.status, r.problem_type()))
        .collect();
    report.check(
        "valid requests amid the flood succeed",
        !valid_creates.is_empty() && refused.is_empty(),
        format!(
            "{} valid creates, {} refused {:?}; {} requests answered 2xx in all",
            valid_creates.len(),
            refused.len(),
            refused.iter().take(3).collect::<Vec<_>>(),
            ok.len()
        ),
    );
    finish(&report);
}

fn creates_any(table: &str) -> bool {
    matches!(
        table,
        "client" | "client_address" | "risk_assessment" | "client_contact" | "contact" | "idempotency_key"
    )
}
