//! The change history over real HTTP: `GET /v1/clients/{id}/history` and `GET /v1/contacts/{id}/history`
//! (who, when, which request, what changed; pages, filters, errors; a soft-deleted client keeps its history;
//! racing writers each recorded once, in commit order) and `GET /v1/clients/{id}?as_of=` (the client as it
//! was, equal to what a GET answered then).

use client_api::http::history::EntityKind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::over_http::Api;
use crate::support::TestApp;

fn operations(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|e| {
            (
                e["entity"].as_str().unwrap_or_default().to_owned(),
                e["operation"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_clients_history_names_who_when_which_request_and_what_newest_first() {
    let api = Api::new().await;
    let client = api
        .write(
            Method::POST,
            "/v1/clients",
            "alice",
            "req-create",
            Some(json!({"display_name": "Acme", "legal_name": "Acme Ltd", "employee_count": 12})),
        )
        .await;
    let id = client["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/clients/{id}");
    api.write(
        Method::PATCH,
        &path,
        "bob",
        "req-rename",
        Some(json!({"display_name": "Acme Corp", "revenue_amount": "1000.50", "revenue_currency": "EUR"})),
    )
    .await;
    api.write(
        Method::POST,
        &format!("{path}/addresses"),
        "carol",
        "req-address",
        Some(json!({"address_type": "registered", "line1": "1 Main St", "city": "Dublin", "country_code": "IE"})),
    )
    .await;
    api.write(
        Method::POST,
        &format!("{path}/risk-assessments"),
        "dora",
        "req-risk",
        Some(json!({"rating": "high", "rationale": "exposure"})),
    )
    .await;

    let history = api.get(&format!("{path}/history")).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let items = history.body["items"].as_array().expect("items").clone();
    assert_eq!(
        operations(&items),
        [
            ("risk_assessment", "insert"),
            ("client", "update"),
            ("address", "insert"),
            ("client", "update"),
            ("client", "insert"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
        "newest first; within a transaction the later entry first"
    );
    let rename = &items[3];
    assert_eq!(rename["actor"], "bob");
    assert_eq!(rename["request_id"], "req-rename");
    assert_eq!(rename["entity_id"], id.as_str());
    assert_eq!(rename["client_id"], id.as_str());
    assert_eq!(rename["version"], 2);
    assert_eq!(
        rename["changes"],
        json!({
            "display_name": {"old": "Acme", "new": "Acme Corp"},
            "revenue_amount": {"old": null, "new": "1000.50"},
            "revenue_currency": {"old": null, "new": "EUR"},
        })
    );
    let created = &items[4];
    assert_eq!(
        (&created["actor"], &created["request_id"]),
        (&json!("alice"), &json!("req-create"))
    );
    assert_eq!(
        created["changed_at"], client["created_at"],
        "the entry's time is the row's own"
    );
    assert_eq!(created["changes"]["employee_count"], json!({"old": null, "new": 12}));
    assert!(created["changes"].get("version").is_none() && created["changes"].get("size_band").is_none());
    assert_eq!(items[0]["version"], Value::Null, "assessments have no version");
    assert_eq!(
        (&items[0]["actor"], &items[1]["actor"]),
        (&json!("dora"), &json!("dora"))
    );
    assert_eq!(
        items[1]["changes"]["risk_category"],
        json!({"old": null, "new": "high"})
    );
    assert_eq!(items[2]["changes"]["city"], json!({"old": null, "new": "Dublin"}));

    // Pages of two: the same entries in the same order, each once.
    let (paged, pages) = api.all_pages(&format!("{path}/history?limit=2")).await;
    assert_eq!(pages, 3);
    assert_eq!(paged, items);
    api.stop();
}

#[tokio::test]
async fn history_filters_by_field_and_time() {
    let api = Api::new().await;
    let client = api
        .write(
            Method::POST,
            "/v1/clients",
            "alice",
            "r1",
            Some(json!({"display_name": "A", "legal_name": "A Ltd"})),
        )
        .await;
    let path = format!("/v1/clients/{}", client["id"].as_str().unwrap());
    api.write(Method::PATCH, &path, "alice", "r2", Some(json!({"owner": "rm-1"})))
        .await;
    api.write(
        Method::PATCH,
        &path,
        "alice",
        "r3",
        Some(json!({"status": "onboarding"})),
    )
    .await;
    api.write(
        Method::PATCH,
        &path,
        "alice",
        "r4",
        Some(json!({"owner": "rm-2", "website": "https://a.example"})),
    )
    .await;
    // A request that fails records nothing.
    let refused = api
        .send(
            Method::PATCH,
            &path,
            "alice",
            Some("r-refused"),
            Some(json!({"owner": "rm-3", "website": "not a url"})),
            &[("if-match", "*")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    let all = api.get(&format!("{path}/history")).await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all.len(), 4, "{all:?}");
    let request_ids = |items: &Value| -> Vec<String> {
        items["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, expected) in [
        ("field=owner", vec!["r4", "r2"]),
        // The insert names every field it set, the status among them.
        ("field=owner&field=status", vec!["r4", "r3", "r2", "r1"]),
        ("field=status,website", vec!["r4", "r3", "r1"]),
        ("field=display_name", vec!["r1"]),
        ("field=lei", vec![]),
    ] {
        let answer = api.get(&format!("{path}/history?{query}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
        assert_eq!(request_ids(&answer.body), expected, "{query}");
    }
    // since is inclusive, until exclusive: [r2, r4) is r2 and r3.
    let at = |i: usize| all[i]["changed_at"].as_str().unwrap().to_owned();
    let (r4, r2) = (at(0), at(2));
    let window = api
        .get(&format!(
            "{path}/history?since={}&until={}",
            urlencode(&r2),
            urlencode(&r4)
        ))
        .await;
    assert_eq!(request_ids(&window.body), ["r3", "r2"]);
    let owner_since = api
        .get(&format!("{path}/history?field=owner&since={}", urlencode(&r2)))
        .await;
    assert_eq!(request_ids(&owner_since.body), ["r4", "r2"]);
    // A cursor belongs to its filters.
    let first = api.get(&format!("{path}/history?field=owner&limit=1")).await;
    let cursor = first.body["next_cursor"].as_str().expect("a second page").to_owned();
    let second = api
        .get(&format!("{path}/history?field=owner&limit=1&cursor={cursor}"))
        .await;
    assert_eq!(request_ids(&second.body), ["r2"]);
    let other = api
        .get(&format!("{path}/history?field=status&limit=1&cursor={cursor}"))
        .await;
    other.assert_parameter_problem(400, "invalid-cursor", "cursor");
    api.stop();
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn bad_history_requests_get_problems_naming_the_parameter() {
    let api = Api::new().await;
    let client = api
        .write(
            Method::POST,
            "/v1/clients",
            "alice",
            "r1",
            Some(json!({"display_name": "A", "legal_name": "A Ltd"})),
        )
        .await;
    let path = format!("/v1/clients/{}/history", client["id"].as_str().unwrap());
    for (query, parameter) in [
        ("field=colour", "field"),
        ("field=version", "field"),
        ("field=email", "field"),
        ("field=", "field"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("sort=name", "sort"),
    ] {
        api.get(&format!("{path}?{query}"))
            .await
            .assert_parameter_problem(422, "validation", parameter);
    }
    api.get(&format!("{path}?cursor=garbage"))
        .await
        .assert_parameter_problem(400, "invalid-cursor", "cursor");
    let unknown = api.get(&format!("/v1/clients/{}/history", uuid::Uuid::now_v7())).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["type"], "/problems/not-found");
    let unknown = api.get(&format!("/v1/contacts/{}/history", uuid::Uuid::now_v7())).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let not_an_id = api.get("/v1/clients/not-a-uuid/history").await;
    assert_eq!(not_an_id.status, StatusCode::NOT_FOUND);
    // Contact fields are not a client history's, and the other way round.
    let contact = api
        .write(
            Method::POST,
            "/v1/contacts",
            "alice",
            "r2",
            Some(json!({"family_name": "Lovelace"})),
        )
        .await;
    let contact_path = format!("/v1/contacts/{}/history", contact["id"].as_str().unwrap());
    api.get(&format!("{contact_path}?field=display_name"))
        .await
        .assert_parameter_problem(422, "validation", "field");
    let fine = api.get(&format!("{contact_path}?field=email,role")).await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.body);
    api.stop();
}

#[tokio::test]
async fn a_soft_deleted_client_keeps_its_history_and_a_contacts_history_has_its_links() {
    let api = Api::new().await;
    let client = api
        .write(
            Method::POST,
            "/v1/clients",
            "alice",
            "c1",
            Some(json!({"display_name": "A", "legal_name": "A Ltd"})),
        )
        .await;
    let client_id = client["id"].as_str().unwrap().to_owned();
    let contact = api
        .write(
            Method::POST,
            "/v1/contacts",
            "alice",
            "p1",
            Some(json!({"family_name": "Lovelace", "email": "ada@example.com"})),
        )
        .await;
    let contact_id = contact["id"].as_str().unwrap().to_owned();
    let link = api
        .write(
            Method::POST,
            &format!("/v1/clients/{client_id}/contacts"),
            "bob",
            "l1",
            Some(json!({"contact_id": contact_id, "role": "finance"})),
        )
        .await;
    api.write(
        Method::PATCH,
        &format!("/v1/contacts/{contact_id}"),
        "bob",
        "p2",
        Some(json!({"phone": "+35312345678"})),
    )
    .await;
    let unlinked = api
        .send(
            Method::DELETE,
            &format!("/v1/clients/{client_id}/contacts/{}", link["id"].as_str().unwrap()),
            "bob",
            Some("l2"),
            None,
            &[("if-match", &format!("\"{}\"", link["version"]))],
        )
        .await;
    assert_eq!(unlinked.status, StatusCode::NO_CONTENT, "{}", unlinked.body);
    api.write(Method::DELETE, &format!("/v1/clients/{client_id}"), "carol", "c2", None)
        .await;

    // The client is gone from GET but not its history; the deletion is its newest entry.
    assert_eq!(
        api.get(&format!("/v1/clients/{client_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let history = api.get(&format!("/v1/clients/{client_id}/history")).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(
        operations(items),
        [
            ("client", "soft_delete"),
            ("contact_link", "delete"),
            ("contact_link", "insert"),
            ("client", "insert"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        (&items[0]["actor"], &items[0]["request_id"]),
        (&json!("carol"), &json!("c2"))
    );
    assert_eq!(items[0]["changes"]["deleted_by"], json!({"old": null, "new": "carol"}));

    let history = api.get(&format!("/v1/contacts/{contact_id}/history")).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(
        operations(items),
        [
            ("contact_link", "delete"),
            ("contact", "update"),
            ("contact_link", "insert"),
            ("contact", "insert"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        items[1]["changes"],
        json!({"phone": {"old": null, "new": "+35312345678"}})
    );
    assert_eq!(
        items[1]["client_id"],
        Value::Null,
        "a contact's own change belongs to no client"
    );
    assert_eq!(items[2]["client_id"], client_id.as_str());
    assert_eq!(items[2]["contact_id"], contact_id.as_str());
    api.stop();
}

#[tokio::test]
async fn as_of_answers_what_a_get_answered_then() {
    let api = Api::new().await;
    let parent = api
        .write(
            Method::POST,
            "/v1/clients",
            "alice",
            "a0",
            Some(json!({"display_name": "P", "legal_name": "P plc"})),
        )
        .await;
    let created = api
        .write(
            Method::POST,
            "/v1/clients",
            "alice",
            "a1",
            Some(json!({"display_name": "A", "legal_name": "A Ltd", "employee_count": 8})),
        )
        .await;
    let path = format!("/v1/clients/{}", created["id"].as_str().unwrap());
    let mut seen = vec![api.get(&path).await.body];
    for (request, body) in [
        (
            "a2",
            json!({"display_name": "A2", "employee_count": 80, "revenue_amount": "12.30", "revenue_currency": "EUR"}),
        ),
        ("a3", json!({"parent_id": parent["id"]})),
        ("a4", json!({"status": "onboarding", "employee_count": null})),
    ] {
        api.write(Method::PATCH, &path, "bob", request, Some(body)).await;
        seen.push(api.get(&path).await.body);
    }
    api.write(
        Method::POST,
        &format!("{path}/risk-assessments"),
        "bob",
        "a5",
        Some(json!({"rating": "low", "rationale": "fine"})),
    )
    .await;
    seen.push(api.get(&path).await.body);
    api.write(Method::DELETE, &path, "bob", "a6", None).await;
    let deleted = api.get(&format!("{path}?include_deleted=true")).await.body;

    for state in &seen {
        let at = state["updated_at"].as_str().unwrap();
        let past = api.get(&format!("{path}?as_of={}", urlencode(at))).await;
        assert_eq!(past.status, StatusCode::OK, "{at}: {}", past.body);
        assert_eq!(&past.body, state, "as of {at}");
        assert!(past.header("etag").is_none(), "a past state has no ETag");
    }
    // The same instant with another offset is the same time.
    let at = time::OffsetDateTime::parse(
        seen[1]["updated_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .to_offset(time::UtcOffset::from_hms(5, 30, 0).unwrap())
    .format(&time::format_description::well_known::Rfc3339)
    .unwrap();
    assert_eq!(api.get(&format!("{path}?as_of={}", urlencode(&at))).await.body, seen[1]);

    // Deleted at that time: 404 unless include_deleted, like a plain GET.
    let deleted_at = deleted["deleted_at"].as_str().unwrap();
    let gone = api.get(&format!("{path}?as_of={}", urlencode(deleted_at))).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    let kept = api
        .get(&format!("{path}?as_of={}&include_deleted=true", urlencode(deleted_at)))
        .await;
    assert_eq!(kept.body, deleted);

    let before = api.get(&format!("{path}?as_of=2001-01-01T00:00:00Z")).await;
    assert_eq!(before.status, StatusCode::NOT_FOUND, "not created yet: {}", before.body);
    for bad in ["yesterday", "2026-01-01", "2026-01-01T00:00:00"] {
        api.get(&format!("{path}?as_of={bad}"))
            .await
            .assert_parameter_problem(422, "validation", "as_of");
    }

    // Once the history before a time is purged, that time is refused rather than guessed.
    let app = api.stop();
    let owner = app.db.connect_as_owner().await;
    let purged: i32 = owner
        .query_one(
            "SELECT client_api.purge_history(now() - $1::text::timestamptz)",
            &[&seen[2]["updated_at"].as_str().unwrap()],
        )
        .await
        .expect("purge")
        .get(0);
    assert!(purged >= 3, "purged {purged}");
    let reply = app
        .get(&format!(
            "{path}?as_of={}",
            urlencode(seen[0]["updated_at"].as_str().unwrap())
        ))
        .await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.body["errors"][0]["parameter"], "as_of");
    assert!(
        reply.body["detail"].as_str().unwrap().contains("kept history"),
        "{}",
        reply.body
    );
    let recent = app
        .get(&format!(
            "{path}?as_of={}",
            urlencode(seen[3]["updated_at"].as_str().unwrap())
        ))
        .await;
    assert_eq!(recent.body, seen[3]);
}

#[tokio::test]
async fn the_recorded_fields_the_api_accepts_are_the_columns_the_database_records() {
    let app = TestApp::new().await;
    let db = app.db.connect().await;
    for (kind, table) in [
        (EntityKind::Client, "client"),
        (EntityKind::Address, "client_address"),
        (EntityKind::Contact, "contact"),
        (EntityKind::ContactLink, "client_contact"),
        (EntityKind::RiskAssessment, "risk_assessment"),
    ] {
        let mut columns: Vec<String> = db
            .query(
                "SELECT a.attname::text FROM pg_attribute AS a
                  WHERE a.attrelid = ('client_api.' || $1)::regclass AND a.attnum > 0 AND NOT a.attisdropped
                    AND a.attname::text <> ALL (ARRAY['id', 'search_vector', 'size_band', 'version', 'created_at',
                        'created_by', 'updated_at', 'updated_by', 'recorded_at', 'recorded_by'])",
                &[&table],
            )
            .await
            .expect("catalog")
            .iter()
            .map(|r| r.get(0))
            .collect();
        columns.sort();
        let mut fields: Vec<String> = kind.fields().iter().map(|f| (*f).to_owned()).collect();
        fields.sort();
        assert_eq!(fields, columns, "{kind:?}");
    }
    // And that list is the one the recording trigger skips.
    let skipped: bool = db
        .query_one(
            "SELECT pg_get_functiondef('client_api.tg_record_change'::regproc) LIKE '%''recorded_by''%'",
            &[],
        )
        .await
        .expect("function")
        .get(0);
    assert!(skipped);
}

/// Writers racing for one client: half file risk assessments (the database updates the client's risk columns
/// without If-Match, so those wait for each other's row lock), half rename it (PATCH with If-Match, again on
/// 412). Every committed change is in the history once, and the client's entries, oldest first, follow its
/// commits: versions 1, 2, 3, ... without a gap, each entry's old values the previous entry's new ones, times
/// never going back; and `as_of` each entry's time answers that entry's version.
#[tokio::test]
async fn racing_writers_leave_every_change_once_in_commit_order() {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 10;
    let api = Api::new().await;
    let created = api
        .write(
            Method::POST,
            "/v1/clients",
            "alice",
            "race-create",
            Some(json!({"display_name": "Race", "legal_name": "Race Ltd"})),
        )
        .await;
    let path = format!("/v1/clients/{}", created["id"].as_str().unwrap());
    let writers = (0..WRITERS).map(|w| {
        let (api, path) = (&api, &path);
        async move {
            let mut committed = Vec::new();
            for round in 0..ROUNDS {
                let subject = format!("writer-{w}");
                if w % 2 == 0 {
                    let request = format!("race-{w}-{round}");
                    let rating = ["low", "medium", "high"][(w / 2 + round) % 3];
                    let answer = api
                        .send(
                            Method::POST,
                            &format!("{path}/risk-assessments"),
                            &subject,
                            Some(&request),
                            Some(json!({"rating": rating, "rationale": format!("writer {w} round {round}")})),
                            &[],
                        )
                        .await;
                    assert!(
                        answer.status.is_success(),
                        "{request}: {} {}",
                        answer.status,
                        answer.body
                    );
                    committed.push(request);
                    continue;
                }
                for attempt in 0..200 {
                    let request = format!("race-{w}-{round}-{attempt}");
                    let current = api.send(Method::GET, path, &subject, None, None, &[]).await;
                    let etag = current.header("etag").expect("etag").to_owned();
                    let answer = api
                        .send(
                            Method::PATCH,
                            path,
                            &subject,
                            Some(&request),
                            Some(json!({"display_name": format!("Race {w}.{round}")})),
                            &[("if-match", &etag)],
                        )
                        .await;
                    if answer.status == StatusCode::PRECONDITION_FAILED {
                        continue;
                    }
                    assert!(
                        answer.status.is_success(),
                        "{request}: {} {}",
                        answer.status,
                        answer.body
                    );
                    committed.push(request);
                    break;
                }
            }
            committed
        }
    });
    let committed: Vec<String> = futures_util::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(committed.len(), WRITERS * ROUNDS, "every write committed once");

    let (mut entries, _) = api.all_pages(&format!("{path}/history?limit=100")).await;
    entries.reverse();
    // No lost entry, and nothing recorded for a refused attempt.
    let mut requests: Vec<&str> = entries
        .iter()
        .filter(|e| e["entity"] != "client" || e["changes"].get("display_name").is_some())
        .filter_map(|e| e["request_id"].as_str())
        .filter(|r| *r != "race-create")
        .collect();
    requests.sort_unstable();
    let mut expected: Vec<&str> = committed.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(requests, expected, "one entry per committed write");

    // The client's own entries follow its commits.
    let client_entries: Vec<&Value> = entries.iter().filter(|e| e["entity"] == "client").collect();
    let mut state = serde_json::Map::new();
    let mut last_at: Option<time::OffsetDateTime> = None;
    let mut versions = Vec::new();
    for (at, entry) in client_entries.iter().enumerate() {
        assert_eq!(entry["version"], at + 1, "versions in list order: {entry}");
        for (field, change) in entry["changes"].as_object().unwrap() {
            assert_eq!(
                state.get(field).unwrap_or(&Value::Null),
                &change["old"],
                "{field} of version {}: its old value is the previous version's new one",
                at + 1
            );
            state.insert(field.clone(), change["new"].clone());
        }
        let changed_at = time::OffsetDateTime::parse(
            entry["changed_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(
            last_at.is_none_or(|last| last <= changed_at),
            "time went back at version {}",
            at + 1
        );
        last_at = Some(changed_at);
        versions.push((
            changed_at,
            entry["changed_at"].as_str().unwrap().to_owned(),
            state.clone(),
        ));
    }
    assert!(
        client_entries.len() > WRITERS * ROUNDS / 2,
        "{} client versions",
        client_entries.len()
    );
    for (at, (changed_at, text, _)) in versions.iter().enumerate() {
        // The last version at that instant (entries of one instant are ordered by id).
        let expected = versions.iter().rposition(|(t, _, _)| t == changed_at).unwrap();
        let past = api.get(&format!("{path}?as_of={}", urlencode(text))).await;
        assert_eq!(past.status, StatusCode::OK, "{text}: {}", past.body);
        assert_eq!(past.body["version"], expected + 1, "as of version {}'s time", at + 1);
        let state = &versions[expected].2;
        for field in ["display_name", "risk_category"] {
            assert_eq!(
                past.body[field],
                state.get(field).cloned().unwrap_or(Value::Null),
                "{field} as of {text}"
            );
        }
    }
    api.stop();
}
