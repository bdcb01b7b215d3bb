//! The soak: the release service under a mixed load at its production rate for a long time (30 min; 3 min
//! with `--quick`, 40 s with `--smoke`), with a password rotation (`pccdb rotate --wait`, through to the
//! retirement of the old login) at a third of the run and a replica restart at the middle. Every 10 s it
//! samples what could grow without bound: the service's RSS, its sessions on each server, the idempotency
//! keys stored, the clients table, and the latency of each operation in that window.
//!
//! The platform, the service process, the token issuer and the load generator are the fault suite's
//! (`fault_suite`), so the soak drives exactly what the fault scenarios drive, only for longer. The load
//! is open loop (requests start at fixed rates whatever the service does): a quarter of the list
//! throughput a closed-loop calibration measures at the start (10 s, 8 callers), a sixteenth of it in reads
//! by id, 8 creates (each with an `Idempotency-Key`), 12 patches and 4 moves per second. The baseline of every "flat" figure is the same
//! figure earlier in the same run: the second quarter (after warm-up) against the last quarter.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use fault_suite::load::{self, Load, LoadOptions, Op, Rates, Sample};
use fault_suite::platform::{DATABASE, SERVICE};
use fault_suite::{Api, Issuer, Platform, PlatformOptions, Service};
use pg_launcher::NodeName;
use serde::Serialize;

use super::{Settings, release_binary};
use crate::report::{Better, Metric, ScenarioResult, Target};

/// Peak RSS the service must stay under (the service scenario's target).
const RSS_LIMIT_MIB: f64 = 64.0;
/// A "flat" figure may grow this much from the second quarter of the run to the last.
const FLAT: f64 = 1.10;
/// Share of list reads that may fail while the replica restarts (the fault suite's bound).
const RESTART_FAILED_SHARE: f64 = 0.01;

/// How often the soak's service re-reads its credential (production: 30 s; shorter here, as the grace is).
const CREDENTIALS_REFRESH: &str = "1s";
const CREDENTIALS_REFRESH_MS: u64 = 1_000;

/// How long each part of the soak takes in a mode.
#[derive(Debug, Clone, Copy)]
struct Plan {
    total: Duration,
    sample_every: Duration,
    /// Pool `max_lifetime` and rotation grace in the soak's manifest (production: 30 min and 65 min;
    /// shorter here so that the rotation retires the old login inside the run).
    max_lifetime: &'static str,
    grace: &'static str,
    /// Idempotency keys live this long (production: 24 h), so the run sees many purge cycles.
    key_ttl_s: u64,
    purge_every_ms: u64,
}

impl Plan {
    fn for_settings(settings: &Settings) -> Self {
        if settings.smoke {
            Self {
                total: Duration::from_secs(40),
                sample_every: Duration::from_secs(5),
                max_lifetime: "2s",
                grace: "6s",
                key_ttl_s: 10,
                purge_every_ms: 2_000,
            }
        } else if settings.quick {
            Self {
                total: Duration::from_secs(180),
                sample_every: Duration::from_secs(10),
                max_lifetime: "10s",
                grace: "30s",
                key_ttl_s: 30,
                purge_every_ms: 10_000,
            }
        } else {
            Self {
                total: Duration::from_secs(30 * 60),
                sample_every: Duration::from_secs(10),
                max_lifetime: "60s",
                grace: "5min",
                key_ttl_s: 300,
                purge_every_ms: 30_000,
            }
        }
    }
}

/// One 10-second window.
#[derive(Debug, Clone, Serialize)]
struct Window {
    /// End of the window, seconds from the start of the load.
    t_s: f64,
    /// The service's resident set (VmRSS) and its peak so far (VmHWM), MiB.
    rss_mib: f64,
    hwm_mib: f64,
    /// Of the resident set, what transparent huge pages back (AnonHugePages), MiB.
    huge_mib: f64,
    /// The service's sessions on the primary and on the replica (pg_stat_activity, any login).
    sessions_primary: i64,
    sessions_replica: i64,
    /// Rows of `client_api.idempotency_key` and of `client_api.client`.
    idempotency_keys: i64,
    clients: i64,
    /// Requests that started in the window, and how many did not succeed.
    requests: usize,
    failed: usize,
    /// p99 latency per operation in the window, ms.
    p99_ms: BTreeMap<&'static str, f64>,
    /// What was happening (rotation, replica restart).
    events: Vec<String>,
}

