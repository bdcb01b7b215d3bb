//! `migrate` against a real PostgreSQL server: Flyway's rows, atomicity, failures, `\c`,
//! placeholders, initSql with SET ROLE, schemas, baselines, groups, callbacks, CIC.

use crate::common;

use common::{Fixture, checksum};
use migrate::{Error, MigrationState, StatementFailure};

fn statement_failure(e: Error) -> StatementFailure {
    match e {
        Error::Statement(f) => *f,
        other => panic!("expected a statement failure, got {other}"),
    }
}

#[tokio::test]
async fn migrate_applies_versioned_then_repeatables_and_writes_flyways_rows() {
    let f = Fixture::new().await;
    let v1 = "CREATE TABLE clients (id bigint PRIMARY KEY, name text NOT NULL);\n";
    let v1_1 = "ALTER TABLE clients ADD COLUMN lei text;\r\n";
    let r = "CREATE OR REPLACE VIEW client_names AS SELECT name FROM clients;\n";
    f.write("V1__create_clients.sql", v1);
    f.write("sub/V1_1__add_lei.sql", v1_1);
    f.write("R__client_names.sql", r);
    let report = migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(report.migrations_executed, 3);
    assert_eq!(report.initial_schema_version, None);
    assert_eq!(report.target_schema_version.as_deref(), Some("1.1"));
    let history = f.history().await;
    assert_eq!(
        history,
        [
            (
                1,
                Some("1".into()),
                "create clients".into(),
                "SQL".into(),
                "V1__create_clients.sql".into(),
                Some(checksum(v1)),
                true
            ),
            (
                2,
                Some("1.1".into()),
                "add lei".into(),
                "SQL".into(),
                "sub/V1_1__add_lei.sql".into(),
                Some(checksum(v1_1)),
                true
            ),
            (
                3,
                None,
                "client names".into(),
                "SQL".into(),
                "R__client_names.sql".into(),
                Some(checksum(r)),
                true
            ),
        ]
    );
    assert_eq!(
        f.scalar("SELECT string_agg(DISTINCT installed_by, ',') FROM flyway_schema_history")
            .await,
        f.scalar("SELECT current_user").await
    );
    assert!(f.exists("client_names").await);
}

#[tokio::test]
async fn a_second_run_applies_nothing_and_a_changed_repeatable_runs_again() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    f.write("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS one;");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(
        migrate::migrate(&f.client, &f.config(), &())
            .await
            .unwrap()
            .migrations_executed,
        0
    );
    f.write("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS one, 2 AS two;");
    let report = migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(report.migrations_executed, 1);
    let info = migrate::info(&f.client, &f.config()).await.unwrap();
    let states: Vec<_> = info.migrations.iter().map(|m| m.state).collect();
    assert_eq!(
        states,
        [
            MigrationState::Success,
            MigrationState::Superseded,
            MigrationState::Success
        ]
    );
}

#[tokio::test]
async fn a_failing_transactional_migration_leaves_no_trace_and_names_file_and_line() {
    let f = Fixture::new().await;
    f.write("V1__ok.sql", "CREATE TABLE ok (a int);");
    f.write(
        "V2__broken.sql",
        "CREATE TABLE half (a int);\n\nINSERT INTO half\n  VALUES (1, 2);\n",
    );
    let failure = statement_failure(migrate::migrate(&f.client, &f.config(), &()).await.unwrap_err());
    assert_eq!(failure.script, "V2__broken.sql");
    assert_eq!(failure.version.as_deref(), Some("2"));
    assert_eq!(failure.line, Some(4), "the server's error position points into line 4");
    assert_eq!(failure.code.as_deref(), Some("42601"));
    assert!(failure.transactional);
    assert!(failure.to_string().contains("rolled back"));
    assert!(!f.exists("half").await, "the first statement of V2 was rolled back");
    assert_eq!(f.history().await.len(), 1, "V2 has no history row");
    assert!(f.exists("ok").await);
}

