//! A fake Secret Manager v1 REST API and GCE metadata token endpoint, served by axum on
//! 127.0.0.1, for tests of this crate and of its users (`provision` rotates against it).
//!
//! It implements exactly the subset [`super::GcpSecretManager`] calls, with the real API's
//! shapes: int64 fields as strings, newest-first paged listing, base64 payloads with CRC32C
//! (checked on `addVersion`), `latest` and aliases on `:access`, FAILED_PRECONDITION for a
//! disabled version, etag-guarded alias patches, Google's error envelope, and bearer tokens
//! that must come from its own metadata endpoint (which insists on `Metadata-Flavor: Google`).
//! Hooks inject faults: transient 503s, a corrupted checksum, revoked tokens.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use url::Url;

#[derive(Default)]
struct FakeSecret {
    /// (number, state, payload, create time)
    versions: Vec<(i64, &'static str, Vec<u8>, String)>,
    aliases: BTreeMap<String, i64>,
    etag: u64,
}

#[derive(Default)]
struct FakeState {
    secrets: BTreeMap<(String, String), FakeSecret>,
    tokens: BTreeSet<String>,
    issued: u64,
    token_requests: u64,
    api_requests: u64,
    fail_next: Vec<u16>,
    corrupt_next_access: bool,
}

type Shared = Arc<Mutex<FakeState>>;

/// A running fake; the server stops when this is dropped.
pub struct FakeSecretManager {
    addr: SocketAddr,
    state: Shared,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl std::fmt::Debug for FakeSecretManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSecretManager")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeSecretManager {
    /// Starts the fake on a free port of 127.0.0.1 (on the current tokio runtime).
    ///
    /// # Panics
    /// When no loopback port can be bound (a broken test machine).
    pub async fn start() -> Self {
        let state = Shared::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            state,
            _shutdown: tx,
        }
    }

    /// The API base URL to put in `GcpConfig::api_base`.
    pub fn api_base(&self) -> Url {
        Url::parse(&format!("http://{}/", self.addr)).expect("loopback URL")
    }

    /// The metadata server base URL for `TokenSource::Metadata`.
    pub fn metadata_base(&self) -> Url {
        self.api_base()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates an empty secret (what Terraform does in production).
    pub fn create_secret(&self, project: &str, secret: &str) {
        self.lock()
            .secrets
            .entry((project.to_owned(), secret.to_owned()))
            .or_default();
    }

    /// The raw payloads of every version of a secret, oldest first (for assertions).
    pub fn payloads(&self, project: &str, secret: &str) -> Vec<(i64, String, Vec<u8>)> {
        self.lock()
            .secrets
            .get(&(project.to_owned(), secret.to_owned()))
            .map(|s| {
                s.versions
                    .iter()
                    .map(|(n, st, d, _)| (*n, (*st).to_owned(), d.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many tokens the metadata endpoint issued.
    pub fn token_requests(&self) -> u64 {
        self.lock().token_requests
    }

    /// How many API (non-metadata) requests arrived.
    pub fn api_requests(&self) -> u64 {
        self.lock().api_requests
    }

    /// The next API requests answer these statuses (e.g. `[503, 503]`) before being served.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.lock().fail_next.extend_from_slice(statuses);
    }

    /// The next `:access` answers a checksum that does not match its payload.
    pub fn corrupt_next_access(&self) {
        self.lock().corrupt_next_access = true;
    }

    /// Every token issued so far stops being accepted (as if it expired early).
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": code}});
    (status, axum::Json(body)).into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format now")
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = uri.path().to_owned();
    let query: BTreeMap<String, String> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    if path == "/computeMetadata/v1/instance/service-accounts/default/token" {
        if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
            return error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "missing Metadata-Flavor: Google header",
            );
        }
        st.token_requests += 1;
        st.issued += 1;
        let token = format!("ya29.fake-token-{}", st.issued);
        st.tokens.insert(token.clone());
        return ok(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}));
    }
    st.api_requests += 1;
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    if !bearer.is_some_and(|t| st.tokens.contains(&t)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    if !st.fail_next.is_empty() {
        let status = st.fail_next.remove(0);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return error(status, "UNAVAILABLE", "injected failure");
    }
    let Some(rest) = path.strip_prefix("/v1/projects/") else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown path");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    route(&mut st, &method, &parts, &query, &body)
}

fn route(
    st: &mut FakeState,
    method: &Method,
    parts: &[&str],
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> Response {
    match (method.as_str(), parts) {
        ("GET", [p, "secrets", s]) => with_secret(st, p, s, |sec, name| {
            let aliases: BTreeMap<&String, String> = sec.aliases.iter().map(|(k, v)| (k, v.to_string())).collect();
            ok(json!({"name": name, "versionAliases": aliases, "etag": format!("\"{}\"", sec.etag)}))
        }),
        ("PATCH", [p, "secrets", s]) => {
            if query.get("updateMask").map(String::as_str) != Some("versionAliases") {
                return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "unsupported updateMask");
            }
            let Ok(req) = serde_json::from_slice::<Value>(body) else {
                return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "invalid JSON");
            };
            with_secret(st, p, s, |sec, name| patch_aliases(sec, name, &req))
        }
        ("POST", [p, "secrets", s_add]) if s_add.ends_with(":addVersion") => {
            let s = s_add.trim_end_matches(":addVersion");
            with_secret(st, p, s, |sec, name| add_version(sec, name, body))
        }
        ("GET", [p, "secrets", s, "versions"]) => with_secret(st, p, s, |sec, name| list(sec, name, query)),
        ("GET", [p, "secrets", s, "versions", v_access]) if v_access.ends_with(":access") => {
            let v = v_access.trim_end_matches(":access").to_owned();
            let corrupt = std::mem::take(&mut st.corrupt_next_access);
            with_secret(st, p, s, |sec, name| access(sec, name, &v, corrupt))
        }
        ("POST", [p, "secrets", s, "versions", v_disable]) if v_disable.ends_with(":disable") => {
            let v = v_disable.trim_end_matches(":disable").to_owned();
            with_secret(st, p, s, |sec, name| {
                let Some(entry) = v
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| sec.versions.iter_mut().find(|e| e.0 == n))
                else {
                    return error(
                        StatusCode::NOT_FOUND,
                        "NOT_FOUND",
                        &format!("Secret Version [{name}/versions/{v}] not found."),
                    );
                };
                if entry.1 == "ENABLED" {
                    entry.1 = "DISABLED";
                }
                ok(json!({"name": format!("{name}/versions/{}", entry.0), "state": entry.1, "createTime": entry.3}))
            })
        }
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown method or path"),
    }
}

