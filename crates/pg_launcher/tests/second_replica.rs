//! A cluster with a second streaming replica: both standbys follow the primary through their own slots, and
//! each applies WAL with its own delay (two independent nodes, as behind a load-balanced read pool).

use std::time::{Duration, Instant};

use pg_launcher::{Cluster, ClusterOptions, NodeName};

fn count(cluster: &Cluster, node: NodeName) -> String {
    cluster
        .query(node, "postgres", "SELECT count(*) FROM marks")
        .unwrap_or_else(|e| format!("error: {e}"))
}

#[test]
fn a_second_replica_streams_with_its_own_apply_delay() {
    let dir = tempfile::Builder::new()
        .prefix("pcc-launcher-two-")
        .tempdir()
        .expect("tempdir");
    let (cluster, _) = Cluster::up(
        dir.path(),
        &ClusterOptions {
            second_replica: Some(Duration::from_secs(3)),
            ..ClusterOptions::ephemeral()
        },
    )
    .expect("cluster");
    assert_eq!(
        cluster.nodes(),
        vec![NodeName::Primary, NodeName::Replica, NodeName::Replica2]
    );
    let first = cluster.endpoint(NodeName::Replica).expect("replica").port;
    let second = cluster.endpoint(NodeName::Replica2).expect("second replica").port;
    assert_ne!(first, second);
    let slots = cluster
        .query(
            NodeName::Primary,
            "postgres",
            "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots WHERE active",
        )
        .expect("slots");
    assert_eq!(slots, "pcc_replica,pcc_replica2");
    for node in [NodeName::Replica, NodeName::Replica2] {
        assert_eq!(
            cluster
                .query(node, "postgres", "SELECT pg_is_in_recovery()")
                .expect("role"),
            "t"
        );
    }

    // Taken before the CREATE commits: the delayed replica applies it no earlier than its commit time plus
    // the delay (one clock for all three servers), so at least 3 s after this instant, however slow psql is.
    let created = Instant::now();
    cluster
        .query(NodeName::Primary, "postgres", "CREATE TABLE marks (id int)")
        .expect("create");
    // The first replica (no delay) has the table within a few seconds; the second only after its delay.
    let deadline = created + Duration::from_secs(30);
    while count(&cluster, NodeName::Replica) != "0" {
        assert!(Instant::now() < deadline, "the first replica never replayed the table");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second_early = count(&cluster, NodeName::Replica2);
    if created.elapsed() < Duration::from_secs(2) {
        assert!(
            second_early.starts_with("error"),
            "the delayed replica already has the table: {second_early}"
        );
    }
    while count(&cluster, NodeName::Replica2) != "0" {
        assert!(Instant::now() < deadline, "the second replica never replayed the table");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        created.elapsed() >= Duration::from_secs(3),
        "the apply delay was not applied"
    );

    // The second replica is a node like the others: kill -9 and crash recovery.
    assert!(cluster.kill(NodeName::Replica2).expect("kill"));
    cluster.start(NodeName::Replica2).expect("restart");
    cluster
        .wait_for_streaming(Duration::from_secs(60))
        .expect("both stream again");
}
