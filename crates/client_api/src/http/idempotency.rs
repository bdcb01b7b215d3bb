//! `Idempotency-Key` for POST (draft-ietf-httpapi-idempotency-key-header): the schema's contract (V8,
//! docs/SCHEMA.md "Idempotency") inside the request's own write transaction. The first request with a key
//! does the work and stores its response before committing; a retry with the same key and the same request
//! gets the stored response (with `Idempotent-Replayed: true`); the same key for a different request is a 422.
//! A retry that arrives while the first is still running waits for it (the key row is locked).
//!
//! The key is claimed in the same transaction as the work, so when the service itself runs the transaction
//! again (`db::Db::write`, after 40001 / 40P01) the rolled-back attempt left no claim behind: the next attempt
//! finds the key new again (or the outcome of a concurrent identical request), and exactly one outcome is
//! ever stored.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::db::{Committed, Db, Query as _, TxBody, WriteSession};
use crate::error::{ApiError, ProblemKind};
use crate::http::respond::JsonResponse;

/// Headers of a response that are stored with it and replayed.
const STORED_HEADERS: &[&str] = &["location", "etag"];

/// The `Location` of a response that created something just now (not the replay of a stored one), for
/// the log line a handler writes once its transaction committed.
pub fn created(response: &Response) -> Option<&str> {
    if response.headers().contains_key("idempotent-replayed") {
        return None;
    }
    response.headers().get(http::header::LOCATION)?.to_str().ok()
}

/// The request a key is bound to.
#[derive(Debug)]
pub struct Keyed<'a> {
    /// The caller (keys are per principal).
    pub principal: &'a str,
    /// The key.
    pub key: Option<&'a str>,
    /// The request path.
    pub path: &'a str,
    /// The raw body.
    pub body: &'a [u8],
}

impl Keyed<'_> {
    fn fingerprint(&self) -> Vec<u8> {
        Sha256::digest(self.body).to_vec()
    }

    /// Runs the request's write transaction (as the principal): answers a replay of an earlier identical
    /// request with its stored response, or runs `work`, stores its response for the key and commits, in
    /// one transaction (which `db` may run more than once). The answer carries the commit's token.
    ///
    /// # Errors
    /// 422 idempotency-key-reused when the key was used for another request; the work's or the database's
    /// error (nothing is stored then).
    pub async fn write<'env, F>(&self, db: &Db, work: F) -> Result<Response, ApiError>
    where
        F: for<'s> Fn(&'s WriteSession<'env>) -> TxBody<'s, JsonResponse> + Sync,
    {
        let work = &work;
        let Committed { value, token } = db
            .write(self.principal, |tx| {
                Box::pin(async move {
                    if let Some(stored) = self.stored(tx, db.idempotency_ttl()).await? {
                        return Ok(stored);
                    }
                    let response = work(tx).await?;
                    self.complete(tx, &response).await?;
                    Ok(response)
                })
            })
            .await?;
        Ok(value.token(token).into_response())
    }

    /// The stored response when the key replays an earlier identical request; `None`: do the work.
    async fn stored(&self, tx: &WriteSession<'_>, ttl: std::time::Duration) -> Result<Option<JsonResponse>, ApiError> {
        let Some(key) = self.key else { return Ok(None) };
        let ttl_secs = ttl.as_secs_f64();
        let row = tx
            .query_one(
                "SELECT outcome, response_status, response_headers, response_body \
                 FROM client_api.idempotency_begin($1, $2, 'POST', $3, $4, pg_catalog.make_interval(secs => $5))",
                &[&self.principal, &key, &self.path, &self.fingerprint(), &ttl_secs],
            )
            .await?;
        let outcome: String = row.get(0);
        match outcome.as_str() {
            "new" => Ok(None),
            "replay" => {
                let status: i16 = row.get(1);
                let stored: serde_json::Value = row.get(2);
                let body: Vec<u8> = row.get::<_, Option<Vec<u8>>>(3).unwrap_or_default();
                let mut headers = HeaderMap::new();
                if let Some(map) = stored.as_object() {
                    for (name, value) in map {
                        if let (Some(value), Ok(name)) = (value.as_str(), http::HeaderName::try_from(name.as_str()))
                            && let Ok(value) = HeaderValue::from_str(value)
                        {
                            headers.insert(name, value);
                        }
                    }
                }
                headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
                let status = StatusCode::from_u16(u16::try_from(status).unwrap_or(500)).unwrap_or(StatusCode::OK);
                Ok(Some(JsonResponse::from_parts(status, body, headers)))
            }
            "mismatch" => Err(ApiError::new(
                ProblemKind::IdempotencyKeyReused,
                "this Idempotency-Key was already used for a different request; use a new key",
            )),
            _ => Err(ApiError::new(
                ProblemKind::Conflict,
                "this Idempotency-Key is already in use by this request",
            )),
        }
    }

    /// Stores `response` for the key, in the same transaction as the work.
    async fn complete(&self, tx: &WriteSession<'_>, response: &JsonResponse) -> Result<(), ApiError> {
        let Some(key) = self.key else { return Ok(()) };
        let mut stored = serde_json::Map::new();
        for name in STORED_HEADERS {
            if let Some(value) = response.headers().get(*name).and_then(|v| v.to_str().ok()) {
                stored.insert((*name).to_owned(), serde_json::Value::String(value.to_owned()));
            }
        }
        let status = i16::try_from(response.status().as_u16()).unwrap_or(500);
        tx.execute(
            "SELECT client_api.idempotency_complete($1, $2, $3, $4, $5)",
            &[
                &self.principal,
                &key,
                &status,
                &serde_json::Value::Object(stored),
                &response.body(),
            ],
        )
        .await?;
        Ok(())
    }
}
