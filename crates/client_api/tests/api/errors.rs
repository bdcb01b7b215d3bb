//! Every way a request can be wrong gets a 4xx problem (never a 500, never a partial write).

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn malformed_bodies_are_400_problems_that_point_at_the_value() {
    let app = TestApp::new().await;
    let token = format!("Bearer {}", app.token());
    let json_type = "application/json".to_owned();
    let send = |body: &'static str| {
        let headers = vec![("authorization", token.clone()), ("content-type", json_type.clone())];
        let app = &app;
        async move {
            app.raw(Method::POST, "/v1/clients", body.as_bytes().to_vec(), &headers)
                .await
        }
    };
    send("{").await.assert_problem(400, "malformed-body");
    send("[]").await.assert_problem(400, "malformed-body");
    send("{\"display_name\": \"x\", \"legal_name\": \"y\"} trailing")
        .await
        .assert_problem(400, "malformed-body");
    let wrong_type = send("{\"display_name\": 12, \"legal_name\": \"y\"}").await;
    wrong_type.assert_problem(400, "malformed-body");
    assert_eq!(wrong_type.pointers(), vec!["/display_name"]);
    let missing = send("{\"display_name\": \"x\"}").await;
    missing.assert_problem(400, "malformed-body");
    assert_eq!(missing.pointers(), vec!["/legal_name"]);
    let bad_uuid = send("{\"display_name\": \"x\", \"legal_name\": \"y\", \"parent_id\": \"nope\"}").await;
    assert_eq!(bad_uuid.pointers(), vec!["/parent_id"]);
    let read_only =
        send("{\"display_name\": \"x\", \"legal_name\": \"y\", \"id\": \"0190c6a8-0000-7000-8000-000000000000\"}")
            .await;
    read_only.assert_problem(400, "malformed-body");
    assert!(read_only.body["detail"].as_str().unwrap().contains("read-only"));

    // Media type and size.
    let headers = vec![
        ("authorization", token.clone()),
        ("content-type", "text/plain".to_owned()),
    ];
    app.raw(Method::POST, "/v1/clients", b"{}".to_vec(), &headers)
        .await
        .assert_problem(415, "unsupported-media-type");
    let headers = vec![("authorization", token.clone())];
    app.raw(Method::POST, "/v1/clients", b"{}".to_vec(), &headers)
        .await
        .assert_problem(415, "unsupported-media-type");
    let huge = format!(
        "{{\"display_name\": \"{}\", \"legal_name\": \"y\"}}",
        "x".repeat(100_000)
    );
    let headers = vec![("authorization", token.clone()), ("content-type", json_type.clone())];
    app.raw(Method::POST, "/v1/clients", huge.into_bytes(), &headers)
        .await
        .assert_problem(413, "payload-too-large");

    // Rule violations found by the database: 422 with the pointer, nothing written.
    for (body, pointer) in [
        (json!({"display_name": " padded", "legal_name": "y"}), "/display_name"),
        (
            json!({"display_name": "x", "legal_name": "y", "lei": "ABCDEFGHIJKLMNOPQR00"}),
            "/lei",
        ),
        (
            json!({"display_name": "x", "legal_name": "y", "hq_country": "XX"}),
            "/hq_country",
        ),
        (
            json!({"display_name": "x", "legal_name": "y", "website": "ftp://x"}),
            "/website",
        ),
        (
            json!({"display_name": "x", "legal_name": "y", "revenue_amount": "12.5"}),
            "/revenue_amount",
        ),
        (
            json!({"display_name": "x", "legal_name": "y", "revenue_amount": "1e5", "revenue_currency": "EUR"}),
            "/revenue_amount",
        ),
        (
            json!({"display_name": "x", "legal_name": "y", "industry_code": "999999"}),
            "/industry_code",
        ),
        (
            json!({"display_name": "x", "legal_name": "y", "employee_count": -1}),
            "/employee_count",
        ),
        (
            json!({"display_name": "x", "legal_name": "y", "status": "dormant"}),
            "/status",
        ),
        (
            json!({"display_name": "x", "legal_name": "y", "registration_authority": "RA000585"}),
            "/registration_number",
        ),
    ] {
        let reply = app.post("/v1/clients", body.clone()).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.pointers(), vec![pointer], "{body}");
    }
    let parent = app
        .post(
            "/v1/clients",
            json!({"display_name": "x", "legal_name": "y", "parent_id": uuid::Uuid::now_v7()}),
        )
        .await;
    parent.assert_problem(422, "validation");
    let list = app.call(Method::GET, "/v1/clients", None, &[]).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0, "nothing was written");

    // Duplicate LEI among live clients.
    let lei = json!({"display_name": "x", "legal_name": "y", "lei": "5493001KJTIIGC8Y1R12"});
    assert_eq!(app.post("/v1/clients", lei.clone()).await.status, StatusCode::CREATED);
    app.post("/v1/clients", lei).await.assert_problem(409, "conflict");
}

