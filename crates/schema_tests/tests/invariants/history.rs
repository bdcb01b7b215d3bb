//! The change history (V10): every insert, update, move, soft delete, restore and delete of the five tracked
//! tables is recorded in the same transaction with its actor, request id and old/new values; nothing is
//! recorded for a write that does not happen; nobody but the retention function removes an entry and nobody
//! changes one; client_as_of() rebuilds every past state of a client exactly.

use serde_json::{Value, json};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::support::{Db, describe, expect_error, new_client};

/// One entry as these tests look at it.
#[derive(Debug)]
struct Entry {
    entity: String,
    entity_id: Uuid,
    client_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    operation: String,
    actor: String,
    request_id: Option<String>,
    changes: Value,
    stamps: Value,
    fields: Vec<String>,
}

/// The entries matching `filter` (SQL over change_history with `$1`), oldest first.
async fn entries(c: &Client, filter: &str, id: Uuid) -> Vec<Entry> {
    c.query(
        &format!(
            "SELECT entity, entity_id, client_id, contact_id, operation, actor, request_id, changes, stamps, fields \
             FROM client_api.change_history WHERE {filter} ORDER BY id"
        ),
        &[&id],
    )
    .await
    .unwrap_or_else(|e| panic!("reading the history: {}", describe(&e)))
    .iter()
    .map(|r| Entry {
        entity: r.get(0),
        entity_id: r.get(1),
        client_id: r.get(2),
        contact_id: r.get(3),
        operation: r.get(4),
        actor: r.get(5),
        request_id: r.get(6),
        changes: r.get(7),
        stamps: r.get(8),
        fields: r.get(9),
    })
    .collect()
}

/// The entries of one entity.
async fn of_entity(c: &Client, id: Uuid) -> Vec<Entry> {
    entries(c, "entity_id = $1", id).await
}

/// `{"old": old, "new": new}`.
fn change(old: Value, new: Value) -> Value {
    Value::Object(serde_json::Map::from_iter([
        ("old".to_owned(), old),
        ("new".to_owned(), new),
    ]))
}

