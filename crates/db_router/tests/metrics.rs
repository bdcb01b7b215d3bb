//! The router reports its decisions through the `metrics` facade: a recorder installed by the
//! service (here metrics-util's debugging recorder, as the process-wide recorder of this test
//! binary) sees reads by target and consistency, writes, fallbacks, the fallback gate and health gauges.

#[path = "it/common/mod.rs"]
mod common;

use std::time::Duration;

use db_router::Consistency;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};

/// One snapshot (taking one resets the debugging recorder's values).
type Snapshot = Vec<(
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

fn value<'a>(snapshot: &'a Snapshot, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Option<&'a DebugValue> {
    snapshot.iter().find_map(|(key, _, _, value)| {
        let key_labels: Vec<(String, String)> = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let matches = key.kind() == kind
            && key.key().name() == name
            && labels
                .iter()
                .all(|(k, v)| key_labels.iter().any(|(kk, vv)| kk == k && vv == v));
        matches.then_some(value)
    })
}

fn counter(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
    match value(snapshot, MetricKind::Counter, name, labels) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name} {labels:?}: {other:?}"),
    }
}

#[tokio::test]
async fn decisions_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let db = test_support::database().await;
    let router = common::router(&db).await;
    let token = router
        .write()
        .execute("CREATE TABLE m (x int)", &[])
        .await
        .unwrap()
        .token;
    router
        .read(Consistency::ReadYourWrites(token))
        .query("SELECT 1", &[])
        .await
        .unwrap();
    for _ in 0..3 {
        router.read(Consistency::Any).query("SELECT 1", &[]).await.unwrap();
    }
    router.read(Consistency::Strong).query("SELECT 1", &[]).await.unwrap();

    let snapshot: Snapshot = snapshotter.snapshot().into_vec();
    assert!(
        counter(
            &snapshot,
            "db_router_reads_total",
            &[("consistency", "any"), ("target", "replica")]
        ) >= 3
    );
    assert!(
        counter(
            &snapshot,
            "db_router_reads_total",
            &[("consistency", "strong"), ("target", "primary")]
        ) >= 1
    );
    assert!(counter(&snapshot, "db_router_writes_total", &[]) >= 1);
    assert!(
        counter(
            &snapshot,
            "db_router_connections_opened_total",
            &[("target", "primary")]
        ) >= 2
    );
    assert!(matches!(
        value(&snapshot, MetricKind::Gauge, "db_router_target_up", &[("target", "primary")]),
        Some(DebugValue::Gauge(up)) if up.into_inner() == 1.0
    ));
    // The heartbeat keeps the per-session lag and the fallback gate's gauges current.
    common::eventually("lag and fallback gauges", Duration::from_secs(10), || async {
        let snapshot: Snapshot = snapshotter.snapshot().into_vec();
        let lag = value(
            &snapshot,
            MetricKind::Gauge,
            "db_router_replica_lag_bytes",
            &[("session", "0")],
        );
        let limit = value(&snapshot, MetricKind::Gauge, "db_router_fallback_limit", &[]);
        let probe = value(
            &snapshot,
            MetricKind::Gauge,
            "db_router_primary_probe_seconds",
            &[("level", "normal")],
        );
        (lag.is_some() && limit.is_some() && probe.is_some()).then_some(())
    })
    .await;
    // Every fallback reason is registered up front, so dashboards see zeros, not gaps.
    let snapshot: Snapshot = snapshotter.snapshot().into_vec();
    for reason in [
        "replica_down",
        "too_stale",
        "token_wait_timeout",
        "token_ahead",
        "replica_error",
    ] {
        counter(&snapshot, "db_router_fallbacks_total", &[("reason", reason)]);
    }
}
