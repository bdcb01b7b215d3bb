//! A small HTTP client for the service's API: bearer token, JSON bodies, and replies that keep
//! what the suite judges (status, the problem's `type`, `Retry-After`, ETag, consistency token,
//! staleness report, latency). Every request has a generous client-side limit so that a hang is
//! recorded as a hang instead of stalling the suite.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

/// The service's consistency token header (docs/API.md "Consistency").
pub const TOKEN_HEADER: &str = "pcc-consistency-token";
/// The service's staleness report on reads (docs/API.md "Consistency").
pub const STALENESS_HEADER: &str = "pcc-read-staleness-ms";

/// Longer than any request may legitimately take (the service abandons requests after
/// `PCC_HTTP_REQUEST_TIMEOUT_MS`, 10 s by default): a request still open after this is a hang.
pub const HANG_LIMIT: Duration = Duration::from_secs(30);

/// The API client.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Arc<str>,
    token: Arc<SecretString>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("base", &self.base).finish_non_exhaustive()
    }
}

/// One response (or the transport failure that replaced it).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status; 0 when no response arrived (connection refused or reset, or the hang limit).
    pub status: u16,
    /// Why no response arrived.
    pub transport_error: Option<String>,
    /// Time from sending to the complete body.
    pub latency: Duration,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
    /// `ETag`.
    pub etag: Option<String>,
    /// `Pcc-Consistency-Token`.
    pub token: Option<String>,
    /// `Pcc-Read-Staleness-Ms`.
    pub staleness_ms: Option<u64>,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
}

impl Reply {
    /// A 2xx status.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The problem's `type`, for problem responses.
    pub fn problem_type(&self) -> Option<&str> {
        self.body.get("type").and_then(Value::as_str)
    }

    /// The documented refusal of a request that changed nothing and may be retried: `503`, a
    /// problem document, and `Retry-After`.
    pub fn is_retryable_refusal(&self) -> bool {
        self.status == 503 && self.is_problem() && self.retry_after.is_some()
    }

    /// A problem document: `application/problem+json` with `type`, `title` and `status` members.
    pub fn is_problem(&self) -> bool {
        self.content_type.as_deref() == Some("application/problem+json")
            && self.problem_type().is_some()
            && self.body.get("title").is_some()
            && self.body.get("status").and_then(Value::as_u64) == Some(u64::from(self.status))
    }
}

/// An HTTP client with the hang limit and no proxy (rustls needs its ring provider installed
/// before reqwest builds a client, even for plain http).
///
/// # Panics
/// When the client cannot be built.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(HANG_LIMIT)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap_or_else(|e| panic!("HTTP client: {e}"))
}

impl Api {
    /// A client for the service at `base` presenting `token`.
    ///
    /// # Panics
    /// When the HTTP client cannot be built.
    pub fn new(base: &str, token: SecretString) -> Self {
        Self {
            http: http_client(),
            base: base.into(),
            token: Arc::new(token),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` with the bearer token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose_secret())
    }

    /// A request without a token (operations endpoints).
    pub fn anonymous(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends `request` and reads the whole reply.
    pub async fn send(request: reqwest::RequestBuilder) -> Reply {
        let started = Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Reply::failed(started.elapsed(), &e),
        };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let content_type = header("content-type");
        let retry_after = header("retry-after");
        let etag = header("etag");
        let token = header(TOKEN_HEADER);
        let staleness_ms = header(STALENESS_HEADER).and_then(|v| v.parse().ok());
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return Reply::failed(started.elapsed(), &e),
        };
        Reply {
            status,
            transport_error: None,
            latency: started.elapsed(),
            content_type,
            retry_after,
            etag,
            token,
            staleness_ms,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `GET path` with an optional consistency token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.request(Method::GET, path);
        if let Some(token) = token {
            request = request.header(TOKEN_HEADER, token);
        }
        Self::send(request).await
    }

    /// `POST /v1/clients` with a minimal valid body named `name`.
    pub async fn create_client(&self, name: &str) -> Reply {
        let body = serde_json::json!({
            "display_name": name,
            "legal_name": format!("{name} Ltd"),
            "hq_country": "DE",
        });
        Self::send(self.request(Method::POST, "/v1/clients").json(&body)).await
    }

    /// `POST /v1/clients` as [`Api::create_client`], with `Idempotency-Key: key`.
    pub async fn create_client_keyed(&self, name: &str, key: &str) -> Reply {
        let body = serde_json::json!({
            "display_name": name,
            "legal_name": format!("{name} Ltd"),
            "hq_country": "DE",
        });
        Self::send(
            self.request(Method::POST, "/v1/clients")
                .header("idempotency-key", key)
                .json(&body),
        )
        .await
    }

    /// `PATCH /v1/clients/{id}` moving the client under `parent` (`None`: to the top of its own
    /// group), with `If-Match: "version"`.
    pub async fn set_parent(&self, id: &str, version: i64, parent: Option<&str>) -> Reply {
        Self::send(
            self.request(Method::PATCH, &format!("/v1/clients/{id}"))
                .header("content-type", "application/merge-patch+json")
                .header("if-match", format!("\"{version}\""))
                .body(serde_json::json!({ "parent_id": parent }).to_string()),
        )
        .await
    }

    /// `PATCH /v1/clients/{id}` setting `owner`, with `If-Match: "version"`.
    pub async fn set_owner(&self, id: &str, version: i64, owner: &str) -> Reply {
        Self::send(
            self.request(Method::PATCH, &format!("/v1/clients/{id}"))
                .header("content-type", "application/merge-patch+json")
                .header("if-match", format!("\"{version}\""))
                .body(serde_json::json!({ "owner": owner }).to_string()),
        )
        .await
    }

    /// `GET /healthz` (no token).
    pub async fn healthz(&self) -> Reply {
        Self::send(self.anonymous(Method::GET, "/healthz")).await
    }
}

impl Reply {
    fn failed(latency: Duration, error: &reqwest::Error) -> Self {
        // The error's source chain says what happened (refused, reset, timed out).
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        Self {
            status: 0,
            transport_error: Some(text),
            latency,
            content_type: None,
            retry_after: None,
            etag: None,
            token: None,
            staleness_ms: None,
            body: Value::Null,
        }
    }
}
