//! The demo portfolio loader (embedded default, benchmark): it skips the schema's triggers for speed, so these
//! tests prove its safety net. A load leaves a book the API serves and `verify` accepts; `verify` catches each
//! kind of damage a trigger would have prevented (wrong derived hierarchy or risk columns, a broken foreign
//! key); and a load whose verification fails leaves nothing behind.

use client_api::embedded::demo::{self, DemoError};
use http::StatusCode;
use tokio_postgres::Client;

use crate::support::TestApp;

async fn count(client: &Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// Runs `sql` with the triggers off, as the loader does, and commits: damage no trigger stops.
async fn damage(client: &Client, sql: &str) {
    client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL session_replication_role = replica; {sql}; COMMIT"
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// Moves a leaf under another client of its parent's depth, triggers off: its path, root and depth (which pass
/// the row's own check constraints) no longer follow its parent. Returns (leaf, its real parent).
async fn misplace_a_leaf(client: &Client) -> (uuid::Uuid, uuid::Uuid) {
    let row = client
        .query_one(
            "SELECT c.id, c.parent_id, q.id FROM client_api.client AS c \
               JOIN client_api.client AS p ON p.id = c.parent_id \
               JOIN client_api.client AS q ON q.depth = p.depth AND q.id <> p.id \
              WHERE NOT EXISTS (SELECT 1 FROM client_api.client AS k WHERE k.parent_id = c.id) \
              ORDER BY c.id, q.id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (leaf, parent, other): (uuid::Uuid, uuid::Uuid, uuid::Uuid) = (row.get(0), row.get(1), row.get(2));
    damage(
        client,
        &format!("UPDATE client_api.client SET parent_id = '{other}' WHERE id = '{leaf}'"),
    )
    .await;
    (leaf, parent)
}

#[track_caller]
fn assert_inconsistent(result: Result<(), DemoError>, check_contains: &str, expected_rows: i64) {
    match result {
        Err(DemoError::Inconsistent { check, rows }) => {
            assert!(check.contains(check_contains), "check `{check}`");
            assert_eq!(rows, expected_rows, "check `{check}`");
        }
        other => panic!("expected an inconsistency naming `{check_contains}`, got {other:?}"),
    }
}

#[tokio::test]
async fn a_loaded_demo_book_is_consistent_and_served() {
    let app = TestApp::new().await;
    let admin = app.db.connect().await;
    let report = demo::load(&admin, 400, 7).await.expect("loading the demo book");
    assert_eq!(report.clients, 400);
    assert_eq!(count(&admin, "client_api.client").await, 400);
    assert_eq!(count(&admin, "client_api.contact").await, report.contacts);
    assert_eq!(count(&admin, "client_api.risk_assessment").await, report.assessments);
    assert!(report.contacts > 0 && report.assessments > 0, "{report:?}");
    demo::verify(&admin).await.expect("a fresh load verifies");

    // The deepest loaded client, read back through the API with the hierarchy the loader computed.
    let row = admin
        .query_one(
            "SELECT id::text, depth, root_id::text FROM client_api.client ORDER BY depth DESC, id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (id, depth, root): (String, i16, String) = (row.get(0), row.get(1), row.get(2));
    assert!(depth >= 1, "the demo book has groups");
    // Loaded behind the service's back: no consistency token, so let the replica catch up first.
    app.replica_replayed().await;
    let reply = app.get(&format!("/v1/clients/{id}/ancestors")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let text = reply.body.to_string();
    assert!(text.contains(&root), "the root {root} is among the ancestors: {text}");
    assert_eq!(app.get(&format!("/v1/clients/{id}")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn verify_names_each_kind_of_damage_the_skipped_triggers_would_have_prevented() {
    let app = TestApp::new().await;
    let admin = app.db.connect().await;
    demo::load(&admin, 200, 11).await.expect("loading the demo book");

    let (leaf, parent) = misplace_a_leaf(&admin).await;
    assert_inconsistent(demo::verify(&admin).await, "hierarchy", 1);
    damage(
        &admin,
        &format!("UPDATE client_api.client SET parent_id = '{parent}' WHERE id = '{leaf}'"),
    )
    .await;
    demo::verify(&admin).await.expect("repaired");

    damage(
        &admin,
        "UPDATE client_api.client SET risk_category = NULL, risk_assessed_at = NULL, risk_next_review_due = NULL \
         WHERE id IN (SELECT client_id FROM client_api.risk_assessment ORDER BY client_id LIMIT 1)",
    )
    .await;
    assert_inconsistent(demo::verify(&admin).await, "risk", 1);
}

#[tokio::test]
async fn verify_reads_every_foreign_key_from_the_catalog() {
    let app = TestApp::new().await;
    let admin = app.db.connect().await;
    demo::load(&admin, 100, 3).await.expect("loading the demo book");
    // A link to a contact that does not exist: the foreign-key trigger would have refused it.
    let (link, ghost) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    damage(
        &admin,
        &format!(
            "INSERT INTO client_api.client_contact (id, client_id, contact_id, role, valid_from, created_by, updated_by) \
             SELECT '{link}', id, '{ghost}', 'other', current_date, 'test', 'test' \
               FROM client_api.client ORDER BY id LIMIT 1"
        ),
    )
    .await;
    assert_inconsistent(demo::verify(&admin).await, "foreign key", 1);
}

#[tokio::test]
async fn a_load_that_fails_verification_leaves_nothing() {
    let app = TestApp::new().await;
    let admin = app.db.connect().await;
    demo::load(&admin, 50, 5).await.expect("loading the demo book");
    let before = [
        count(&admin, "client_api.client").await,
        count(&admin, "client_api.contact").await,
        count(&admin, "client_api.risk_assessment").await,
    ];
    // Damage already in the book makes the next batch's verification fail: that batch must roll back whole.
    misplace_a_leaf(&admin).await;
    let batch = demo::Batch {
        first_serial: 1_000,
        count: 80,
        seed: 9,
        one_group: false,
    };
    let error = demo::load_batch(&admin, &batch).await.expect_err("verification fails");
    assert!(matches!(error, DemoError::Inconsistent { .. }), "{error}");
    assert!(error.to_string().contains("rolled back"), "{error}");
    let after = [
        count(&admin, "client_api.client").await,
        count(&admin, "client_api.contact").await,
        count(&admin, "client_api.risk_assessment").await,
    ];
    assert_eq!(before, after, "nothing of the failed batch stays");
    // Another session sees the same, and this one has left the loading transaction: its SET LOCAL is gone.
    let other = app.db.connect().await;
    assert_eq!(count(&other, "client_api.client").await, before[0]);
    let role: String = admin
        .query_one("SHOW session_replication_role", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        role, "origin",
        "the failed load left the session inside its transaction"
    );
}
