//! The foundation's promises, checked against real servers: the replica streams, replicates and
//! refuses writes; TLS is real; crashes and promotions behave; per-test databases are isolated.

use std::time::{Duration, Instant};

use pg_launcher::{ClusterOptions, NodeName};
use test_support::{Target, cluster, connect, database, dedicated_cluster};
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn the_replica_streams_from_the_primary() {
    let cluster = cluster();
    let launched = cluster.launched().expect("launched cluster");
    let status = launched.status();
    assert_eq!(status.replication_state.as_deref(), Some("streaming"), "{status:?}");
    let roles: Vec<_> = status.nodes.iter().map(|n| n.role.clone()).collect();
    assert_eq!(roles, vec![Some("primary".to_owned()), Some("standby".to_owned())]);
}

#[tokio::test]
async fn a_row_written_on_the_primary_is_readable_on_the_replica() {
    let db = database().await;
    let primary = db.connect().await;
    primary
        .batch_execute("CREATE TABLE t (id int primary key, v text); INSERT INTO t VALUES (1, 'hello')")
        .await
        .expect("write on primary");
    let replica = db.connect_replica().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match replica.query_opt("SELECT v FROM t WHERE id = 1", &[]).await {
            Ok(Some(row)) => {
                assert_eq!(row.get::<_, String>(0), "hello");
                break;
            }
            // The table may not have been replayed yet.
            Ok(None) | Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("row never reached the replica: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_write_on_the_replica_fails_with_25006() {
    let db = database().await;
    let replica = db.connect_replica().await;
    let err = replica
        .batch_execute("CREATE TABLE nope (id int)")
        .await
        .expect_err("replica is read-only");
    assert_eq!(err.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION), "{err}");
}

#[tokio::test]
async fn tcp_connections_use_tls_and_plain_ones_are_refused() {
    let db = database().await;
    let client = db.connect().await;
    let ssl: bool = client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(ssl, "the server must report ssl=on for a sslmode=require connection");

    let mut plain = db.primary_config();
    plain.ssl_mode(tokio_postgres::config::SslMode::Disable);
    let err = connect(&plain, None).await.expect_err("hostssl only");
    assert_eq!(
        err.code(),
        Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_over_tcp() {
    let db = database().await;
    let mut config = db.primary_config();
    config.password("definitely-not-it");
    let err = connect(&config, db.cluster().ca_cert())
        .await
        .expect_err("scram must reject");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err}");
}

#[tokio::test]
async fn each_test_gets_its_own_database_dropped_after_success() {
    let name = {
        let db = database().await;
        let client = db.connect().await;
        let current: String = client
            .query_one("SELECT current_database()", &[])
            .await
            .expect("q")
            .get(0);
        assert_eq!(current, db.name());
        db.name().to_owned()
    };
    let admin = test_support::connect(&cluster().primary().config("postgres"), cluster().ca_cert())
        .await
        .expect("admin");
    let left: i64 = admin
        .query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("q")
        .get(0);
    assert_eq!(left, 0, "database {name} should be dropped after a passing test");
}

#[test]
fn a_failing_test_keeps_its_database() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let name = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let db = runtime.block_on(database());
        let name = db.name().to_owned();
        // Unwind with the database alive, as a failing assertion would.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _db = db;
            std::panic::resume_unwind(Box::new("simulated test failure"));
        }));
        assert!(result.is_err());
        name
    })
    .join()
    .expect("thread");
    let kept: i64 = runtime.block_on(async {
        let admin = connect(&cluster().primary().config("postgres"), cluster().ca_cert())
            .await
            .expect("admin");
        admin
            .query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name])
            .await
            .expect("q")
            .get(0)
    });
    assert_eq!(kept, 1, "a failing test's database must be kept for inspection");
}

#[tokio::test]
async fn libpq_urls_connect_as_printed() {
    use secrecy::ExposeSecret;
    let db = database().await;
    let url = db.libpq_url(Target::Primary);
    let config: tokio_postgres::Config = url.expose_secret().parse().expect("url parses");
    let client = connect(&config, db.cluster().ca_cert()).await.expect("connect by url");
    let current: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(current, db.name());
}

