//! IAM database authentication as a pod meets it: the real `pcc-client-api` binary with
//! `PCC_DB_AUTH=iam` and its database user, Application Default Credentials pointed at the fake
//! metadata server (`GCE_METADATA_HOST`, a real HTTP server on 127.0.0.1), logging in to the real
//! primary and replica as a role whose password is the access token the fake issues (what AlloyDB
//! checks an IAM user's login against). The metadata server does not answer the first requests
//! (a new pod under Workload Identity); the token changes while the service runs (new token issued,
//! the role's password changed to it): open connections keep serving, and as the pools replace them at
//! their lifetime, every new one logs in with the new token without a failed request; no token appears
//! in the service's log.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use client_api::auth::dev::{DEV_AUDIENCE, DEV_ISSUER, DevKey};
use client_api::auth::{SCOPE_READ, SCOPE_WRITE};
use secrecy::ExposeSecret as _;
use secrets::gcp::credentials::ALLOYDB_LOGIN_SCOPE;
use secrets::gcp::fake::FakeSecretManager;
use test_support::{eventually, service_database, unique_name};

use crate::support::SERVICE;

/// Stops the service whatever the test's outcome; its stderr is the log, read as it is written (a pipe
/// nobody reads fills up, and a service writing its log to it then blocks).
struct Started {
    child: Child,
    log: Option<std::thread::JoinHandle<String>>,
}

impl Started {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command.spawn().expect("starting pcc-client-api");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            log
        });
        Self { child, log: Some(log) }
    }

    /// Stops the service and returns everything it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.take().and_then(|l| l.join().ok()).unwrap_or_default()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Connections live this long in the test (production: the manifest's 30 minutes), so the pools replace
/// every one of them within the test, as a pod's pools do over a token's lifetime.
const LIFETIME: Duration = Duration::from_secs(10);

/// A connection string without any credential (the IAM login supplies user and password), with the
/// test's connection lifetime.
fn without_credentials(mut spec: conninfo::ConnSpec) -> String {
    spec.username = None;
    spec.password = None;
    spec.pool.max_lifetime = Some(LIFETIME);
    spec.to_npgsql_redacted()
}