#[tokio::test]
async fn backslash_c_is_refused_before_anything_is_written() {
    let f = Fixture::new().await;
    f.write(
        "V1__create_database_and_initial_schema.sql",
        "CREATE DATABASE client_api_db_devtest;\n\n\\c client_api_db_devtest\n\nCREATE TABLE users (id int);\n",
    );
    let err = migrate::migrate(&f.client, &f.config(), &()).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("V1__create_database_and_initial_schema.sql:3: psql meta-command \\c"),
        "{message}"
    );
    assert!(message.contains("`pccdb apply`"), "{message}");
    assert!(
        !f.exists("flyway_schema_history").await,
        "nothing was written, not even the history table"
    );
}

#[tokio::test]
async fn an_unknown_placeholder_names_file_and_line_and_known_ones_are_replaced() {
    let f = Fixture::new().await;
    f.write(
        "V1__t.sql",
        "CREATE TABLE ${flyway:defaultSchema}.t (owner text DEFAULT '${owner}', tbl text DEFAULT '${flyway:table}');",
    );
    let config = f.config_with(&[("placeholders.owner", "client_api_owner")]);
    migrate::migrate(&f.client, &config, &()).await.unwrap();
    assert_eq!(
        f.scalar("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 't'::regclass AND adnum = 1")
            .await,
        "'client_api_owner'::text"
    );
    assert_eq!(
        f.scalar("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 't'::regclass AND adnum = 2")
            .await,
        "'flyway_schema_history'::text"
    );
    f.write("V2__u.sql", "SELECT 1;\nSELECT '${nope}';");
    let message = migrate::migrate(&f.client, &config, &()).await.unwrap_err().to_string();
    assert!(
        message.starts_with("V2__u.sql:2: no value provided for placeholder ${nope}"),
        "{message}"
    );
}

#[tokio::test]
async fn init_sql_set_role_makes_the_owner_role_own_everything() {
    let f = Fixture::new().await;
    let role = test_support::unique_name("owner");
    f.client
        .batch_execute(&format!(
            "CREATE ROLE \"{role}\" NOLOGIN; GRANT CREATE ON SCHEMA public TO \"{role}\""
        ))
        .await
        .unwrap();
    f.write("V1__t.sql", "CREATE TABLE owned (a int);");
    let config = f.config_with(&[("initSql", &format!("SET ROLE \"{role}\""))]);
    migrate::migrate(&f.client, &config, &()).await.unwrap();
    let other = f.connect().await;
    let owner = |table: &'static str| {
        let other = &other;
        async move {
            let row = other
                .query_one("SELECT tableowner::text FROM pg_tables WHERE tablename = $1", &[&table])
                .await
                .unwrap();
            row.get::<_, String>(0)
        }
    };
    assert_eq!(owner("owned").await, role);
    assert_eq!(owner("flyway_schema_history").await, role);
    let by: String = other
        .query_one("SELECT installed_by FROM flyway_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(by, role, "installed_by is current_user after initSql, as in Flyway");
    f.client
        .batch_execute(&format!("RESET ROLE; DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\""))
        .await
        .unwrap();
}

#[tokio::test]
async fn configured_schemas_are_created_with_flyways_marker_and_migrations_run_in_the_default_one() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    let config = f.config_with(&[("schemas", "app,audit")]);
    let report = migrate::migrate(&f.client, &config, &()).await.unwrap();
    assert!(
        report.initialized.iter().any(|s| s.contains("app, audit")),
        "{:?}",
        report.initialized
    );
    let history = f.history_in("app").await;
    assert_eq!(
        history[0],
        (
            0,
            None,
            "<< Flyway Schema Creation >>".into(),
            "SCHEMA".into(),
            "\"app\",\"audit\"".into(),
            None,
            true
        )
    );
    assert_eq!(history[1].0, 1);
    assert!(
        f.exists("app.t").await,
        "the migration ran with the default schema first on the search_path"
    );
    let info = migrate::info(&f.client, &config).await.unwrap();
    assert_eq!(info.migrations[0].state, MigrationState::Success);
    let created = f
        .scalar("SELECT count(*)::text FROM pg_namespace WHERE nspname IN ('app', 'audit')")
        .await;
    assert_eq!(created, "2");
}

