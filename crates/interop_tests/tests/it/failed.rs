//! A failed migration recorded by one tool is seen as failed by the other: real Flyway and pccdb
//! write the same `success = false` row for a non-transactional migration that fails, each
//! refuses to migrate past the other's failed row, each `repair` clears the other's, and after the
//! fix both end with the same history.

use interop_tests::flyway;
use interop_tests::jvm::JavaError;
use test_support::TestDatabase;

use crate::common::{Migrations, assert_same, assert_same_info, config, history, pccdb, pccdb_json};

const BROKEN: &str = "CREATE INDEX CONCURRENTLY account_name ON acount (name);\n";
const FIXED: &str = "CREATE INDEX CONCURRENTLY account_name ON account (name);\n";

fn migrations() -> Migrations {
    let m = Migrations::new();
    m.write(
        "V1__account.sql",
        "CREATE TABLE account (id bigint PRIMARY KEY, name text);\n",
    );
    m.write("V2__index.sql", BROKEN);
    m.write("V2__index.sql.conf", "executeInTransaction=false\n");
    m
}

fn refused_by_flyway(result: Result<flyway::MigrateResult, JavaError>) -> JavaError {
    result.expect_err("real Flyway must not migrate past a failed migration")
}

#[tokio::test]
async fn a_failed_row_written_by_either_tool_is_failed_for_the_other() {
    let (fm, pm) = (migrations(), migrations());
    let (a, b): (TestDatabase, TestDatabase) = (test_support::database().await, test_support::database().await);
    let (fa, fb) = (config(&a, fm.path()), config(&b, pm.path()));

    // Flyway fails V2 on a; pccdb fails V2 on b: the same rows.
    let err = refused_by_flyway(flyway::migrate(&fa).await);
    assert!(err.message.contains("acount"), "{err}");
    let run = pccdb("migrate", &fb).expect(1);
    assert!(run.stderr.contains("acount"), "{}", run.stderr);
    let (ha, hb) = (history(&a).await, history(&b).await);
    assert_eq!((ha.len(), ha[1].success), (2, false), "{ha:#?}");
    assert_same(&ha, &hb, &a, &b);

    // Each sees the other's row as Failed and refuses to go on.
    for cfg in [&fa, &fb] {
        let lines = assert_same_info(cfg).await;
        assert_eq!(lines[1].5, "Failed", "{lines:#?}");
    }
    let err = refused_by_flyway(flyway::migrate(&fb).await);
    assert!(err.message.to_lowercase().contains("failed"), "{err}");
    let run = pccdb("migrate", &fa);
    assert_eq!(
        run.code, 2,
        "pccdb refuses Flyway's failed row:\n{}{}",
        run.stdout, run.stderr
    );

    // Each repairs the other's, the file is fixed, each migrates: the same history again.
    pccdb("repair", &fa).expect(0);
    flyway::repair(&fb).await.expect("Flyway repairs");
    assert_same(&history(&a).await, &history(&b).await, &a, &b);
    fm.write("V2__index.sql", FIXED);
    pm.write("V2__index.sql", FIXED);
    assert_eq!(pccdb_json("migrate", &fa)["migrationsExecuted"], 1);
    assert_eq!(
        flyway::migrate(&fb).await.expect("Flyway migrates").migrations_executed,
        1
    );
    let (ha, hb) = (history(&a).await, history(&b).await);
    assert!(ha.iter().all(|r| r.success), "{ha:#?}");
    assert_same(&ha, &hb, &a, &b);
}
