//! The router under lag and failure, each test on its own primary + streaming replica:
//! read-your-writes against a replica that applies WAL late, a replica outage, a primary
//! crash (kill -9) and restart, and a promotion followed through a multi-host primary string.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use db_router::{Consistency, FallbackReason, Router, RouterConfig, RouterError, Target};
use pg_launcher::{ClusterOptions, NodeName};

fn cluster(apply_delay: Option<Duration>) -> Arc<pg_launcher::Cluster> {
    Arc::new(test_support::dedicated_cluster(ClusterOptions {
        recovery_min_apply_delay: apply_delay,
        ..ClusterOptions::ephemeral()
    }))
}

async fn start(config: &RouterConfig) -> Router {
    let router = Router::start(config).unwrap();
    router.ready(Duration::from_secs(30)).await.unwrap();
    common::replica_up(&router).await;
    router
}

async fn value(router: &Router, consistency: Consistency) -> (i32, db_router::Route) {
    let (rows, route) = router
        .read(consistency)
        .query_routed("SELECT v FROM t WHERE id = 1", &[])
        .await
        .unwrap();
    (rows[0].get(0), route)
}

/// Creates `t(id, v)` with one row and waits until the replica has applied it.
async fn create_table(router: &Router) {
    router
        .write()
        .execute("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)", &[])
        .await
        .unwrap();
    let token = router
        .write()
        .execute("INSERT INTO t VALUES (1, 0)", &[])
        .await
        .unwrap()
        .token;
    common::served_by(
        router,
        Consistency::ReadYourWrites(token),
        Target::Replica,
        "the replica applies the table",
        Duration::from_secs(30),
    )
    .await;
}

#[tokio::test]
async fn with_delayed_replay_a_token_never_reads_the_old_value() {
    let cluster = cluster(Some(Duration::from_millis(800)));
    let primary = common::node_spec(&cluster, NodeName::Primary, "postgres");
    let replica = common::node_spec(&cluster, NodeName::Replica, "postgres");
    let router = start(&common::config(primary.clone(), Some(replica.clone()))).await;
    create_table(&router).await;

    // Short token wait: the replica is ~800 ms behind, so token reads go to the primary.
    let mut stale_reads = 0;
    for i in 1..=15 {
        let token = router
            .write()
            .execute("UPDATE t SET v = $1 WHERE id = 1", &[&i])
            .await
            .unwrap()
            .token;
        let acknowledged = Instant::now();
        let (seen, route) = value(&router, Consistency::ReadYourWrites(token)).await;
        assert_eq!(seen, i, "read-your-writes saw an old value via {route:?}");
        if route.target == Target::Primary {
            assert_eq!(route.staleness, Some(Duration::ZERO), "the primary is never behind");
        }
        let started = Instant::now();
        let (any, route) = value(&router, Consistency::Any).await;
        assert_eq!(route.target, Target::Replica);
        if any < i {
            stale_reads += 1;
            // The read missed a write acknowledged before it started, so its data was at least
            // that old; the reported bound must cover it.
            let bound = route.staleness.expect("a stale replica read reports its staleness");
            assert!(
                bound >= started - acknowledged,
                "staleness bound {bound:?} below the age of the missed write {:?}",
                started - acknowledged
            );
        }
    }
    // The delay is real: reads without a token did see old values.
    assert!(stale_reads > 0);
    let stats = router.stats();
    assert!(
        stats.fallbacks_by_reason[2] > 0,
        "token wait timeouts expected: {stats:?}"
    );

    // A bound tighter than the delay is not met by the replica while writes continue...
    let (_, route) = value(&router, Consistency::BoundedStaleness(Duration::from_millis(100))).await;
    assert_eq!(
        (route.target, route.fallback),
        (Target::Primary, Some(FallbackReason::TooStale))
    );

    // ...and with a token wait longer than the delay, token reads are served by the replica.
    let mut config = common::config(primary, Some(replica));
    config.token_wait = Duration::from_secs(5);
    let patient = start(&config).await;
    for i in 100..105 {
        let token = patient
            .write()
            .execute("UPDATE t SET v = $1 WHERE id = 1", &[&i])
            .await
            .unwrap()
            .token;
        let (seen, route) = value(&patient, Consistency::ReadYourWrites(token)).await;
        assert_eq!(seen, i);
        assert_eq!(route.target, Target::Replica, "{route:?}");
        assert!(route.waited.is_some());
    }

    // A table the replica has not replayed yet (a deployment reads what its migration just
    // created): the replica says 42P01, the read is answered by the primary.
    router
        .write()
        .execute("CREATE TABLE fresh (id int)", &[])
        .await
        .unwrap();
    let (rows, route) = router
        .read(Consistency::Any)
        .query_routed("SELECT count(*) FROM fresh", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 0);
    assert_eq!(
        (route.target, route.fallback),
        (Target::Primary, Some(FallbackReason::ReplicaError)),
        "the replica cannot have the table yet"
    );
}

