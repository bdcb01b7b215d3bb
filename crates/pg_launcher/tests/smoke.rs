//! Smoke: a cluster comes up with a streaming replica.
use pg_launcher::{Cluster, ClusterOptions, NodeName};

#[test]
fn up_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        use std::os::unix::fs::MetadataExt;
        eprintln!("mode {:o}", std::fs::metadata(dir.path()).unwrap().mode());
    }
    let t = std::time::Instant::now();
    let (cluster, _) = Cluster::up(&dir.path().join("c"), &ClusterOptions::ephemeral()).expect("up");
    eprintln!("up in {:?}", t.elapsed());
    cluster
        .query(NodeName::Primary, "postgres", "CREATE TABLE t AS SELECT 1 AS x")
        .expect("create");
    eprintln!("{:?}", cluster.status());
}
