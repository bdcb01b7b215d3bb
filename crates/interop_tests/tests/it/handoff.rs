//! Hand-offs both ways on one database: one tool applies the first part, the other validates it
//! clean and applies the rest, the first validates clean, shows the same info and applies a newer
//! version on top. Starting with real Flyway and starting with pccdb end in the same history and
//! the same schema.

use interop_tests::db::HistoryRow;
use interop_tests::flyway;
use test_support::TestDatabase;

use crate::common::{Migrations, assert_flyway_valid, assert_same, assert_same_info, config, history, pccdb};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tool {
    Flyway,
    Pccdb,
}

async fn migrate(tool: Tool, cfg: &flyway::FlywayConfig) -> u32 {
    match tool {
        Tool::Flyway => {
            flyway::migrate(cfg)
                .await
                .expect("real Flyway migrates")
                .migrations_executed
        }
        Tool::Pccdb => {
            let run = crate::common::pccdb_json("migrate", cfg);
            u32::try_from(run["migrationsExecuted"].as_u64().expect("migrationsExecuted")).expect("count")
        }
    }
}

async fn validate(tool: Tool, cfg: &flyway::FlywayConfig) {
    match tool {
        Tool::Flyway => assert_flyway_valid(cfg).await,
        Tool::Pccdb => {
            pccdb("validate", cfg).expect(0);
        }
    }
}

async fn hand_off(first: Tool) -> (TestDatabase, Vec<HistoryRow>) {
    let other = if first == Tool::Flyway {
        Tool::Pccdb
    } else {
        Tool::Flyway
    };
    let m = Migrations::new();
    m.write(
        "V1__accounts.sql",
        "CREATE TABLE account (id bigint PRIMARY KEY, name text NOT NULL);\n",
    );
    m.write("V2__seed.sql", "INSERT INTO account VALUES (1, 'first');\n");
    m.write(
        "R__account_names.sql",
        "CREATE OR REPLACE VIEW account_names AS SELECT name FROM account;\n",
    );
    let db = test_support::database().await;
    let cfg = config(&db, m.path());

    assert_eq!(migrate(first, &cfg).await, 3, "{first:?} applies the first part");
    validate(other, &cfg).await;

    m.write(
        "V3__balance.sql",
        "ALTER TABLE account ADD COLUMN balance numeric NOT NULL DEFAULT 0;\n",
    );
    m.write(
        "V4__index.sql",
        "CREATE INDEX CONCURRENTLY account_name ON account (name);\n",
    );
    m.write("V4__index.sql.conf", "executeInTransaction=false\n");
    m.write(
        "R__account_names.sql",
        "CREATE OR REPLACE VIEW account_names AS SELECT name, balance FROM account;\n",
    );
    assert_eq!(migrate(other, &cfg).await, 3, "{other:?} applies the rest");
    validate(first, &cfg).await;
    let lines = assert_same_info(&cfg).await;
    assert!(
        lines.iter().all(|l| l.5 == "Success" || l.5 == "Superseded"),
        "{lines:#?}"
    );

    m.write(
        "V5__closed.sql",
        "ALTER TABLE account ADD COLUMN closed boolean NOT NULL DEFAULT false;\n",
    );
    assert_eq!(
        migrate(first, &cfg).await,
        1,
        "{first:?} applies a newer version on top"
    );
    validate(other, &cfg).await;
    assert_same_info(&cfg).await;
    let rows = history(&db).await;
    (db, rows)
}

#[tokio::test]
async fn flyway_then_pccdb_and_pccdb_then_flyway_end_alike() {
    let (flyway_first, a) = hand_off(Tool::Flyway).await;
    let (pccdb_first, b) = hand_off(Tool::Pccdb).await;
    assert_eq!(a.len(), 7, "{a:#?}");
    assert_same(&a, &b, &flyway_first, &pccdb_first);
}
