//! Routing on the shared primary + streaming replica: where each consistency goes, tokens,
//! read-only enforcement, transactions, role checks, credentials, pool and statement limits.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use db_router::{
    Consistency, ConsistencyToken, CredentialProvider, Credentials, FailureClass, FallbackConfig, FallbackReason,
    RefreshFuture, Router, RouterError, Target,
};
use secrecy::SecretString;

/// Creates the table and waits until the replica has replayed it.
async fn setup(router: &Router) -> ConsistencyToken {
    router
        .write()
        .execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)", &[])
        .await
        .unwrap();
    let token = router
        .write()
        .execute("INSERT INTO items VALUES (1, 'one')", &[])
        .await
        .unwrap()
        .token;
    if router.status().replica.and_then(|r| r.up) == Some(true) {
        common::served_by(
            router,
            Consistency::ReadYourWrites(token),
            Target::Replica,
            "the replica replays the setup",
            Duration::from_secs(30),
        )
        .await;
    }
    token
}

#[tokio::test]
async fn reads_without_a_token_are_served_by_the_replica() {
    let db = test_support::database().await;
    let router = common::router(&db).await;
    let token = setup(&router).await;
    // Wait until the replica has the table, through the token.
    let (rows, _) = router
        .read(Consistency::ReadYourWrites(token))
        .query_routed("SELECT name FROM items WHERE id = $1", &[&1i32])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "one");

    let before = router.stats();
    for _ in 0..20 {
        let (rows, route) = router
            .read(Consistency::Any)
            .query_routed("SELECT name FROM items WHERE id = $1", &[&1i32])
            .await
            .unwrap();
        assert_eq!(route.target, Target::Replica, "{route:?}");
        assert_eq!(route.fallback, None);
        assert_eq!(rows.len(), 1);
    }
    let (_, route) = router
        .read(Consistency::Strong)
        .query_routed("SELECT 1", &[])
        .await
        .unwrap();
    assert_eq!(route.target, Target::Primary);
    assert_eq!(route.fallback, None);
    let stats = router.stats();
    assert_eq!(stats.reads_replica - before.reads_replica, 20, "{stats:?}");
    assert_eq!(stats.reads_primary - before.reads_primary, 1, "{stats:?}");
    assert_eq!(stats.fallbacks, before.fallbacks, "{stats:?}");
}

#[tokio::test]
async fn a_token_makes_the_write_visible_and_bounded_staleness_uses_a_fresh_replica() {
    let db = test_support::database().await;
    let router = common::router(&db).await;
    setup(&router).await;
    for i in 0..50i32 {
        let committed = router
            .write()
            .query_one(
                "INSERT INTO items VALUES ($1, $2) RETURNING id",
                &[&(100 + i), &format!("n{i}")],
            )
            .await
            .unwrap();
        assert_eq!(committed.value.get::<_, i32>(0), 100 + i);
        let token: ConsistencyToken = committed.token.to_string().parse().unwrap();
        let row = router
            .read(Consistency::ReadYourWrites(token))
            .query_opt("SELECT name FROM items WHERE id = $1", &[&(100 + i)])
            .await
            .unwrap();
        assert_eq!(
            row.expect("read-your-writes must see the insert").get::<_, String>(0),
            format!("n{i}")
        );
    }
    // Once the replica has replayed everything written so far, a generous bound is met by it.
    let last = router
        .write()
        .execute("INSERT INTO items VALUES (999, 'last')", &[])
        .await
        .unwrap()
        .token;
    common::served_by(
        &router,
        Consistency::ReadYourWrites(last),
        Target::Replica,
        "the replica replays the last insert",
        Duration::from_secs(30),
    )
    .await;
    let (rows, route) = router
        .read(Consistency::BoundedStaleness(Duration::from_secs(30)))
        .query_routed("SELECT count(*) FROM items", &[])
        .await
        .unwrap();
    assert_eq!(route.target, Target::Replica, "{:?}", router.status());
    assert_eq!(rows[0].get::<_, i64>(0), 52);
    assert_eq!(route.fallback, None);
}

#[tokio::test]
async fn a_forged_token_goes_to_the_primary_without_waiting() {
    let db = test_support::database().await;
    let router = common::router(&db).await;
    setup(&router).await;
    let waits_before = router.stats().token_waits;
    let forged: ConsistencyToken = "w1.7fffffffffffffff".parse().unwrap();
    let (_, route) = router
        .read(Consistency::ReadYourWrites(forged))
        .query_routed("SELECT 1", &[])
        .await
        .unwrap();
    assert_eq!(route.target, Target::Primary);
    assert_eq!(route.fallback, Some(FallbackReason::TokenAhead));
    assert_eq!(router.stats().token_waits, waits_before);
}