/// Backend pids of `user`'s sessions on a server.
async fn sessions_of(client: &tokio_postgres::Client, user: &str) -> Vec<i32> {
    client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE usename = $1 ORDER BY pid",
            &[&user],
        )
        .await
        .expect("pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn the_service_logs_in_with_refreshed_access_tokens_and_never_logs_one() {
    let db = service_database(SERVICE).await;
    db.replica_caught_up().await;
    let admin = db.connect().await;
    let names = db.names().clone();
    // The IAM user as AlloyDB has it once Terraform created it: a login role, here with the token
    // as its password, granted the service's privileges (what `pccdb apply` grants an IAM login).
    // Unique per test (roles are cluster-wide) and short: PostgreSQL keeps 63 bytes of a name.
    let tag = unique_name("t");
    let user = format!("iam-{}@fake-project.iam", &tag[tag.len().saturating_sub(8)..]);
    let first = format!("ya29.first-{}", unique_name("t"));
    let second = format!("ya29.second-{}", unique_name("t"));
    admin
        .batch_execute(&format!(
            "CREATE ROLE \"{user}\" LOGIN PASSWORD '{first}' IN ROLE {}",
            names.app_group
        ))
        .await
        .expect("creating the IAM user");

    let fake = FakeSecretManager::start().await;
    fake.issue_fixed_token(&first);
    // Short-lived tokens: the service fetches the next one after about a second, in the background.
    fake.token_lifetime(2);
    // A new pod: the metadata server does not answer its first requests.
    fake.metadata_not_ready_for(3);

    let runtime = db.runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = DevKey::load_or_create(dir.path()).expect("dev key");
    let port = free_port();
    let metadata = fake.metadata_base();
    let metadata_host = format!(
        "{}:{}",
        metadata.host_str().expect("host"),
        metadata.port().expect("port")
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_pcc-client-api"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // No gcloud login or key file to find: Application Default Credentials end at the metadata server.
        .env("HOME", dir.path())
        .env("CLOUDSDK_CONFIG", dir.path().join("gcloud"))
        .env("GCE_METADATA_HOST", &metadata_host)
        .env("PCC_DB_AUTH", "iam")
        .env("PCC_DB_IAM_USER", &user)
        .env("PCC_DB_PRIMARY", without_credentials(runtime.primary.clone()))
        .env("PCC_DB_POOL_MAX", "4")
        .env("PCC_AUTH_JWKS_FILE", key.jwks_path())
        .env("PCC_AUTH_ISSUER", DEV_ISSUER)
        .env("PCC_AUTH_AUDIENCE", DEV_AUDIENCE)
        .env("PCC_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("PCC_LOG", "debug")
        .env("PCC_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(replica) = runtime.replica.clone() {
        command
            .env("PCC_DB_REPLICA", without_credentials(replica))
            .env("PCC_DB_REPLICA_POOL_MAX", "4");
    }
    let started = Started::spawn(&mut command);
    let base = format!("http://127.0.0.1:{port}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let (http_ref, base_ref, fake_ref) = (&http, base.as_str(), &fake);
    let bearer = format!(
        "Bearer {}",
        key.token("iam-tester", &[SCOPE_READ, SCOPE_WRITE], 3600)
            .expect("token")
            .expose_secret()
    );
    eventually("the service is ready", Duration::from_secs(120), || async move {
        let ready = http_ref.get(format!("{base_ref}/readyz")).send().await.ok()?;
        ready.status().is_success().then_some(())
    })
    .await;
    assert!(
        fake.token_requests() > 3,
        "the metadata server refused the first requests, and the service retried"
    );
    assert!(
        fake.issued_tokens()
            .iter()
            .all(|(_, scope)| scope == ALLOYDB_LOGIN_SCOPE),
        "tokens are asked for the AlloyDB login scope"
    );

    // Writes on the primary, lists on the replica, both as the IAM user with the first token.
    let create = |name: String| {
        let http = http.clone();
        let base = base.clone();
        let bearer = bearer.clone();
        async move {
            http.post(format!("{base}/v1/clients"))
                .header("authorization", bearer)
                .json(&serde_json::json!({"display_name": name, "legal_name": format!("{name} Ltd")}))
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16())
        }
    };
    let list = || {
        let http = http.clone();
        let base = base.clone();
        let bearer = bearer.clone();
        async move {
            http.get(format!("{base}/v1/clients"))
                .header("authorization", bearer)
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16())
        }
    };
    assert_eq!(create("IAM One".to_owned()).await, Some(201));
    assert_eq!(list().await, Some(200));
    let before = sessions_of(&admin, &user).await;
    assert!(!before.is_empty(), "the service holds sessions as {user}");

    // The token changes: the role now accepts only the second one, which the fake issues from now on.
    admin
        .batch_execute(&format!("ALTER ROLE \"{user}\" PASSWORD '{second}'"))
        .await
        .expect("changing the role's password");
    fake.issue_fixed_token(&second);
    let second_ref = second.as_str();
    eventually(
        "the background refresh fetched the new token",
        Duration::from_secs(60),
        || async move {
            fake_ref
                .issued_tokens()
                .iter()
                .any(|(t, _)| t == second_ref)
                .then_some(())
        },
    )
    .await;
    // Open connections logged in with the first token keep serving.
    assert_eq!(create("IAM Two".to_owned()).await, Some(201));
    assert_eq!(list().await, Some(200));
    let still = sessions_of(&admin, &user).await;
    assert!(
        before.iter().any(|pid| still.contains(pid)),
        "sessions opened with the first token stay open: {before:?} then {still:?}"
    );

    // The pools replace their connections as they reach their lifetime (no session is killed): every new
    // one can only log in with the second token, and no request fails while they turn over.
    let replica_admin = match db.db().cluster().replica() {
        Some(replica) => Some(
            test_support::connect(&replica.config("postgres"), replica.ca_cert.as_deref())
                .await
                .expect("replica admin"),
        ),
        None => None,
    };
    let replica_before = match &replica_admin {
        Some(client) => sessions_of(client, &user).await,
        None => Vec::new(),
    };
    let deadline = std::time::Instant::now() + 6 * LIFETIME;
    let mut failures = Vec::new();
    let mut requests = 0;
    loop {
        requests += 1;
        let wrote = create(format!("IAM Turnover {requests}")).await;
        if wrote != Some(201) {
            failures.push(format!("write {requests}: {wrote:?}"));
        }
        let listed = list().await;
        if listed != Some(200) {
            failures.push(format!("list {requests}: {listed:?}"));
        }
        let primary_now = sessions_of(&admin, &user).await;
        let replica_now = match &replica_admin {
            Some(client) => sessions_of(client, &user).await,
            None => vec![0],
        };
        let renewed = |now: &[i32], old: &[i32]| !now.is_empty() && now.iter().all(|pid| !old.contains(pid));
        if renewed(&primary_now, &before) && renewed(&replica_now, &replica_before) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pools did not replace their sessions within {:?}: primary {before:?} -> {primary_now:?}, \
             replica {replica_before:?} -> {replica_now:?}",
            6 * LIFETIME
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        failures.is_empty(),
        "{} of {requests} request pairs failed while the sessions turned over: {failures:?}",
        failures.len()
    );
    let after = sessions_of(&admin, &user).await;
    assert!(!after.is_empty(), "the service logged in again");

    let log = started.stop();
    assert!(
        log.contains("logging in to the database with IAM") && log.contains(&user),
        "the log says how the service logs in:\n{log}"
    );
    for (token, _) in fake.issued_tokens() {
        assert!(!log.contains(&token), "a token is in the log:\n{log}");
    }
    assert!(!log.contains("ya29."), "a token is in the log");
}
