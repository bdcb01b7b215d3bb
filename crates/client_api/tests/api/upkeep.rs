//! The service's own upkeep: expired `Idempotency-Key` rows are purged on a schedule, and the keys' time to
//! live is the configured one; the change history is purged on a schedule beyond the retention the owner set,
//! which the service can neither change nor exceed.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::json;

use crate::support::TestApp;

async fn key_rows(app: &TestApp) -> (i64, i64) {
    let admin = app.db.connect().await;
    let row = admin
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE expires_at <= now()) FROM client_api.idempotency_key",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn expired_idempotency_keys_are_purged_on_a_schedule() {
    let app = TestApp::new().await;
    for i in 0..5 {
        let key = format!("purge-{i}");
        let reply = app
            .call(
                Method::POST,
                "/v1/clients",
                Some(json!({"display_name": format!("Purge {i}"), "legal_name": format!("Purge {i} Ltd")})),
                &[("idempotency-key", &key)],
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    assert_eq!(key_rows(&app).await, (5, 0), "fresh keys live 24 hours by default");
    // Three of them expire (as 24 hours would make them).
    app.db
        .connect()
        .await
        .batch_execute(
            "UPDATE client_api.idempotency_key SET created_at = now() - interval '2 days', \
             expires_at = now() - interval '1 day' WHERE idempotency_key IN ('purge-0', 'purge-1', 'purge-2')",
        )
        .await
        .unwrap();
    assert_eq!(key_rows(&app).await, (5, 3));
    let purge = client_api::purge::spawn_idempotency_purge(app.state.db.clone(), Duration::from_millis(50));
    test_support::eventually(
        "the purge removes the expired keys",
        Duration::from_secs(30),
        || async { (key_rows(&app).await == (2, 0)).then_some(()) },
    )
    .await;
    purge.abort();
    // A direct round deletes nothing more: the live keys stay.
    assert_eq!(client_api::purge::purge_expired(&app.state.db).await, 0);
    assert_eq!(key_rows(&app).await, (2, 0));
}

#[tokio::test]
async fn idempotency_keys_live_for_the_configured_ttl() {
    let app = TestApp::new().await;
    let db = app.state.db.clone().with_idempotency_ttl(Duration::from_secs(90));
    let state = client_api::AppState::new(db, Arc::clone(&app.state.auth), None);
    let router = client_api::http::router(state, &app.http);
    let token = app.token();
    let request = http::Request::builder()
        .method(Method::POST)
        .uri("/v1/clients")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", "ttl-1")
        .body(axum::body::Body::from(
            json!({"display_name": "Ttl", "legal_name": "Ttl Ltd"}).to_string(),
        ))
        .unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    assert_eq!(response.status(), 201);
    let ttl: f64 = app
        .db
        .connect()
        .await
        .query_one(
            "SELECT extract(epoch FROM expires_at - created_at)::float8 FROM client_api.idempotency_key \
             WHERE idempotency_key = 'ttl-1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((ttl - 90.0).abs() < 1.0, "time to live {ttl} s");
}

async fn history_rows(app: &TestApp) -> i64 {
    let admin = app.db.connect().await;
    admin
        .query_one("SELECT count(*) FROM client_api.change_history", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_history_is_purged_on_a_schedule_beyond_the_owners_retention_and_no_further() {
    let app = TestApp::new().await;
    let db = app.state.db.clone();
    for i in 0..3 {
        let reply = app
            .call(
                Method::POST,
                "/v1/clients",
                Some(json!({"display_name": format!("Old {i}"), "legal_name": format!("Old {i} Ltd")})),
                &[],
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    assert_eq!(history_rows(&app).await, 3);
    // Without a retention (the default) the history is kept whole.
    assert_eq!(client_api::purge::run(&db, client_api::purge::HISTORY).await, 0);
    assert_eq!(history_rows(&app).await, 3);

    // The service can neither set the retention nor purge by an interval of its choosing.
    let write = db.router().write();
    assert!(
        write
            .query_one("SELECT client_api.set_history_retention(interval '1 second')", &[])
            .await
            .is_err(),
        "the service sets no retention"
    );
    assert!(
        write
            .execute(
                "UPDATE client_api.change_history_retention SET keep = interval '1 second'",
                &[]
            )
            .await
            .is_err(),
        "nor writes the setting directly"
    );
    assert!(
        write
            .query_one("SELECT client_api.purge_history(interval '1 second')", &[])
            .await
            .is_err(),
        "nor purges by its own interval"
    );

    // The owner sets one; entries older than it go on the service's schedule, younger ones stay.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let owner = app.db.connect_as_owner().await;
    let previous: Option<String> = owner
        .query_one(
            "SELECT client_api.set_history_retention(interval '1 second')::text",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(previous, None);
    let reply = app
        .call(
            Method::POST,
            "/v1/clients",
            Some(json!({"display_name": "New", "legal_name": "New Ltd"})),
            &[],
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let purge = client_api::purge::spawn(db.clone(), client_api::purge::HISTORY, Duration::from_millis(50));
    test_support::eventually(
        "the scheduled purge removes the entries older than the retention",
        Duration::from_secs(30),
        || async { (history_rows(&app).await == 1).then_some(()) },
    )
    .await;
    purge.abort();
    let admin = app.db.connect().await;
    let service_login: String = app
        .db
        .connect_as_service()
        .await
        .query_one("SELECT session_user::text", &[])
        .await
        .unwrap()
        .get(0);
    let kept: String = admin
        .query_one(
            "SELECT changes -> 'display_name' ->> 'new' FROM client_api.change_history",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, "New");
    let row = admin
        .query_one(
            "SELECT purged_by, purged_rows FROM client_api.change_history_purge ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, i64>(1)),
        (service_login.clone(), 3),
        "the purge is recorded with the service's login"
    );
    let set_by: String = admin
        .query_one("SELECT set_by FROM client_api.change_history_retention", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(set_by, service_login, "the owner set it");
}