fn with_secret(
    st: &mut FakeState,
    project: &str,
    secret: &str,
    f: impl FnOnce(&mut FakeSecret, &str) -> Response,
) -> Response {
    let name = format!("projects/{project}/secrets/{secret}");
    match st.secrets.get_mut(&(project.to_owned(), secret.to_owned())) {
        Some(sec) => f(sec, &name),
        None => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Secret [{name}] not found."),
        ),
    }
}

fn add_version(sec: &mut FakeSecret, name: &str, body: &[u8]) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "invalid JSON");
    };
    let data = req["payload"]["data"].as_str().unwrap_or_default();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "payload.data is not base64",
        );
    };
    if let Some(crc) = req["payload"]["dataCrc32c"].as_str()
        && crc.parse::<i64>().ok() != Some(i64::from(crc32c::crc32c(&bytes)))
    {
        return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "Checksum mismatch.");
    }
    let n = sec.versions.last().map_or(1, |v| v.0 + 1);
    let created = now();
    sec.versions.push((n, "ENABLED", bytes, created.clone()));
    sec.etag += 1;
    ok(json!({"name": format!("{name}/versions/{n}"), "state": "ENABLED", "createTime": created}))
}

fn access(sec: &FakeSecret, name: &str, v: &str, corrupt: bool) -> Response {
    let number = if v == "latest" {
        sec.versions.iter().rev().find(|e| e.1 == "ENABLED").map(|e| e.0)
    } else if let Ok(n) = v.parse::<i64>() {
        Some(n)
    } else {
        sec.aliases.get(v).copied()
    };
    let Some(entry) = number.and_then(|n| sec.versions.iter().find(|e| e.0 == n)) else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Secret Version [{name}/versions/{v}] not found."),
        );
    };
    if entry.1 != "ENABLED" {
        let msg = format!("Secret Version [{name}/versions/{}] is in {} state.", entry.0, entry.1);
        return error(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", &msg);
    }
    let mut crc = i64::from(crc32c::crc32c(&entry.2));
    if corrupt {
        crc ^= 1;
    }
    ok(json!({
        "name": format!("{name}/versions/{}", entry.0),
        "payload": {"data": base64::engine::general_purpose::STANDARD.encode(&entry.2), "dataCrc32c": crc.to_string()}
    }))
}

fn list(sec: &FakeSecret, name: &str, query: &BTreeMap<String, String>) -> Response {
    let size: usize = query
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(25)
        .clamp(1, 25_000);
    let offset: usize = query.get("pageToken").and_then(|s| s.parse().ok()).unwrap_or(0);
    let newest_first: Vec<Value> = sec
        .versions
        .iter()
        .rev()
        .skip(offset)
        .take(size)
        .map(|e| json!({"name": format!("{name}/versions/{}", e.0), "state": e.1, "createTime": e.3}))
        .collect();
    let mut body = json!({"versions": newest_first, "totalSize": sec.versions.len()});
    if offset + size < sec.versions.len() {
        body["nextPageToken"] = Value::String((offset + size).to_string());
    }
    ok(body)
}

fn patch_aliases(sec: &mut FakeSecret, name: &str, req: &Value) -> Response {
    if let Some(etag) = req["etag"].as_str()
        && etag != format!("\"{}\"", sec.etag)
    {
        return error(StatusCode::CONFLICT, "ABORTED", "etag mismatch");
    }
    let mut aliases = BTreeMap::new();
    for (k, v) in req["versionAliases"].as_object().into_iter().flatten() {
        let n = v.as_str().and_then(|s| s.parse::<i64>().ok()).or_else(|| v.as_i64());
        match n {
            Some(n) if sec.versions.iter().any(|e| e.0 == n) => {
                aliases.insert(k.clone(), n);
            }
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    &format!("alias {k} points to no version"),
                );
            }
        }
    }
    sec.aliases = aliases;
    sec.etag += 1;
    let shown: BTreeMap<&String, String> = sec.aliases.iter().map(|(k, v)| (k, v.to_string())).collect();
    ok(json!({"name": name, "versionAliases": shown, "etag": format!("\"{}\"", sec.etag)}))
}