#[tokio::test]
async fn a_non_empty_schema_without_history_is_refused_and_baseline_on_migrate_adopts_it() {
    let f = Fixture::new().await;
    f.client.batch_execute("CREATE TABLE legacy (a int)").await.unwrap();
    f.write("V1__old.sql", "CREATE TABLE legacy (a int);");
    f.write("V2__new.sql", "CREATE TABLE fresh (a int);");
    let message = migrate::migrate(&f.client, &f.config(), &())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("non-empty schema(s) \"public\"") && message.contains("pccdb baseline"),
        "{message}"
    );
    let report = migrate::migrate(&f.client, &f.config_with(&[("baselineOnMigrate", "true")]), &())
        .await
        .unwrap();
    assert_eq!(report.migrations_executed, 1);
    let history = f.history().await;
    assert_eq!(
        history[0],
        (
            1,
            Some("1".into()),
            "<< Flyway Baseline >>".into(),
            "BASELINE".into(),
            "<< Flyway Baseline >>".into(),
            None,
            true
        )
    );
    assert_eq!(history[1].1.as_deref(), Some("2"));
}

#[tokio::test]
async fn baseline_then_migrate_skips_everything_up_to_the_baseline() {
    let f = Fixture::new().await;
    f.write("V1__a.sql", "CREATE TABLE a (x int);");
    f.write("V2__b.sql", "CREATE TABLE b (x int);");
    f.write("V3__c.sql", "CREATE TABLE c (x int);");
    let config = f.config_with(&[("baselineVersion", "2"), ("baselineDescription", "adopted")]);
    let report = migrate::baseline(&f.client, &config, &()).await.unwrap();
    assert!(report.created_table && !report.already_baselined);
    assert!(
        migrate::baseline(&f.client, &config, &())
            .await
            .unwrap()
            .already_baselined
    );
    let other = f.config_with(&[("baselineVersion", "5")]);
    assert!(
        migrate::baseline(&f.client, &other, &())
            .await
            .unwrap_err()
            .to_string()
            .contains("already been baselined")
    );
    migrate::migrate(&f.client, &config, &()).await.unwrap();
    assert!(!f.exists("a").await && !f.exists("b").await && f.exists("c").await);
    let states: Vec<_> = migrate::info(&f.client, &config)
        .await
        .unwrap()
        .migrations
        .iter()
        .map(|m| m.state)
        .collect();
    assert_eq!(
        states,
        [
            // Flyway's order: the files the baseline covers, then the rows.
            MigrationState::BelowBaseline,
            MigrationState::BaselineIgnored,
            MigrationState::Baseline,
            MigrationState::Success
        ]
    );
}

#[tokio::test]
async fn clean_is_refused_by_default_and_empties_the_schemas_when_enabled() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);\nCREATE VIEW v AS SELECT a FROM t;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\nCREATE TYPE mood AS ENUM ('ok');\nCREATE SEQUENCE s;");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert!(matches!(
        migrate::clean(&f.client, &f.config(), &()).await,
        Err(Error::CleanDisabled)
    ));
    let report = migrate::clean(&f.client, &f.config_with(&[("cleanDisabled", "false")]), &())
        .await
        .unwrap();
    assert_eq!(report.schemas_cleaned, ["public"]);
    assert!(!f.exists("t").await && !f.exists("flyway_schema_history").await);
    assert_eq!(
        f.scalar("SELECT count(*)::text FROM pg_proc WHERE proname = 'f' AND pronamespace = 'public'::regnamespace")
            .await,
        "0"
    );
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert!(f.exists("t").await, "a cleaned schema migrates from scratch");
}