fn percentile(mut values: Vec<f64>, q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1;
    values[index]
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / f64::from(n) }
}

/// `/proc/<pid>/status` VmRSS and VmHWM, MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `/proc/<pid>/smaps_rollup` AnonHugePages, MiB: what of the resident set transparent huge pages back.
fn huge_pages_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

async fn count(session: &tokio_postgres::Client, sql: &str) -> i64 {
    session.query_one(sql, &[]).await.map_or(-1, |row| row.get(0))
}

/// The service's sessions on a server, whatever their login (old and new during a rotation).
async fn service_sessions(session: &tokio_postgres::Client) -> i64 {
    session
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
            &[&DATABASE, &SERVICE],
        )
        .await
        .map_or(-1, |row| row.get(0))
}

/// Runs the soak.
///
/// # Errors
/// When the platform or the service cannot be started, or the harness panics.
pub fn run(settings: &Settings) -> anyhow::Result<ScenarioResult> {
    // The soak drives the release binaries bench/run built (the fault suite would build debug ones).
    // Absolute: the harness starts them from other directories.
    let binary = |name: &str| std::path::absolute(release_binary(settings, name));
    fault_suite::binaries::use_binaries(fault_suite::binaries::Binaries {
        client_api: binary("pcc-client-api")?,
        pccdb: binary("pccdb")?,
    });
    let plan = Plan::for_settings(settings);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The harness reports failures by panicking (it is a test harness); a panic becomes this scenario's error.
    runtime
        .block_on(async move { tokio::spawn(soak(plan)).await })
        .map_err(|e| anyhow::anyhow!("the soak's harness failed: {e}"))?
}

