//! `POST /v1/contacts/{id}/erase` over real HTTP: afterwards no erased value is anywhere in the database, on the
//! primary or the replica (every row of every table and materialized view of every schema, catalogs included,
//! searched as text and, for bytea columns, as hex; values stored out of line are read through their rows), while the contact's links and history entries stay; an erased contact
//! cannot be written or linked again; erasing twice answers the same; bad requests get problems and change
//! nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_postgres::Client;

use crate::over_http::{Answer, Api};

/// The hex form of `text`'s UTF-8 bytes, as a bytea column shows in JSON (`"\\x..."`).
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Which of `needles` (case-insensitive, as text or as hex) occur in any row of any table or materialized view of
/// the database `db` is connected to (a superuser session: it reads every schema), with the table. TOAST tables
/// have no row type and hold compressed chunks; their values are searched whole, through their tables' rows.
async fn occurrences(db: &Client, needles: &[String]) -> Vec<(String, String)> {
    let mut patterns: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    patterns.extend(needles.iter().map(|n| hex(n)));
    let tables: Vec<String> = db
        .query(
            "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class AS c \
             JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') \
             ORDER BY 1",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() > 60, "the catalogs are searched too: {tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let sql = format!(
            "SELECT p FROM pg_catalog.unnest($1::text[]) AS p WHERE EXISTS (SELECT 1 FROM {table} AS t \
             WHERE pg_catalog.strpos(pg_catalog.lower(pg_catalog.row_to_json(t)::text), p) > 0)"
        );
        let rows = db
            .query(&sql, &[&patterns])
            .await
            .unwrap_or_else(|e| panic!("searching {table}: {e}"));
        found.extend(rows.iter().map(|r| (r.get::<_, String>(0), table.clone())));
    }
    found
}

/// A person's details, unique to this run, and the values a later change replaces.
struct Person {
    body: Value,
    later: Value,
}

impl Person {
    fn new(tag: &str) -> Self {
        let n = (uuid::Uuid::now_v7().as_u128() >> 32) % 1_000_000_000;
        let word = format!("{tag}{:x}", uuid::Uuid::now_v7().as_u128() & 0xffff_ffff);
        Self {
            body: json!({
                "given_name": format!("Given{word}"),
                "family_name": format!("Family{word}"),
                "email": format!("mail{word}@example.org"),
                "phone": format!("+4420{n:09}"),
                "job_title": format!("Title{word}"),
            }),
            later: json!({
                "job_title": format!("Later{word}"),
                "phone": format!("+4421{n:09}"),
            }),
        }
    }

    /// Every personal value this person's contact ever held.
    fn values(&self) -> Vec<String> {
        let all = self
            .body
            .as_object()
            .unwrap()
            .values()
            .chain(self.later.as_object().unwrap().values());
        all.map(|v| v.as_str().unwrap().to_owned()).collect()
    }
}

async fn erase(api: &Api, id: &str, etag: &str, body: Value, key: Option<&str>) -> Answer {
    let mut headers = vec![("if-match", etag)];
    if let Some(key) = key {
        headers.push(("idempotency-key", key));
    }
    api.send(
        Method::POST,
        &format!("/v1/contacts/{id}/erase"),
        "dpo",
        Some("req-erase"),
        Some(body),
        &headers,
    )
    .await
}