#[tokio::test]
async fn a_replica_outage_moves_reads_to_the_primary_and_back() {
    let cluster = cluster(None);
    let router = start(&common::config(
        common::node_spec(&cluster, NodeName::Primary, "postgres"),
        Some(common::node_spec(&cluster, NodeName::Replica, "postgres")),
    ))
    .await;
    let (_, route) = router
        .read(Consistency::Any)
        .query_routed("SELECT 1", &[])
        .await
        .unwrap();
    assert_eq!(route.target, Target::Replica);

    let stopping = cluster.clone();
    common::blocking(move || stopping.stop(NodeName::Replica).unwrap()).await;
    // Every read succeeds during the outage (the fallback gate is ample here); they go to the primary.
    let route = common::served_by(
        &router,
        Consistency::Any,
        Target::Primary,
        "reads move to the primary",
        Duration::from_secs(10),
    )
    .await;
    assert!(matches!(
        route.fallback,
        Some(FallbackReason::ReplicaDown | FallbackReason::ReplicaError)
    ));
    assert_eq!(router.status().replica.unwrap().up, Some(false));

    let starting = cluster.clone();
    common::blocking(move || starting.start(NodeName::Replica).unwrap()).await;
    common::served_by(
        &router,
        Consistency::Any,
        Target::Replica,
        "reads return to the replica",
        Duration::from_secs(20),
    )
    .await;
}

#[tokio::test]
async fn a_primary_crash_fails_writes_fast_while_replica_reads_continue() {
    let cluster = cluster(None);
    let router = start(&common::config(
        common::node_spec(&cluster, NodeName::Primary, "postgres"),
        Some(common::node_spec(&cluster, NodeName::Replica, "postgres")),
    ))
    .await;
    create_table(&router).await;

    let killing = cluster.clone();
    assert!(common::blocking(move || killing.kill(NodeName::Primary).unwrap()).await);
    // The first writes after the crash may see the lost connection itself; from then on the
    // router knows and refuses writes at once.
    common::eventually("writes fail fast", Duration::from_secs(10), || async {
        match router.write().execute("UPDATE t SET v = v + 1", &[]).await {
            Err(RouterError::PrimaryUnavailable { .. }) => Some(()),
            Err(err) => {
                assert!(err.is_retryable(), "{err}");
                None
            }
            Ok(_) => panic!("a write succeeded on a killed primary"),
        }
    })
    .await;
    let before = router.stats().fast_failures;
    for _ in 0..5 {
        let err = router.write().transaction().await.err().unwrap();
        assert!(matches!(err, RouterError::PrimaryUnavailable { .. }), "{err}");
        assert!(err.is_retryable());
    }
    assert_eq!(router.stats().fast_failures, before + 5);
    // Reads that allow a replica keep working.
    for _ in 0..10 {
        let (seen, route) = value(&router, Consistency::Any).await;
        assert_eq!((seen, route.target), (0, Target::Replica));
    }
    // Strong reads need the primary: a clear, retryable error.
    let err = router
        .read(Consistency::Strong)
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::PrimaryUnavailable { .. }), "{err}");

    let restarting = cluster.clone();
    common::blocking(move || restarting.start(NodeName::Primary).unwrap()).await;
    common::eventually(
        "writes recover without a new router",
        Duration::from_secs(30),
        || async { router.write().execute("UPDATE t SET v = 42", &[]).await.ok() },
    )
    .await;
    let (seen, _) = value(&router, Consistency::Strong).await;
    assert_eq!(seen, 42);
}