#[tokio::test]
async fn group_applies_everything_in_one_transaction_or_nothing() {
    let f = Fixture::new().await;
    f.write("V1__a.sql", "CREATE TABLE a (x int);");
    f.write("V2__b.sql", "CREATE TABLE b (x int);");
    f.write("V3__bad.sql", "CREATE TABLE c (x nonexistent_type);");
    let config = f.config_with(&[("group", "true")]);
    let failure = statement_failure(migrate::migrate(&f.client, &config, &()).await.unwrap_err());
    assert_eq!(failure.script, "V3__bad.sql");
    assert!(!f.exists("a").await, "the whole group rolled back");
    f.write("V3__bad.sql", "CREATE TABLE c (x int);");
    // The checksum changed but nothing of V3 was applied, so this is simply pending again.
    let report = migrate::migrate(&f.client, &config, &()).await.unwrap();
    assert_eq!(report.migrations_executed, 3);
    assert_eq!(f.history().await.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
}

#[tokio::test]
async fn out_of_order_migrations_are_refused_then_applied_when_allowed() {
    let f = Fixture::new().await;
    f.write("V1__a.sql", "CREATE TABLE a (x int);");
    f.write("V3__c.sql", "CREATE TABLE c (x int);");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    f.write("V2__b.sql", "CREATE TABLE b (x int);");
    let err = migrate::migrate(&f.client, &f.config(), &()).await.unwrap_err();
    assert!(
        err.is_validation() && err.to_string().contains("outOfOrder=true"),
        "{err}"
    );
    let report = migrate::migrate(&f.client, &f.config_with(&[("outOfOrder", "true")]), &())
        .await
        .unwrap();
    assert!(report.migrations[0].out_of_order);
    let info = migrate::info(&f.client, &f.config()).await.unwrap();
    assert_eq!(info.migrations.last().unwrap().state, MigrationState::OutOfOrder);
}

#[tokio::test]
async fn execution_time_is_the_true_duration_of_a_pipelined_migration() {
    let f = Fixture::new().await;
    f.write("V1__slow.sql", "SELECT pg_sleep(0.3);\nCREATE TABLE t (a int);");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    let millis: i32 = f
        .scalar("SELECT execution_time FROM flyway_schema_history")
        .await
        .parse()
        .unwrap();
    assert!(millis >= 300, "recorded {millis} ms for a 300 ms sleep");
}

#[tokio::test]
async fn callbacks_run_around_migrations_and_each_migrate_callbacks_share_its_transaction() {
    let f = Fixture::new().await;
    f.write(
        "beforeMigrate.sql",
        "CREATE TABLE IF NOT EXISTS log (what text, at timestamptz DEFAULT clock_timestamp());",
    );
    f.write(
        "beforeEachMigrate.sql",
        "INSERT INTO log (what) VALUES ('before each');",
    );
    f.write("afterMigrate__done.sql", "INSERT INTO log (what) VALUES ('after');");
    f.write("V1__a.sql", "CREATE TABLE a (x int);");
    f.write("V2__bad.sql", "SELECT nonexistent;");
    assert!(migrate::migrate(&f.client, &f.config(), &()).await.is_err());
    assert_eq!(
        f.scalar("SELECT string_agg(what, ',' ORDER BY at) FROM log").await,
        "before each",
        "V2's callback row rolled back with V2; afterMigrate did not run"
    );
    f.remove("V2__bad.sql");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(
        f.scalar("SELECT string_agg(what, ',' ORDER BY at) FROM log").await,
        "before each,after"
    );
}

#[tokio::test]
async fn create_index_concurrently_runs_outside_a_transaction_and_completes() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE cities (name text, population int, altitude int);\nINSERT INTO cities SELECT 'c' || g, g, g FROM generate_series(1, 1000) g;");
    f.write(
        "V2__idx.sql",
        "CREATE INDEX CONCURRENTLY cities_idx ON cities(name, population, altitude);",
    );
    f.write("V3__reindex.sql", "REINDEX INDEX CONCURRENTLY cities_idx;");
    let report = migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    let transactional: Vec<bool> = report.migrations.iter().map(|m| m.transactional).collect();
    assert_eq!(transactional, [true, false, false]);
    assert_eq!(
        f.scalar("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'cities_idx'::regclass")
            .await,
        "true"
    );
    assert!(f.history().await.iter().all(|r| r.6));
}

#[tokio::test]
async fn the_cic_case_of_parser_cases_needs_mixed_and_then_completes() {
    let f = Fixture::new().await;
    f.write("V1__cic.sql", "CREATE TABLE cities (name text, population int, altitude int);\nCREATE INDEX CONCURRENTLY cities_idx ON cities(name, population, altitude);");
    let message = migrate::migrate(&f.client, &f.config(), &())
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("even though mixed is false"), "{message}");
    migrate::migrate(&f.client, &f.config_with(&[("mixed", "true")]), &())
        .await
        .unwrap();
    assert!(f.exists("cities_idx").await);
}