#[tokio::test]
async fn reads_are_read_only_wherever_they_run() {
    let db = test_support::database().await;
    let router = common::router(&db).await;
    setup(&router).await;
    for consistency in [Consistency::Any, Consistency::Strong] {
        let err = router
            .read(consistency)
            .query("INSERT INTO items VALUES (2, 'two')", &[])
            .await
            .unwrap_err();
        assert_eq!(
            err.class(),
            Some(FailureClass::ReadOnlyTransaction),
            "{consistency:?}: {err}"
        );
        assert_eq!(err.as_db_error().unwrap().code().code(), "25006");
    }
    let tx = router.read(Consistency::Strong).transaction().await.unwrap();
    assert_eq!(tx.target(), Target::Primary);
    let err = tx.query("DELETE FROM items", &[]).await.unwrap_err();
    assert_eq!(err.class(), Some(FailureClass::ReadOnlyTransaction));
}

#[tokio::test]
async fn write_transactions_commit_roll_back_and_clean_up() {
    let db = test_support::database().await;
    let router = common::router(&db).await;
    setup(&router).await;

    let mut tx = router.write().transaction().await.unwrap();
    tx.execute("INSERT INTO items VALUES (10, 'ten')", &[]).await.unwrap();
    let token = tx.commit().await.unwrap();
    let row = router
        .read(Consistency::ReadYourWrites(token))
        .query_one("SELECT name FROM items WHERE id = 10", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ten");

    let mut tx = router.write().transaction().await.unwrap();
    tx.execute("INSERT INTO items VALUES (11, 'eleven')", &[])
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    // Dropped without commit: rolled back before the connection is reused.
    {
        let mut tx = router.write().transaction().await.unwrap();
        tx.execute("INSERT INTO items VALUES (12, 'twelve')", &[])
            .await
            .unwrap();
    }
    // A failed statement aborts the transaction; commit reports it instead of pretending.
    let mut tx = router.write().transaction().await.unwrap();
    let duplicate = tx
        .execute("INSERT INTO items VALUES (1, 'dup')", &[])
        .await
        .unwrap_err();
    assert_eq!(duplicate.class(), Some(FailureClass::Other));
    assert!(!duplicate.is_retryable());
    assert_eq!(duplicate.as_db_error().unwrap().code().code(), "23505");
    assert!(matches!(tx.commit().await, Err(RouterError::Aborted)));

    let ids: Vec<i32> = router
        .read(Consistency::Strong)
        .query("SELECT id FROM items ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 10]);
    // No connection was returned inside a transaction.
    for _ in 0..5 {
        let mut tx = router.write().transaction().await.unwrap();
        let row = tx.query_one("SELECT now() = statement_timestamp()", &[]).await.unwrap();
        assert!(!row.get::<_, bool>(0), "a fresh transaction has its own start time");
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn a_dropped_transaction_releases_its_locks_without_waiting_for_the_next_checkout() {
    let db = test_support::database().await;
    let router = common::router(&db).await;
    setup(&router).await;
    {
        let mut tx = router.write().transaction().await.unwrap();
        tx.query("SELECT pg_advisory_xact_lock(4242)", &[]).await.unwrap();
        tx.execute("UPDATE items SET name = 'locked' WHERE id = 1", &[])
            .await
            .unwrap();
        // Dropped here, as when a handler returns early with an error or its request is cancelled.
    }
    // Nothing checks a connection out of the pool from here on: the lock must go by itself.
    let observer = db.connect().await;
    common::eventually(
        "the abandoned transaction's locks are released",
        Duration::from_secs(10),
        || async {
            let held: i64 = observer
                .query_one(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            (held == 0).then_some(())
        },
    )
    .await;
    let name: String = observer
        .query_one("SELECT name FROM items WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "one", "the abandoned update was rolled back");
}

#[tokio::test]
async fn a_read_transaction_on_the_replica_is_one_snapshot() {
    let db = test_support::database().await;
    let router = common::router(&db).await;
    let token = setup(&router).await;
    let tx = router
        .read(Consistency::ReadYourWrites(token))
        .transaction()
        .await
        .unwrap();
    let before: i64 = tx.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    let token = router
        .write()
        .execute("INSERT INTO items VALUES (20, 'twenty')", &[])
        .await
        .unwrap()
        .token;
    // Make sure the replica has replayed the insert, then look again inside the snapshot.
    router
        .read(Consistency::ReadYourWrites(token))
        .query("SELECT 1", &[])
        .await
        .unwrap();
    let after: i64 = tx.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(before, after);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_replica_spec_that_reaches_a_primary_is_refused_and_reads_fall_back() {
    let db = test_support::database().await;
    let primary = db.spec(test_support::Target::Primary);
    let router = Router::start(&common::config(primary.clone(), Some(primary))).unwrap();
    router.ready(Duration::from_secs(30)).await.unwrap();
    let (_, route) = router
        .read(Consistency::Any)
        .query_routed("SELECT 1", &[])
        .await
        .unwrap();
    assert_eq!(route.target, Target::Primary);
    assert_eq!(route.fallback, Some(FallbackReason::ReplicaDown));
    let status = router.status();
    assert_eq!(status.replica.unwrap().up, Some(false));
    assert!(status.primary.up.unwrap());
}

/// Hands out a wrong password until refreshed, like a service that missed a rotation.
struct Rotated {
    right: SecretString,
    refreshed: AtomicUsize,
}

impl CredentialProvider for Rotated {
    fn current(&self) -> Credentials {
        let password = if self.refreshed.load(Ordering::SeqCst) > 0 {
            self.right.clone()
        } else {
            SecretString::from("the-old-password")
        };
        Credentials {
            username: None,
            password,
        }
    }

    fn refresh(&self) -> RefreshFuture<'_> {
        self.refreshed.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(self.current()) })
    }
}

#[tokio::test]
async fn a_rejected_password_is_re_read_once() {
    let db = test_support::database().await;
    let right = test_support::cluster().primary().password.clone();
    let provider = Arc::new(Rotated {
        right,
        refreshed: AtomicUsize::new(0),
    });
    let config = common::config(
        db.spec(test_support::Target::Primary),
        Some(db.spec(test_support::Target::Replica)),
    )
    .with_credentials(provider.clone());
    let router = Router::start(&config).unwrap();
    router.ready(Duration::from_secs(30)).await.unwrap();
    router.write().execute("CREATE TABLE t (x int)", &[]).await.unwrap();
    assert_eq!(
        provider.refreshed.load(Ordering::SeqCst),
        1,
        "one re-read for both sides"
    );
    assert_eq!(router.stats().credential_refreshes, 1);
}

/// Never has the right password.
struct AlwaysWrong;

impl CredentialProvider for AlwaysWrong {
    fn current(&self) -> Credentials {
        Credentials {
            username: None,
            password: SecretString::from("nope-nope"),
        }
    }

    fn refresh(&self) -> RefreshFuture<'_> {
        Box::pin(async { Ok(self.current()) })
    }
}

#[tokio::test]
async fn a_password_that_stays_wrong_fails_without_leaking() {
    let db = test_support::database().await;
    let config = common::config(db.spec(test_support::Target::Primary), None).with_credentials(Arc::new(AlwaysWrong));
    let router = Router::start(&config).unwrap();
    let err = router.ready(Duration::from_secs(10)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("28P01"), "{text}");
    assert!(!text.contains("nope-nope"));
    let err = router.write().execute("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(err, RouterError::PrimaryUnavailable { .. }), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_saturated_pool_times_out_checkouts_and_statements_time_out() {
    let db = test_support::database().await;
    let mut primary = db.spec(test_support::Target::Primary);
    primary.pool.max_size = 3; // 2 shared + 1 pooled
    let mut config = common::config(primary, None);
    config.checkout_timeout = Duration::from_millis(200);
    config.statement_timeout = Some(Duration::from_millis(300));
    let router = Router::start(&config).unwrap();
    router.ready(Duration::from_secs(30)).await.unwrap();

    let held = router.write().transaction().await.unwrap();
    let err = router.write().transaction().await.err().unwrap();
    assert!(
        matches!(
            err,
            RouterError::CheckoutTimeout {
                target: Target::Primary,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(router.stats().checkout_timeouts[0], 1);
    drop(held);

    let err = router
        .read(Consistency::Strong)
        .query("SELECT pg_sleep(5)", &[])
        .await
        .unwrap_err();
    assert_eq!(err.class(), Some(FailureClass::QueryCanceled), "{err}");
    // The shared session survives a cancelled statement.
    router.read(Consistency::Strong).query("SELECT 1", &[]).await.unwrap();
}

/// Fallback reads of `sleep` seconds each, `n` at once; returns how many succeeded and the errors.
async fn concurrent_fallbacks(router: &Router, n: usize, sleep: f64) -> (usize, Vec<RouterError>) {
    let reads: Vec<_> = (0..n)
        .map(|_| {
            let router = router.clone();
            tokio::spawn(async move {
                router
                    .read(Consistency::Any)
                    .query_routed("SELECT pg_catalog.pg_sleep($1)", &[&sleep])
                    .await
            })
        })
        .collect();
    let (mut ok, mut errors) = (0, Vec::new());
    for read in reads {
        match read.await.unwrap() {
            Ok((_, route)) => {
                assert_eq!(route.fallback, Some(FallbackReason::ReplicaDown));
                ok += 1;
            }
            Err(err) => errors.push(err),
        }
    }
    (ok, errors)
}

#[tokio::test]
async fn the_fallback_gate_admits_what_the_primary_takes_and_sheds_the_excess() {
    let db = test_support::database().await;
    let primary = db.spec(test_support::Target::Primary);
    // The "replica" is the primary: refused for its role, so every replica read falls back.
    let mut config = common::config(primary.clone(), Some(primary));
    config.fallback = FallbackConfig {
        min_in_flight: 2,
        max_in_flight: 2,
        queue: 2,
        queue_wait: Duration::from_millis(100),
        ..FallbackConfig::default()
    };
    let router = Router::start(&config).unwrap();
    router.ready(Duration::from_secs(30)).await.unwrap();
    // Sequential reads (a closed loop below the limit) are all served.
    for _ in 0..20 {
        router.read(Consistency::Any).query("SELECT 1", &[]).await.unwrap();
    }
    // Short reads beyond the limit wait in line and are served as slots free up.
    let (ok, errors) = concurrent_fallbacks(&router, 4, 0.01).await;
    assert_eq!((ok, errors.len()), (4, 0), "{errors:?}");
    // Long reads: 2 run, 2 wait in line and give up after 100 ms, 6 find the line full.
    let slow = tokio::spawn({
        let router = router.clone();
        async move { concurrent_fallbacks(&router, 10, 1.0).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = router.status().fallback;
    assert_eq!((status.limit, status.in_flight), (2, 2), "{status:?}");
    // Meanwhile writes (their own pooled connections) and primary reads are not behind the gate.
    router.write().execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(
        router.status().fallback.in_flight,
        2,
        "the write did not wait for the fallbacks"
    );
    router.read(Consistency::Strong).query("SELECT 1", &[]).await.unwrap();
    let (ok, errors) = slow.await.unwrap();
    assert_eq!(ok, 2, "{errors:?}");
    assert_eq!(errors.len(), 8);
    for err in &errors {
        match err {
            RouterError::Overloaded {
                reason, retry_after, ..
            } => {
                assert_eq!(*reason, FallbackReason::ReplicaDown);
                assert_eq!(*retry_after, Duration::from_secs(1));
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.is_retryable());
    }
    let stats = router.stats();
    assert_eq!(stats.fallbacks_refused, 8);
    assert_eq!(router.status().fallback.in_flight, 0);
}

#[tokio::test]
async fn cached_statements_survive_a_migration_that_changes_a_table() {
    let db = test_support::database().await;
    let router = common::router(&db).await;
    setup(&router).await;
    let select_all = "SELECT * FROM items WHERE id = $1";
    for consistency in [Consistency::Strong, Consistency::Any] {
        let row = router.read(consistency).query_one(select_all, &[&1i32]).await.unwrap();
        assert_eq!(row.len(), 2);
    }
    router
        .write()
        .query("SELECT * FROM items WHERE id = $1", &[&1i32])
        .await
        .unwrap();
    // A migration runs while the service keeps its prepared statements.
    let token = router
        .write()
        .execute("ALTER TABLE items ADD COLUMN note text DEFAULT 'n'", &[])
        .await
        .unwrap()
        .token;
    // Every shared session and pooled connection that cached the statement re-prepares it.
    for _ in 0..6 {
        let row = router
            .read(Consistency::Strong)
            .query_one(select_all, &[&1i32])
            .await
            .unwrap();
        assert_eq!(row.len(), 3);
        let row = router
            .read(Consistency::ReadYourWrites(token))
            .query_one(select_all, &[&1i32])
            .await
            .unwrap();
        assert_eq!(row.len(), 3);
        let committed = router.write().query(select_all, &[&1i32]).await.unwrap();
        assert_eq!(committed.value[0].len(), 3);
    }
}
