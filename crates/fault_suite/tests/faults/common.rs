//! What every scenario shares: the rig (platform, issuer, service, API client) and the end of a
//! scenario (print the report, write its JSON, fail on any guarantee that did not hold).

use std::path::{Path, PathBuf};
use std::time::Duration;

use fault_suite::load::{Op, Sample};
use fault_suite::{Api, Issuer, Metrics, Platform, PlatformOptions, Report, Service};

/// A scenario's moving parts.
pub struct Rig {
    pub platform: Platform,
    pub issuer: Issuer,
    pub service: Service,
    pub api: Api,
}

impl Rig {
    /// A provisioned, migrated platform and the service running against it with `extra` env.
    pub async fn start(options: PlatformOptions, extra: &[(&str, String)]) -> Self {
        let platform = Platform::start(options).await;
        let issuer = Issuer::new(platform.dir());
        let env = Service::env_for(&platform, &issuer, extra).await;
        Self::with_env(platform, issuer, env).await
    }

    /// The service on `platform` with exactly `env`.
    pub async fn with_env(platform: Platform, issuer: Issuer, env: Vec<(String, String)>) -> Self {
        let service = Service::start(platform.dir(), env).await;
        let api = Api::new(&service.base(), issuer.token("fault-suite"));
        Self {
            platform,
            issuer,
            service,
            api,
        }
    }

    /// How long the setup steps took, in seconds (for the report).
    pub fn setup_times(&self) -> std::collections::BTreeMap<&'static str, f64> {
        self.platform.setup.iter().map(|(step, d)| (*step, secs(*d))).collect()
    }

    /// Waits until the service's replica side is connected and list reads are served by it.
    pub async fn replica_serving(&self) {
        test_support::eventually("list reads served by the replica", Duration::from_secs(60), || async {
            let reply = self.api.get("/v1/clients?limit=1", None).await;
            assert!(reply.ok(), "list read failed before any fault: {reply:?}");
            let m = Metrics::scrape(&self.api).await;
            (m.sum("db_router_reads_total", &[("target", "replica")]) > 0.0).then_some(())
        })
        .await;
    }
}

/// Measures the service's list throughput on this machine now (closed loop, 8 workers, 2 s after a
/// 0.5 s warm-up) and records it: the scenario's production rate is half of it.
pub async fn calibrate(rig: &Rig, report: &mut Report) -> fault_suite::calibrate::Capacity {
    let capacity =
        fault_suite::calibrate::list_capacity(&rig.api, Duration::from_millis(500), Duration::from_secs(2)).await;
    report.measured("calibration", capacity);
    assert!(
        capacity.failed == 0 && capacity.list_per_s > 0.0,
        "the service failed list reads before any fault: {capacity:?}"
    );
    capacity
}

/// Where reports go: `<target dir>/fault-report`.
pub fn report_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or_else(|| Path::new("target"))
        .join("fault-report")
}

/// Prints the report, writes its JSON, and fails the test unless every check held.
pub fn finish(report: &Report) {
    println!("{}", report.render());
    match report.write(&report_dir()) {
        Ok(path) => println!("   report: {}", path.display()),
        Err(e) => println!("   report could not be written: {e}"),
    }
    let failed = report.failed();
    assert!(report.held(), "guarantees did not hold: {failed:#?}");
}

/// Samples of the given operations.
pub fn of<'a>(samples: &'a [Sample], ops: &'a [Op]) -> impl Iterator<Item = &'a Sample> + 'a {
    samples.iter().filter(move |s| ops.contains(&s.op))
}

/// A compact description of failed samples (at most five), for check details.
pub fn describe_failures<'a>(failures: impl Iterator<Item = &'a Sample>) -> String {
    let list: Vec<&Sample> = failures.collect();
    let shown: Vec<String> = list
        .iter()
        .take(5)
        .map(|s| {
            format!(
                "{:?} at {:.2}s -> {} {}",
                s.op,
                s.at.as_secs_f64(),
                s.reply.status,
                s.reply
                    .problem_type()
                    .map(
                        |kind| match s.reply.body.get("detail").and_then(serde_json::Value::as_str) {
                            // The detail says which refusal it was (in-flight limit, pool, primary, ...).
                            Some(detail) => format!("{kind} ({detail})"),
                            None => kind.to_owned(),
                        }
                    )
                    .or_else(|| s.reply.transport_error.clone())
                    .unwrap_or_default()
            )
        })
        .collect();
    format!(
        "{} failed{}{}",
        list.len(),
        if list.is_empty() { "" } else { ": " },
        shown.join("; ")
    )
}

