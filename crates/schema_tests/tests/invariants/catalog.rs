//! Invariants read from pg_catalog, and the places where a table and a constraint repeat the same facts
//! (size band thresholds, single-per-client address types, the status graph) checked against each other.

use crate::support::{Db, expect_error, new_client};

#[tokio::test]
async fn everything_lives_in_client_api_and_is_owned_by_the_owner_role() {
    let db = Db::new().await;
    let admin = db.admin().await;
    let foreign: Vec<String> = admin
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'S', 'v', 'm')
             UNION ALL
             SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
            &[],
        )
        .await
        .expect("catalog")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(foreign.is_empty(), "objects outside client_api: {foreign:?}");
    let not_owned: Vec<String> = admin
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'client_api' AND pg_get_userbyid(c.relowner) <> $1",
            &[&db.owner_role()],
        )
        .await
        .expect("catalog")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(not_owned.is_empty(), "not owned by {}: {not_owned:?}", db.owner_role());
}

#[tokio::test]
async fn every_foreign_key_to_a_data_table_is_backed_by_an_index() {
    let db = Db::new().await;
    let admin = db.admin().await;
    // Reference tables are never deleted from, so FKs to them need no index on the referencing side.
    let unindexed: Vec<String> = admin
        .query(
            "SELECT con.conname::text FROM pg_constraint con
               JOIN pg_namespace n ON n.oid = con.connamespace AND n.nspname = 'client_api'
              WHERE con.contype = 'f'
                AND con.confrelid IN ('client_api.client'::regclass, 'client_api.contact'::regclass)
                AND NOT EXISTS (
                    SELECT 1 FROM pg_index i
                     WHERE i.indrelid = con.conrelid
                       AND (i.indkey::int2[])[0:array_length(con.conkey, 1) - 1] @> con.conkey
                       AND (i.indkey::int2[])[0:array_length(con.conkey, 1) - 1] <@ con.conkey)",
            &[],
        )
        .await
        .expect("catalog")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        unindexed.is_empty(),
        "foreign keys without a leading index: {unindexed:?}"
    );
}

#[tokio::test]
async fn size_band_column_agrees_with_the_size_band_table() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let bands = c
        .query(
            "SELECT band, min_employees, max_employees FROM client_api.size_band",
            &[],
        )
        .await
        .expect("bands");
    assert_eq!(bands.len(), 4);
    for band in bands {
        let name: String = band.get(0);
        let min: i32 = band.get(1);
        let max: Option<i32> = band.get(2);
        for employees in [Some(min), max, max.map(|m| m + 1)] {
            let Some(employees) = employees else { continue };
            let derived: Option<String> = c
                .query_one(
                    "INSERT INTO client_api.client (display_name, legal_name, employee_count) VALUES ('S', 'S', $1) RETURNING size_band",
                    &[&employees],
                )
                .await
                .expect("insert")
                .get(0);
            let expected: String = c
                .query_one(
                    "SELECT band FROM client_api.size_band WHERE $1 BETWEEN min_employees AND coalesce(max_employees, $1)",
                    &[&employees],
                )
                .await
                .expect("band")
                .get(0);
            assert_eq!(
                derived.as_deref(),
                Some(expected.as_str()),
                "{employees} employees ({name})"
            );
        }
    }
}

#[tokio::test]
async fn single_per_client_address_types_agree_with_the_unique_index() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let id = new_client(&c, "Addressed", None).await;
    let types = c
        .query(
            "SELECT address_type, single_per_client FROM client_api.address_type",
            &[],
        )
        .await
        .expect("types");
    for row in types {
        let kind: String = row.get(0);
        let single: bool = row.get(1);
        let insert = "INSERT INTO client_api.client_address (client_id, address_type, line1, city, postal_code, country_code) \
                      VALUES ($1, $2, '1 High Street', 'Oxford', 'OX1 1AA', 'GB')";
        c.execute(insert, &[&id, &kind]).await.expect("first address of a type");
        let second = c.execute(insert, &[&id, &kind]).await;
        if single {
            expect_error(second, "23505", Some("client_address_single_type_key"));
        } else {
            second.unwrap_or_else(|e| panic!("a second {kind} address: {e}"));
        }
    }
}

#[tokio::test]
async fn status_changes_follow_the_documented_graph() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let allowed: Vec<(String, String)> = c
        .query(
            "SELECT from_status, to_status FROM client_api.client_status_transition ORDER BY 1, 2",
            &[],
        )
        .await
        .expect("graph")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = [
        ("active", "exited"),
        ("active", "suspended"),
        ("exited", "prospect"),
        ("onboarding", "active"),
        ("onboarding", "exited"),
        ("onboarding", "prospect"),
        ("prospect", "exited"),
        ("prospect", "onboarding"),
        ("suspended", "active"),
        ("suspended", "exited"),
    ];
    assert_eq!(
        allowed,
        expected.map(|(a, b)| (a.to_owned(), b.to_owned())),
        "docs/SCHEMA.md draws this graph"
    );
    let statuses = ["prospect", "onboarding", "active", "suspended", "exited"];
    for from in statuses {
        for to in statuses {
            let id: uuid::Uuid = c
                .query_one("INSERT INTO client_api.client (display_name, legal_name, status) VALUES ('S', 'S', $1) RETURNING id", &[&from])
                .await
                .expect("any initial status")
                .get(0);
            let result = c
                .execute("UPDATE client_api.client SET status = $1 WHERE id = $2", &[&to, &id])
                .await;
            if from == to || expected.contains(&(from, to)) {
                result.unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
            } else {
                expect_error(result, "PC005", Some("client_status_transition"));
            }
        }
    }
}

#[tokio::test]
async fn the_engine_records_flyway_history_in_client_api_and_a_second_run_is_a_no_op() {
    let db = Db::new().await;
    let admin = db.admin().await;
    let rows = admin
        .query(
            "SELECT coalesce(version, 'R'), script, success, installed_by FROM client_api.flyway_schema_history \
              WHERE type = 'SQL' ORDER BY installed_rank",
            &[],
        )
        .await
        .expect("history table in client_api");
    let files = schema_tests::migrations::load(&schema_tests::migrations_dir()).expect("migrations");
    let scripts: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    let expected: Vec<String> = files.iter().map(|f| f.file_name.clone()).collect();
    assert_eq!(scripts, expected, "applied in Flyway order");
    assert!(rows.iter().all(|r| r.get::<_, bool>(2)), "every migration succeeded");
    assert!(
        rows.iter().all(|r| r.get::<_, String>(3) == db.owner_role()),
        "installed as the owner role"
    );
    let checksums: Vec<Option<i32>> = admin
        .query(
            "SELECT checksum FROM client_api.flyway_schema_history WHERE type = 'SQL' ORDER BY installed_rank",
            &[],
        )
        .await
        .expect("checksums")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        checksums,
        files.iter().map(|f| Some(f.checksum)).collect::<Vec<_>>(),
        "Flyway checksums"
    );
    let again = db.db.migrate().await.expect("second run");
    assert_eq!(again.migrations_executed, 0);
}
