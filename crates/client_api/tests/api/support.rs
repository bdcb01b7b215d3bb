//! Test plumbing: each test's own copy of the service database as production has it (provisioned and
//! migrated by the platform library, test_support::service_database) on the shared primary + replica, the
//! service's router over it (connected as the service's real login with its stored credential),
//! development tokens, and request helpers
//! for both styles of test: through the router (`tower::ServiceExt::oneshot`) and over real HTTP (port 0,
//! [`serve`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use client_api::AppState;
use client_api::auth::dev::{DEV_AUDIENCE, DEV_ISSUER, DevKey};
use client_api::auth::{Authenticator, JwksSource, KeySet, SCOPE_READ, SCOPE_WRITE};
use client_api::config::{CredentialSource, DbConfig, HttpConfig};
use http::{HeaderMap, Method, Request, StatusCode};
use secrecy::ExposeSecret as _;
use serde_json::Value;
use test_support::{ServiceDatabase, service_database};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// The service under test, as the manifest names it.
pub const SERVICE: &str = "pcc-client-api";

/// One test's service: its own migrated database and a router over it.
pub struct TestApp {
    pub db: ServiceDatabase,
    pub state: AppState,
    pub router: Router,
    pub http: HttpConfig,
    key: DevKey,
    _dir: tempfile::TempDir,
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// Asserts a problem of `slug` with `status`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, slug: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["type"], format!("/problems/{slug}"), "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        assert!(
            self.body["instance"]
                .as_str()
                .is_some_and(|i| i.starts_with("urn:request:")),
            "body: {}",
            self.body
        );
        self
    }

    /// The JSON pointers listed in `errors`.
    pub fn pointers(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["pointer"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    /// Waits until the replica has replayed what the test wrote behind the service's back (with a
    /// superuser connection), so that replica reads see it.
    pub async fn replica_replayed(&self) {
        self.db.replica_caught_up().await;
    }

    /// A fresh database, migrated, with a service over it (primary + replica).
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// As [`TestApp::new`], adjusting the database and HTTP settings first.
    pub async fn with(adjust: impl FnOnce(&mut (DbConfig, HttpConfig))) -> Self {
        // Service logs in the test output (shown for failing tests only).
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("warn,client_api=info")
            .try_init();
        let db = service_database(SERVICE).await;
        // Wait until the replica has replayed the copy of the template.
        db.replica_caught_up().await;
        let runtime = db.runtime();
        let mut settings = (
            DbConfig {
                primary: runtime.primary,
                replica: runtime.replica,
                credentials: CredentialSource::Inline,
                pool_max: 8,
                replica_pool_max: 8,
                checkout_timeout: Duration::from_secs(2),
                statement_timeout: Duration::from_secs(10),
                ryw_wait: Duration::from_secs(2),
                credential_refresh: Duration::from_secs(30),
            },
            HttpConfig::default(),
        );
        adjust(&mut settings);
        let (db_config, http) = settings;
        let dir = tempfile::tempdir().expect("tempdir");
        let key = DevKey::load_or_create(dir.path()).expect("dev key");
        let keys = KeySet::load(JwksSource::File(key.jwks_path().to_owned()))
            .await
            .expect("jwks");
        let auth = Authenticator::new(keys, DEV_ISSUER.to_owned(), DEV_AUDIENCE.to_owned());
        let pools = client_api::run::connect(&db_config)
            .await
            .expect("connecting the service");
        let state = AppState::new(pools, Arc::new(auth), None);
        let router = client_api::http::router(state.clone(), &http);
        Self {
            db,
            state,
            router,
            http,
            key,
            _dir: dir,
        }
    }

    /// A token for `subject` with `scopes`.
    pub fn token_for(&self, subject: &str, scopes: &[&str]) -> String {
        self.key
            .token(subject, scopes, 3600)
            .expect("token")
            .expose_secret()
            .to_owned()
    }

    /// A token with both scopes.
    pub fn token(&self) -> String {
        self.token_for("tester", &[SCOPE_READ, SCOPE_WRITE])
    }

    /// A request through the router, authenticated with both scopes.
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        let token = self.token();
        let mut all: Vec<(&str, String)> = vec![("authorization", format!("Bearer {token}"))];
        if body.is_some() {
            let media = if method == Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            all.push(("content-type", media.to_owned()));
        }
        all.extend(headers.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        self.raw(method, uri, bytes, &all).await
    }

    /// A request through the router with exactly these headers and body bytes.
    pub async fn raw(&self, method: Method, uri: &str, body: Vec<u8>, headers: &[(&str, String)]) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let raw = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None, &[]).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(body), &[]).await
    }

    /// Creates a client and returns its representation.
    pub async fn create_client(&self, name: &str, parent: Option<&str>) -> Value {
        let reply = self
            .post(
                "/v1/clients",
                serde_json::json!({ "display_name": name, "legal_name": format!("{name} Ltd"), "parent_id": parent }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// PATCH with If-Match of `version`.
    pub async fn patch(&self, uri: &str, version: i64, body: Value) -> Reply {
        let tag = format!("\"{version}\"");
        self.call(Method::PATCH, uri, Some(body), &[("if-match", &tag)]).await
    }
}

/// The service over real HTTP on an ephemeral port of 127.0.0.1 (`serve`), with a client and a token.
pub struct Running {
    pub base: String,
    pub stop: CancellationToken,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub http: reqwest::Client,
    pub token: String,
}

/// Serves `app`'s state over real HTTP until `stop` is cancelled.
pub async fn serve(app: &TestApp) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(client_api::server::serve(
        listener,
        app.state.clone(),
        app.http.clone(),
        stop.clone(),
    ));
    Running {
        base,
        stop,
        server,
        http: reqwest::Client::new(),
        token: app.token(),
    }
}

impl Running {
    /// A GET of `path` with the token of both scopes.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token)
    }
}
