//! Helpers shared by the router's integration tests: routers over the test cluster or a private
//! cluster, and small waits with deadlines (so a broken behavior fails instead of hanging).

#![allow(dead_code)]

use std::time::Duration;

use conninfo::{ConnSpec, HostSpec, SslMode};
use db_router::{Consistency, FallbackConfig, Route, Router, RouterConfig};
use pg_launcher::{Cluster, NodeName};
pub use test_support::eventually;
use test_support::{Target, TestDatabase};

/// Router settings that make tests quick: small pools, short waits.
pub fn config(primary: ConnSpec, replica: Option<ConnSpec>) -> RouterConfig {
    let mut config = RouterConfig::new(primary, replica);
    config.probe_interval = Duration::from_millis(50);
    config.reconnect_initial = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(500);
    // Ample: the tests of other things must not be shed.
    config.fallback = FallbackConfig {
        max_in_flight: 1_000,
        queue: 1_000,
        queue_wait: Duration::from_secs(5),
        ..FallbackConfig::default()
    };
    config
}

/// A router over a test database on the shared cluster, once both sides are connected (the
/// database appears on the replica a moment after its creation on the primary).
pub async fn router(db: &TestDatabase) -> Router {
    let router = Router::start(&config(db.spec(Target::Primary), Some(db.spec(Target::Replica)))).unwrap();
    router.ready(Duration::from_secs(30)).await.unwrap();
    replica_up(&router).await;
    router
}

/// Waits until the router's replica side is connected.
pub async fn replica_up(router: &Router) {
    eventually("the replica side connects", Duration::from_secs(60), || async {
        (router.status().replica.and_then(|r| r.up) == Some(true)).then_some(())
    })
    .await;
}

/// A spec for `db` on one node of a private cluster.
pub fn node_spec(cluster: &Cluster, node: NodeName, db: &str) -> ConnSpec {
    let endpoint = cluster.endpoint(node).unwrap();
    ConnSpec::for_host(&endpoint.host, endpoint.port)
        .with_user(&endpoint.user)
        .with_password(endpoint.password.clone())
        .with_database(db)
        .with_ssl_mode(SslMode::VerifyFull)
        .with_root_cert(cluster.ca_cert_path())
        .with_connect_timeout(Some(Duration::from_secs(2)))
}

/// A spec listing both nodes (primary first), for failover.
pub fn both_nodes_spec(cluster: &Cluster, db: &str) -> ConnSpec {
    let primary = cluster.endpoint(NodeName::Primary).unwrap();
    let replica = cluster.endpoint(NodeName::Replica).unwrap();
    node_spec(cluster, NodeName::Primary, db).with_hosts(vec![
        HostSpec::tcp(&primary.host, primary.port),
        HostSpec::tcp(&replica.host, replica.port),
    ])
}

/// Polls `SELECT 1` read with `consistency` until the router serves it from `target` (a replica
/// that has replayed a token, reads that moved to the primary or back); returns that route.
pub async fn served_by(
    router: &Router,
    consistency: Consistency,
    target: db_router::Target,
    what: &str,
    limit: Duration,
) -> Route {
    eventually(what, limit, || async {
        let (_, route) = router.read(consistency).query_routed("SELECT 1", &[]).await.unwrap();
        (route.target == target).then_some(route)
    })
    .await
}

/// Runs a blocking launcher call (start, stop, kill, promote) off the async threads.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap()
}