#[tokio::test]
async fn a_failed_non_transactional_migration_blocks_migrate_until_repair() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    f.write("V2__idx.sql", "CREATE INDEX CONCURRENTLY t_b_idx ON t (b);");
    let failure = statement_failure(migrate::migrate(&f.client, &f.config(), &()).await.unwrap_err());
    assert!(!failure.transactional && failure.to_string().contains("pccdb repair"));
    let history = f.history().await;
    assert_eq!(
        (history[1].1.as_deref(), history[1].6),
        (Some("2"), false),
        "a failed row is recorded"
    );
    f.write("V2__idx.sql", "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);");
    let err = migrate::migrate(&f.client, &f.config(), &()).await.unwrap_err();
    assert!(
        err.to_string().contains("failed migration") && err.to_string().contains("pccdb repair"),
        "{err}"
    );
    let repaired = migrate::repair(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(repaired.removed_failed.len(), 1);
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert!(f.history().await.iter().all(|r| r.6));
}

#[tokio::test]
async fn an_edited_file_fails_validation_naming_version_and_script_and_repair_realigns_it() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    f.write("V2__u.sql", "CREATE TABLE u (a int);");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert!(migrate::validate(&f.client, &f.config()).await.unwrap().valid);
    f.write("V2__u.sql", "CREATE TABLE u (a int, b int);");
    let report = migrate::validate(&f.client, &f.config()).await.unwrap();
    assert!(!report.valid);
    assert_eq!(report.errors.len(), 1);
    let e = &report.errors[0];
    assert_eq!(
        (e.code, e.version.as_deref(), e.script.as_str()),
        (migrate::ErrorCode::ChecksumMismatch, Some("2"), "V2__u.sql")
    );
    assert!(
        e.message.contains("version 2") && e.message.contains("V2__u.sql"),
        "{}",
        e.message
    );
    assert!(
        migrate::migrate(&f.client, &f.config(), &())
            .await
            .unwrap_err()
            .is_validation()
    );
    let repaired = migrate::repair(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(repaired.realigned, ["version 2 (V2__u.sql)"]);
    assert!(migrate::validate(&f.client, &f.config()).await.unwrap().valid);
    assert_eq!(f.history().await[1].5, Some(checksum("CREATE TABLE u (a int, b int);")));
}

#[tokio::test]
async fn a_deleted_file_is_missing_until_repair_marks_it_deleted() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    f.write("V2__u.sql", "CREATE TABLE u (a int);");
    f.write("V3__w.sql", "CREATE TABLE w (a int);");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    f.remove("V2__u.sql");
    let report = migrate::validate(&f.client, &f.config()).await.unwrap();
    assert_eq!(
        report.errors[0].code,
        migrate::ErrorCode::AppliedVersionedMigrationNotResolved
    );
    let repaired = migrate::repair(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(repaired.marked_deleted, ["version 2 (V2__u.sql)"]);
    assert_eq!(f.history().await.last().unwrap().3, "DELETE");
    assert!(migrate::validate(&f.client, &f.config()).await.unwrap().valid);
    let info = migrate::info(&f.client, &f.config()).await.unwrap();
    assert!(info.migrations.iter().any(|m| m.state == MigrationState::Deleted));
}

#[tokio::test]
async fn statements_of_every_kind_go_one_per_query() {
    let f = Fixture::new().await;
    // A multi-statement string sent as one query would run in one implicit transaction and
    // VACUUM would refuse; run statement by statement it works.
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    f.write("V2__vacuum.sql", "VACUUM t;\nVACUUM ANALYZE t;");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(f.history().await.len(), 2);
}

#[tokio::test]
async fn migrating_a_standby_is_refused_with_what_to_do() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    let replica = f.db.connect_replica().await;
    let err = migrate::migrate(&replica, &f.config(), &()).await.unwrap_err();
    assert!(matches!(err, Error::ReadOnly), "{err}");
    assert!(err.to_string().contains("targetServerType=primary"));
}