/// Runs `sql` in its own transaction acting for `actor` in request `request_id`, as the service does.
async fn in_request(
    c: &Client,
    actor: &str,
    request_id: &str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) {
    c.batch_execute("BEGIN").await.expect("begin");
    c.execute(
        "SELECT pg_catalog.set_config('pcc.actor', $1, true), pg_catalog.set_config('pcc.request_id', $2, true)",
        &[&actor, &request_id],
    )
    .await
    .expect("acting for the request");
    c.execute(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
    c.batch_execute("COMMIT").await.expect("commit");
}

/// A timestamp column as the history writes it (RFC 3339, UTC, trimmed fraction).
async fn wire_time(c: &Client, sql: &str, id: Uuid) -> Value {
    let text: String = c
        .query_one(
            &format!("SELECT client_api.rfc3339(({sql})) FROM client_api.client WHERE id = $1"),
            &[&id],
        )
        .await
        .expect("timestamp")
        .get(0);
    assert!(text.ends_with('Z') && text.contains('T'), "{text}");
    Value::String(text)
}

#[tokio::test]
async fn every_change_of_a_client_is_recorded_with_actor_request_and_values() {
    let db = Db::new().await;
    let c = db.service("nobody").await;
    let id = Uuid::now_v7();
    in_request(
        &c,
        "alice",
        "req-1",
        "INSERT INTO client_api.client (id, display_name, legal_name, employee_count, revenue_amount, revenue_currency) \
         VALUES ($1, 'Acme', 'Acme Ltd', 12, 1250000.50, 'EUR')",
        &[&id],
    )
    .await;
    let history = of_entity(&c, id).await;
    assert_eq!(history.len(), 1, "{history:?}");
    let created = &history[0];
    assert_eq!(
        (
            created.entity.as_str(),
            created.operation.as_str(),
            created.actor.as_str()
        ),
        ("client", "insert", "alice")
    );
    assert_eq!(created.request_id.as_deref(), Some("req-1"));
    assert_eq!((created.client_id, created.contact_id), (Some(id), None));
    let path = format!("/{id}/");
    assert_eq!(
        created.changes,
        json!({
            "display_name": change(Value::Null, json!("Acme")),
            "legal_name": change(Value::Null, json!("Acme Ltd")),
            "status": change(Value::Null, json!("prospect")),
            "root_id": change(Value::Null, json!(id.to_string())),
            "path": change(Value::Null, json!(path)),
            "depth": change(Value::Null, json!(0)),
            "employee_count": change(Value::Null, json!(12)),
            // Amounts as the API writes them: exact decimal strings.
            "revenue_amount": change(Value::Null, json!("1250000.50")),
            "revenue_currency": change(Value::Null, json!("EUR")),
        }),
        "NULL columns, generated columns (size_band, search_vector) and audit columns are not changes"
    );
    assert_eq!(
        created.fields,
        [
            "depth",
            "display_name",
            "employee_count",
            "legal_name",
            "path",
            "revenue_amount",
            "revenue_currency",
            "root_id",
            "status"
        ]
    );
    let created_at = wire_time(&c, "created_at", id).await;
    assert_eq!(
        created.stamps,
        json!({
            "version": change(Value::Null, json!(1)),
            "updated_at": change(Value::Null, created_at.clone()),
            "updated_by": change(Value::Null, json!("alice")),
        })
    );

    // An update records what changed and nothing else; without a request id the entry has none.
    let bob = db.service("bob").await;
    bob.execute(
        "UPDATE client_api.client SET display_name = 'Acme Corp', employee_count = 60, legal_name = legal_name \
         WHERE id = $1",
        &[&id],
    )
    .await
    .expect("update");
    // Writes that change nothing record nothing (and keep the version).
    bob.execute(
        "UPDATE client_api.client SET display_name = 'Acme Corp', owner = NULL WHERE id = $1",
        &[&id],
    )
    .await
    .expect("no-op");
    let history = of_entity(&c, id).await;
    assert_eq!(history.len(), 2, "{history:?}");
    let updated = &history[1];
    assert_eq!(
        (
            updated.operation.as_str(),
            updated.actor.as_str(),
            updated.request_id.as_deref()
        ),
        ("update", "bob", None)
    );
    assert_eq!(
        updated.changes,
        json!({
            "display_name": change(json!("Acme"), json!("Acme Corp")),
            "employee_count": change(json!(12), json!(60)),
        })
    );
    let updated_at = wire_time(&c, "updated_at", id).await;
    assert_eq!(
        updated.stamps,
        json!({
            "version": change(json!(1), json!(2)),
            "updated_at": change(created_at, updated_at),
            "updated_by": change(json!("alice"), json!("bob")),
        })
    );

    // Soft delete and restore.
    bob.query("SELECT id FROM client_api.soft_delete_client($1)", &[&id])
        .await
        .expect("soft delete");
    let deleted_at = wire_time(&c, "deleted_at", id).await;
    bob.query("SELECT id FROM client_api.restore_client($1)", &[&id])
        .await
        .expect("restore");
    let history = of_entity(&c, id).await;
    let operations: Vec<&str> = history.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(operations, ["insert", "update", "soft_delete", "restore"]);
    assert_eq!(
        history[2].changes,
        json!({
            "deleted_at": change(Value::Null, deleted_at.clone()),
            "deleted_by": change(Value::Null, json!("bob")),
        })
    );
    assert_eq!(
        history[3].changes,
        json!({
            "deleted_at": change(deleted_at, Value::Null),
            "deleted_by": change(json!("bob"), Value::Null),
        })
    );

    // A hard delete (possible only for a client nothing references) keeps its history and records the row
    // it removed.
    let temp = new_client(&c, "Temp", None).await;
    c.execute("DELETE FROM client_api.client WHERE id = $1", &[&temp])
        .await
        .expect("hard delete");
    let history = of_entity(&c, temp).await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[1].operation, "delete");
    assert_eq!(history[1].actor, "nobody");
    assert_eq!(history[1].changes["display_name"], change(json!("Temp"), Value::Null));
    assert_eq!(history[1].stamps["version"], change(json!(1), Value::Null));
}

