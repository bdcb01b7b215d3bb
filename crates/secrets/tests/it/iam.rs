//! IAM database logins against the fake metadata and OAuth servers: the user from the service
//! account, tokens of the alloydb.login scope, a background refresh before expiry, a forced
//! refresh, a failing token source that leaves the current token in place, and no token in
//! `Debug` or errors.

use std::time::Duration;

use secrecy::ExposeSecret as _;
use secrets::gcp::RetryPolicy;
use secrets::gcp::credentials::ALLOYDB_LOGIN_SCOPE;
use secrets::gcp::fake::{FakeSecretManager, METADATA_EMAIL};
use secrets::{IamConfig, IamCredentials, SecretError, TokenSource};

use crate::gcp_common::quick;

fn metadata(fake: &FakeSecretManager, user: Option<&str>) -> IamConfig {
    IamConfig {
        start_retry: quick(10),
        refresh_retry: quick(3),
        ..IamConfig::new(user.map(str::to_owned), TokenSource::Metadata(fake.metadata_base()))
    }
}

/// Waits (up to a minute, polling) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_user_is_the_service_account_without_its_suffix_and_tokens_are_for_alloydb_login() {
    let fake = FakeSecretManager::start().await;
    // A new pod: the metadata server does not answer its first requests.
    fake.metadata_not_ready_for(3);
    let iam = IamCredentials::start(metadata(&fake, None)).await.unwrap();
    assert_eq!(iam.user(), METADATA_EMAIL.trim_end_matches(".gserviceaccount.com"));
    assert_eq!(iam.user(), "workload@fake-project.iam");
    let issued = fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        issued[0].1, ALLOYDB_LOGIN_SCOPE,
        "the token is asked for the login scope only"
    );
    assert_eq!(iam.token().expose_secret(), issued[0].0);
    let debug = format!("{iam:?}");
    assert!(!debug.contains(&issued[0].0) && debug.contains("REDACTED"), "{debug}");

    // A user given explicitly is used as is, and the metadata server is not asked for one.
    let fake = FakeSecretManager::start().await;
    let iam = IamCredentials::start(metadata(&fake, Some("pcc-client-api-devtest@pcc-devtest.iam")))
        .await
        .unwrap();
    assert_eq!(iam.user(), "pcc-client-api-devtest@pcc-devtest.iam");
    assert_eq!(fake.email_requests(), 0);
}

#[tokio::test]
async fn a_service_account_key_names_the_user_and_signs_for_the_login_scope() {
    let fake = FakeSecretManager::start().await;
    let email = "pcc-client-api-ci@pcc-devtest.iam.gserviceaccount.com";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    std::fs::write(&path, fake.service_account_key(email)).unwrap();
    let source = TokenSource::from_file(&path, "test").unwrap();
    let iam = IamCredentials::start(IamConfig {
        start_retry: quick(3),
        ..IamConfig::new(None, source)
    })
    .await
    .unwrap();
    assert_eq!(iam.user(), "pcc-client-api-ci@pcc-devtest.iam");
    assert_eq!(fake.issued_tokens()[0].1, ALLOYDB_LOGIN_SCOPE);
}

#[tokio::test]
async fn tokens_are_refreshed_in_the_background_before_they_expire() {
    let fake = FakeSecretManager::start().await;
    // Two-second tokens: the next one is fetched at half-life, about every second.
    fake.token_lifetime(2);
    let iam = IamCredentials::start(metadata(&fake, None)).await.unwrap();
    let first = iam.token().expose_secret().to_owned();
    until("two background refreshes", || iam.fetches() >= 3).await;
    let now = iam.token().expose_secret().to_owned();
    assert_ne!(now, first);
    // What the connection layer is handed is a token the server issued (the newest one or,
    // while a fetch is under way, the one before it).
    let issued: Vec<String> = fake.issued_tokens().into_iter().map(|(t, _)| t).collect();
    let newest = issued.iter().rev().take(2).collect::<Vec<_>>();
    assert!(
        newest.contains(&&now),
        "{} is not among the newest issued",
        issued.len()
    );
    // The task stops with its credentials.
    drop(iam);
    let requests = fake.token_requests();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(fake.token_requests() <= requests + 1, "the refresher stopped");
}

#[tokio::test]
async fn refresh_fetches_a_new_token_now_and_concurrent_callers_share_it() {
    let fake = FakeSecretManager::start().await;
    let iam = IamCredentials::start(metadata(&fake, None)).await.unwrap();
    fake.issue_fixed_token("ya29.rotated");
    let (a, b) = tokio::join!(iam.refresh(), iam.refresh());
    assert_eq!(a.unwrap().expose_secret(), "ya29.rotated");
    assert_eq!(b.unwrap().expose_secret(), "ya29.rotated");
    assert_eq!(iam.token().expose_secret(), "ya29.rotated");
    assert_eq!(fake.token_requests(), 2, "start, then one shared refresh");
}

#[tokio::test]
async fn a_failing_token_source_keeps_the_current_token_and_says_why_without_a_token() {
    let fake = FakeSecretManager::start().await;
    fake.token_lifetime(2);
    let iam = IamCredentials::start(IamConfig {
        refresh_retry: RetryPolicy {
            budget: Duration::from_millis(200),
            ..quick(3)
        },
        ..metadata(&fake, None)
    })
    .await
    .unwrap();
    let held = iam.token().expose_secret().to_owned();
    fake.metadata_not_ready_for(u32::MAX);
    let requests = fake.token_requests();
    until("failed background refreshes", || fake.token_requests() >= requests + 2).await;
    assert_eq!(iam.token().expose_secret(), held, "the current token stays");
    let err = iam.refresh().await.unwrap_err().to_string();
    assert!(
        err.contains("HTTP 503") && err.contains("iam.gke.io/gcp-service-account"),
        "{err}"
    );
    assert!(!err.contains(&held), "{err}");
}

#[tokio::test]
async fn a_source_that_names_nobody_needs_the_user_spelled_out() {
    let err = IamCredentials::start(IamConfig::new(
        None,
        TokenSource::Static(secrecy::SecretString::from("ya29.static")),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, SecretError::IamUser(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("PCC_DB_IAM_USER") && !text.contains("ya29.static"),
        "{text}"
    );

    // No metadata server at all: the e-mail lookup gives up with what to do.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let err = IamCredentials::start(IamConfig {
        start_retry: RetryPolicy {
            budget: Duration::from_millis(300),
            ..quick(3)
        },
        ..IamConfig::new(None, TokenSource::Metadata(base))
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("PCC_DB_IAM_USER") && err.contains("service-accounts/default/email"),
        "{err}"
    );
}
