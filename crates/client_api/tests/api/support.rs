//! Test plumbing: a migrated database per test on the shared primary + replica, the service's router over it
//! (acting as a login role with exactly the service's privileges), development tokens, and request helpers
//! for both styles of test: through the router (`tower::ServiceExt::oneshot`) and over real HTTP (port 0).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use client_api::AppState;
use client_api::auth::dev::{DEV_AUDIENCE, DEV_ISSUER, DevKey};
use client_api::auth::{Authenticator, JwksSource, KeySet, SCOPE_READ, SCOPE_WRITE};
use client_api::config::{CredentialSource, DbConfig, HttpConfig};
use http::{HeaderMap, Method, Request, StatusCode};
use schema_tests::apply::{self, SERVICE_ROLE};
use schema_tests::{migrations, migrations_dir};
use secrecy::ExposeSecret as _;
use serde_json::Value;
use test_support::{Target, TestDatabase, database};
use tower::ServiceExt as _;

/// The login role the service connects as in tests (member of the service group, nothing more).
const LOGIN: &str = "client_api_svc_test";

fn login_password() -> &'static str {
    static PASSWORD: OnceLock<String> = OnceLock::new();
    PASSWORD.get_or_init(|| format!("pw{}", uuid::Uuid::new_v4().simple()))
}

/// One test's service: its own migrated database and a router over it.
pub struct TestApp {
    pub db: TestDatabase,
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

async fn migrate(db: &TestDatabase) {
    let mut client = db.connect().await;
    let files = migrations::load(&migrations_dir()).unwrap_or_else(|e| panic!("{e}"));
    apply::provision(&client).await.unwrap_or_else(|e| panic!("{e}"));
    apply::apply(&mut client, &files)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    apply::grant_service_role(&client)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Roles are cluster-wide: create the login once per test binary (concurrent ALTER ROLE would collide).
    static LOGIN_CREATED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    LOGIN_CREATED
        .get_or_init(|| async {
            client
                .batch_execute(&format!(
                    "DO $$ BEGIN CREATE ROLE {LOGIN} LOGIN IN ROLE {SERVICE_ROLE}; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
             ALTER ROLE {LOGIN} PASSWORD '{}'",
                    login_password()
                ))
                .await
                .expect("creating the service login");
        })
        .await;
}

fn spec(db: &TestDatabase, target: Target) -> conninfo::ConnSpec {
    let url = db.libpq_url(target);
    let mut spec = conninfo::ConnSpec::parse(url.expose_secret()).expect("test database URL");
    spec = spec
        .with_user(LOGIN.to_owned())
        .with_password(secrecy::SecretString::from(login_password().to_owned()));
    if let Some(ca) = db.cluster().ca_cert() {
        spec = spec
            .with_ssl_mode(conninfo::SslMode::VerifyCa)
            .with_root_cert(ca.to_owned());
    }
    spec
}

/// Waits until the replica has replayed everything written on the primary so far.
async fn replica_replayed(db: &TestDatabase) {
    let primary = db.connect().await;
    let position: String = primary
        .query_one("SELECT pg_catalog.pg_current_wal_insert_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    let replica = db.connect_replica().await;
    test_support::eventually(
        "the replica replays the primary's WAL",
        Duration::from_secs(30),
        || async {
            let caught_up: bool = replica
                .query_one(
                    "SELECT pg_catalog.pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                    &[&position],
                )
                .await
                .unwrap()
                .get(0);
            caught_up.then_some(())
        },
    )
    .await;
}

impl TestApp {
    /// Waits until the replica has replayed what the test wrote behind the service's back (with a
    /// superuser connection), so that replica reads see it.
    pub async fn replica_replayed(&self) {
        replica_replayed(&self.db).await;
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
        let db = database().await;
        migrate(&db).await;
        // Wait until the replica has replayed the whole setup (migrations, grants, the login role).
        replica_replayed(&db).await;
        let mut settings = (
            DbConfig {
                primary: spec(&db, Target::Primary),
                replica: Some(spec(&db, Target::Replica)),
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