/// Seconds with millisecond precision, for reports.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Waits for the first 2xx reply of `ops` that started at or after `since`, and returns its start.
pub async fn first_ok_after(load: &fault_suite::Load, ops: &[Op], since: Duration, limit: Duration) -> Duration {
    test_support::eventually("a successful request", limit, || async {
        load.snapshot()
            .iter()
            .filter(|s| ops.contains(&s.op) && s.at >= since && s.reply.ok())
            .map(|s| s.at)
            .min()
    })
    .await
}

/// Acknowledged writes compared with the table.
#[derive(Debug, Default)]
pub struct Durability {
    /// Clients with at least one acknowledged write.
    pub clients: usize,
    /// Acknowledged creates and patches.
    pub acknowledged: usize,
    /// What does not match, one line per client.
    pub problems: Vec<String>,
}

/// Checks every acknowledged write of `samples` against `client_api.client`: each acknowledged
/// create exists; each client's version is at least its last acknowledged version and at most
/// the highest version any request tried to make; at its last acknowledged version it holds the
/// acknowledged `owner`. (A write that committed but whose response was lost may legitimately
/// add one version beyond the last acknowledgement.)
pub async fn check_acknowledged(db: &tokio_postgres::Client, samples: &[Sample]) -> Durability {
    use std::collections::BTreeMap;
    struct Expect {
        acked: i64,
        owner: Option<String>,
        attempted: i64,
    }
    let mut expect: BTreeMap<String, Expect> = BTreeMap::new();
    let mut acknowledged = 0;
    for s in samples {
        let attempted = s.attempted_version.unwrap_or(1);
        if let Some(a) = &s.acked {
            acknowledged += 1;
            let e = expect.entry(a.id.clone()).or_insert(Expect {
                acked: 0,
                owner: None,
                attempted: 0,
            });
            if a.version >= e.acked {
                e.acked = a.version;
                e.owner.clone_from(&a.owner);
            }
            e.attempted = e.attempted.max(attempted).max(a.version);
        }
    }
    // Attempts that were not acknowledged still bound the version from above.
    for s in samples.iter().filter(|s| s.op == Op::Patch && s.acked.is_none()) {
        if let (Some(v), Some(id)) = (s.attempted_version, s.target.clone())
            && let Some(e) = expect.get_mut(&id)
        {
            e.attempted = e.attempted.max(v);
        }
    }
    let ids: Vec<uuid::Uuid> = expect.keys().filter_map(|id| id.parse().ok()).collect();
    let rows = db
        .query(
            "SELECT id, version, owner FROM client_api.client WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .unwrap_or_else(|e| panic!("reading the acknowledged clients: {e}"));
    let found: BTreeMap<String, (i64, Option<String>)> = rows
        .iter()
        .map(|r| (r.get::<_, uuid::Uuid>(0).to_string(), (r.get(1), r.get(2))))
        .collect();
    let mut problems = Vec::new();
    for (id, e) in &expect {
        match found.get(id) {
            None => problems.push(format!("{id}: acknowledged (version {}) but not in the table", e.acked)),
            Some((version, _)) if *version < e.acked || *version > e.attempted => problems.push(format!(
                "{id}: version {version}, acknowledged {}, highest attempted {}",
                e.acked, e.attempted
            )),
            Some((version, owner)) if *version == e.acked && e.owner.is_some() && *owner != e.owner => {
                problems.push(format!(
                    "{id}: owner {owner:?} at version {version}, acknowledged {:?}",
                    e.owner
                ));
            }
            Some(_) => {}
        }
    }
    Durability {
        clients: expect.len(),
        acknowledged,
        problems,
    }
}
