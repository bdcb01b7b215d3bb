//! Audit columns and optimistic concurrency: version bumps only on real changes, the acting user comes from
//! pcc.actor (else the session user), created_* never changes, ids are UUIDv7.

use crate::support::{Db, expect_error, new_client};

#[tokio::test]
async fn version_moves_on_change_only_and_records_the_actor() {
    let db = Db::new().await;
    let alice = db.service("alice").await;
    let bob = db.service("bob").await;
    let id = new_client(&alice, "Acme", None).await;
    let read = "SELECT version, created_by, updated_by, created_at = updated_at FROM client_api.client WHERE id = $1";
    let row = alice.query_one(read, &[&id]).await.expect("row");
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2),
            row.get::<_, bool>(3)
        ),
        (1, "alice".into(), "alice".into(), true)
    );
    bob.execute(
        "UPDATE client_api.client SET display_name = display_name WHERE id = $1",
        &[&id],
    )
    .await
    .expect("no-op");
    assert_eq!(
        bob.query_one(read, &[&id]).await.expect("row").get::<_, i64>(0),
        1,
        "a no-op update keeps the version"
    );
    bob.execute(
        "UPDATE client_api.client SET display_name = 'Acme Corp' WHERE id = $1",
        &[&id],
    )
    .await
    .expect("change");
    let row = bob.query_one(read, &[&id]).await.expect("row");
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2),
            row.get::<_, bool>(3)
        ),
        (2, "alice".into(), "bob".into(), false)
    );
    // Per-transaction actor, as the service sets it with a bind parameter.
    bob.batch_execute("BEGIN").await.expect("begin");
    bob.execute("SELECT pg_catalog.set_config('pcc.actor', $1, true)", &[&"carol"])
        .await
        .expect("set actor");
    bob.execute(
        "UPDATE client_api.client SET website = 'https://acme.example.com' WHERE id = $1",
        &[&id],
    )
    .await
    .expect("u");
    bob.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(
        bob.query_one(read, &[&id]).await.expect("row").get::<_, String>(2),
        "carol"
    );
}

#[tokio::test]
async fn without_an_actor_the_session_user_is_recorded() {
    let db = Db::new().await;
    let admin = db.admin().await;
    let session_user: String = admin
        .query_one("SELECT session_user::text", &[])
        .await
        .expect("user")
        .get(0);
    let created_by: String = admin
        .query_one(
            "INSERT INTO client_api.client (display_name, legal_name) VALUES ('P', 'P') RETURNING created_by",
            &[],
        )
        .await
        .expect("insert")
        .get(0);
    assert_eq!(created_by, session_user);
}

#[tokio::test]
async fn ids_are_uuid_v7_generated_in_the_database_or_checked_when_given() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let before: String = c
        .query_one("SELECT clock_timestamp()::text", &[])
        .await
        .expect("clock")
        .get(0);
    let row = c
        .query_one(
            "INSERT INTO client_api.client (display_name, legal_name) VALUES ('V', 'V')
             RETURNING substr(id::text, 15, 1), client_api.uuid_v7_time(id) >= date_trunc('milliseconds', $1::text::timestamptz),
                       client_api.uuid_v7_time(id) <= clock_timestamp()",
            &[&before],
        )
        .await
        .expect("insert");
    assert_eq!(
        (row.get::<_, &str>(0), row.get::<_, bool>(1), row.get::<_, bool>(2)),
        ("7", true, true)
    );
    let v7 = uuid::Uuid::now_v7();
    c.execute(
        "INSERT INTO client_api.client (id, display_name, legal_name) VALUES ($1, 'S', 'S')",
        &[&v7],
    )
    .await
    .expect("a service-generated v7 id");
    let v4 = uuid::Uuid::from_u128(0x0190_0000_0000_4000_8000_0000_0000_0001);
    let refused = c
        .execute(
            "INSERT INTO client_api.client (id, display_name, legal_name) VALUES ($1, 'X', 'X')",
            &[&v4],
        )
        .await;
    expect_error(refused, "23514", Some("client_id_is_v7"));
}

#[tokio::test]
async fn text_columns_are_validated() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let bad = [
        ("display_name", " padded", "client_display_name_clean"),
        ("display_name", "", "client_display_name_clean"),
        ("legal_name", "tab\there", "client_legal_name_clean"),
        ("website", "ftp://example.com", "client_website_format"),
        ("website", "https://exa mple.com", "client_website_format"),
        (
            "registration_authority",
            "Companies House",
            "client_registration_authority_format",
        ),
    ];
    for (column, value, constraint) in bad {
        let legal = if column == "legal_name" { value } else { "Legal" };
        let display = if column == "display_name" { value } else { "Display" };
        let sql = if matches!(column, "display_name" | "legal_name") {
            "INSERT INTO client_api.client (display_name, legal_name) VALUES ($1, $2)".to_owned()
        } else {
            format!("INSERT INTO client_api.client (display_name, legal_name, {column}) VALUES ($1, $2, $3)")
        };
        let result = if matches!(column, "display_name" | "legal_name") {
            c.execute(&sql, &[&display, &legal]).await
        } else {
            c.execute(&sql, &[&display, &legal, &value]).await
        };
        expect_error(result, "23514", Some(constraint));
    }
    let partial = c
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, registration_number) VALUES ('R', 'R', '123')",
            &[],
        )
        .await;
    expect_error(partial, "23514", Some("client_registration_complete"));
    c.execute(
        "INSERT INTO client_api.client (display_name, legal_name, website, registration_authority, registration_number) \
         VALUES ('Ok', 'Ok Ltd', 'https://www.ok.example.co.uk/about?x=1', 'RA000585', '01234567')",
        &[],
    )
    .await
    .expect("valid values");
}
