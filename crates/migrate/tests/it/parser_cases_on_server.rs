//! Every case of parser-cases.md, applied by the engine to a real server: each must run and
//! leave what the case says (the splitting itself is checked in the splitter's unit tests).

use crate::common;

#[path = "../data/parser_cases.rs"]
#[allow(dead_code)]
mod cases;

use common::Fixture;

#[tokio::test]
async fn every_parser_case_runs_on_a_real_server() {
    for case in cases::CASES {
        let f = Fixture::new().await;
        if !case.setup.is_empty() {
            f.write("V1__setup.sql", case.setup);
        }
        f.write("V2__case.sql", case.script);
        let report = migrate::migrate(&f.client, &f.config(), &())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!(
            report.migrations.last().is_some_and(|m| m.script == "V2__case.sql"),
            "{}",
            case.name
        );
        if let Some((query, expected)) = case.check {
            assert_eq!(f.scalar(query).await, expected, "{}", case.name);
        }
    }
}

#[tokio::test]
async fn vacuum_mixed_into_a_migration_fails_unless_mixed_and_then_runs() {
    let f = Fixture::new().await;
    f.write(
        "V1__vacuum.sql",
        "CREATE TABLE t (qty INT, price INT);\nINSERT INTO t VALUES(3, 50);\nVACUUM t;",
    );
    let message = migrate::migrate(&f.client, &f.config(), &())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("V1__vacuum.sql:3: detected both transactional and non-transactional"),
        "{message}"
    );
    assert!(!f.exists("t").await);
    migrate::migrate(&f.client, &f.config_with(&[("mixed", "true")]), &())
        .await
        .unwrap();
    assert_eq!(f.scalar("SELECT qty * price FROM t").await, "150");
}

#[tokio::test]
async fn alter_type_add_value_runs_inside_a_transaction_on_this_server() {
    let f = Fixture::new().await;
    f.write("V1__type.sql", "CREATE SCHEMA myschema;\nCREATE TYPE \"myschema\".\"colors\" AS ENUM ('red');\nALTER TYPE \"myschema\".\"colors\" ADD VALUE 'orange' AFTER 'red';\nALTER TYPE \"myschema\".\"colors\" RENAME VALUE 'red' TO 'crimson';");
    let report = migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    assert!(report.migrations[0].transactional);
    assert_eq!(
        f.scalar("SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum")
            .await,
        "crimson,orange"
    );
}