#[tokio::test]
async fn a_move_is_recorded_on_the_client_and_on_every_descendant_it_carries() {
    let db = Db::new().await;
    let c = db.service("mover").await;
    let group = new_client(&c, "Group", None).await;
    let company = new_client(&c, "Company", None).await;
    let subsidiary = new_client(&c, "Subsidiary", Some(company)).await;
    c.query("SELECT id FROM client_api.move_client($1, $2)", &[&company, &group])
        .await
        .expect("move");
    let moved = of_entity(&c, company).await;
    let last = moved.last().expect("entries");
    assert_eq!(last.operation, "move");
    assert_eq!(
        last.changes,
        json!({
            "parent_id": change(Value::Null, json!(group.to_string())),
            "root_id": change(json!(company.to_string()), json!(group.to_string())),
            "depth": change(json!(0), json!(1)),
            "path": change(json!(format!("/{company}/")), json!(format!("/{group}/{company}/"))),
        })
    );
    // The descendant changed root, depth and path, not parent: an update of its own, in its own history.
    let carried = of_entity(&c, subsidiary).await;
    let last = carried.last().expect("entries");
    assert_eq!((last.operation.as_str(), last.actor.as_str()), ("update", "mover"));
    assert_eq!(last.fields, ["depth", "path", "root_id"]);
    assert_eq!(last.stamps["version"], change(json!(1), json!(2)));
}

async fn new_contact(c: &Client, family: &str) -> Uuid {
    c.query_one(
        "INSERT INTO client_api.contact (family_name) VALUES ($1) RETURNING id",
        &[&family],
    )
    .await
    .expect("contact")
    .get(0)
}

#[tokio::test]
async fn addresses_contacts_links_and_assessments_are_recorded_under_their_client_and_contact() {
    let db = Db::new().await;
    let c = db.service("clerk").await;
    let client = new_client(&c, "Acme", None).await;
    let address: Uuid = c
        .query_one(
            "INSERT INTO client_api.client_address (client_id, address_type, line1, city, country_code) \
             VALUES ($1, 'registered', '1 Main St', 'Dublin', 'IE') RETURNING id",
            &[&client],
        )
        .await
        .expect("address")
        .get(0);
    c.execute(
        "UPDATE client_api.client_address SET city = 'Cork' WHERE id = $1",
        &[&address],
    )
    .await
    .expect("address update");
    c.execute("DELETE FROM client_api.client_address WHERE id = $1", &[&address])
        .await
        .expect("address delete");
    let history = of_entity(&c, address).await;
    let operations: Vec<(&str, &str)> = history
        .iter()
        .map(|e| (e.entity.as_str(), e.operation.as_str()))
        .collect();
    assert_eq!(
        operations,
        [("address", "insert"), ("address", "update"), ("address", "delete")]
    );
    assert!(
        history
            .iter()
            .all(|e| e.client_id == Some(client) && e.contact_id.is_none())
    );
    assert_eq!(
        history[1].changes,
        json!({"city": change(json!("Dublin"), json!("Cork"))})
    );
    assert_eq!(history[2].changes["line1"], change(json!("1 Main St"), Value::Null));

    let person = new_contact(&c, "Lovelace").await;
    c.execute(
        "UPDATE client_api.contact SET email = 'ada@example.com' WHERE id = $1",
        &[&person],
    )
    .await
    .expect("contact update");
    let link: Uuid = c
        .query_one(
            "INSERT INTO client_api.client_contact (client_id, contact_id, role, valid_from) \
             VALUES ($1, $2, 'primary', '2026-01-01') RETURNING id",
            &[&client, &person],
        )
        .await
        .expect("link")
        .get(0);
    c.execute(
        "UPDATE client_api.client_contact SET valid_to = '2026-06-30' WHERE id = $1",
        &[&link],
    )
    .await
    .expect("end the link");
    c.execute("DELETE FROM client_api.client_contact WHERE id = $1", &[&link])
        .await
        .expect("unlink");
    c.execute(
        "UPDATE client_api.contact SET deleted_at = now() WHERE id = $1",
        &[&person],
    )
    .await
    .expect("soft delete the contact");
    // A contact belongs to no one client; its links belong to both.
    let of_contact = entries(&c, "contact_id = $1", person).await;
    let operations: Vec<(&str, &str)> = of_contact
        .iter()
        .map(|e| (e.entity.as_str(), e.operation.as_str()))
        .collect();
    assert_eq!(
        operations,
        [
            ("contact", "insert"),
            ("contact", "update"),
            ("contact_link", "insert"),
            ("contact_link", "update"),
            ("contact_link", "delete"),
            ("contact", "soft_delete"),
        ]
    );
    assert!(
        of_contact
            .iter()
            .all(|e| e.client_id == (e.entity == "contact_link").then_some(client))
    );
    assert_eq!(
        of_contact[1].changes,
        json!({"email": change(Value::Null, json!("ada@example.com"))})
    );
    assert_eq!(of_contact[2].entity_id, link);
    assert_eq!(
        of_contact[2].changes["valid_from"],
        change(Value::Null, json!("2026-01-01"))
    );
    assert_eq!(
        of_contact[3].changes,
        json!({"valid_to": change(Value::Null, json!("2026-06-30"))})
    );

    // An assessment is recorded, and so is the current risk it copies onto the client.
    c.execute(
        "INSERT INTO client_api.risk_assessment (client_id, rating, rationale) VALUES ($1, 'high', 'exposure')",
        &[&client],
    )
    .await
    .expect("assess");
    let of_client = entries(&c, "client_id = $1", client).await;
    let assessment = of_client
        .iter()
        .find(|e| e.entity == "risk_assessment")
        .expect("the assessment's entry");
    assert_eq!(assessment.operation, "insert");
    assert_eq!(assessment.changes["rating"], change(Value::Null, json!("high")));
    assert_eq!(assessment.changes["assessed_by"], change(Value::Null, json!("clerk")));
    assert!(
        !assessment.fields.iter().any(|f| f.starts_with("recorded_")),
        "recorded_* are the entry's own time and actor: {:?}",
        assessment.fields
    );
    assert_eq!(assessment.stamps, json!({}), "assessments have no version");
    let copied = of_client
        .iter()
        .find(|e| e.entity == "client" && e.operation == "update")
        .expect("the copy's entry");
    assert_eq!(
        copied.fields,
        ["risk_assessed_at", "risk_category", "risk_next_review_due"]
    );
    // The client's own history holds its entries and those of its rows, never a contact's own.
    assert!(of_client.iter().all(|e| e.entity != "contact"));
    assert_eq!(of_client.iter().filter(|e| e.entity == "contact_link").count(), 3);
}

