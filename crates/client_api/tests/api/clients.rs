//! Clients: create, get, conditional requests, merge patch, list with filters and pages, delete, restore,
//! idempotency, read-your-writes.

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn create_returns_201_with_location_etag_and_token_and_get_reads_it_back() {
    let app = TestApp::new().await;
    let reply = app
        .post(
            "/v1/clients",
            json!({
                "display_name": "Acme", "legal_name": "Acme Holdings Ltd", "lei": "5493001KJTIIGC8Y1R12",
                "hq_country": "GB", "employee_count": 120, "revenue_amount": "1250000.50", "revenue_currency": "GBP",
                "industry_code": "541511", "website": "https://acme.example"
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.header("location"), Some(format!("/v1/clients/{id}")));
    assert_eq!(reply.header("etag").as_deref(), Some("\"1\""));
    assert!(
        reply
            .header("pcc-consistency-token")
            .is_some_and(|t| t.starts_with("w1."))
    );
    assert_eq!(reply.body["status"], "prospect");
    assert_eq!(reply.body["size_band"], "medium");
    assert_eq!(reply.body["industry_scheme"], "naics_2022");
    assert_eq!(reply.body["revenue_amount"], "1250000.50");
    assert_eq!(reply.body["created_by"], "tester");
    assert_eq!(reply.body["depth"], 0);
    assert_eq!(reply.body["root_id"], id);

    let got = app.get(&format!("/v1/clients/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, reply.body);
    assert_eq!(got.header("etag").as_deref(), Some("\"1\""));
    let not_modified = app
        .call(
            Method::GET,
            &format!("/v1/clients/{id}"),
            None,
            &[("if-none-match", "\"1\"")],
        )
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.raw.is_empty());
    let modified = app
        .call(
            Method::GET,
            &format!("/v1/clients/{id}"),
            None,
            &[("if-none-match", "\"7\"")],
        )
        .await;
    assert_eq!(modified.status, StatusCode::OK);
}

#[tokio::test]
async fn patch_needs_if_match_refuses_stale_versions_and_applies_a_merge_patch() {
    let app = TestApp::new().await;
    let client = app.create_client("Beta", None).await;
    let uri = format!("/v1/clients/{}", client["id"].as_str().unwrap());

    let missing = app
        .call(Method::PATCH, &uri, Some(json!({"owner": "a.hughes"})), &[])
        .await;
    missing.assert_problem(428, "precondition-required");
    app.patch(&uri, 5, json!({"owner": "a.hughes"}))
        .await
        .assert_problem(412, "precondition-failed");

    let updated = app
        .patch(
            &uri,
            1,
            json!({"owner": "a.hughes", "hq_country": "DE", "status": "onboarding"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["owner"], "a.hughes");
    assert_eq!(updated.body["version"], 2);
    assert_eq!(updated.header("etag").as_deref(), Some("\"2\""));
    assert!(updated.header("pcc-consistency-token").is_some());

    // null clears; untouched members stay.
    let cleared = app.patch(&uri, 2, json!({"owner": null})).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["owner"], serde_json::Value::Null);
    assert_eq!(cleared.body["hq_country"], "DE");

    // A refused status transition (onboarding -> suspended) changes nothing.
    app.patch(&uri, 3, json!({"status": "suspended", "owner": "x"}))
        .await
        .assert_problem(409, "status-transition");
    let after = app.get(&uri).await;
    assert_eq!(after.body["version"], 3);
    assert_eq!(after.body["owner"], serde_json::Value::Null);

    // Read-only and unknown members are named.
    let read_only = app.patch(&uri, 3, json!({"version": 9})).await;
    read_only.assert_problem(400, "malformed-body");
    assert_eq!(read_only.pointers(), vec!["/version"]);
    let unknown = app.patch(&uri, 3, json!({"colour": "red"})).await;
    unknown.assert_problem(400, "malformed-body");
    assert_eq!(unknown.pointers(), vec!["/colour"]);
    let invalid = app.patch(&uri, 3, json!({"lei": "5493001KJTIIGC8Y1R13"})).await;
    invalid.assert_problem(422, "validation");
    assert_eq!(invalid.pointers(), vec!["/lei"]);
}

#[tokio::test]
async fn changing_the_parent_moves_the_subtree_and_cycles_and_depth_are_refused() {
    let app = TestApp::new().await;
    let a = app.create_client("A", None).await;
    let b = app.create_client("B", Some(a["id"].as_str().unwrap())).await;
    let c = app.create_client("C", Some(b["id"].as_str().unwrap())).await;
    let other = app.create_client("Other", None).await;
    let a_uri = format!("/v1/clients/{}", a["id"].as_str().unwrap());
    let b_uri = format!("/v1/clients/{}", b["id"].as_str().unwrap());

    // A under its own grandchild: a cycle, nothing changes.
    app.patch(&a_uri, 1, json!({"parent_id": c["id"], "owner": "z"}))
        .await
        .assert_problem(409, "hierarchy-cycle");
    app.patch(&a_uri, 1, json!({"parent_id": a["id"]}))
        .await
        .assert_problem(409, "hierarchy-cycle");
    assert_eq!(app.get(&a_uri).await.body["version"], 1);

    // B (with C) moves under Other.
    let moved = app.patch(&b_uri, 1, json!({"parent_id": other["id"]})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["root_id"], other["id"]);
    let c_now = app.get(&format!("/v1/clients/{}", c["id"].as_str().unwrap())).await;
    assert_eq!(c_now.body["root_id"], other["id"]);
    assert_eq!(c_now.body["depth"], 2);
    let token = moved.header("pcc-consistency-token").unwrap();
    let history = app
        .call(
            Method::GET,
            &format!("{b_uri}/moves"),
            None,
            &[("pcc-consistency-token", &token)],
        )
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    assert_eq!(history.body["items"][0]["new_parent_id"], other["id"]);
    assert_eq!(history.body["items"][0]["descendants_moved"], 1);

    // A chain of 16 levels is the limit.
    let mut parent = app.create_client("L0", None).await["id"].as_str().unwrap().to_owned();
    for level in 1..16 {
        parent = app.create_client(&format!("L{level}"), Some(&parent)).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    let too_deep = app
        .post(
            "/v1/clients",
            json!({"display_name": "L16", "legal_name": "L16", "parent_id": parent}),
        )
        .await;
    too_deep.assert_problem(409, "hierarchy-too-deep");
}

#[tokio::test]
async fn delete_refuses_live_children_and_restore_brings_a_client_back() {
    let app = TestApp::new().await;
    let parent = app.create_client("Parent", None).await;
    let child = app.create_client("Child", Some(parent["id"].as_str().unwrap())).await;
    let parent_uri = format!("/v1/clients/{}", parent["id"].as_str().unwrap());
    let child_uri = format!("/v1/clients/{}", child["id"].as_str().unwrap());

    app.call(Method::DELETE, &parent_uri, None, &[])
        .await
        .assert_problem(428, "precondition-required");
    app.call(Method::DELETE, &parent_uri, None, &[("if-match", "\"1\"")])
        .await
        .assert_problem(409, "has-children");
    let deleted = app
        .call(Method::DELETE, &child_uri, None, &[("if-match", "\"1\"")])
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.header("pcc-consistency-token").is_some());
    app.get(&child_uri).await.assert_problem(404, "not-found");
    let with_deleted = app.get(&format!("{child_uri}?include_deleted=true")).await;
    assert!(with_deleted.body["deleted_at"].is_string());
    assert_eq!(with_deleted.body["deleted_by"], "tester");
    // Changing a deleted client is refused.
    app.patch(
        &child_uri,
        with_deleted.body["version"].as_i64().unwrap(),
        json!({"owner": "x"}),
    )
    .await
    .assert_problem(409, "deleted");

    // Now the parent can go; restoring the child under a deleted parent is refused; restore both in order.
    let parent_version = app.get(&parent_uri).await.body["version"].as_i64().unwrap();
    let tag = format!("\"{parent_version}\"");
    assert_eq!(
        app.call(Method::DELETE, &parent_uri, None, &[("if-match", &tag)])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    app.call(Method::POST, &format!("{child_uri}/restore"), None, &[])
        .await
        .assert_problem(409, "parent-deleted");
    assert_eq!(
        app.call(Method::POST, &format!("{parent_uri}/restore"), None, &[])
            .await
            .status,
        StatusCode::OK
    );
    let restored = app.call(Method::POST, &format!("{child_uri}/restore"), None, &[]).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    assert_eq!(restored.body["deleted_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response_and_refuses_a_different_body() {
    let app = TestApp::new().await;
    let body = json!({"display_name": "Gamma", "legal_name": "Gamma SA"});
    let first = app
        .call(
            Method::POST,
            "/v1/clients",
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app
        .call(Method::POST, "/v1/clients", Some(body), &[("idempotency-key", "k-1")])
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    let other = app
        .call(
            Method::POST,
            "/v1/clients",
            Some(json!({"display_name": "Delta", "legal_name": "Delta"})),
            &[("idempotency-key", "k-1")],
        )
        .await;
    other.assert_problem(422, "idempotency-key-reused");
    let token = first.header("pcc-consistency-token").unwrap();
    let list = app
        .call(
            Method::GET,
            "/v1/clients?q=Gamma",
            None,
            &[("pcc-consistency-token", &token)],
        )
        .await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "exactly one client was created"
    );
    app.call(
        Method::POST,
        "/v1/clients",
        Some(json!({"display_name": "E", "legal_name": "E"})),
        &[("idempotency-key", "bad key")],
    )
    .await
    .assert_problem(422, "validation");
}

#[tokio::test]
async fn a_read_with_the_write_token_sees_the_write_on_the_replica() {
    let app = TestApp::new().await;
    for i in 0..10 {
        let created = app.create_client(&format!("Fresh {i}"), None).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let reply = app
            .post(
                &format!("/v1/clients/{id}/risk-assessments"),
                json!({"rating": "high", "rationale": "exposure"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let token = reply.header("pcc-consistency-token").unwrap();
        let list = app
            .call(
                Method::GET,
                &format!("/v1/clients?risk=high&q=Fresh%20{i}"),
                None,
                &[("pcc-consistency-token", &token)],
            )
            .await;
        assert_eq!(list.status, StatusCode::OK);
        let ids: Vec<&str> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert!(ids.contains(&id.as_str()), "iteration {i}: {ids:?}");
    }
    app.call(
        Method::GET,
        "/v1/clients",
        None,
        &[("pcc-consistency-token", "nonsense")],
    )
    .await
    .assert_problem(400, "invalid-consistency-token");
}

#[tokio::test]
async fn list_filters_sorts_and_pages_with_link_headers() {
    let app = TestApp::new().await;
    let root = app.create_client("Root Group", None).await;
    let root_id = root["id"].as_str().unwrap().to_owned();
    for i in 0..7 {
        let c = app.create_client(&format!("Member {i:02}"), Some(&root_id)).await;
        let uri = format!("/v1/clients/{}", c["id"].as_str().unwrap());
        let country = if i % 2 == 0 { "FR" } else { "US" };
        let reply = app
            .patch(&uri, 1, json!({"hq_country": country, "employee_count": i * 100}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let token = app.create_client("Zulu", None).await;
    let _ = token;
    // Wait for the replica through a token-carrying read.
    let last = app.create_client("Last", None).await;
    let last_token = app.get(&format!("/v1/clients/{}", last["id"].as_str().unwrap())).await;
    assert_eq!(last_token.status, StatusCode::OK);
    let write = app
        .patch(
            &format!("/v1/clients/{}", last["id"].as_str().unwrap()),
            1,
            json!({"owner": "o"}),
        )
        .await;
    let t = write.header("pcc-consistency-token").unwrap();

    let mut seen = Vec::new();
    let mut uri = format!("/v1/clients?root={root_id}&limit=3");
    loop {
        let page = app
            .call(Method::GET, &uri, None, &[("pcc-consistency-token", &t)])
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["display_name"].as_str().unwrap().to_owned()),
        );
        match page.header("link") {
            Some(link) => {
                let next = link.trim_start_matches('<').split('>').next().unwrap().to_owned();
                assert!(next.contains("cursor="));
                assert!(page.body["next_cursor"].is_string());
                uri = next;
            }
            None => {
                assert!(page.body.get("next_cursor").is_none());
                break;
            }
        }
    }
    let mut expected: Vec<String> = (0..7).map(|i| format!("Member {i:02}")).collect();
    expected.insert(0, "Member 00".into());
    expected.remove(0);
    expected.push("Root Group".into());
    assert_eq!(seen, expected);

    let fr = app
        .call(
            Method::GET,
            "/v1/clients?country=fr&sort=-name",
            None,
            &[("pcc-consistency-token", &t)],
        )
        .await;
    let names: Vec<&str> = fr.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Member 06", "Member 04", "Member 02", "Member 00"]);
    let large = app
        .call(
            Method::GET,
            "/v1/clients?size_band=large,medium",
            None,
            &[("pcc-consistency-token", &t)],
        )
        .await;
    // Headcounts 0, 100, ..., 600: 0 is micro, 100 and 200 medium, 300-600 large.
    assert_eq!(large.body["items"].as_array().unwrap().len(), 6, "{}", large.body);

    // A cursor from one query is refused by another.
    let first = app
        .call(
            Method::GET,
            &format!("/v1/clients?root={root_id}&limit=2"),
            None,
            &[("pcc-consistency-token", &t)],
        )
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    app.get(&format!("/v1/clients?country=US&limit=2&cursor={cursor}"))
        .await
        .assert_problem(400, "invalid-cursor");
    app.get("/v1/clients?cursor=%%%")
        .await
        .assert_problem(400, "invalid-cursor");
    app.get("/v1/clients?sort=colour")
        .await
        .assert_problem(422, "validation");
    app.get("/v1/clients?limit=0").await.assert_problem(422, "validation");
    app.get("/v1/clients?limit=abc").await.assert_problem(422, "validation");
    app.get("/v1/clients?bogus=1").await.assert_problem(422, "validation");
    app.get("/v1/clients?updated_since=yesterday")
        .await
        .assert_problem(422, "validation");
}

#[tokio::test]
async fn reads_report_how_stale_their_data_may_be() {
    let app = TestApp::new().await;
    let client = app.create_client("Fresh Data", None).await;
    let id = client["id"].as_str().unwrap();
    // A client by id is read on the primary: never behind.
    let one = app.get(&format!("/v1/clients/{id}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.header("pcc-read-staleness-ms").as_deref(), Some("0"));
    // Lists read the replica: a bound in milliseconds, once the replica's position is known.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let list = app.get("/v1/clients?limit=1").await;
        assert_eq!(list.status, StatusCode::OK);
        if let Some(ms) = list.header("pcc-read-staleness-ms") {
            assert!(ms.parse::<u64>().is_ok(), "{ms}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lists never reported their staleness"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A write reports no read staleness; a request that reads nothing neither.
    let patched = app.patch(&format!("/v1/clients/{id}"), 1, json!({"owner": "o"})).await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.header("pcc-read-staleness-ms"), None);
    let refused = app.get("/v1/clients?limit=0").await;
    assert_eq!(refused.header("pcc-read-staleness-ms"), None);
}
