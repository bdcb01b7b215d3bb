//! Erasure of a contact's personal data (V12): `erase_contact` scrubs the row, its change history and the stored
//! responses that copied it; only that function can do so; an erased contact's personal fields cannot be written
//! again, and it cannot be linked again, not even by a link that waited for the erasure to commit.

use std::sync::Arc;

use uuid::Uuid;

use crate::support::{Db, backend_pid, describe, expect_error, new_client, wait_until_blocked};

const ERASE: &str = "SELECT id, family_name, given_name, email, erased_by, erasure_reason, version \
                     FROM client_api.erase_contact($1, $2, $3)";

async fn new_person(c: &tokio_postgres::Client) -> Uuid {
    c.query_one(
        "INSERT INTO client_api.contact (given_name, family_name, email, phone, job_title) \
         VALUES ('Oriel', 'Vantablack', 'oriel.vantablack@example.org', '+441632960001', 'Treasurer') RETURNING id",
        &[],
    )
    .await
    .unwrap_or_else(|e| panic!("contact: {}", describe(&e)))
    .get(0)
}

/// Every value of the contact's history entries, as text.
async fn history_text(c: &tokio_postgres::Client, id: Uuid) -> String {
    c.query_one(
        "SELECT coalesce(string_agg(changes::text, ' ' ORDER BY h.id), '') FROM client_api.change_history AS h \
         WHERE h.contact_id = $1",
        &[&id],
    )
    .await
    .expect("history")
    .get(0)
}

