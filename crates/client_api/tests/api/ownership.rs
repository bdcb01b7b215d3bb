//! Ownership stakes on the parent link over real HTTP: set on create, changed by PATCH, restated or cleared by a
//! move, validation problems for bad stakes (nothing written), and `/v1/reports/portfolio-summary?weight=ownership`
//! whose figures are the products of the stakes down a 3-level chain.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::over_http::Api;

async fn create(api: &Api, name: &str, parent: Option<&str>, extra: Value) -> Value {
    let mut body = json!({"display_name": name, "legal_name": format!("{name} Ltd"), "parent_id": parent});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    api.write(Method::POST, "/v1/clients", "analyst", "req-create", Some(body))
        .await
}

fn id(client: &Value) -> String {
    client["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stake_is_set_on_create_changed_by_patch_and_restated_or_cleared_by_a_move() {
    let api = Api::new().await;
    let holding = id(&create(&api, "Holding", None, json!({})).await);
    let other = id(&create(&api, "Other", None, json!({})).await);
    let sub = create(
        &api,
        "Sub",
        Some(&holding),
        json!({"ownership": {"percent": "60", "effective_from": "2024-01-01"}}),
    )
    .await;
    assert_eq!(
        sub["ownership"],
        json!({"percent": "60", "effective_from": "2024-01-01"})
    );
    let path = format!("/v1/clients/{}", id(&sub));

    // A merge patch of the stake keeps what it does not name.
    let changed = api
        .write(
            Method::PATCH,
            &path,
            "analyst",
            "req-stake",
            Some(json!({"ownership": {"percent": "72.5"}})),
        )
        .await;
    assert_eq!(
        changed["ownership"],
        json!({"percent": "72.5", "effective_from": "2024-01-01"})
    );
    assert_eq!(changed["version"], 2);
    let history = api.get(&format!("{path}/history?field=ownership_percent")).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(
        items[0]["changes"]["ownership_percent"],
        json!({"old": "60", "new": "72.5"})
    );

    // A move without a stake leaves the new link without one; a move with one records it for the new parent
    // (taken from the patch alone: a stake without a date is refused, not merged with the old one's).
    let moved = api
        .write(
            Method::PATCH,
            &path,
            "analyst",
            "req-move",
            Some(json!({"parent_id": other})),
        )
        .await;
    assert_eq!(moved["parent_id"], json!(other));
    assert_eq!(moved["ownership"], Value::Null);
    let etag = format!("\"{}\"", moved["version"]);
    let undated = api
        .send(
            Method::PATCH,
            &path,
            "analyst",
            None,
            Some(json!({"parent_id": holding, "ownership": {"percent": "80"}})),
            &[("if-match", &etag)],
        )
        .await;
    undated.assert_problem(400, "malformed-body");
    assert_eq!(undated.pointers(), vec!["/ownership/effective_from"]);
    let back = api
        .write(
            Method::PATCH,
            &path,
            "analyst",
            "req-move-back",
            Some(json!({"parent_id": holding, "ownership": {"percent": "80", "effective_from": "2025-03-01"}})),
        )
        .await;
    assert_eq!(back["parent_id"], json!(holding));
    assert_eq!(
        back["ownership"],
        json!({"percent": "80", "effective_from": "2025-03-01"})
    );
    let cleared = api
        .write(
            Method::PATCH,
            &path,
            "analyst",
            "req-clear",
            Some(json!({"ownership": null})),
        )
        .await;
    assert_eq!(cleared["ownership"], Value::Null);
    // Becoming a root with a stake is refused: a root has no parent link.
    let etag = format!("\"{}\"", cleared["version"]);
    let refused = api
        .send(
            Method::PATCH,
            &path,
            "analyst",
            None,
            Some(json!({"parent_id": null, "ownership": {"percent": "50", "effective_from": "2024-01-01"}})),
            &[("if-match", &etag)],
        )
        .await;
    refused.assert_problem(422, "validation");
    assert_eq!(refused.pointers(), vec!["/ownership"]);
    let unchanged = api.get(&path).await;
    assert_eq!(
        unchanged.body["parent_id"],
        json!(holding),
        "a refused move changes nothing"
    );
    api.stop();
}

#[tokio::test]
async fn bad_stakes_get_validation_problems_naming_the_field_and_write_nothing() {
    let api = Api::new().await;
    let holding = id(&create(&api, "Holding", None, json!({})).await);
    let tomorrow = (time::OffsetDateTime::now_utc().date() + time::Duration::days(2)).to_string();
    let cases = [
        (
            json!({"percent": "0", "effective_from": "2024-01-01"}),
            422,
            "/ownership/percent",
        ),
        (
            json!({"percent": "100.01", "effective_from": "2024-01-01"}),
            422,
            "/ownership/percent",
        ),
        (
            json!({"percent": "1000", "effective_from": "2024-01-01"}),
            422,
            "/ownership/percent",
        ),
        (
            json!({"percent": "-5", "effective_from": "2024-01-01"}),
            422,
            "/ownership/percent",
        ),
        (
            json!({"percent": "12.345678", "effective_from": "2024-01-01"}),
            422,
            "/ownership/percent",
        ),
        (
            json!({"percent": "half", "effective_from": "2024-01-01"}),
            422,
            "/ownership/percent",
        ),
        (
            json!({"percent": "50", "effective_from": "2024-13-01"}),
            422,
            "/ownership/effective_from",
        ),
        (
            json!({"percent": "50", "effective_from": "1899-12-31"}),
            422,
            "/ownership/effective_from",
        ),
        (
            json!({"percent": "50", "effective_from": tomorrow}),
            422,
            "/ownership/effective_from",
        ),
        (json!({"percent": "50"}), 400, "/ownership/effective_from"),
        (
            json!({"percent": 50, "effective_from": "2024-01-01"}),
            400,
            "/ownership/percent",
        ),
        (
            json!({"percent": "50", "effective_from": "2024-01-01", "holder": "x"}),
            400,
            "/ownership/holder",
        ),
    ];
    for (ownership, status, pointer) in cases {
        let body =
            json!({"display_name": "Sub", "legal_name": "Sub Ltd", "parent_id": holding, "ownership": ownership});
        let refused = api
            .send(Method::POST, "/v1/clients", "analyst", None, Some(body), &[])
            .await;
        let slug = if status == 400 { "malformed-body" } else { "validation" };
        refused.assert_problem(status, slug);
        assert_eq!(refused.pointers(), vec![pointer], "{ownership}");
    }
    // A root cannot carry a stake.
    let root = json!({"display_name": "Top", "legal_name": "Top Ltd",
                      "ownership": {"percent": "50", "effective_from": "2024-01-01"}});
    let refused = api
        .send(Method::POST, "/v1/clients", "analyst", None, Some(root), &[])
        .await;
    refused.assert_problem(422, "validation");
    assert_eq!(refused.pointers(), vec!["/ownership"]);
    let children = api.get(&format!("/v1/clients/{holding}/children")).await;
    assert_eq!(children.body["items"], json!([]), "nothing was written");
    let list = api.get("/v1/clients").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "{}", list.body);
    api.stop();
}