#[allow(clippy::too_many_lines)]
async fn soak(plan: Plan) -> anyhow::Result<ScenarioResult> {
    let platform = Platform::start(PlatformOptions {
        max_lifetime: plan.max_lifetime,
        rotation_grace: plan.grace,
        // What the service is told below (PCC_DB_CREDENTIALS_REFRESH_MS): the manifest's rotation window
        // rule (grace > max_lifetime + credential refresh) is checked against it.
        credentials_refresh: CREDENTIALS_REFRESH,
        ..PlatformOptions::default()
    })
    .await;
    let issuer = Issuer::new(platform.dir());
    let env = Service::env_for(
        &platform,
        &issuer,
        &[
            // Warnings, and the `serving` line the harness waits for (not a line per request for 30 minutes).
            ("PCC_LOG", "warn,client_api::run=info".to_owned()),
            ("PCC_DB_CREDENTIALS_REFRESH_MS", CREDENTIALS_REFRESH_MS.to_string()),
            ("PCC_IDEMPOTENCY_TTL_S", plan.key_ttl_s.to_string()),
            ("PCC_IDEMPOTENCY_PURGE_INTERVAL_MS", plan.purge_every_ms.to_string()),
        ],
    )
    .await;
    let mut service = Service::start(platform.dir(), env).await;
    let pid = service.pid().context("the service has no pid")?;
    let api = Api::new(&service.base(), issuer.token("soak"));
    let clients = load::seed(&api, 60).await;
    platform.replica_caught_up().await;
    let capacity = fault_suite::calibrate::list_capacity(&api, Duration::from_secs(2), Duration::from_secs(10)).await;
    anyhow::ensure!(
        capacity.failed == 0 && capacity.list_per_s > 0.0,
        "the service failed list reads before the soak: {capacity:?}"
    );
    // A soak asks whether the service runs for long at a rate it is sized for, not how it sheds an excess
    // (the fault suite's s8 and s10 do that): a quarter of the closed-loop list capacity in lists and a
    // sixteenth in reads by id, so the open-loop bursts of independent callers stay inside what it serves.
    // (Half the capacity, the fault suite's production rate for seconds-long scenarios, overloaded the
    // release service under the same-process load generator for the whole 30 minutes.)
    let rates = Rates {
        read_by_id: capacity.list_per_s / 16.0,
        list: capacity.list_per_s / 4.0,
        moves: 4.0,
        ..Rates::production(capacity.list_per_s)
    };
    let primary = platform.superuser(NodeName::Primary, DATABASE).await;
    let options = LoadOptions {
        keyed_creates: true,
        drop_bodies: true,
    };
    let load = Load::start_with(api.clone(), &clients, rates, options);

    let rotate_at = plan.total / 3;
    let restart_at = plan.total / 2;
    let mut rotation: Option<tokio::task::JoinHandle<fault_suite::platform::CliRun>> = None;
    let mut rotation_result = None;
    let mut restarted = None;
    let mut windows: Vec<Window> = Vec::new();
    let mut all: Vec<Sample> = Vec::new();
    let mut restart_window = (Duration::MAX, Duration::MAX);
    let platform = std::sync::Arc::new(platform);
    let mut next = plan.sample_every;
    while next <= plan.total {
        tokio::time::sleep(next.saturating_sub(load.now())).await;
        let mut events = Vec::new();
        if rotation.is_none() && rotation_result.is_none() && load.now() >= rotate_at {
            let platform = platform.clone();
            rotation = Some(tokio::spawn(async move {
                platform.pccdb(&["rotate", "--service", SERVICE, "--wait"], None).await
            }));
            events.push("rotation started (pccdb rotate --wait)".to_owned());
        }
        if rotation.as_ref().is_some_and(tokio::task::JoinHandle::is_finished)
            && let Some(handle) = rotation.take()
        {
            let run = handle.await.context("the rotation task")?;
            events.push(format!("rotation finished (exit {:?})", run.code));
            rotation_result = Some(run);
        }
        if restarted.is_none() && load.now() >= restart_at {
            let started = load.now();
            platform
                .launcher("restart the replica", |c| c.restart(NodeName::Replica))
                .await;
            restarted = Some(load.now());
            // Reads may fail or fall back from the restart until the router has reconnected: counted in
            // the window from the restart to 10 s after it.
            restart_window = (started, load.now() + Duration::from_secs(10));
            events.push(format!(
                "replica restarted ({:.1} s)",
                (load.now() - started).as_secs_f64()
            ));
        }
        let replica = platform.superuser(NodeName::Replica, "postgres").await;
        let (rss, hwm) = rss_mib(pid);
        let drained = load.drain();
        let mut p99_ms = BTreeMap::new();
        for op in [Op::ReadById, Op::List, Op::Create, Op::Patch, Op::Move] {
            let latencies: Vec<f64> = drained
                .iter()
                .filter(|s| s.op == op && s.reply.ok())
                .map(|s| s.reply.latency.as_secs_f64() * 1000.0)
                .collect();
            p99_ms.insert(Op::name(op), (percentile(latencies, 0.99) * 100.0).round() / 100.0);
        }
        windows.push(Window {
            t_s: next.as_secs_f64(),
            rss_mib: (rss * 10.0).round() / 10.0,
            hwm_mib: (hwm * 10.0).round() / 10.0,
            huge_mib: (huge_pages_mib(pid) * 10.0).round() / 10.0,
            sessions_primary: service_sessions(&primary).await,
            sessions_replica: service_sessions(&replica).await,
            idempotency_keys: count(&primary, "SELECT count(*) FROM client_api.idempotency_key").await,
            clients: count(&primary, "SELECT count(*) FROM client_api.client").await,
            requests: drained.len(),
            failed: drained.iter().filter(|s| !s.reply.ok()).count(),
            p99_ms,
            events,
        });
        // Successes carry no bodies (LoadOptions::drop_bodies), so keeping every sample stays small.
        all.extend(drained);
        next += plan.sample_every;
    }
    let rest = load.stop().await;
    all.extend(rest);
    if rotation_result.is_none()
        && let Some(handle) = rotation.take()
    {
        // The rotation outlived the run (its grace is longer than what was left): wait for it.
        let run = tokio::time::timeout(Duration::from_secs(600), handle)
            .await
            .context("the rotation did not finish within 10 minutes of the end of the load")?
            .context("the rotation task")?;
        rotation_result = Some(run);
    }
    let (_, final_hwm) = rss_mib(pid);
    service.stop().await;
    if all.iter().any(|s| !s.reply.ok()) {
        // The scenario's directory goes with the platform; a failed request is explained by the service's log.
        match keep_service_logs(platform.dir()) {
            Ok(kept) => eprintln!(
                "pcc-bench: soak: requests failed; the service's logs are kept in {}",
                kept.display()
            ),
            Err(e) => eprintln!("pcc-bench: soak: requests failed; keeping the service's logs failed: {e}"),
        }
    }

    Ok(result(
        &plan,
        &rates,
        capacity.list_per_s,
        &windows,
        &all,
        restart_window,
        rotation_result.as_ref(),
        final_hwm,
    ))
}

