//! Real Flyway and pccdb started at the same moment on one database: one waits for the other's
//! lock (they share Flyway's advisory lock key), every migration is applied exactly once, both
//! succeed. With Flyway's default lock (taken inside a transaction) and with the session-level
//! lock pccdb takes itself.

use std::collections::BTreeSet;

use interop_tests::flyway::{self, FlywayConfig};
use interop_tests::{db, pccdb};

use crate::common::Migrations;

const MIGRATIONS: usize = 6;

async fn race(flyway_cfg: FlywayConfig, m: &Migrations, database: &test_support::TestDatabase) {
    let for_pccdb = flyway_cfg.clone();
    let ours = tokio::task::spawn_blocking(move || pccdb::with_config("migrate", &for_pccdb, &["--output", "json"]));
    let theirs = flyway::migrate(&flyway_cfg).await;
    let ours = ours.await.expect("pccdb thread").expect(0);
    let theirs = theirs.expect("real Flyway succeeds while pccdb migrates");
    let ours_executed = ours.json()["migrationsExecuted"].as_u64().expect("count");
    assert_eq!(
        u64::from(theirs.migrations_executed) + ours_executed,
        MIGRATIONS as u64,
        "every migration ran once: Flyway {}, pccdb {ours_executed}",
        theirs.migrations_executed
    );
    let rows = db::history(&database.connect().await).await;
    let versions: BTreeSet<_> = rows.iter().filter_map(|r| r.version.clone()).collect();
    assert_eq!((rows.len(), versions.len()), (MIGRATIONS, MIGRATIONS), "{rows:#?}");
    assert!(rows.iter().all(|r| r.success), "{rows:#?}");
    let _ = m;
}

fn slow_migrations() -> Migrations {
    let m = Migrations::new();
    for v in 1..=MIGRATIONS {
        m.write(
            &format!("V{v}__step.sql"),
            format!("SELECT pg_sleep(0.3);\nCREATE TABLE step_{v} (id int);\n"),
        );
    }
    m
}

#[tokio::test]
async fn flyway_and_pccdb_at_once_apply_each_migration_exactly_once() {
    for flyway_default_lock in [true, false] {
        let m = slow_migrations();
        let database = test_support::database().await;
        let mut cfg = db::flyway_config(&database).location(m.path());
        if !flyway_default_lock {
            cfg = cfg.set("postgresql.transactional.lock", "false");
        }
        race(cfg, &m, &database).await;
    }
}
