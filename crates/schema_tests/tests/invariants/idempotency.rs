//! Idempotency keys: new / replay / mismatch, completion required at commit, a concurrent duplicate waits and
//! replays, expired keys are taken over and purged.

use std::sync::Arc;

use crate::support::{Db, backend_pid, expect_error, wait_until_blocked};

const BEGIN: &str = "SELECT outcome, response_status, response_body FROM client_api.idempotency_begin($1, $2, 'POST', '/v1/clients', $3)";
const COMPLETE: &str =
    "SELECT client_api.idempotency_complete($1, $2, 201::smallint, '{\"location\": \"/v1/clients/1\"}', $3)";

fn fingerprint(byte: u8) -> Vec<u8> {
    vec![byte; 32]
}

async fn begin(c: &tokio_postgres::Client, key: &str, fp: u8) -> (String, Option<i16>, Option<Vec<u8>>) {
    let row = c
        .query_one(BEGIN, &[&"svc-a", &key, &fingerprint(fp)])
        .await
        .expect("begin");
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn same_key_replays_and_a_different_request_is_a_mismatch() {
    let db = Db::new().await;
    let c = db.service("svc").await;
    c.batch_execute("BEGIN").await.expect("tx");
    assert_eq!(begin(&c, "k-1", 1).await.0, "new");
    c.execute(COMPLETE, &[&"svc-a", &"k-1", &b"{\"id\":1}".to_vec()])
        .await
        .expect("complete");
    c.batch_execute("COMMIT").await.expect("commit");
    c.batch_execute("BEGIN").await.expect("tx");
    assert_eq!(
        begin(&c, "k-1", 1).await,
        ("replay".into(), Some(201), Some(b"{\"id\":1}".to_vec()))
    );
    assert_eq!(begin(&c, "k-1", 2).await.0, "mismatch");
    c.batch_execute("COMMIT").await.expect("commit");
    // Keys are per principal.
    c.batch_execute("BEGIN").await.expect("tx");
    let other = c
        .query_one(BEGIN, &[&"svc-b", &"k-1", &fingerprint(2)])
        .await
        .expect("other principal");
    assert_eq!(other.get::<_, String>(0), "new");
    c.batch_execute("ROLLBACK").await.expect("rollback");
}

#[tokio::test]
async fn a_begun_key_must_be_completed_before_commit() {
    let db = Db::new().await;
    let c = db.service("svc").await;
    c.batch_execute("BEGIN").await.expect("tx");
    assert_eq!(begin(&c, "k-2", 1).await.0, "new");
    expect_error(
        c.batch_execute("COMMIT").await,
        "PC013",
        Some("idempotency_key_completed"),
    );
    // The rolled-back key left nothing behind.
    c.batch_execute("BEGIN").await.expect("tx");
    assert_eq!(begin(&c, "k-2", 1).await.0, "new");
    c.batch_execute("ROLLBACK").await.expect("rollback");
    let bad = c.query(BEGIN, &[&"svc-a", &"k-3", &vec![1u8; 16]]).await;
    expect_error(bad, "23514", Some("idempotency_key_fingerprint_sha256"));
}

#[tokio::test]
async fn a_concurrent_duplicate_waits_for_the_first_and_replays() {
    let db = Db::new().await;
    let observer = db.admin().await;
    let first = db.service("svc").await;
    let second = Arc::new(db.service("svc").await);
    first.batch_execute("BEGIN").await.expect("tx");
    assert_eq!(begin(&first, "k-4", 7).await.0, "new");
    let pid = backend_pid(&second).await;
    let task = {
        let second = Arc::clone(&second);
        tokio::spawn(async move { begin(&second, "k-4", 7).await })
    };
    wait_until_blocked(&observer, pid).await;
    first
        .execute(COMPLETE, &[&"svc-a", &"k-4", &b"created".to_vec()])
        .await
        .expect("complete");
    first.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(
        task.await.expect("task"),
        ("replay".into(), Some(201), Some(b"created".to_vec()))
    );
}

#[tokio::test]
async fn expired_keys_are_taken_over_and_purged() {
    let db = Db::new().await;
    let c = db.service("svc").await;
    for key in ["old-1", "old-2", "old-3"] {
        c.batch_execute("BEGIN").await.expect("tx");
        c.query(
            "SELECT client_api.idempotency_begin('svc-a', $1, 'POST', '/v1/clients', $2, interval '1 microsecond')",
            &[&key, &fingerprint(1)],
        )
        .await
        .expect("begin");
        c.execute(COMPLETE, &[&"svc-a", &key, &b"x".to_vec()])
            .await
            .expect("complete");
        c.batch_execute("COMMIT").await.expect("commit");
    }
    c.batch_execute("BEGIN").await.expect("tx");
    assert_eq!(begin(&c, "old-1", 9).await.0, "new", "an expired key is free again");
    c.execute(COMPLETE, &[&"svc-a", &"old-1", &b"y".to_vec()])
        .await
        .expect("complete");
    c.batch_execute("COMMIT").await.expect("commit");
    let purged: i32 = c
        .query_one("SELECT client_api.purge_expired_idempotency_keys(10)", &[])
        .await
        .expect("purge")
        .get(0);
    assert_eq!(purged, 2);
    let left: i64 = c
        .query_one("SELECT count(*) FROM client_api.idempotency_key", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(left, 1);
}
