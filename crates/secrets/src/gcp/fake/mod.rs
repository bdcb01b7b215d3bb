//! A fake Secret Manager v1 REST API, GCE metadata token endpoint and Google OAuth 2.0 token
//! endpoint, served by axum on 127.0.0.1, for tests of this crate and of its users (`provision`
//! rotates against it, `pccdb` runs against it as a real process).
//!
//! It implements exactly the subset [`super::GcpSecretManager`] calls, with the real API's
//! shapes: int64 fields as strings, newest-first paged listing, base64 payloads with CRC32C
//! (checked on `addVersion`), `latest` and aliases on `:access`, FAILED_PRECONDITION for a
//! disabled or destroyed version, destroy (payload wiped), etag-guarded alias patches, Google's
//! error envelope and messages (`api.rs`), and bearer tokens that must come from its own token endpoints:
//! - the metadata endpoint (`oauth.rs`) insists on `Metadata-Flavor: Google`;
//! - `POST /token` (`oauth.rs`) verifies a jwt-bearer assertion's RS256 signature with the public key of a
//!   registered service account and its `iss`, `aud`, `scope`, `iat` and `exp`, and checks a
//!   refresh-token grant's client and token.
//!
//! Hooks inject what production does to a client: a metadata server that is not ready for a
//! pod's first requests, quota 429s and 503s with `Retry-After` (and a count of requests that
//! came back too early), transient failures, IAM enforcement per operation with predefined and
//! custom roles (`iam.rs`), a corrupted checksum, revoked tokens.

mod api;
mod iam;
mod keys;
mod oauth;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

pub use keys::{TestKeyPair, test_key_pair};

/// One version of a fake secret.
struct FakeVersion {
    number: i64,
    /// `ENABLED`, `DISABLED` or `DESTROYED`.
    state: &'static str,
    /// Empty once destroyed.
    payload: Vec<u8>,
    created: String,
}

#[derive(Default)]
struct FakeSecret {
    versions: Vec<FakeVersion>,
    aliases: BTreeMap<String, i64>,
    etag: u64,
}

impl FakeSecret {
    /// Appends an enabled version holding `payload` (numbers count up from 1, as Google's do).
    fn push_version(&mut self, payload: Vec<u8>) -> &FakeVersion {
        let number = self.versions.last().map_or(1, |v| v.number + 1);
        self.versions.push(FakeVersion {
            number,
            state: "ENABLED",
            payload,
            created: now(),
        });
        self.etag += 1;
        self.versions.last().expect("just pushed")
    }
}

/// How a throttled answer tells the client when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// No `Retry-After` header.
    Absent,
    /// `Retry-After: <seconds>`.
    Seconds(u64),
    /// `Retry-After: <HTTP-date>`, this many seconds from now (rounded up to a whole second).
    Date(u64),
}

struct FakeUser {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    principal: String,
}

#[derive(Default)]
struct FakeState {
    secrets: BTreeMap<(String, String), FakeSecret>,
    /// Accepted bearer tokens and the principal each stands for.
    tokens: BTreeMap<String, String>,
    issued: u64,
    token_requests: u64,
    oauth_requests: u64,
    api_requests: u64,
    fail_next: Vec<u16>,
    corrupt_next_access: bool,
    metadata_not_ready: u32,
    token_lifetime: Option<u64>,
    reject_issued_tokens: bool,
    service_accounts: BTreeMap<String, jsonwebtoken::DecodingKey>,
    users: Vec<FakeUser>,
    throttle: VecDeque<(u16, RetryAfter)>,
    not_before: Option<SystemTime>,
    early_requests: u64,
    iam: Option<iam::Policy>,
    token_uri: String,
    /// Every token issued, with the scopes it was asked for, oldest first.
    issued_log: Vec<(String, String)>,
    /// When set, every token issued is this one.
    fixed_token: Option<String>,
    email_requests: u64,
}

type Shared = Arc<Mutex<FakeState>>;