#[tokio::test]
async fn bad_ids_routes_and_methods_are_404_and_405_problems() {
    let app = TestApp::new().await;
    app.get("/v1/clients/not-a-uuid").await.assert_problem(404, "not-found");
    app.get("/v1/clients/0190c6a8-0000-7000-8000-000000000000")
        .await
        .assert_problem(404, "not-found");
    app.get("/v1/clients/0190c6a8-0000-7000-8000-000000000000/children")
        .await
        .assert_problem(404, "not-found");
    app.get("/v1/nothing-here").await.assert_problem(404, "not-found");
    app.call(Method::PUT, "/v1/clients", None, &[])
        .await
        .assert_problem(405, "method-not-allowed");
    app.get("/v1/reference/planets").await.assert_problem(404, "not-found");
}

#[tokio::test]
async fn tokens_are_checked_for_signature_issuer_audience_expiry_and_scope() {
    let app = TestApp::new().await;
    let call = |auth: Option<String>| {
        let app = &app;
        async move {
            let headers: Vec<(&str, String)> = auth.into_iter().map(|a| ("authorization", a)).collect();
            app.raw(Method::GET, "/v1/clients", Vec::new(), &headers).await
        }
    };
    let missing = call(None).await;
    missing.assert_problem(401, "unauthorized");
    assert!(missing.header("www-authenticate").is_some());
    call(Some("Basic abc".into())).await.assert_problem(401, "unauthorized");
    call(Some("Bearer not.a.jwt".into()))
        .await
        .assert_problem(401, "unauthorized");
    // A token signed by another key.
    let other_dir = tempfile::tempdir().unwrap();
    let other = client_api::auth::dev::DevKey::load_or_create(other_dir.path()).unwrap();
    let foreign = secrecy::ExposeSecret::expose_secret(&other.token("x", &["clients:read"], 60).unwrap()).to_owned();
    call(Some(format!("Bearer {foreign}")))
        .await
        .assert_problem(401, "unauthorized");
    // Only the write scope cannot read; only the read scope cannot write.
    let writer = app.token_for("w", &["clients:write"]);
    call(Some(format!("Bearer {writer}")))
        .await
        .assert_problem(403, "forbidden");
    let reader = app.token_for("r", &["clients:read"]);
    let headers = vec![
        ("authorization", format!("Bearer {reader}")),
        ("content-type", "application/json".to_owned()),
    ];
    app.raw(
        Method::POST,
        "/v1/clients",
        br#"{"display_name":"a","legal_name":"b"}"#.to_vec(),
        &headers,
    )
    .await
    .assert_problem(403, "forbidden");
    let ok = call(Some(format!("Bearer {reader}"))).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn operations_endpoints_answer_without_a_token() {
    let app = TestApp::new().await;
    let health = app.raw(Method::GET, "/healthz", Vec::new(), &[]).await;
    assert_eq!(health.status, StatusCode::OK);
    let ready = app.raw(Method::GET, "/readyz", Vec::new(), &[]).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["primary"], true);
    assert_eq!(ready.body["replica"], true);
    let openapi = app.raw(Method::GET, "/openapi.json", Vec::new(), &[]).await;
    assert_eq!(openapi.status, StatusCode::OK);
    assert!(openapi.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(openapi.body["paths"]["/v1/clients/{id}"]["patch"].is_object());
    let read = &openapi.body["paths"]["/v1/clients"]["get"]["responses"]["200"]["headers"];
    assert_eq!(read["Pcc-Read-Staleness-Ms"]["schema"]["type"], "integer", "{read}");
    let docs = app.raw(Method::GET, "/docs", Vec::new(), &[]).await;
    assert!(String::from_utf8_lossy(&docs.raw).contains("/docs/redoc.standalone.js"));
    let js = app.raw(Method::GET, "/docs/redoc.standalone.js", Vec::new(), &[]).await;
    assert!(js.raw.len() > 500_000);
    let problem = app.raw(Method::GET, "/problems/hierarchy-cycle", Vec::new(), &[]).await;
    assert!(String::from_utf8_lossy(&problem.raw).contains("Hierarchy cycle"));
    let id = app
        .raw(
            Method::GET,
            "/healthz",
            Vec::new(),
            &[("x-request-id", "abc-123".into())],
        )
        .await;
    assert_eq!(id.header("x-request-id").as_deref(), Some("abc-123"));
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_needs_a_token() {
    let app = TestApp::new().await;
    let document = app.raw(Method::GET, "/openapi.json", Vec::new(), &[]).await.body;
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/v1") {
            continue;
        }
        let concrete = path
            .replace("{vocabulary}", "risk-ratings")
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    uuid::Uuid::now_v7().to_string()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = app.raw(method.clone(), &concrete, Vec::new(), &[]).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path}: {}",
                reply.body
            );
            let security = &item[method.as_str().to_lowercase()]["security"][0]["bearer"][0];
            let expected = if method == Method::GET {
                "clients:read"
            } else {
                "clients:write"
            };
            assert_eq!(security, expected, "{method} {path} documents its scope");
            checked += 1;
        }
    }
    assert_eq!(checked, 39, "every API operation of router.rs is in the document");
}

