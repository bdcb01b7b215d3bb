//! `baseline` and `repair` done by one tool and accepted by the other: the rows each writes are the
//! same column by column, and the other tool validates the result clean and carries on.

use interop_tests::flyway::{self, FlywayConfig};
use test_support::TestDatabase;

use crate::common::{
    Migrations, assert_flyway_valid, assert_same, assert_same_info, config, history, pccdb, pccdb_json,
};

/// A database that already has the objects of V1 and V2, as one adopted by migrations would.
async fn adopted() -> TestDatabase {
    let db = test_support::database().await;
    db.connect()
        .await
        .batch_execute("CREATE TABLE account (id bigint PRIMARY KEY); CREATE TABLE audit (id bigint);")
        .await
        .expect("existing objects");
    db
}

fn adoption_migrations() -> Migrations {
    let m = Migrations::new();
    m.write("V1__account.sql", "CREATE TABLE account (id bigint PRIMARY KEY);\n");
    m.write("V2__audit.sql", "CREATE TABLE audit (id bigint);\n");
    m.write("V3__name.sql", "ALTER TABLE account ADD COLUMN name text;\n");
    m.write("V4__when.sql", "ALTER TABLE audit ADD COLUMN at timestamptz;\n");
    m
}

#[tokio::test]
async fn a_baseline_by_either_tool_is_the_same_row_and_the_other_migrates_past_it() {
    let m = adoption_migrations();
    let with_baseline = |db: &TestDatabase| config(db, m.path()).set("baselineVersion", "2");
    // Real Flyway baselines, pccdb migrates on top; and the other way round.
    let (a, b) = (adopted().await, adopted().await);
    let (fa, fb) = (with_baseline(&a), with_baseline(&b));
    let baselined = flyway::baseline(&fa).await.expect("Flyway baselines");
    assert_eq!(baselined["successfullyBaselined"], true);
    assert_eq!(pccdb_json("migrate", &fa)["migrationsExecuted"], 2);
    pccdb("baseline", &fb).expect(0);
    assert_eq!(
        flyway::migrate(&fb).await.expect("Flyway migrates").migrations_executed,
        2
    );
    let (ha, hb) = (history(&a).await, history(&b).await);
    assert_eq!(ha[0].kind, "BASELINE", "{ha:#?}");
    assert_same(&ha, &hb, &a, &b);
    pccdb("validate", &fb).expect(0);
    assert_flyway_valid(&fa).await;
    let lines = assert_same_info(&fa).await;
    let states: Vec<&str> = lines.iter().map(|l| l.5.as_str()).collect();
    assert_eq!(
        states,
        ["Below Baseline", "Ignored (Baseline)", "Baseline", "Success", "Success"],
        "{lines:#?}"
    );
    assert_same_info(&fb).await;

    // baselineOnMigrate: each tool adopts the non-empty schema itself, with the same rows.
    let (c, d) = (adopted().await, adopted().await);
    let on_migrate = |db: &TestDatabase| with_baseline(db).set("baselineOnMigrate", "true");
    assert_eq!(
        flyway::migrate(&on_migrate(&c))
            .await
            .expect("Flyway")
            .migrations_executed,
        2
    );
    assert_eq!(pccdb_json("migrate", &on_migrate(&d))["migrationsExecuted"], 2);
    assert_same(&history(&c).await, &history(&d).await, &c, &d);
}

/// The same three migrations applied to two databases, then V1 edited and V2's file deleted.
async fn drifted(m: &Migrations) -> (TestDatabase, TestDatabase) {
    m.write("V1__account.sql", "CREATE TABLE account (id bigint PRIMARY KEY);\n");
    m.write("V2__audit.sql", "CREATE TABLE audit (id bigint);\n");
    m.write("V3__name.sql", "ALTER TABLE account ADD COLUMN name text;\n");
    let (a, b) = (test_support::database().await, test_support::database().await);
    for db in [&a, &b] {
        flyway::migrate(&config(db, m.path())).await.expect("Flyway migrates");
    }
    m.write(
        "V1__account.sql",
        "-- reformatted after it was applied\nCREATE TABLE account (id bigint PRIMARY KEY);\n",
    );
    m.remove("V2__audit.sql");
    (a, b)
}

#[tokio::test]
async fn a_repair_by_either_tool_writes_the_same_rows_and_satisfies_the_other() {
    let m = Migrations::new();
    let (a, b) = drifted(&m).await;
    let (fa, fb): (FlywayConfig, FlywayConfig) = (config(&a, m.path()), config(&b, m.path()));
    // Both see the drift.
    let before = flyway::validate(&fa).await.expect("Flyway validates");
    assert!(!before.valid && before.invalid_migrations.len() == 2, "{before:?}");
    pccdb("validate", &fb).expect(2);

    let repaired = flyway::repair(&fa).await.expect("Flyway repairs");
    assert_eq!(repaired["aligned"].as_array().map(Vec::len), Some(1), "{repaired}");
    assert_eq!(repaired["deleted"].as_array().map(Vec::len), Some(1), "{repaired}");
    pccdb("repair", &fb).expect(0);
    let (ha, hb) = (history(&a).await, history(&b).await);
    assert!(
        ha.iter().any(|r| r.kind == "DELETE"),
        "Flyway marks the missing one deleted: {ha:#?}"
    );
    assert_same(&ha, &hb, &a, &b);

    // Each tool accepts the other's repair and goes on.
    pccdb("validate", &fa).expect(0);
    assert_flyway_valid(&fb).await;
    assert_same_info(&fa).await;
    assert_same_info(&fb).await;
    m.write("V4__when.sql", "ALTER TABLE audit ADD COLUMN at timestamptz;\n");
    assert_eq!(pccdb_json("migrate", &fa)["migrationsExecuted"], 1);
    assert_eq!(flyway::migrate(&fb).await.expect("Flyway").migrations_executed, 1);
    assert_same(&history(&a).await, &history(&b).await, &a, &b);
}

/// A file older than the schema version is Ignored for both, listed in the same place, until one
/// tool applies it with outOfOrder; then both show it Out of Order.
#[tokio::test]
async fn ignored_and_out_of_order_files_are_listed_alike() {
    let m = Migrations::new();
    m.write("V1__a.sql", "CREATE TABLE a (id int);\n");
    m.write("V3__c.sql", "CREATE TABLE c (id int);\n");
    m.write("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS one;\n");
    let db = test_support::database().await;
    let cfg = config(&db, m.path());
    flyway::migrate(&cfg).await.expect("Flyway migrates");
    m.write("V2__b.sql", "CREATE TABLE b (id int);\n");
    m.write("V4__d.sql", "CREATE TABLE d (id int);\n");
    let lines = assert_same_info(&cfg).await;
    assert!(lines.iter().any(|l| l.5 == "Ignored"), "{lines:#?}");
    let out_of_order = cfg.clone().set("outOfOrder", "true");
    assert_eq!(pccdb_json("migrate", &out_of_order)["migrationsExecuted"], 2);
    let lines = assert_same_info(&cfg).await;
    assert!(lines.iter().any(|l| l.5 == "Out of Order"), "{lines:#?}");
}