#[tokio::test]
async fn the_ownership_weighted_summary_multiplies_the_stakes_down_the_chain() {
    let api = Api::new().await;
    let stake = |p: &str| json!({"ownership": {"percent": p, "effective_from": "2024-01-01"}});
    let with = |mut v: Value, employees: i64| {
        v["employee_count"] = json!(employees);
        v
    };
    let top = id(&create(&api, "Top", None, json!({"employee_count": 1000})).await);
    let mid = id(&create(&api, "Mid", Some(&top), with(stake("60"), 200)).await);
    let low = id(&create(&api, "Low", Some(&mid), with(stake("50"), 300)).await);
    let leaf = id(&create(&api, "Leaf", Some(&low), with(stake("25.5"), 1000)).await);
    // A link without a stake counts as whole, and is counted.
    create(&api, "Unstaked", Some(&top), json!({"employee_count": 10})).await;
    let _ = leaf;

    let whole = api
        .get(&format!(
            "/v1/reports/portfolio-summary?group_by=status&weight=ownership&root={top}"
        ))
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.body);
    let body = &whole.body;
    assert_eq!(body["weight"], "ownership");
    assert_eq!(body["total_clients"], 5);
    // 1 + 0.6 + 0.6 * 0.5 + 0.6 * 0.5 * 0.255 + 1
    assert_eq!(body["weighted_total_clients"], "2.9765");
    assert_eq!(body["links_without_stake"], 1);
    let group = &body["groups"][0];
    assert_eq!(group["key"], "prospect");
    assert_eq!(group["clients"], 5);
    assert_eq!(group["employees"], 2510);
    assert_eq!(group["weighted"]["clients"], "2.9765");
    // 1000 + 200 * 0.6 + 300 * 0.3 + 1000 * 0.0765 + 10
    assert_eq!(group["weighted"]["employees"], "1296.5");
    assert_eq!(group["weighted"]["high_or_critical_risk"], "0");

    // From the middle: the middle weighs 1, below it 0.5 and 0.1275.
    let below = api
        .get(&format!(
            "/v1/reports/portfolio-summary?group_by=status&weight=ownership&root={mid}"
        ))
        .await;
    assert_eq!(below.body["weighted_total_clients"], "1.6275", "{}", below.body);
    assert_eq!(below.body["groups"][0]["weighted"]["employees"], "477.5");
    assert_eq!(below.body["links_without_stake"], 0);
    // The whole book equals the tree's figures here (one group of companies).
    let book = api
        .get("/v1/reports/portfolio-summary?group_by=status&weight=ownership")
        .await;
    assert_eq!(book.body["weighted_total_clients"], "2.9765", "{}", book.body);

    // Changing a stake in the middle changes everything below it.
    api.write(
        Method::PATCH,
        &format!("/v1/clients/{low}"),
        "analyst",
        "req-stake",
        Some(stake("100")),
    )
    .await;
    let after = api
        .get(&format!(
            "/v1/reports/portfolio-summary?group_by=status&weight=ownership&root={mid}"
        ))
        .await;
    // 1 + 1 + 0.255
    assert_eq!(after.body["weighted_total_clients"], "2.255", "{}", after.body);

    // Unweighted: no weighted figures; an unknown weighting is a problem naming the parameter.
    let plain = api
        .get(&format!("/v1/reports/portfolio-summary?group_by=status&root={top}"))
        .await;
    assert_eq!(plain.body["weight"], "none");
    assert!(plain.body.get("weighted_total_clients").is_none());
    assert!(plain.body["groups"][0].get("weighted").is_none());
    api.get("/v1/reports/portfolio-summary?group_by=status&weight=revenue")
        .await
        .assert_parameter_problem(422, "validation", "weight");
    api.stop();
}