#[tokio::test]
async fn a_migration_of_thousands_of_statements_is_pipelined_in_order_and_fails_at_the_right_line() {
    let f = Fixture::new().await;
    let mut sql = String::from("CREATE TABLE seq (n int PRIMARY KEY, prev int);\n");
    for n in 1..=1500 {
        // Each row refers to the previous one, so any reordering would fail the check below.
        sql.push_str(&format!("INSERT INTO seq SELECT {n}, max(n) FROM seq;\n"));
    }
    f.write("V1__many.sql", &sql);
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert_eq!(
        f.scalar("SELECT count(*) FILTER (WHERE prev IS DISTINCT FROM n - 1 AND n > 1)::text FROM seq")
            .await,
        "0"
    );
    let mut bad = String::new();
    for n in 1..=1200 {
        bad.push_str(&format!("INSERT INTO seq VALUES ({}, 0);\n", 10_000 + n));
    }
    bad.push_str("INSERT INTO seq VALUES (10001, 0);\n");
    f.write("V2__duplicate.sql", &bad);
    let err = migrate::migrate(&f.client, &f.config(), &()).await.unwrap_err();
    let Error::Statement(failure) = err else {
        panic!("expected a statement failure")
    };
    assert_eq!((failure.line, failure.code.as_deref()), (Some(1201), Some("23505")));
    assert_eq!(f.scalar("SELECT count(*)::text FROM seq WHERE n > 10000").await, "0");
}

#[tokio::test]
async fn a_foreign_table_named_like_the_history_is_an_error_not_a_panic() {
    let f = Fixture::new().await;
    f.client
        .batch_execute(
            "CREATE TABLE flyway_schema_history (installed_rank int, version text, description text, type text, \
             script text, checksum text, installed_on timestamp, installed_by text, execution_time int, success bool); \
             INSERT INTO flyway_schema_history VALUES (1, '1', 'x', 'SQL', 'V1__x.sql', 'abc', now(), 'me', 0, true)",
        )
        .await
        .unwrap();
    let err = migrate::info(&f.client, &f.config()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidHistory { rank: 1, .. }), "{err}");
}

#[tokio::test]
async fn a_failure_inside_a_pipelined_chain_keeps_exactly_the_migrations_before_it() {
    let f = Fixture::new().await;
    f.write("V1__a.sql", "CREATE TABLE a (x int);");
    f.write("V2__b.sql", "CREATE TABLE b (x int);");
    f.write(
        "V3__bad.sql",
        "CREATE TABLE c (x int);\nINSERT INTO c VALUES ('not a number');",
    );
    f.write("V4__d.sql", "CREATE TABLE d (x int);");
    f.write("V5__e.sql", "CREATE TABLE e (x int);");
    let Error::Statement(failure) = migrate::migrate(&f.client, &f.config(), &()).await.unwrap_err() else {
        panic!("expected a statement failure")
    };
    assert_eq!(
        (failure.script.as_str(), failure.line, failure.code.as_deref()),
        ("V3__bad.sql", Some(2), Some("22P02"))
    );
    assert_eq!(
        f.history()
            .await
            .iter()
            .map(|r| r.1.clone().unwrap())
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
    for (table, exists) in [("a", true), ("b", true), ("c", false), ("d", false), ("e", false)] {
        assert_eq!(f.exists(table).await, exists, "{table}");
    }
    f.write("V3__bad.sql", "CREATE TABLE c (x int);");
    assert_eq!(
        migrate::migrate(&f.client, &f.config(), &())
            .await
            .unwrap()
            .migrations_executed,
        3
    );
}

#[tokio::test]
async fn a_bad_copy_in_a_chain_stops_it_at_that_migration() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int, b text);");
    f.write("V2__copy.sql", "COPY t (a, b) FROM stdin;\n1\tone\n2\ttwo\n\\.\n");
    f.write(
        "V3__badcopy.sql",
        "INSERT INTO t VALUES (3, 'three');\nCOPY t (a, b) FROM stdin;\nfour\t4\n\\.\n",
    );
    f.write("V4__after.sql", "INSERT INTO t VALUES (5, 'five');");
    let Error::Statement(failure) = migrate::migrate(&f.client, &f.config(), &()).await.unwrap_err() else {
        panic!("expected a statement failure")
    };
    assert_eq!((failure.script.as_str(), failure.line), ("V3__badcopy.sql", Some(2)));
    assert_eq!(
        f.scalar("SELECT string_agg(a::text, ',' ORDER BY a) FROM t").await,
        "1,2"
    );
    assert_eq!(f.history().await.len(), 2);
    let status = f.scalar("SELECT 'connection usable'").await;
    assert_eq!(status, "connection usable");
}