#[tokio::test]
async fn erasure_scrubs_the_row_and_its_history_and_records_who_and_why() {
    let db = Db::new().await;
    let c = db.service("dpo@example.org").await;
    let id = new_person(&c).await;
    c.execute(
        "UPDATE client_api.contact SET job_title = 'Chair' WHERE id = $1",
        &[&id],
    )
    .await
    .expect("update");
    let before = history_text(&c, id).await;
    assert!(
        before.contains("Vantablack") && before.contains("Treasurer"),
        "{before}"
    );
    let entries: i64 = c
        .query_one(
            "SELECT count(*) FROM client_api.change_history WHERE contact_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);

    let row = c
        .query_one(ERASE, &[&id, &"data subject request 7", &Some(2_i64)])
        .await
        .unwrap_or_else(|e| panic!("erase: {}", describe(&e)));
    assert_eq!(row.get::<_, String>(1), "[erased]");
    assert_eq!(row.get::<_, Option<String>>(2), None);
    assert_eq!(row.get::<_, Option<String>>(3), None);
    assert_eq!(row.get::<_, String>(4), "dpo@example.org");
    assert_eq!(row.get::<_, String>(5), "data subject request 7");
    assert_eq!(row.get::<_, i64>(6), 3);

    let after = history_text(&c, id).await;
    for value in [
        "Oriel",
        "Vantablack",
        "oriel.vantablack",
        "+441632960001",
        "Treasurer",
        "Chair",
    ] {
        assert!(!after.contains(value), "{value} is still in the history: {after}");
    }
    assert!(after.contains("[erased]"), "{after}");
    // The entries stay (the erasure adds its own), only their personal values went.
    let now: i64 = c
        .query_one(
            "SELECT count(*) FROM client_api.change_history WHERE contact_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(now, entries + 1);

    // Twice is no change: the first erasure's actor and reason stay, whatever version is expected.
    let again = c
        .query_one(ERASE, &[&id, &"another reason", &Some(1_i64)])
        .await
        .expect("erase again");
    assert_eq!(again.get::<_, String>(5), "data subject request 7");
    assert_eq!(again.get::<_, i64>(6), 3);
}

#[tokio::test]
async fn erasure_refuses_a_missing_reason_an_unknown_contact_and_a_stale_version() {
    let db = Db::new().await;
    let c = db.service("dpo").await;
    let id = new_person(&c).await;
    for reason in [None, Some(""), Some(" padded "), Some("tab\there")] {
        expect_error(
            c.query(ERASE, &[&id, &reason, &None::<i64>]).await,
            "23514",
            Some("contact_erasure_reason_clean"),
        );
    }
    let long = "r".repeat(501);
    expect_error(
        c.query(ERASE, &[&id, &long.as_str(), &None::<i64>]).await,
        "23514",
        Some("contact_erasure_reason_clean"),
    );
    expect_error(
        c.query(ERASE, &[&Uuid::now_v7(), &"x", &None::<i64>]).await,
        "PC009",
        None,
    );
    expect_error(c.query(ERASE, &[&id, &"x", &Some(7_i64)]).await, "PC008", None);
    let family: String = c
        .query_one("SELECT family_name FROM client_api.contact WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(family, "Vantablack");
    // An erased contact still needs a reason: a request without one is refused whatever the state.
    c.query(ERASE, &[&id, &"request", &None::<i64>]).await.expect("erase");
    expect_error(
        c.query(ERASE, &[&id, &None::<&str>, &None::<i64>]).await,
        "23514",
        Some("contact_erasure_reason_clean"),
    );
}

#[tokio::test]
async fn only_erase_contact_erases_and_an_erased_contact_stays_erased() {
    let db = Db::new().await;
    let c = db.service("someone").await;
    let id = new_person(&c).await;
    let client = new_client(&c, "Holder", None).await;
    c.execute(
        "INSERT INTO client_api.client_contact (client_id, contact_id, role) VALUES ($1, $2, 'finance')",
        &[&client, &id],
    )
    .await
    .expect("link");

    // Setting the erasure columns by hand, or rewriting history with the erasure flag set, is refused: the flag
    // counts only with the owner's rights, which only the function has.
    expect_error(
        c.execute(
            "UPDATE client_api.contact SET erased_at = now(), erased_by = 'x', erasure_reason = 'y' WHERE id = $1",
            &[&id],
        )
        .await,
        "PC015",
        Some("contact_erasure_by_function"),
    );
    c.batch_execute("BEGIN").await.unwrap();
    c.execute(
        "SELECT pg_catalog.set_config('pcc.contact_erasure', $1, true)",
        &[&id.to_string()],
    )
    .await
    .unwrap();
    expect_error(
        c.execute(
            "UPDATE client_api.change_history SET changes = '{}' WHERE contact_id = $1",
            &[&id],
        )
        .await,
        "PC006",
        Some("change_history_append_only"),
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    expect_error(
        c.execute(
            "INSERT INTO client_api.contact (family_name, erased_at, erased_by, erasure_reason) \
             VALUES ('[erased]', now(), 'x', 'y')",
            &[],
        )
        .await,
        "PC015",
        Some("contact_erasure_by_function"),
    );

    c.query(ERASE, &[&id, &"request", &None::<i64>]).await.expect("erase");
    // The link stays.
    let links: i64 = c
        .query_one(
            "SELECT count(*) FROM client_api.client_contact WHERE contact_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(links, 1);
    for change in [
        "given_name = 'Oriel'",
        "family_name = 'Someone'",
        "email = 'x@example.org'",
        "job_title = NULL",
        "erased_at = NULL, erased_by = NULL, erasure_reason = NULL",
    ] {
        expect_error(
            c.execute(&format!("UPDATE client_api.contact SET {change} WHERE id = $1"), &[&id])
                .await,
            "PC015",
            Some("contact_erased_read_only"),
        );
    }
    expect_error(
        c.execute(
            "INSERT INTO client_api.client_contact (client_id, contact_id, role) VALUES ($1, $2, 'legal')",
            &[&client, &id],
        )
        .await,
        "PC015",
        Some("client_contact_contact_not_erased"),
    );
    // Ending its link and deleting it (soft) are allowed.
    c.execute(
        "UPDATE client_api.client_contact SET valid_to = valid_from + 1 WHERE contact_id = $1",
        &[&id],
    )
    .await
    .unwrap_or_else(|e| panic!("ending the link: {}", describe(&e)));
    c.execute("UPDATE client_api.contact SET deleted_at = now() WHERE id = $1", &[&id])
        .await
        .unwrap_or_else(|e| panic!("soft delete: {}", describe(&e)));
}

#[tokio::test]
async fn erasure_deletes_the_stored_responses_that_name_the_contact() {
    let db = Db::new().await;
    let c = db.service("someone").await;
    let id = new_person(&c).await;
    let other = new_person(&c).await;
    for (key, body) in [("mine", id), ("other", other)] {
        c.batch_execute("BEGIN").await.unwrap();
        c.query(
            "SELECT * FROM client_api.idempotency_begin('someone', $1, 'POST', '/v1/contacts', \
             pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8')))",
            &[&key],
        )
        .await
        .unwrap();
        c.execute(
            "SELECT client_api.idempotency_complete('someone', $1, 201::smallint, '{}'::jsonb, \
             pg_catalog.convert_to(pg_catalog.json_build_object('id', $2::uuid, 'family_name', 'Vantablack')::text, 'UTF8'))",
            &[&key, &body],
        )
        .await
        .unwrap_or_else(|e| panic!("complete: {}", describe(&e)));
        c.batch_execute("COMMIT").await.unwrap();
    }
    c.query(ERASE, &[&id, &"request", &None::<i64>]).await.expect("erase");
    let keys: Vec<String> = c
        .query("SELECT idempotency_key FROM client_api.idempotency_key ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, vec!["other".to_owned()]);
}

#[tokio::test]
async fn a_link_waiting_for_an_erasure_is_refused_once_it_commits() {
    let db = Db::new().await;
    let observer = db.admin().await;
    let eraser = db.service("dpo").await;
    let linker = Arc::new(db.service("sales").await);
    let id = new_person(&eraser).await;
    let client = new_client(&eraser, "Holder", None).await;

    eraser.batch_execute("BEGIN").await.unwrap();
    eraser
        .query(ERASE, &[&id, &"request", &None::<i64>])
        .await
        .expect("erase");
    let pid = backend_pid(&linker).await;
    let link = {
        let linker = Arc::clone(&linker);
        tokio::spawn(async move {
            linker
                .execute(
                    "INSERT INTO client_api.client_contact (client_id, contact_id, role) VALUES ($1, $2, 'legal')",
                    &[&client, &id],
                )
                .await
        })
    };
    wait_until_blocked(&observer, pid).await;
    eraser.batch_execute("COMMIT").await.unwrap();
    expect_error(
        link.await.expect("link task"),
        "PC015",
        Some("client_contact_contact_not_erased"),
    );
}

#[tokio::test]
async fn personal_columns_and_their_copies_have_no_planner_statistics() {
    let db = Db::new().await;
    let admin = db.admin().await;
    let targets: Vec<(String, i32)> = admin
        .query(
            "SELECT a.attrelid::regclass::text || '.' || a.attname, a.attstattarget::int \
               FROM pg_catalog.pg_attribute AS a \
              WHERE (a.attrelid = 'client_api.contact'::regclass \
                     AND a.attname IN ('given_name', 'family_name', 'email', 'phone', 'job_title')) \
                 OR (a.attrelid = 'client_api.change_history'::regclass AND a.attname = 'changes') \
                 OR (a.attrelid = 'client_api.idempotency_key'::regclass AND a.attname = 'response_body') \
                 OR a.attrelid = 'client_api.contact_live_email_idx'::regclass \
              ORDER BY 1",
            &[],
        )
        .await
        .expect("catalog")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(targets.len(), 8, "{targets:?}");
    assert!(targets.iter().all(|(_, t)| *t == 0), "{targets:?}");
    // ANALYZE then keeps none of their values.
    let c = db.service("someone").await;
    new_person(&c).await;
    admin
        .batch_execute("ANALYZE client_api.contact, client_api.change_history, client_api.idempotency_key")
        .await
        .unwrap();
    let kept: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_stats WHERE schemaname = 'client_api' \
               AND ((tablename = 'contact' AND attname IN ('given_name', 'family_name', 'email', 'phone', 'job_title')) \
                    OR (tablename = 'change_history' AND attname = 'changes'))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 0);
}
