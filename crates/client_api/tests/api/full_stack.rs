//! The whole service over real HTTP on an ephemeral port: requests end to end, load shedding when the pool
//! is exhausted (503 + Retry-After while /healthz still answers), and a graceful drain that lets an in-flight
//! request finish.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestApp, serve};

#[tokio::test]
async fn requests_travel_end_to_end_over_http() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let created = running
        .http
        .post(format!("{}/v1/clients", running.base))
        .bearer_auth(&running.token)
        .json(&json!({"display_name": "Wire", "legal_name": "Wire Ltd", "hq_country": "NL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let token = created.headers()["pcc-consistency-token"].to_str().unwrap().to_owned();
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(created.headers().contains_key("x-request-id"));
    let body: Value = created.json().await.unwrap();
    let got = running.get(&location).send().await.unwrap();
    assert_eq!(got.headers()["etag"], "\"1\"");
    assert_eq!(got.json::<Value>().await.unwrap(), body);
    let list = running
        .get("/v1/clients?country=NL")
        .header("pcc-consistency-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.json::<Value>().await.unwrap()["items"][0]["id"], body["id"]);
    let problem = running.get("/v1/clients/xyz").send().await.unwrap();
    assert_eq!(problem.status(), 404);
    assert_eq!(problem.headers()["content-type"], "application/problem+json");
    running.stop.cancel();
    running.server.await.unwrap().unwrap();
    assert!(
        reqwest::get(format!("{}/healthz", running.base)).await.is_err(),
        "stopped servers accept nothing"
    );
}

#[tokio::test]
async fn an_exhausted_pool_sheds_load_with_503_while_healthz_answers() {
    let app = TestApp::with(|(db, _)| {
        db.pool_max = 3; // 2 shared read sessions + 1 for transactions
        db.checkout_timeout = Duration::from_millis(200);
    })
    .await;
    let client = app.create_client("Busy", None).await;
    let running = serve(&app).await;
    // Hold the only transaction connection: writes cannot get one and are shed.
    let held = app.state.db.router().write().transaction().await.unwrap();
    let uri = format!("{}/v1/clients/{}", running.base, client["id"].as_str().unwrap());
    let patch = || {
        running
            .http
            .patch(&uri)
            .bearer_auth(&running.token)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "\"1\"")
            .body(r#"{"owner":"o"}"#)
    };
    let shed = patch().send().await.unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    let problem: Value = shed.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/unavailable");
    let health = reqwest::get(format!("{}/healthz", running.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    // Reads run on the shared pipelined sessions: a busy transaction pool does not block them.
    let read = running
        .get(&format!("/v1/clients/{}", client["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    held.rollback().await.unwrap();
    let served = patch().send().await.unwrap();
    assert_eq!(served.status(), 200);
    running.stop.cancel();
    running.server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_drain_lets_in_flight_requests_finish_and_fails_readiness() {
    let app = TestApp::with(|(db, http)| {
        db.pool_max = 3;
        db.checkout_timeout = Duration::from_secs(10);
        http.drain_timeout = Duration::from_secs(10);
    })
    .await;
    let client = app.create_client("Draining", None).await;
    let running = serve(&app).await;
    let held = app.state.db.router().write().transaction().await.unwrap();
    // This write waits for the held transaction connection.
    let in_flight = tokio::spawn(
        running
            .http
            .patch(format!(
                "{}/v1/clients/{}",
                running.base,
                client["id"].as_str().unwrap()
            ))
            .bearer_auth(&running.token)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "\"1\"")
            .body(r#"{"owner":"o"}"#)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(app.state.is_draining());
    held.rollback().await.unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(
        response.status(),
        200,
        "the in-flight request completed during the drain"
    );
    running.server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_connection_the_server_closes_after_a_refusal_is_announced() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let address = running.base.trim_start_matches("http://").to_owned();
    // 415 is decided from the headers, so most of this body is never read; hyper then closes the
    // connection after the response. Unless the response says so, a client reuses the connection and its
    // next request fails ("connection closed before message completed").
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/clients HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: text/plain\r\nContent-Length: 2000000\r\n\r\n",
        running.token
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let _ = socket.write_all(&vec![b'x'; 100_000]).await;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => response.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&response).to_lowercase();
    assert!(text.starts_with("http/1.1 415"), "{text}");
    assert!(closed, "the server keeps reading a body it will not use");
    assert!(
        text.contains("\r\nconnection: close\r\n"),
        "closed without Connection: close:\n{text}"
    );
    running.stop.cancel();
    running.server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_pool_larger_than_the_logins_connection_limit_is_named() {
    use client_api::db::Query as _;
    let app = TestApp::new().await;
    let db = &app.state.db;
    let row = db
        .read(client_api::db::Consistency::Strong)
        .query_one(
            "SELECT rolconnlimit FROM pg_catalog.pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    let limit: i32 = row.get(0);
    assert!(
        limit > 0,
        "the service's login is provisioned with a connection limit, got {limit}"
    );
    let limit = usize::try_from(limit).unwrap();
    let warning = client_api::db::connection_limit::check(db, &[("PCC_DB_POOL_MAX", limit + 5)])
        .await
        .unwrap()
        .expect("a pool over the limit is named");
    assert!(
        warning.starts_with(&format!(
            "PCC_DB_POOL_MAX ({}) exceeds the CONNECTION LIMIT of the login",
            limit + 5
        )),
        "{warning}"
    );
    assert!(warning.contains(&format!("({limit})")), "{warning}");
    let fits =
        client_api::db::connection_limit::check(db, &[("PCC_DB_POOL_MAX", limit), ("PCC_DB_REPLICA_POOL_MAX", limit)])
            .await
            .unwrap();
    assert_eq!(fits, None);
}