/// The principal behind the metadata server's tokens.
pub const METADATA_PRINCIPAL: &str = "serviceAccount:workload@fake-project.iam.gserviceaccount.com";
/// The e-mail address the metadata server gives for the pod's service account.
pub const METADATA_EMAIL: &str = "workload@fake-project.iam.gserviceaccount.com";

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
        state.lock().expect("fresh lock").token_uri = format!("http://{addr}/token");
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

    /// The OAuth token endpoint (`token_uri` of the credential files it hands out).
    pub fn token_uri(&self) -> Url {
        Url::parse(&format!("http://{}/token", self.addr)).expect("loopback URL")
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

    /// Adds a version holding `payload` to a secret, creating the secret if needed, past IAM:
    /// what Terraform's `google_secret_manager_secret_version` does as its own identity (the
    /// first version of the admin credential). Returns the version's number.
    pub fn add_version(&self, project: &str, secret: &str, payload: &[u8]) -> i64 {
        self.lock()
            .secrets
            .entry((project.to_owned(), secret.to_owned()))
            .or_default()
            .push_version(payload.to_vec())
            .number
    }

    /// Every version of a secret as (number, state, payload), oldest first (for assertions).
    pub fn payloads(&self, project: &str, secret: &str) -> Vec<(i64, String, Vec<u8>)> {
        self.lock()
            .secrets
            .get(&(project.to_owned(), secret.to_owned()))
            .map(|s| {
                s.versions
                    .iter()
                    .map(|v| (v.number, v.state.to_owned(), v.payload.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many token requests the metadata endpoint received (answered or not).
    pub fn token_requests(&self) -> u64 {
        self.lock().token_requests
    }

    /// Tokens issued from now on (by either endpoint) are all `token`: a test that must know what
    /// a client will present (to make it a database password) chooses it; calling it again
    /// rotates to another.
    pub fn issue_fixed_token(&self, token: &str) {
        self.lock().fixed_token = Some(token.to_owned());
    }

    /// Every token issued so far as (token, scopes asked for), oldest first.
    pub fn issued_tokens(&self) -> Vec<(String, String)> {
        self.lock().issued_log.clone()
    }

    /// How many requests the metadata server's e-mail endpoint received.
    pub fn email_requests(&self) -> u64 {
        self.lock().email_requests
    }

    /// How many requests the OAuth token endpoint received.
    pub fn oauth_requests(&self) -> u64 {
        self.lock().oauth_requests
    }

    /// How many API (Secret Manager) requests arrived.
    pub fn api_requests(&self) -> u64 {
        self.lock().api_requests
    }

    /// The next API requests answer these statuses (e.g. `[503, 503]`) before being served.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.lock().fail_next.extend_from_slice(statuses);
    }

    /// The next `count` API requests are refused with `status` (429 for a quota, 503) and this
    /// `Retry-After`. A request that arrives before the announced time is refused again (429,
    /// like a quota that has not refilled) and counted in [`Self::early_requests`].
    pub fn throttle_next(&self, count: usize, status: u16, retry_after: RetryAfter) {
        let mut st = self.lock();
        for _ in 0..count {
            st.throttle.push_back((status, retry_after));
        }
    }

    /// API requests that came back before the `Retry-After` they were given.
    pub fn early_requests(&self) -> u64 {
        self.lock().early_requests
    }

    /// The next `:access` answers a checksum that does not match its payload.
    pub fn corrupt_next_access(&self) {
        self.lock().corrupt_next_access = true;
    }

    /// Every token issued so far stops being accepted (as if it expired early).
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Tokens issued from now on are never accepted by the API (a credential Google no longer
    /// honours: a deleted service account, a revoked login).
    pub fn reject_issued_tokens(&self) {
        self.lock().reject_issued_tokens = true;
    }

    /// The metadata endpoint answers 503 to its next `requests` token requests, as the GKE
    /// metadata server does not serve a pod for its first seconds under Workload Identity.
    pub fn metadata_not_ready_for(&self, requests: u32) {
        self.lock().metadata_not_ready = requests;
    }

    /// Tokens are issued with this `expires_in` (default 3599 s).
    pub fn token_lifetime(&self, seconds: u64) {
        self.lock().token_lifetime = Some(seconds);
    }

    /// Registers a service account whose assertions verify with `public_pem`.
    ///
    /// # Panics
    /// When `public_pem` is not a PEM RSA public key.
    pub fn register_service_account(&self, email: &str, public_pem: &str) {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).expect("a PEM RSA public key");
        self.lock().service_accounts.insert(email.to_owned(), key);
    }

    /// A service-account key file (JSON) for `email` signed with `private_pem`, whose
    /// `token_uri` is this fake.
    pub fn service_account_file(&self, email: &str, private_pem: &str) -> String {
        json!({
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": "0123456789abcdef",
            "private_key": private_pem,
            "client_email": email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri().as_str(),
        })
        .to_string()
    }

    /// Registers `email` with the first test key pair and returns its key file.
    pub fn service_account_key(&self, email: &str) -> String {
        let pair = test_key_pair(0);
        self.register_service_account(email, &pair.public_pem);
        self.service_account_file(email, secrecy::ExposeSecret::expose_secret(&pair.private_pem))
    }

    /// Registers a gcloud user (principal `user:<email>`) and returns its
    /// `application_default_credentials.json` (with `token_uri` pointing here, and
    /// `quota_project_id` when given).
    pub fn authorized_user(&self, email: &str, quota_project: Option<&str>) -> String {
        let mut st = self.lock();
        let n = st.users.len();
        let user = FakeUser {
            client_id: format!("{n}-fake.apps.googleusercontent.com"),
            client_secret: format!("fake-client-secret-{n}"),
            refresh_token: format!("1//fake-refresh-token-{n}"),
            principal: format!("user:{email}"),
        };
        let mut file = json!({
            "type": "authorized_user",
            "client_id": user.client_id,
            "client_secret": user.client_secret,
            "refresh_token": user.refresh_token,
            "token_uri": st.token_uri,
        });
        if let Some(p) = quota_project {
            file["quota_project_id"] = json!(p);
        }
        st.users.push(user);
        file.to_string()
    }

    /// From now on API calls need an IAM grant ([`Self::grant`]) for their permission.
    pub fn enforce_iam(&self) {
        let mut st = self.lock();
        if st.iam.is_none() {
            st.iam = Some(iam::Policy::default());
        }
    }

    /// Defines the custom role `name` with `permissions`, so grants of it permit those (and only
    /// those). `name` is the role's full name as IAM and Terraform's
    /// `google_project_iam_custom_role.<x>.id` spell it, `projects/<project>/roles/<role_id>`;
    /// defining it again replaces its permissions. Like [`Self::grant`], it turns IAM
    /// enforcement on.
    ///
    /// # Panics
    /// When `name` is not a custom role's name (a test that meant a predefined role).
    pub fn define_role(&self, name: &str, permissions: &[&str]) {
        let custom = name
            .split_once("/roles/")
            .is_some_and(|(parent, id)| parent.starts_with("projects/") && !id.is_empty() && !id.contains('/'));
        assert!(
            custom,
            "{name:?} is not a custom role's name (projects/<project>/roles/<role_id>)"
        );
        let mut st = self.lock();
        st.iam
            .get_or_insert_with(iam::Policy::default)
            .define_role(name, permissions);
    }

    /// Grants `role` (`roles/secretmanager.secretAccessor`, or a custom role of
    /// [`Self::define_role`]) to `principal`
    /// (`serviceAccount:x@p.iam.gserviceaccount.com`, `user:me@example.com`, or
    /// [`METADATA_PRINCIPAL`]) on one secret, or on the whole project when `secret` is `None`.
    pub fn grant(&self, principal: &str, role: &str, project: &str, secret: Option<&str>) {
        let mut st = self.lock();
        st.iam
            .get_or_insert_with(iam::Policy::default)
            .grant(principal, role, project, secret);
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": code}});
    (status, axum::Json(body)).into_response()
}

fn ok(body: serde_json::Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format now")
}

/// A throttled answer with its `Retry-After`, remembering when the client may come back.
fn throttled(st: &mut FakeState, status: u16, after: RetryAfter) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let (header, wait) = match after {
        RetryAfter::Absent => (None, Duration::ZERO),
        RetryAfter::Seconds(s) => (Some(s.to_string()), Duration::from_secs(s)),
        RetryAfter::Date(s) => {
            // An HTTP-date has whole seconds: announce (and enforce) the next whole second.
            let at = SystemTime::now() + Duration::from_secs(s);
            let whole = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(whole);
            (
                Some(httpdate::fmt_http_date(at)),
                at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO),
            )
        }
    };
    st.not_before = Some(SystemTime::now() + wait);
    let (code, message) = if status == StatusCode::TOO_MANY_REQUESTS {
        (
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Access requests' and limit 'Access requests per minute per project' of service 'secretmanager.googleapis.com'.",
        )
    } else {
        ("UNAVAILABLE", "The service is currently unavailable.")
    };
    let mut response = error(status, code, message);
    if let Some(value) = header {
        response
            .headers_mut()
            .insert("retry-after", value.parse().expect("ASCII header value"));
    }
    response
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = uri.path().to_owned();
    if path == "/computeMetadata/v1/instance/service-accounts/default/token" {
        return oauth::metadata(&mut st, &headers, uri.query().unwrap_or(""));
    }
    if path == "/computeMetadata/v1/instance/service-accounts/default/email" {
        return oauth::metadata_email(&mut st, &headers);
    }
    if path == "/token" && method == Method::POST {
        return oauth::token_endpoint(&mut st, &body);
    }
    st.api_requests += 1;
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(principal) = bearer.and_then(|t| st.tokens.get(t)).cloned() else {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        );
    };
    // Secret Manager refuses end-user credentials that name no project to bill.
    if principal.starts_with("user:") && !headers.contains_key("x-goog-user-project") {
        return error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Your application is authenticating by using local Application Default Credentials. The secretmanager.googleapis.com API requires a quota project, which is not set by default.",
        );
    }
    if let Some(at) = st.not_before
        && SystemTime::now() < at
    {
        st.early_requests += 1;
        let left = at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        return throttled(&mut st, 429, RetryAfter::Seconds(left.as_secs() + 1));
    }
    if let Some((status, after)) = st.throttle.pop_front() {
        return throttled(&mut st, status, after);
    }
    st.not_before = None;
    if !st.fail_next.is_empty() {
        let status = st.fail_next.remove(0);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return error(status, "UNAVAILABLE", "injected failure");
    }
    let query: BTreeMap<String, String> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let Some(rest) = path.strip_prefix("/v1/projects/") else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown path");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    api::route(&mut st, &principal, &method, &parts, &query, &body)
}
