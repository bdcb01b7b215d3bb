//! Contacts: CRUD, links with roles and validity, a client's contacts and a contact's clients.

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn contacts_are_created_read_updated_and_soft_deleted() {
    let app = TestApp::new().await;
    let created = app.post("/v1/contacts", json!({"given_name": "Ada", "family_name": "Lovelace", "email": "ada@example.org", "phone": "+442071234567"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let uri = created.header("location").unwrap();
    let got = app.get(&uri).await;
    assert_eq!(got.body["family_name"], "Lovelace");
    let not_modified = app.call(Method::GET, &uri, None, &[("if-none-match", "\"1\"")]).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    let bad = app
        .post("/v1/contacts", json!({"family_name": "X", "email": "not-an-email"}))
        .await;
    bad.assert_problem(422, "validation");
    assert_eq!(bad.pointers(), vec!["/email"]);
    app.post("/v1/contacts", json!({"family_name": "X", "phone": "0207 123"}))
        .await
        .assert_problem(422, "validation");
    let changed = app
        .patch(&uri, 1, json!({"job_title": "Chief Analyst", "phone": null}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["phone"], serde_json::Value::Null);
    let token = changed.header("pcc-consistency-token").unwrap();
    let search = app
        .call(
            Method::GET,
            "/v1/contacts?q=lovel",
            None,
            &[("pcc-consistency-token", &token)],
        )
        .await;
    assert_eq!(search.body["items"].as_array().unwrap().len(), 1);
    app.call(Method::DELETE, &uri, None, &[("if-match", "\"1\"")])
        .await
        .assert_problem(412, "precondition-failed");
    assert_eq!(
        app.call(Method::DELETE, &uri, None, &[("if-match", "\"2\"")])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    app.get(&uri).await.assert_problem(404, "not-found");
}

#[tokio::test]
async fn links_carry_roles_and_validity_with_one_primary_at_a_time() {
    let app = TestApp::new().await;
    let client = app.create_client("Linked", None).await;
    let client_id = client["id"].as_str().unwrap();
    let ada = app
        .post("/v1/contacts", json!({"given_name": "Ada", "family_name": "Byron"}))
        .await
        .body;
    let bob = app
        .post("/v1/contacts", json!({"given_name": "Bob", "family_name": "Stone"}))
        .await
        .body;
    let uri = format!("/v1/clients/{client_id}/contacts");
    let link = app
        .post(
            &uri,
            json!({"contact_id": ada["id"], "role": "primary", "valid_from": "2024-01-01"}),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    assert_eq!(link.body["current"], true);
    // A second primary for an overlapping period is a conflict; the same person as finance is fine.
    app.post(&uri, json!({"contact_id": bob["id"], "role": "primary"}))
        .await
        .assert_problem(409, "conflict");
    assert_eq!(
        app.post(&uri, json!({"contact_id": bob["id"], "role": "finance"}))
            .await
            .status,
        StatusCode::CREATED
    );
    app.post(&uri, json!({"contact_id": bob["id"], "role": "mascot"}))
        .await
        .assert_problem(422, "validation");
    app.post(&uri, json!({"contact_id": uuid::Uuid::now_v7(), "role": "legal"}))
        .await
        .assert_problem(422, "validation");
    app.post(
        &uri,
        json!({"contact_id": bob["id"], "role": "legal", "valid_from": "2025-01-01", "valid_to": "2024-01-01"}),
    )
    .await
    .assert_problem(422, "validation");
    app.post(
        &uri,
        json!({"contact_id": bob["id"], "role": "legal", "valid_from": "01/01/2025"}),
    )
    .await
    .assert_problem(422, "validation");

    // End Ada's primary role; then Bob can become primary from that day on.
    let link_uri = format!("{uri}/{}", link.body["id"].as_str().unwrap());
    let ended = app.patch(&link_uri, 1, json!({"valid_to": "2025-01-01"})).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(ended.body["current"], false);
    let bob_primary = app
        .post(
            &uri,
            json!({"contact_id": bob["id"], "role": "primary", "valid_from": "2025-01-01"}),
        )
        .await;
    assert_eq!(bob_primary.status, StatusCode::CREATED, "{}", bob_primary.body);
    let token = bob_primary.header("pcc-consistency-token").unwrap();

    let current = app
        .call(
            Method::GET,
            &format!("{uri}?current=true"),
            None,
            &[("pcc-consistency-token", &token)],
        )
        .await;
    let roles: Vec<(&str, &str)> = current.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["role"].as_str().unwrap(),
                l["contact"]["given_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(roles, vec![("primary", "Bob"), ("finance", "Bob")]);
    let all = app
        .call(Method::GET, &uri, None, &[("pcc-consistency-token", &token)])
        .await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 3);
    let bobs = app
        .call(
            Method::GET,
            &format!("/v1/contacts/{}/clients", bob["id"].as_str().unwrap()),
            None,
            &[("pcc-consistency-token", &token)],
        )
        .await;
    assert_eq!(bobs.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(bobs.body["items"][0]["client_display_name"], "Linked");

    let unlinked = app.call(Method::DELETE, &link_uri, None, &[]).await;
    assert_eq!(unlinked.status, StatusCode::NO_CONTENT);
    app.call(Method::DELETE, &link_uri, None, &[])
        .await
        .assert_problem(404, "not-found");
}
