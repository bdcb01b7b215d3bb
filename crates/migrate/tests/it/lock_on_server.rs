//! The migration lock on a real server: Flyway's key, mutual exclusion with a Flyway-style
//! transactional lock holder, a bounded wait naming the holder, patience while the holder makes
//! progress, release after errors, and concurrent runs applying each migration once.

use crate::common;

use std::time::Duration;

use common::Fixture;
use migrate::Error;
use migrate::db::history::HistoryTable;
use migrate::db::lock::lock_key;

const KEY: i64 = 77_433_833_903_597;

async fn wait_for_sleep(f: &Fixture) {
    let watcher = f.connect().await;
    for _ in 0..500 {
        let n: i64 = watcher
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid() AND state = 'active' AND datname = current_database()", &[])
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the migration never started sleeping");
}

#[test]
fn the_key_is_flyways() {
    assert_eq!(
        lock_key(&HistoryTable {
            schema: "public".into(),
            table: "flyway_schema_history".into()
        }),
        KEY
    );
}

#[tokio::test]
async fn a_flyway_style_lock_holder_makes_migrate_wait_then_time_out_naming_the_holder() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    let flyway = f.connect().await;
    flyway
        .batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({KEY})"))
        .await
        .unwrap();
    let err = migrate::migrate(&f.client, &f.config_with(&[("lockRetryCount", "1")]), &())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LockTimeout { key: KEY, .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("held by server process") && message.contains("lockRetryCount"),
        "{message}"
    );
    assert!(!f.exists("t").await);
    flyway.batch_execute("COMMIT").await.unwrap();
    migrate::migrate(&f.client, &f.config_with(&[("lockRetryCount", "1")]), &())
        .await
        .unwrap();
    assert!(f.exists("t").await);
}

#[tokio::test]
async fn migrate_holds_flyways_key_while_it_runs_and_releases_it_after() {
    let f = Fixture::new().await;
    f.write("V1__slow.sql", "SELECT pg_sleep(1);");
    let client = f.connect().await;
    let config = f.config();
    let run = tokio::spawn(async move {
        migrate::migrate(&client, &config, &())
            .await
            .map(|r| r.migrations_executed)
    });
    wait_for_sleep(&f).await;
    let other = f.connect().await;
    let free: bool = other
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&KEY])
        .await
        .unwrap()
        .get(0);
    assert!(!free, "Flyway's transactional attempt is excluded while pccdb migrates");
    assert_eq!(run.await.unwrap().unwrap(), 1);
    let free: bool = other
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&KEY])
        .await
        .unwrap()
        .get(0);
    assert!(free, "released after the run");
}

#[tokio::test]
async fn the_lock_is_released_after_a_failed_run() {
    let f = Fixture::new().await;
    f.write("V1__bad.sql", "SELECT * FROM nowhere;");
    assert!(migrate::migrate(&f.client, &f.config(), &()).await.is_err());
    let other = f.connect().await;
    let free: bool = other
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&KEY])
        .await
        .unwrap()
        .get(0);
    assert!(free);
}

#[tokio::test]
async fn a_waiting_run_keeps_waiting_while_the_holder_makes_progress() {
    let f = Fixture::new().await;
    for i in 1..=5 {
        f.write(&format!("V{i}__step.sql"), "SELECT pg_sleep(0.4);");
    }
    let client = f.connect().await;
    let config = f.config();
    let first = tokio::spawn(async move {
        migrate::migrate(&client, &config, &())
            .await
            .map(|r| r.migrations_executed)
    });
    wait_for_sleep(&f).await;
    // Five 0.4 s steps take about 2 s, longer than the 1 s this run may wait without progress.
    let waited = migrate::migrate(&f.client, &f.config_with(&[("lockRetryCount", "1")]), &())
        .await
        .unwrap();
    assert_eq!(waited.migrations_executed, 0, "everything was applied by the first run");
    assert_eq!(first.await.unwrap().unwrap(), 5);
}

#[tokio::test]
async fn four_concurrent_runs_apply_each_migration_exactly_once() {
    let f = Fixture::new().await;
    f.client
        .batch_execute("CREATE SCHEMA audit; CREATE TABLE audit.applied (version text)")
        .await
        .unwrap();
    for i in 1..=12 {
        f.write(
            &format!("V{i}__m.sql"),
            &format!("INSERT INTO audit.applied VALUES ('{i}');\nSELECT pg_sleep(0.02);"),
        );
    }
    f.write("R__r.sql", "INSERT INTO audit.applied VALUES ('r');");
    let mut runs = Vec::new();
    for _ in 0..4 {
        let client = f.connect().await;
        let config = f.config_with(&[("schemas", "app")]);
        runs.push(tokio::spawn(async move {
            migrate::migrate(&client, &config, &())
                .await
                .map(|r| r.migrations_executed)
        }));
    }
    let mut total = 0;
    for run in runs {
        total += run.await.unwrap().unwrap();
    }
    assert_eq!(total, 13);
    assert_eq!(
        f.scalar("SELECT count(*) || '/' || count(DISTINCT version) FROM audit.applied")
            .await,
        "13/13"
    );
    let history = f.history_in("app").await;
    assert_eq!(history.len(), 14, "13 migrations and the schema marker");
}