#[tokio::test]
async fn a_write_that_does_not_commit_leaves_no_history() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let id = new_client(&c, "Acme", None).await;
    let count = "SELECT count(*) FROM client_api.change_history";
    let before: i64 = c.query_one(count, &[]).await.expect("count").get(0);
    c.batch_execute("BEGIN").await.expect("begin");
    c.execute(
        "UPDATE client_api.client SET display_name = 'Rolled back' WHERE id = $1",
        &[&id],
    )
    .await
    .expect("update");
    new_client(&c, "Never", None).await;
    c.batch_execute("ROLLBACK").await.expect("rollback");
    // A statement the schema refuses half way (the second row breaks a rule) records nothing either.
    let refused = c
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, lei) \
             VALUES ('Good', 'Good', NULL), ('Bad', 'Bad', 'NOT-A-LEI')",
            &[],
        )
        .await;
    expect_error(refused, "23514", Some("client_lei_valid"));
    let refused = c
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, hq_country) VALUES ('Good', 'Good', 'DE'), ('Bad', 'Bad', 'XX')",
            &[],
        )
        .await;
    expect_error(refused, "23503", Some("client_hq_country_fk"));
    let after: i64 = c.query_one(count, &[]).await.expect("count").get(0);
    assert_eq!(after, before);
}

