//! Races: concurrent re-parenting that would close a cycle (one must lose, no cycle ever forms) and two
//! concurrent updates with the same If-Match (exactly one wins, the other gets 412).

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn concurrent_moves_that_would_form_a_cycle_never_do() {
    let app = TestApp::new().await;
    for round in 0..8 {
        // Two roots X and Y; concurrently move X under Y and Y under X. Each alone is fine; together a cycle.
        let x = app.create_client(&format!("X{round}"), None).await;
        let y = app.create_client(&format!("Y{round}"), None).await;
        let (x_id, y_id) = (
            x["id"].as_str().unwrap().to_owned(),
            y["id"].as_str().unwrap().to_owned(),
        );
        let (x_uri, y_uri) = (format!("/v1/clients/{x_id}"), format!("/v1/clients/{y_id}"));
        let move_x = app.patch(&x_uri, 1, json!({"parent_id": y_id}));
        let move_y = app.patch(&y_uri, 1, json!({"parent_id": x_id}));
        let (a, b) = tokio::join!(move_x, move_y);
        let statuses = [a.status.as_u16(), b.status.as_u16()];
        assert!(
            statuses.contains(&200) && statuses.contains(&409),
            "round {round}: {statuses:?} {} {}",
            a.body,
            b.body
        );
        let loser = if a.status == StatusCode::OK { &b } else { &a };
        loser.assert_problem(409, "hierarchy-cycle");
        // The invariant on the primary: both in one tree, exactly one root.
        let db = app.db.connect().await;
        let rows = db
            .query(
                "SELECT id::text, parent_id::text, root_id::text FROM client_api.client WHERE id::text = ANY($1)",
                &[&vec![x_id.clone(), y_id.clone()]],
            )
            .await
            .unwrap();
        let roots: Vec<String> = rows.iter().map(|r| r.get::<_, String>(2)).collect();
        assert_eq!(roots[0], roots[1], "round {round}: one tree");
        assert_eq!(
            rows.iter().filter(|r| r.get::<_, Option<String>>(1).is_none()).count(),
            1,
            "round {round}: one root"
        );
    }
}

#[tokio::test]
async fn of_two_updates_with_the_same_if_match_exactly_one_wins() {
    let app = TestApp::new().await;
    for round in 0..8 {
        let client = app.create_client(&format!("Race {round}"), None).await;
        let uri = format!("/v1/clients/{}", client["id"].as_str().unwrap());
        let (a, b) = tokio::join!(
            app.patch(&uri, 1, json!({"owner": "first"})),
            app.patch(&uri, 1, json!({"owner": "second"}))
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "round {round}: {} / {}", a.body, b.body);
        let winner = if a.status == StatusCode::OK { &a } else { &b };
        let now = app.get(&uri).await;
        assert_eq!(now.body["version"], 2);
        assert_eq!(now.body["owner"], winner.body["owner"]);
    }
}

#[tokio::test]
async fn concurrent_posts_with_one_idempotency_key_create_one_client() {
    let app = TestApp::new().await;
    let body = json!({"display_name": "Once", "legal_name": "Once"});
    let post = || {
        app.call(
            Method::POST,
            "/v1/clients",
            Some(body.clone()),
            &[("idempotency-key", "same-key")],
        )
    };
    let (a, b) = tokio::join!(post(), post());
    assert_eq!(
        (a.status, b.status),
        (StatusCode::CREATED, StatusCode::CREATED),
        "{} {}",
        a.body,
        b.body
    );
    assert_eq!(a.body["id"], b.body["id"]);
    let db = app.db.connect().await;
    let count: i64 = db
        .query_one("SELECT count(*) FROM client_api.client", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}