#[tokio::test]
async fn a_response_sent_before_the_body_was_read_closes_the_connection() {
    let app = TestApp::new().await;
    let auth = ("authorization", format!("Bearer {}", app.token()));
    let big = vec![b'x'; 70_000];
    // Refused from the headers (415, 401) or past the size limit (413): the body is left unread.
    for (headers, body, status) in [
        (
            vec![auth.clone(), ("content-type", "text/plain".to_owned())],
            big.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            vec![("content-type", "application/json".to_owned())],
            b"{}".to_vec(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![auth.clone(), ("content-type", "application/json".to_owned())],
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        // As hyper passes it on: the announced length is what says a body follows.
        let mut headers = headers;
        headers.push(("content-length", body.len().to_string()));
        let reply = app.raw(Method::POST, "/v1/clients", body, &headers).await;
        assert_eq!(reply.status, status);
        assert_eq!(reply.header("connection").as_deref(), Some("close"), "{status}");
    }
    // A body read to its end keeps the connection, refused or not.
    let body = serde_json::to_vec(&json!({"display_name": "Kept", "legal_name": "Kept Ltd"})).unwrap();
    let json = ("content-type", "application/json".to_owned());
    let length = ("content-length", body.len().to_string());
    let created = app
        .raw(Method::POST, "/v1/clients", body, &[auth.clone(), json.clone(), length])
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("connection"), None);
    let invalid = app
        .raw(
            Method::POST,
            "/v1/clients",
            b"{\"display_name\": 1}".to_vec(),
            &[auth, json, ("content-length", "19".to_owned())],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.header("connection"), None);
}
