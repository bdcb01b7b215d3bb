//! `Idempotency-Key` for POST (draft-ietf-httpapi-idempotency-key-header): the schema's contract (V8,
//! docs/SCHEMA.md "Idempotency") inside the request's own write transaction. The first request with a key
//! does the work and stores its response before committing; a retry with the same key and the same request
//! gets the stored response (with `Idempotent-Replayed: true`); the same key for a different request is a 422.
//! A retry that arrives while the first is still running waits for it (the key row is locked).

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::db::{Db, Session};
use crate::error::{ApiError, ProblemKind};
use crate::http::respond::JsonResponse;

/// Headers of a response that are stored with it and replayed.
const STORED_HEADERS: &[&str] = &["location", "etag"];

/// What `begin` found.
pub enum Begun {
    /// No key, or a new key: do the work in this transaction, then [`Keyed::finish`].
    Proceed(Session),
    /// The stored response of an earlier identical request, its transaction committed: send it.
    Replay(Response),
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

    /// Opens the request's write transaction (as the principal) and starts the keyed request in it.
    ///
    /// # Errors
    /// 422 idempotency-key-reused when the key was used for another request; the database's error.
    pub async fn begin(&self, db: &Db) -> Result<Begun, ApiError> {
        let tx = db.write(self.principal).await?;
        match self.stored(&tx, db.idempotency_ttl()).await? {
            None => Ok(Begun::Proceed(tx)),
            Some(stored) => {
                let token = tx.commit().await?;
                Ok(Begun::Replay(stored.token(token).into_response()))
            }
        }
    }

    /// The stored response when the key replays an earlier identical request; `None`: do the work.
    async fn stored(&self, tx: &Session, ttl: std::time::Duration) -> Result<Option<JsonResponse>, ApiError> {
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

    /// Stores `response` for the key in `tx` (the work's transaction), commits, and answers with the
    /// commit's consistency token.
    ///
    /// # Errors
    /// The database's error.
    pub async fn finish(&self, tx: Session, response: JsonResponse) -> Result<Response, ApiError> {
        self.complete(&tx, &response).await?;
        let token = tx.commit().await?;
        Ok(response.token(token).into_response())
    }

    /// Stores `response` for the key, in the same transaction as the work.
    async fn complete(&self, tx: &Session, response: &JsonResponse) -> Result<(), ApiError> {
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