#[tokio::test]
async fn the_history_cannot_be_written_changed_or_removed_by_anyone() {
    let db = Db::new().await;
    let app = db.service("mallory").await;
    let id = new_client(&app, "Acme", None).await;
    // The service role: no direct INSERT, whatever it claims, no UPDATE, DELETE, TRUNCATE.
    let forged = app
        .execute(
            "INSERT INTO client_api.change_history (changed_at, actor, entity, entity_id, client_id, operation, changes, stamps) \
             VALUES (now(), 'alice', 'client', $1, $1, 'update', '{\"owner\": {\"old\": null, \"new\": \"mallory\"}}', '{}')",
            &[&id],
        )
        .await;
    expect_error(forged, "PC006", Some("change_history_append_only"));
    expect_error(
        app.execute("UPDATE client_api.change_history SET actor = 'alice'", &[])
            .await,
        "PC006",
        Some("change_history_append_only"),
    );
    expect_error(
        app.execute("DELETE FROM client_api.change_history", &[]).await,
        "PC006",
        Some("change_history_append_only"),
    );
    // The purge's flag is a setting anyone can set; it does not make the service the owner.
    app.batch_execute("SET pcc.history_purge = 'on'")
        .await
        .expect("a setting");
    expect_error(
        app.execute("DELETE FROM client_api.change_history", &[]).await,
        "PC006",
        Some("change_history_append_only"),
    );
    expect_error(
        app.batch_execute("TRUNCATE client_api.change_history").await,
        "42501",
        None,
    );
    expect_error(
        app.execute("SELECT client_api.purge_history(interval '1 microsecond')", &[])
            .await,
        "42501",
        None,
    );
    for sql in [
        "INSERT INTO client_api.change_history_purge (purged_at, purged_by, purged_rows, complete_since) \
         VALUES (now(), 'x', 0, now())",
        "UPDATE client_api.change_history_purge SET complete_since = '-infinity'",
        "DELETE FROM client_api.change_history_purge",
    ] {
        expect_error(
            app.execute(sql, &[]).await,
            "PC006",
            Some("change_history_purge_append_only"),
        );
    }
    // The owner is refused too, outside the retention function.
    let owner = db.owner().await;
    expect_error(
        owner
            .execute("UPDATE client_api.change_history SET actor = 'x'", &[])
            .await,
        "PC006",
        None,
    );
    expect_error(
        owner.execute("DELETE FROM client_api.change_history", &[]).await,
        "PC006",
        None,
    );
    expect_error(
        owner.batch_execute("TRUNCATE client_api.change_history").await,
        "PC006",
        None,
    );
    expect_error(
        owner.batch_execute("TRUNCATE client_api.change_history_purge").await,
        "PC006",
        None,
    );
    let entries: i64 = app
        .query_one(
            "SELECT count(*) FROM client_api.change_history WHERE entity_id = $1",
            &[&id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(entries, 1, "the insert's entry, untouched");
}

/// The database's clock now, as text to pass back as `$n::timestamptz`.
async fn db_now(c: &Client) -> String {
    c.query_one("SELECT clock_timestamp()::text", &[])
        .await
        .expect("now")
        .get(0)
}

#[tokio::test]
async fn purge_history_removes_old_entries_oldest_first_and_only_as_the_owner() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let old = new_client(&c, "Old", None).await;
    c.execute("UPDATE client_api.client SET owner = 'rm' WHERE id = $1", &[&old])
        .await
        .expect("update");
    let parked = new_client(&c, "Parked", None).await;
    let boundary = db_now(&c).await;
    // Soft-deleted after the boundary: its deletion's entry is as young as any other, and stays.
    c.query("SELECT id FROM client_api.soft_delete_client($1)", &[&parked])
        .await
        .expect("soft delete");
    let young = new_client(&c, "Young", None).await;

    let owner = db.owner().await;
    for (sql, code) in [
        ("SELECT client_api.purge_history(NULL)", "22023"),
        ("SELECT client_api.purge_history(interval '0')", "22023"),
        ("SELECT client_api.purge_history(interval '-1 day')", "22023"),
        ("SELECT client_api.purge_history(interval '1 day', 0)", "22023"),
    ] {
        expect_error(owner.execute(sql, &[]).await, code, None);
    }
    let purge = "SELECT client_api.purge_history(now() - $1::text::timestamptz, $2)";
    let purged: i32 = owner
        .query_one(purge, &[&boundary, &2_i32])
        .await
        .unwrap_or_else(|e| panic!("purge: {}", describe(&e)))
        .get(0);
    assert_eq!(purged, 2, "a batch");
    assert_eq!(of_entity(&c, old).await.len(), 0, "the oldest two entries went first");
    assert_eq!(of_entity(&c, parked).await.len(), 2);
    let purged: i32 = owner
        .query_one(purge, &[&boundary, &100_i32])
        .await
        .expect("purge")
        .get(0);
    assert_eq!(purged, 1, "what is left before the boundary");
    let purged: i32 = owner
        .query_one(purge, &[&boundary, &100_i32])
        .await
        .expect("purge")
        .get(0);
    assert_eq!(purged, 0);
    let parked_history = of_entity(&c, parked).await;
    assert_eq!(
        parked_history.iter().map(|e| e.operation.as_str()).collect::<Vec<_>>(),
        ["soft_delete"],
        "a soft-deleted client's history stays until it is as old as the retention"
    );
    assert_eq!(of_entity(&c, young).await.len(), 1);
    let rows: i64 = c
        .query_one("SELECT count(*) FROM client_api.client", &[])
        .await
        .expect("clients")
        .get(0);
    assert_eq!(rows, 3, "purging the history never touches the data");

    // Each purge that removed something is itself recorded, with the point from which history is complete.
    let log = owner
        .query(
            "SELECT purged_rows, older_than IS NOT NULL, complete_since < $1::text::timestamptz \
             FROM client_api.change_history_purge ORDER BY id",
            &[&boundary],
        )
        .await
        .expect("purge log");
    let log: Vec<(i64, bool, bool)> = log.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(log, [(0, false, true), (2, true, true), (1, true, true)]);

    // The retention is the caller's: a later purge with a shorter one reaches the rest.
    let later = db_now(&c).await;
    let purged: i32 = owner.query_one(purge, &[&later, &100_i32]).await.expect("purge").get(0);
    assert_eq!(purged, 2);
    assert_eq!(of_entity(&c, parked).await.len(), 0);
}

/// The client row as jsonb, without its search document (not part of any state client_as_of promises).
const ROW: &str = "pg_catalog.to_jsonb(c) - 'search_vector'";

async fn snapshot(c: &Client, id: Uuid) -> (Value, String) {
    let row = c
        .query_one(
            &format!("SELECT {ROW}, c.updated_at::text FROM client_api.client AS c WHERE c.id = $1"),
            &[&id],
        )
        .await
        .expect("snapshot");
    (row.get(0), row.get(1))
}

async fn as_of(c: &Client, id: Uuid, at: &str) -> Result<Option<Value>, tokio_postgres::Error> {
    c.query_opt(
        &format!("SELECT {ROW} FROM client_api.client_as_of($1, $2::text::timestamptz) AS c"),
        &[&id, &at],
    )
    .await
    .map(|row| row.map(|r| r.get(0)))
}

#[tokio::test]
async fn client_as_of_rebuilds_every_past_state_exactly() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let parent = new_client(&c, "Parent", None).await;
    let id = new_client(&c, "Acme", None).await;
    let mut states = vec![snapshot(&c, id).await];
    let move_under_parent = format!("SELECT id FROM client_api.move_client($1, '{parent}')");
    for sql in [
        "UPDATE client_api.client SET display_name = 'Acme Corp', employee_count = 12, revenue_amount = 100.50, \
         revenue_currency = 'EUR', hq_country = 'DE' WHERE id = $1",
        "UPDATE client_api.client SET employee_count = 300, status = 'onboarding' WHERE id = $1",
        "INSERT INTO client_api.risk_assessment (client_id, rating, rationale) VALUES ($1, 'medium', 'review')",
        &move_under_parent,
        "UPDATE client_api.client SET deleted_at = now() WHERE id = $1",
        "UPDATE client_api.client SET deleted_at = NULL, employee_count = NULL WHERE id = $1",
    ] {
        c.execute(sql, &[&id])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
        states.push(snapshot(&c, id).await);
    }
    for (i, (state, since)) in states.iter().enumerate() {
        assert_eq!(
            as_of(&c, id, since).await.expect("as_of").as_ref(),
            Some(state),
            "state {i}, at the instant it was made"
        );
        if let Some((_, next)) = states.get(i + 1) {
            let just_before: String = c
                .query_one(
                    "SELECT ($1::text::timestamptz - interval '1 microsecond')::text",
                    &[next],
                )
                .await
                .expect("time")
                .get(0);
            assert_eq!(
                as_of(&c, id, &just_before).await.expect("as_of").as_ref(),
                Some(state),
                "state {i}, until the next change"
            );
        }
    }
    // The generated size band follows the headcount of its time.
    let band = |v: &Value| v["size_band"].clone();
    assert_eq!(
        states.iter().map(|(s, _)| band(s)).collect::<Vec<_>>(),
        [
            Value::Null,
            json!("small"),
            json!("large"),
            json!("large"),
            json!("large"),
            json!("large"),
            Value::Null
        ]
    );
    let before_creation: String = c
        .query_one(
            "SELECT ($1::text::timestamptz - interval '1 microsecond')::text",
            &[&states[0].1],
        )
        .await
        .expect("time")
        .get(0);
    assert_eq!(
        as_of(&c, id, &before_creation).await.expect("as_of"),
        None,
        "not yet created"
    );
    assert_eq!(
        as_of(&c, Uuid::now_v7(), &states[0].1).await.expect("as_of"),
        None,
        "never existed"
    );
    expect_error(
        c.query("SELECT id FROM client_api.client_as_of($1, NULL)", &[&id])
            .await,
        "22023",
        None,
    );

    // After a purge, the states before the newest purged entry can no longer be rebuilt: PC014, not a guess.
    let owner = db.owner().await;
    let cutoff = &states[3].1;
    let purged: i32 = owner
        .query_one(
            "SELECT client_api.purge_history(now() - $1::text::timestamptz)",
            &[cutoff],
        )
        .await
        .expect("purge")
        .get(0);
    assert!(purged >= 4, "purged {purged}");
    let refused = as_of(&c, id, &states[1].1).await;
    let error = expect_error(refused, "PC014", None);
    assert!(error.detail().is_some_and(|d| d.ends_with('Z')), "{error:?}");
    assert_eq!(
        as_of(&c, id, &states[4].1).await.expect("as_of").as_ref(),
        Some(&states[4].0)
    );
    assert_eq!(
        as_of(&c, id, &states[6].1).await.expect("as_of").as_ref(),
        Some(&states[6].0)
    );
}