#[test]
fn kill_9_of_the_primary_then_start_recovers_committed_data() {
    let cluster = dedicated_cluster(ClusterOptions {
        replica: false,
        ..ClusterOptions::default()
    });
    cluster
        .query(
            NodeName::Primary,
            "postgres",
            "CREATE TABLE crash (id int); INSERT INTO crash SELECT generate_series(1, 1000)",
        )
        .expect("write");
    assert!(cluster.kill(NodeName::Primary).expect("kill"));
    assert!(
        cluster.query(NodeName::Primary, "postgres", "SELECT 1").is_err(),
        "server must be down"
    );
    cluster.start(NodeName::Primary).expect("start after crash");
    let count = cluster
        .query(NodeName::Primary, "postgres", "SELECT count(*) FROM crash")
        .expect("read");
    assert_eq!(count, "1000");
}

#[test]
fn a_stale_postmaster_pid_is_recovered() {
    let cluster = dedicated_cluster(ClusterOptions {
        replica: false,
        ..ClusterOptions::default()
    });
    cluster.stop(NodeName::Primary).expect("stop");
    // A pid file naming a process that is certainly not our postmaster (pid 1 is init).
    let pid_file = cluster.dir().join("primary").join("postmaster.pid");
    std::fs::write(&pid_file, "1\n/nowhere\n").expect("write stale pid file");
    cluster
        .start(NodeName::Primary)
        .expect("start despite the stale pid file");
    assert_eq!(
        cluster.query(NodeName::Primary, "postgres", "SELECT 1").expect("query"),
        "1"
    );
}

#[test]
fn promote_makes_the_replica_writable() {
    let cluster = dedicated_cluster(ClusterOptions::default());
    let replica_write = cluster.query(NodeName::Replica, "postgres", "CREATE TABLE before_promote (id int)");
    assert!(replica_write.is_err(), "a standby must refuse writes");
    cluster.promote().expect("promote");
    cluster
        .query(
            NodeName::Replica,
            "postgres",
            "CREATE TABLE after_promote (id int); INSERT INTO after_promote VALUES (1)",
        )
        .expect("the promoted replica accepts writes");
    assert_eq!(
        cluster
            .query(NodeName::Replica, "postgres", "SELECT pg_is_in_recovery()")
            .expect("q"),
        "f"
    );
}

#[test]
fn dropping_a_dedicated_cluster_stops_it_and_removes_its_directory() {
    let cluster = dedicated_cluster(ClusterOptions::default());
    let dir = cluster.dir().to_owned();
    let port = cluster.primary().port;
    drop(cluster);
    assert!(!dir.exists(), "{} should be removed", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} should be closed"
    );
}

#[test]
fn missing_server_binaries_give_the_clear_error() {
    let empty = tempfile::tempdir().expect("tempdir");
    let err = pg_launcher::PgBinaries::locate_with(Some(empty.path().to_owned()), empty.path(), None)
        .expect_err("no binaries there");
    let text = err.to_string();
    assert!(
        text.contains("apt-get install postgresql") && text.contains("PCC_PG_BIN"),
        "{text}"
    );
}

static WITH_TABLE: test_support::Template = test_support::Template::new("with_table", |config| {
    Box::pin(async move {
        let client = connect(&config, cluster().ca_cert()).await.map_err(|e| e.to_string())?;
        client
            .batch_execute("CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (1), (2)")
            .await
            .map_err(|e| e.to_string())
    })
});

#[tokio::test]
async fn databases_cloned_from_a_template_start_equal_and_stay_separate() {
    let (a, b) = (
        test_support::database_from(&WITH_TABLE).await,
        test_support::database_from(&WITH_TABLE).await,
    );
    let (ca, cb) = (a.connect().await, b.connect().await);
    ca.batch_execute("INSERT INTO seeded VALUES (3)")
        .await
        .expect("write a");
    let na: i64 = ca
        .query_one("SELECT count(*) FROM seeded", &[])
        .await
        .expect("a")
        .get(0);
    let nb: i64 = cb
        .query_one("SELECT count(*) FROM seeded", &[])
        .await
        .expect("b")
        .get(0);
    assert_eq!((na, nb), (3, 2));
}