#[allow(clippy::too_many_arguments, clippy::cast_precision_loss)]
fn result(
    plan: &Plan,
    rates: &Rates,
    list_capacity: f64,
    windows: &[Window],
    samples: &[Sample],
    restart_window: (Duration, Duration),
    rotation: Option<&fault_suite::platform::CliRun>,
    final_hwm: f64,
) -> ScenarioResult {
    let n = windows.len();
    // The second quarter (after warm-up) is the baseline of every "flat" figure; the last quarter is judged.
    let second = &windows[(n / 4).min(n.saturating_sub(1))..(n / 2).max(1).min(n)];
    let last = &windows[(n - n / 4).min(n.saturating_sub(1))..];
    let rss = |w: &[Window]| mean(w.iter().map(|w| w.rss_mib));
    let keys_max = |w: &[Window]| w.iter().map(|w| w.idempotency_keys).max().unwrap_or(0) as f64;
    let sessions_max = windows
        .iter()
        .map(|w| w.sessions_primary + w.sessions_replica)
        .max()
        .unwrap_or(0);
    let in_restart = |s: &Sample| s.at >= restart_window.0 && s.at < restart_window.1;
    let failed_outside = samples.iter().filter(|s| !s.reply.ok() && !in_restart(s)).count();
    let lists_in_restart: Vec<&Sample> = samples.iter().filter(|s| s.op == Op::List && in_restart(s)).collect();
    let failed_lists_in_restart = lists_in_restart.iter().filter(|s| !s.reply.ok()).count();
    let p99_all = |w: &[Window], op: &str| {
        mean(
            w.iter()
                .filter_map(|w| w.p99_ms.get(op).copied())
                .filter(|v| v.is_finite()),
        )
    };
    // Keys stored at most: every create's key lives for its time to live plus one purge interval.
    let key_bound = rates.create * (plan.key_ttl_s as f64 + plan.purge_every_ms as f64 / 1000.0) * 1.5;

    let mut notes = vec![
        format!(
            "{:.0} s of open-loop load, sampled every {:.0} s; list capacity (closed loop, 8 workers) {list_capacity:.0}/s; \
             rates per second: {:.0} reads by id, {:.0} lists, {:.0} creates with Idempotency-Key, {:.0} patches, {:.0} moves",
            plan.total.as_secs_f64(),
            plan.sample_every.as_secs_f64(),
            rates.read_by_id,
            rates.list,
            rates.create,
            rates.patch,
            rates.moves
        ),
        format!(
            "pool max_lifetime {}, rotation grace {}, idempotency keys live {} s and are purged every {} ms by the service",
            plan.max_lifetime, plan.grace, plan.key_ttl_s, plan.purge_every_ms
        ),
        match rotation {
            Some(run) => format!(
                "rotation: exit {:?}: {}",
                run.code,
                run.stdout.lines().map(str::trim).collect::<Vec<_>>().join(" | ")
            ),
            None => "rotation: did not run".to_owned(),
        },
        format!(
            "replica restart: {failed_lists_in_restart} of {} list reads failed from the restart to 10 s after it; \
             {failed_outside} requests failed outside that window, of {}",
            lists_in_restart.len(),
            samples.len()
        ),
    ];
    // What the failures were, by operation, status and problem type (or transport error).
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for s in samples.iter().filter(|s| !s.reply.ok()) {
        let kind = s
            .reply
            .problem_type()
            .map(str::to_owned)
            .or_else(|| s.reply.transport_error.as_ref().map(|_| "no response".to_owned()))
            .unwrap_or_default();
        let when = if in_restart(s) {
            "during the restart"
        } else {
            "outside it"
        };
        *failures
            .entry(format!("{} {} {kind} ({when})", Op::name(s.op), s.reply.status))
            .or_default() += 1;
    }
    notes.push(if failures.is_empty() {
        "failures: none".to_owned()
    } else {
        format!(
            "failures: {}",
            failures
                .iter()
                .map(|(k, n)| format!("{n} x {k}"))
                .collect::<Vec<_>>()
                .join("; ")
        )
    });
    let mut series = String::from(
        "series (t s: rss MiB (of which huge pages), sessions primary+replica, idempotency keys, clients, requests, failed, p99 ms read/list/create/patch/move):",
    );
    for w in windows {
        let p = |op: &str| w.p99_ms.get(op).copied().unwrap_or(f64::NAN);
        let _ = write!(
            series,
            " [{:.0}: {:.1} ({:.1}), {}+{}, {}, {}, {}, {}, {:.1}/{:.1}/{:.1}/{:.1}/{:.1}{}]",
            w.t_s,
            w.rss_mib,
            w.huge_mib,
            w.sessions_primary,
            w.sessions_replica,
            w.idempotency_keys,
            w.clients,
            w.requests,
            w.failed,
            p("read_by_id"),
            p("list"),
            p("create"),
            p("patch"),
            p("move"),
            if w.events.is_empty() {
                String::new()
            } else {
                format!("; {}", w.events.join("; "))
            }
        );
    }
    notes.push(series);
    let rotation_ok = rotation.as_ref().is_some_and(|r| r.code == Some(0));
    let metrics = vec![
        Metric::plain("service RSS, mean of the last quarter", "MiB", rss(last), Better::Lower)
            .against("the same, second quarter", rss(second))
            .target(Target::RatioAtMost(FLAT)),
        Metric::plain(
            "service peak RSS (VmHWM) over the soak",
            "MiB",
            final_hwm,
            Better::Lower,
        )
        .target(Target::Below(RSS_LIMIT_MIB)),
        Metric::plain(
            "idempotency keys stored, max of the last quarter",
            "rows",
            keys_max(last),
            Better::Lower,
        )
        .against("the same, second quarter", keys_max(second))
        .target(Target::RatioAtMost(1.25)),
        Metric::plain(
            "idempotency keys stored, max over the soak",
            "rows",
            keys_max(windows),
            Better::Lower,
        )
        .target(Target::AtMost(key_bound.ceil())),
        Metric::plain(
            "service sessions on both servers, max over the soak",
            "sessions",
            sessions_max as f64,
            Better::Lower,
        )
        // The soak's manifest: primary pool max 15, replica pool max 10.
        .target(Target::AtMost(25.0)),
        Metric::plain(
            "p99 of list pages, mean of the last quarter's windows",
            "ms",
            p99_all(last, "list"),
            Better::Lower,
        )
        .against("the same, second quarter", p99_all(second, "list"))
        .target(Target::RatioAtMost(1.5)),
        Metric::plain(
            "p99 of reads by id, mean of the last quarter's windows",
            "ms",
            p99_all(last, "read_by_id"),
            Better::Lower,
        )
        .against("the same, second quarter", p99_all(second, "read_by_id"))
        .target(Target::RatioAtMost(1.5)),
        Metric::plain(
            "p99 of creates, mean of the last quarter's windows",
            "ms",
            p99_all(last, "create"),
            Better::Lower,
        )
        .against("the same, second quarter", p99_all(second, "create")),
        Metric::plain(
            "p99 of moves, mean of the last quarter's windows",
            "ms",
            p99_all(last, "move"),
            Better::Lower,
        )
        .against("the same, second quarter", p99_all(second, "move")),
        Metric::plain(
            "requests failed outside the replica restart",
            "requests",
            failed_outside as f64,
            Better::Lower,
        )
        .target(Target::AtMost(0.0)),
        Metric::plain(
            "share of list reads failed during the replica restart",
            "share",
            if lists_in_restart.is_empty() {
                0.0
            } else {
                failed_lists_in_restart as f64 / lists_in_restart.len() as f64
            },
            Better::Lower,
        )
        .target(Target::AtMost(RESTART_FAILED_SHARE)),
        Metric::plain(
            "rotation completed (1 = exit 0)",
            "",
            f64::from(u8::from(rotation_ok)),
            Better::Higher,
        )
        .target(Target::AtLeast(1.0)),
    ];
    ScenarioResult {
        scenario: "soak".into(),
        notes,
        metrics,
        seconds: 0.0,
        load_average: None,
    }
}

/// Copies the service's logs (`service-N.log`, one per start) out of the scenario's temporary directory.
fn keep_service_logs(dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    let kept = std::env::temp_dir().join(format!("pcc-soak-logs-{}", std::process::id()));
    std::fs::create_dir_all(&kept)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with("service-") && name.ends_with(".log") {
            std::fs::copy(&path, kept.join(name))?;
        }
    }
    Ok(kept)
}