#[tokio::test]
async fn after_promotion_writes_follow_the_new_primary_within_10_seconds() {
    let cluster = cluster(None);
    let replica_port = cluster.endpoint(NodeName::Replica).unwrap().port;
    let mut primary = common::both_nodes_spec(&cluster, "postgres");
    primary.host_recheck = Duration::from_secs(10);
    let router = start(&common::config(
        primary,
        Some(common::node_spec(&cluster, NodeName::Replica, "postgres")),
    ))
    .await;
    create_table(&router).await;

    let failing_over = cluster.clone();
    common::blocking(move || {
        failing_over.kill(NodeName::Primary).unwrap();
        failing_over.promote().unwrap();
    })
    .await;
    let promoted = Instant::now();
    let port: i32 = common::eventually("writes reach the promoted server", Duration::from_secs(10), || async {
        match router
            .write()
            .query_one("UPDATE t SET v = 7 WHERE id = 1 RETURNING inet_server_port()", &[])
            .await
        {
            Ok(committed) => Some(committed.value.get(0)),
            Err(err) => {
                assert!(err.is_retryable(), "{err}");
                None
            }
        }
    })
    .await;
    assert_eq!(u16::try_from(port).unwrap(), replica_port);
    assert!(promoted.elapsed() < Duration::from_secs(10));

    // The replica side refuses the promoted server (it is a primary now): reads fall back.
    let route = common::eventually(
        "the replica side notices the promotion",
        Duration::from_secs(10),
        || async {
            let (_, route) = router.read(Consistency::Any).query_routed("SELECT 1", &[]).await.ok()?;
            (route.fallback == Some(FallbackReason::ReplicaDown)).then_some(route)
        },
    )
    .await;
    assert_eq!(route.target, Target::Primary);
    let (seen, _) = value(&router, Consistency::Strong).await;
    assert_eq!(seen, 7);
}

/// Resumes stopped server processes when dropped, so a failing test cannot leave them frozen.
struct Frozen(Vec<i32>);

impl Frozen {
    fn signal(pids: &[i32], signal: &str) {
        for pid in pids {
            let status = std::process::Command::new("kill")
                .arg(signal)
                .arg(pid.to_string())
                .status()
                .unwrap();
            assert!(status.success(), "kill {signal} {pid}");
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        Self::signal(&self.0, "-CONT");
    }
}

#[tokio::test]
async fn a_server_that_stops_answering_cannot_hang_reads() {
    let cluster = Arc::new(test_support::dedicated_cluster(ClusterOptions {
        replica: false,
        ..ClusterOptions::ephemeral()
    }));
    let primary = common::node_spec(&cluster, NodeName::Primary, "postgres").with_application_name("frozen-test");
    let mut config = common::config(primary, None);
    config.statement_timeout = Some(Duration::from_millis(500));
    config.timeout_grace = Duration::from_millis(300);
    let router = Router::start(&config).unwrap();
    router.ready(Duration::from_secs(30)).await.unwrap();
    router.read(Consistency::Strong).query("SELECT 1", &[]).await.unwrap();

    // Freeze the router's backends: like a blackholed server, they neither answer nor enforce
    // their own statement_timeout, and the sockets stay open.
    let pids: Vec<i32> = cluster
        .query(
            NodeName::Primary,
            "postgres",
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'frozen-test'",
        )
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(!pids.is_empty());
    Frozen::signal(&pids, "-STOP");
    let frozen = Frozen(pids);

    let read = tokio::time::timeout(
        Duration::from_secs(30),
        router.read(Consistency::Strong).query("SELECT 1", &[]),
    )
    .await
    .expect("the watchdog must end a read on a frozen session");
    let err = read.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.class(), Some(db_router::FailureClass::ConnectionLost), "{err}");
    drop(frozen);

    // New sessions replace the closed ones.
    common::eventually("reads work again", Duration::from_secs(20), || async {
        router.read(Consistency::Strong).query("SELECT 1", &[]).await.ok()
    })
    .await;
}