#[tokio::test]
async fn an_erased_contact_leaves_no_trace_of_its_personal_data_anywhere_in_the_database() {
    let api = Api::new().await;
    let client = api
        .write(
            Method::POST,
            "/v1/clients",
            "sales",
            "req-client",
            Some(json!({"display_name": "Holder", "legal_name": "Holder Ltd"})),
        )
        .await;
    let client_id = client["id"].as_str().unwrap().to_owned();
    let (erased, kept) = (Person::new("e"), Person::new("k"));
    let mut ids = Vec::new();
    for (n, person) in [&erased, &kept].into_iter().enumerate() {
        // Created with a key (the stored response copies the person), changed once (the history keeps the old
        // values), and linked to the client with a key too.
        let key = format!("create-{n}");
        let created = api
            .send(
                Method::POST,
                "/v1/contacts",
                "sales",
                Some("req-create"),
                Some(person.body.clone()),
                &[("idempotency-key", &key)],
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_str().unwrap().to_owned();
        api.write(
            Method::PATCH,
            &format!("/v1/contacts/{id}"),
            "sales",
            "req-change",
            Some(person.later.clone()),
        )
        .await;
        let link_key = format!("link-{n}");
        let link = api
            .send(
                Method::POST,
                &format!("/v1/clients/{client_id}/contacts"),
                "sales",
                Some("req-link"),
                Some(json!({"contact_id": id, "role": "finance"})),
                &[("idempotency-key", &link_key)],
            )
            .await;
        assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
        ids.push(id);
    }
    let id = ids[0].clone();
    let primary = api.app.db.connect().await;
    // Planner statistics would be one more copy: gather them for every table first.
    primary.batch_execute("ANALYZE").await.expect("analyze");

    // The search finds what is there: every value, and the stored response as hex.
    let before = occurrences(&primary, &erased.values()).await;
    for value in erased.values() {
        assert!(
            before.iter().any(|(p, _)| *p == value.to_lowercase()),
            "{value} not found before: {before:?}"
        );
    }
    let created_hex = hex(erased.body["family_name"].as_str().unwrap());
    assert!(
        before
            .iter()
            .any(|(p, t)| *p == created_hex && t == "client_api.idempotency_key"),
        "{before:?}"
    );
    let history_before = api.get(&format!("/v1/contacts/{id}/history")).await.body["items"]
        .as_array()
        .unwrap()
        .len();

    let etag = api
        .get(&format!("/v1/contacts/{id}"))
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let answer = erase(
        &api,
        &id,
        &etag,
        json!({"reason": "data subject request DSR-1"}),
        Some("erase-1"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["family_name"], "[erased]");
    for field in ["given_name", "email", "phone", "job_title"] {
        assert_eq!(answer.body[field], Value::Null, "{field}");
    }
    assert_eq!(answer.body["erased_by"], "dpo");
    assert_eq!(answer.body["erasure_reason"], "data subject request DSR-1");
    assert!(answer.body["erased_at"].is_string());
    assert_eq!(
        answer.header("etag"),
        Some(format!("\"{}\"", answer.body["version"]).as_str())
    );

    let after = occurrences(&primary, &erased.values()).await;
    assert!(after.is_empty(), "erased values still in the primary: {after:?}");
    api.app.replica_replayed().await;
    let replica = api.app.db.db().connect_replica().await;
    let on_replica = occurrences(&replica, &erased.values()).await;
    assert!(
        on_replica.is_empty(),
        "erased values still on the replica: {on_replica:?}"
    );
    // The other person is untouched.
    let other = occurrences(&primary, &kept.values()).await;
    for value in kept.values() {
        assert!(
            other.iter().any(|(p, _)| *p == value.to_lowercase()),
            "{value} of the kept contact is gone"
        );
    }

    // Links and history entries stay, anonymised; the erasure is one more entry, by its actor.
    let links = api.get(&format!("/v1/contacts/{id}/clients")).await;
    assert_eq!(links.status, StatusCode::OK, "{}", links.body);
    assert_eq!(links.body["items"].as_array().unwrap().len(), 1, "{}", links.body);
    let history = api.get(&format!("/v1/contacts/{id}/history")).await;
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items.len(), history_before + 1);
    assert_eq!(items[0]["actor"], "dpo");
    assert_eq!(items[0]["request_id"], "req-erase");
    assert!(history.body.to_string().contains("[erased]"));
    // The read answers the erased contact (from the replica, with the erasure's token).
    let read = api.get(&format!("/v1/contacts/{id}")).await;
    assert_eq!(read.body["family_name"], "[erased]");
    // The creation's key no longer replays the person: its stored response is gone.
    let stored: i64 = primary
        .query_one(
            "SELECT count(*) FROM client_api.idempotency_key WHERE idempotency_key IN ('create-0', 'link-0')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);
    api.stop();
}

#[tokio::test]
async fn an_erased_contact_stays_erased_and_erasing_again_answers_the_same() {
    let api = Api::new().await;
    let client = api
        .write(
            Method::POST,
            "/v1/clients",
            "sales",
            "req-client",
            Some(json!({"display_name": "Holder", "legal_name": "Holder Ltd"})),
        )
        .await;
    let client_id = client["id"].as_str().unwrap().to_owned();
    let person = Person::new("s");
    let created = api
        .write(
            Method::POST,
            "/v1/contacts",
            "sales",
            "req-create",
            Some(person.body.clone()),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let first = erase(&api, &id, "\"1\"", json!({"reason": "request"}), Some("erase-key")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);

    // A retry with the key replays; without it (and with an outdated ETag) the same contact comes back.
    let replay = erase(&api, &id, "\"1\"", json!({"reason": "request"}), Some("erase-key")).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, first.body);
    let again = erase(&api, &id, "\"1\"", json!({"reason": "another request"}), None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, first.body);

    // Nothing personal can be written again, and no new link.
    let etag = first.header("etag").unwrap().to_owned();
    let path = format!("/v1/contacts/{id}");
    for patch in [
        json!({"given_name": "Back"}),
        json!({"family_name": "Again"}),
        json!({"email": null}),
    ] {
        let refused = api
            .send(
                Method::PATCH,
                &path,
                "sales",
                None,
                Some(patch.clone()),
                &[("if-match", &etag)],
            )
            .await;
        refused.assert_problem(409, "erased");
    }
    api.send(
        Method::POST,
        &format!("/v1/clients/{client_id}/contacts"),
        "sales",
        None,
        Some(json!({"contact_id": id, "role": "legal"})),
        &[],
    )
    .await
    .assert_problem(409, "erased");
    assert_eq!(api.get(&path).await.body, first.body);
    // It can still be deleted; a deleted contact can be erased too (If-Match: *, as a GET no longer answers it).
    let deleted = api
        .send(Method::DELETE, &path, "sales", None, None, &[("if-match", &etag)])
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let other = api
        .write(
            Method::POST,
            "/v1/contacts",
            "sales",
            "req-create",
            Some(Person::new("d").body),
        )
        .await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    let other_path = format!("/v1/contacts/{other_id}");
    let gone = api
        .send(
            Method::DELETE,
            &other_path,
            "sales",
            None,
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let erased_deleted = erase(&api, &other_id, "*", json!({"reason": "request"}), None).await;
    assert_eq!(erased_deleted.status, StatusCode::OK, "{}", erased_deleted.body);
    assert_eq!(erased_deleted.body["family_name"], "[erased]");
    assert!(erased_deleted.body["deleted_at"].is_string());
    api.stop();
}

#[tokio::test]
async fn bad_erasure_requests_get_problems_and_change_nothing() {
    let api = Api::new().await;
    let created = api
        .write(
            Method::POST,
            "/v1/contacts",
            "sales",
            "req-create",
            Some(Person::new("b").body),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::now_v7().to_string();
    erase(&api, &unknown, "\"1\"", json!({"reason": "request"}), None)
        .await
        .assert_problem(404, "not-found");
    erase(&api, &id, "\"7\"", json!({"reason": "request"}), None)
        .await
        .assert_problem(412, "precondition-failed");
    let path = format!("/v1/contacts/{id}/erase");
    api.send(
        Method::POST,
        &path,
        "dpo",
        None,
        Some(json!({"reason": "request"})),
        &[],
    )
    .await
    .assert_problem(428, "precondition-required");
    for reason in [
        json!({}),
        json!({"reason": ""}),
        json!({"reason": " padded"}),
        json!({"reason": "x".repeat(501)}),
    ] {
        let refused = erase(&api, &id, "\"1\"", reason.clone(), None).await;
        refused.assert_problem(422, "validation");
        assert_eq!(refused.pointers(), vec!["/reason"], "{reason}");
    }
    let unknown_field = erase(&api, &id, "\"1\"", json!({"reason": "r", "family_name": "x"}), None).await;
    unknown_field.assert_problem(400, "malformed-body");
    let not_json = api
        .send(
            Method::POST,
            &path,
            "dpo",
            None,
            None,
            &[("if-match", "\"1\""), ("content-type", "application/json")],
        )
        .await;
    assert!(not_json.status.is_client_error(), "{}", not_json.status);
    // A reader may not erase.
    let bearer = api.app.token_for("reader", &[client_api::auth::SCOPE_READ]);
    let forbidden = api
        .running
        .http
        .post(format!("{}{path}", api.running.base))
        .bearer_auth(bearer)
        .header("if-match", "\"1\"")
        .json(&json!({"reason": "request"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    // Still as created.
    let now = api.get(&format!("/v1/contacts/{id}")).await;
    assert_eq!(now.body["family_name"], created["family_name"]);
    assert_eq!(now.body["version"], 1);
    assert_eq!(now.body["erased_at"], Value::Null);
    api.stop();
}
