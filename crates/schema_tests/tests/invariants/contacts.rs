//! Contacts: e-mail and E.164 checks, at most one primary contact per client on any day, no overlapping
//! duplicate links, links only between live rows.

use uuid::Uuid;

use crate::support::{Db, expect_error, new_client};

async fn new_contact(c: &tokio_postgres::Client, family: &str) -> Uuid {
    c.query_one(
        "INSERT INTO client_api.contact (family_name) VALUES ($1) RETURNING id",
        &[&family],
    )
    .await
    .expect("contact")
    .get(0)
}

#[tokio::test]
async fn email_and_phone_are_checked() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let insert =
        "INSERT INTO client_api.contact (given_name, family_name, email, phone) VALUES ('Ada', 'Lovelace', $1, $2)";
    for email in [
        "ada@example.com",
        "a.b+tag@mail.example.co.uk",
        "o'hara@example.ie",
        "x@a-b.example",
    ] {
        c.execute(insert, &[&email, &None::<&str>])
            .await
            .unwrap_or_else(|e| panic!("{email}: {e}"));
    }
    let long_local = format!("{}@example.com", "a".repeat(65));
    for email in [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada @example.com",
        "ada@-example.com",
        long_local.as_str(),
    ] {
        expect_error(
            c.execute(insert, &[&email, &None::<&str>]).await,
            "23514",
            Some("contact_email_format"),
        );
    }
    for phone in ["+442071234567", "+14155550123", "+861012345678"] {
        c.execute(insert, &[&None::<&str>, &phone])
            .await
            .unwrap_or_else(|e| panic!("{phone}: {e}"));
    }
    for phone in [
        "442071234567",
        "+0442071234567",
        "+44 20 7123 4567",
        "+1234567890123456",
        "+44-20",
    ] {
        expect_error(
            c.execute(insert, &[&None::<&str>, &phone]).await,
            "23514",
            Some("contact_phone_e164"),
        );
    }
}

#[tokio::test]
async fn a_client_has_at_most_one_primary_contact_on_any_day() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let client = new_client(&c, "Acme", None).await;
    let (ann, ben) = (new_contact(&c, "Ann").await, new_contact(&c, "Ben").await);
    let link = "INSERT INTO client_api.client_contact (client_id, contact_id, role, valid_from, valid_to) \
                VALUES ($1, $2, $3, $4::text::date, $5::text::date)";
    c.execute(link, &[&client, &ann, &"primary", &"2024-01-01", &None::<&str>])
        .await
        .expect("Ann is primary");
    let second = c
        .execute(link, &[&client, &ben, &"primary", &"2025-06-01", &None::<&str>])
        .await;
    expect_error(second, "23P01", Some("client_contact_one_primary"));
    // Hand-over: Ann's period ends the day Ben's starts (half-open ranges do not overlap).
    c.execute(
        "UPDATE client_api.client_contact SET valid_to = '2025-06-01' WHERE client_id = $1 AND contact_id = $2",
        &[&client, &ann],
    )
    .await
    .expect("end Ann's period");
    c.execute(link, &[&client, &ben, &"primary", &"2025-06-01", &None::<&str>])
        .await
        .expect("Ben takes over");
    let current: Uuid = c
        .query_one(
            "SELECT contact_id FROM client_api.client_contact WHERE client_id = $1 AND role = 'primary' \
             AND daterange(valid_from, valid_to) @> current_date",
            &[&client],
        )
        .await
        .expect("exactly one current primary")
        .get(0);
    assert_eq!(current, ben);
    // Other roles may be held by several people, but not twice by the same person over overlapping periods.
    c.execute(link, &[&client, &ann, &"board_member", &"2024-01-01", &None::<&str>])
        .await
        .expect("board");
    c.execute(link, &[&client, &ben, &"board_member", &"2024-01-01", &None::<&str>])
        .await
        .expect("board");
    let twice = c
        .execute(link, &[&client, &ann, &"board_member", &"2024-06-01", &"2024-12-31"])
        .await;
    expect_error(twice, "23P01", Some("client_contact_no_overlap"));
    let backwards = c
        .execute(link, &[&client, &ann, &"finance", &"2024-06-01", &"2024-06-01"])
        .await;
    expect_error(backwards, "23514", Some("client_contact_validity_order"));
    let unknown = c
        .execute(link, &[&client, &ann, &"janitor", &"2024-06-01", &None::<&str>])
        .await;
    expect_error(unknown, "23503", Some("client_contact_role_fk"));
}

#[tokio::test]
async fn links_need_a_live_client_and_a_live_contact() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let client = new_client(&c, "Acme", None).await;
    let contact = new_contact(&c, "Gone").await;
    let row = c
        .query_one(
            "UPDATE client_api.contact SET deleted_at = now() WHERE id = $1 RETURNING deleted_by, version",
            &[&contact],
        )
        .await
        .expect("soft delete contact");
    assert_eq!(
        (row.get::<_, Option<String>>(0), row.get::<_, i64>(1)),
        (Some("alice".into()), 2)
    );
    let link = c
        .execute(
            "INSERT INTO client_api.client_contact (client_id, contact_id, role) VALUES ($1, $2, 'legal')",
            &[&client, &contact],
        )
        .await;
    expect_error(link, "PC007", None);
}
