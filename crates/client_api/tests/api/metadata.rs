//! Risk assessments, addresses, reports and reference data.

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn risk_assessments_form_a_history_and_set_the_current_risk() {
    let app = TestApp::new().await;
    let client = app.create_client("Risky", None).await;
    let id = client["id"].as_str().unwrap();
    let uri = format!("/v1/clients/{id}/risk-assessments");
    let first = app
        .post(
            &uri,
            json!({"rating": "medium", "rationale": "first look", "assessed_at": "2025-01-10T10:00:00Z"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(
        first.body["next_review_due"], "2026-01-10",
        "medium: 12 months by default"
    );
    let second = app
        .post(
            &uri,
            json!({"rating": "critical", "rationale": "sanctions exposure", "next_review_due": "2099-01-01"}),
        )
        .await;
    second.assert_problem(422, "validation");
    assert_eq!(second.pointers(), vec!["/next_review_due"]);
    let second = app
        .post(&uri, json!({"rating": "critical", "rationale": "sanctions exposure"}))
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    app.post(&uri, json!({"rating": "extreme", "rationale": "x"}))
        .await
        .assert_problem(422, "validation");
    app.post(
        &uri,
        json!({"rating": "low", "rationale": "x", "assessed_at": "2999-01-01T00:00:00Z"}),
    )
    .await
    .assert_problem(422, "validation");
    app.post(&uri, json!({"rating": "low", "rationale": "x", "assessed_at": "soon"}))
        .await
        .assert_problem(422, "validation");

    let current = app.get(&format!("/v1/clients/{id}")).await;
    assert_eq!(current.body["risk_category"], "critical");
    let token = second.header("pcc-consistency-token").unwrap();
    let history = app
        .call(Method::GET, &uri, None, &[("pcc-consistency-token", &token)])
        .await;
    let ratings: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rating"].as_str().unwrap())
        .collect();
    assert_eq!(ratings, ["critical", "medium"]);

    let due = app
        .call(
            Method::GET,
            "/v1/reports/risk-reviews-due?due_by=2026-06-30",
            None,
            &[("pcc-consistency-token", &token)],
        )
        .await;
    assert_eq!(due.status, StatusCode::OK, "{}", due.body);
    assert!(
        due.body["items"].as_array().unwrap().is_empty(),
        "critical review is due in 3 months, after the horizon only if today is late 2026: {}",
        due.body
    );
    let unassessed = app.create_client("Never assessed", None).await;
    let later = app.create_client("Later", None).await;
    let _ = later;
    let token = app
        .patch(
            &format!("/v1/clients/{}", unassessed["id"].as_str().unwrap()),
            1,
            json!({"owner": "o"}),
        )
        .await
        .header("pcc-consistency-token")
        .unwrap();
    let due = app
        .call(
            Method::GET,
            "/v1/reports/risk-reviews-due?limit=1",
            None,
            &[("pcc-consistency-token", &token)],
        )
        .await;
    assert_eq!(due.body["items"].as_array().unwrap().len(), 1);
    let cursor = due.body["next_cursor"].as_str().unwrap().to_owned();
    let next = app
        .call(
            Method::GET,
            &format!("/v1/reports/risk-reviews-due?limit=1&cursor={cursor}"),
            None,
            &[("pcc-consistency-token", &token)],
        )
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert_ne!(next.body["items"][0]["client_id"], due.body["items"][0]["client_id"]);
    app.get("/v1/reports/risk-reviews-due?due_by=tomorrow")
        .await
        .assert_problem(422, "validation");
}

#[tokio::test]
async fn addresses_are_typed_single_per_type_and_conditionally_updated() {
    let app = TestApp::new().await;
    let client = app.create_client("Addressed", None).await;
    let id = client["id"].as_str().unwrap();
    let uri = format!("/v1/clients/{id}/addresses");
    let registered = json!({"address_type": "registered", "line1": "1 Main St", "city": "London", "postal_code": "EC1A 1BB", "country_code": "GB"});
    let created = app.post(&uri, registered.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    app.post(&uri, registered).await.assert_problem(409, "conflict");
    let bad = app
        .post(
            &uri,
            json!({"address_type": "operating", "line1": "x", "city": "y", "country_code": "ZZ"}),
        )
        .await;
    bad.assert_problem(422, "validation");
    assert_eq!(bad.pointers(), vec!["/country_code"]);
    let address = format!("{uri}/{}", created.body["id"].as_str().unwrap());
    app.call(Method::PATCH, &address, Some(json!({"city": "Leeds"})), &[])
        .await
        .assert_problem(428, "precondition-required");
    let changed = app
        .patch(&address, 1, json!({"city": "Leeds", "line2": "Floor 3"}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["city"], "Leeds");
    app.patch(&address, 1, json!({"city": "York"}))
        .await
        .assert_problem(412, "precondition-failed");
    let token = changed.header("pcc-consistency-token").unwrap();
    let list = app
        .call(Method::GET, &uri, None, &[("pcc-consistency-token", &token)])
        .await;
    assert_eq!(list.body["items"][0]["line2"], "Floor 3");
    let deleted = app.call(Method::DELETE, &address, None, &[("if-match", "\"2\"")]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.call(Method::DELETE, &address, None, &[("if-match", "\"2\"")])
        .await
        .assert_problem(404, "not-found");
}

#[tokio::test]
async fn portfolio_summary_groups_the_book_or_a_subtree() {
    let app = TestApp::new().await;
    let root = app.create_client("Holding", None).await;
    let root_id = root["id"].as_str().unwrap().to_owned();
    let mut token = String::new();
    for (name, country, code) in [
        ("Sub DE", "DE", "541511"),
        ("Sub DE 2", "DE", "311111"),
        ("Sub FR", "FR", "541512"),
    ] {
        let reply = app
            .post("/v1/clients", json!({"display_name": name, "legal_name": name, "parent_id": root_id, "hq_country": country, "industry_code": code, "employee_count": 10}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        token = reply.header("pcc-consistency-token").unwrap();
    }
    let outside = app
        .post(
            "/v1/clients",
            json!({"display_name": "Solo", "legal_name": "Solo", "hq_country": "DE"}),
        )
        .await;
    token = outside.header("pcc-consistency-token").unwrap_or(token);
    let get = |uri: String| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call(Method::GET, &uri, None, &[("pcc-consistency-token", &token)])
                .await
        }
    };
    let by_country = get("/v1/reports/portfolio-summary?group_by=country".into()).await;
    assert_eq!(by_country.status, StatusCode::OK, "{}", by_country.body);
    assert_eq!(by_country.body["total_clients"], 5);
    assert_eq!(by_country.body["groups"][0]["key"], "DE");
    assert_eq!(by_country.body["groups"][0]["clients"], 3);
    assert_eq!(by_country.body["groups"][0]["label"], "Germany");
    let subtree = get(format!(
        "/v1/reports/portfolio-summary?group_by=industry_sector&root={root_id}"
    ))
    .await;
    assert_eq!(subtree.body["total_clients"], 4);
    let sectors: Vec<(Option<&str>, i64)> = subtree.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str(), g["clients"].as_i64().unwrap()))
        .collect();
    assert_eq!(sectors, vec![(Some("54"), 2), (Some("31-33"), 1), (None, 1)]);
    assert_eq!(subtree.body["groups"][0]["employees"], 20);
    for grouping in ["risk", "size_band", "status"] {
        assert_eq!(
            get(format!("/v1/reports/portfolio-summary?group_by={grouping}"))
                .await
                .status,
            StatusCode::OK
        );
    }
    get("/v1/reports/portfolio-summary?group_by=colour".into())
        .await
        .assert_problem(422, "validation");
    get("/v1/reports/portfolio-summary".into())
        .await
        .assert_problem(422, "validation");
}

#[tokio::test]
async fn reference_data_is_served() {
    let app = TestApp::new().await;
    let countries = app.get("/v1/reference/countries").await;
    assert!(
        countries.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["alpha2"] == "DE" && c["alpha3"] == "DEU")
    );
    let currencies = app.get("/v1/reference/currencies").await;
    assert!(
        currencies.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "JPY" && c["minor_units"] == 0)
    );
    let codes = app.get("/v1/reference/industry-codes?prefix=5415&level=6").await;
    let items = codes.body["items"].as_array().unwrap();
    assert!(items.iter().any(|c| c["code"] == "541511"), "{}", codes.body);
    assert!(items.iter().all(|c| c["code"].as_str().unwrap().starts_with("5415")));
    let page = app.get("/v1/reference/industry-codes?limit=10").await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = app
        .get(&format!("/v1/reference/industry-codes?limit=10&cursor={cursor}"))
        .await;
    assert!(next.body["items"][0]["code"].as_str().unwrap() > page.body["items"][9]["code"].as_str().unwrap());
    let statuses = app.get("/v1/reference/client-statuses").await;
    let prospect = &statuses.body["items"][0];
    assert_eq!(prospect["value"], "prospect");
    assert_eq!(prospect["transitions"], json!(["exited", "onboarding"]));
    for vocabulary in [
        "risk-ratings",
        "size-bands",
        "contact-roles",
        "address-types",
        "industry-schemes",
    ] {
        let reply = app.get(&format!("/v1/reference/{vocabulary}")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.body["items"].as_array().unwrap().is_empty(), "{vocabulary}");
    }
}
