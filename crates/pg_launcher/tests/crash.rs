//! A test cluster (`ClusterOptions::ephemeral()`, not durable) trades safety against OS crashes for
//! speed, but a server crash (kill -9) must not lose a commit the server acknowledged: fault tests
//! compare what a service acknowledged with what the database holds after a crash.

use pg_launcher::{Cluster, ClusterOptions, NodeName};

#[test]
fn an_ephemeral_cluster_keeps_acknowledged_commits_across_kill_9() {
    let dir = tempfile::Builder::new()
        .prefix("pcc-launcher-crash-")
        .tempdir()
        .expect("tempdir");
    let (cluster, _) = Cluster::up(
        dir.path(),
        &ClusterOptions {
            replica: false,
            ..ClusterOptions::ephemeral()
        },
    )
    .expect("cluster");
    cluster
        .query(NodeName::Primary, "postgres", "CREATE TABLE acked (id int)")
        .expect("create");
    // Each statement is its own psql run: an acknowledged, separate commit.
    for i in 1..=20 {
        cluster
            .query(
                NodeName::Primary,
                "postgres",
                &format!("INSERT INTO acked VALUES ({i})"),
            )
            .expect("insert");
    }
    // Right after the last acknowledgement, before any background WAL flush.
    assert!(cluster.kill(NodeName::Primary).expect("kill"));
    cluster.start(NodeName::Primary).expect("crash recovery");
    let count = cluster
        .query(NodeName::Primary, "postgres", "SELECT count(*) FROM acked")
        .expect("count");
    assert_eq!(count, "20", "acknowledged commits were lost in the crash");
}