/// A transaction that began first but waited for the row lock commits the later version: its entry comes
/// after the one it waited for (V15), its version's time is after that one's, and client_as_of() at each
/// version's time answers that version (with the transaction's start as the time, the waiting one's version
/// would be dated before the one it replaced, and as_of would rebuild a state the row never had).
#[tokio::test]
async fn a_change_that_waited_for_the_row_lock_is_recorded_after_the_one_it_waited_for() {
    let db = Db::new().await;
    let first = db.service("first").await;
    let waiting = db.service("waiting").await;
    let id = new_client(&first, "Race", None).await;
    // `waiting` begins first: its now() is the earliest of the two.
    waiting.batch_execute("BEGIN").await.expect("begin");
    let waiting_start: String = waiting.query_one("SELECT now()::text", &[]).await.expect("now").get(0);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    first.batch_execute("BEGIN").await.expect("begin");
    first
        .execute(
            "UPDATE client_api.client SET display_name = 'First' WHERE id = $1",
            &[&id],
        )
        .await
        .expect("first update");
    // `waiting` now asks for the row and waits for `first`'s lock until it commits.
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
    let update = waiting.execute(
        "UPDATE client_api.client SET display_name = 'Waited' WHERE id = $1",
        &params,
    );
    let commit_first = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        first.batch_execute("COMMIT").await.expect("commit first");
    };
    let (updated, ()) = tokio::join!(update, commit_first);
    assert_eq!(updated.expect("the waiting update"), 1);
    waiting.batch_execute("COMMIT").await.expect("commit waiting");

    let admin = db.admin().await;
    let rows = admin
        .query(
            "SELECT changes -> 'display_name' ->> 'new', (stamps -> 'version' ->> 'new')::int, changed_at::text, \
             changed_at > $2::text::timestamptz \
             FROM client_api.change_history WHERE entity_id = $1 ORDER BY changed_at, id",
            &[&id, &waiting_start],
        )
        .await
        .expect("history");
    let listed: Vec<(String, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        listed,
        [
            ("Race".to_owned(), 1),
            ("First".to_owned(), 2),
            ("Waited".to_owned(), 3)
        ],
        "in commit order"
    );
    assert!(
        rows.iter().skip(1).all(|r| r.get::<_, bool>(3)),
        "both updates are dated after the waiting transaction's start"
    );
    let times: Vec<String> = rows.iter().map(|r| r.get(2)).collect();
    let later: bool = admin
        .query_one(
            "SELECT $1::text::timestamptz > $2::text::timestamptz",
            &[&times[2], &times[1]],
        )
        .await
        .expect("compare")
        .get(0);
    assert!(
        later,
        "the waited version is dated after the one it waited for: {times:?}"
    );
    for (at, expected) in [(&times[1], "First"), (&times[2], "Waited")] {
        let name: String = admin
            .query_one(
                "SELECT c.display_name FROM client_api.client_as_of($1, $2::text::timestamptz) AS c",
                &[&id, at],
            )
            .await
            .unwrap_or_else(|e| panic!("as of {at}: {}", describe(&e)))
            .get(0);
        assert_eq!(name, expected, "as of {at}");
    }
    let updated_at: String = admin
        .query_one("SELECT updated_at::text FROM client_api.client WHERE id = $1", &[&id])
        .await
        .expect("row")
        .get(0);
    assert_eq!(&updated_at, &times[2], "the row's time is its last entry's");
}
