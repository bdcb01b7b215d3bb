//! Access tokens from the metadata server: a server that is not ready for a pod's first
//! requests is waited for, one that never answers fails with an error naming the URL and
//! Workload Identity's two settings, and tokens are cached until shortly before they expire.

use std::time::Duration;

use secrecy::SecretString;
use secrets::gcp::RetryPolicy;
use secrets::gcp::fake::FakeSecretManager;
use secrets::{GcpConfig, GcpSecretManager, SecretError, SecretStore as _, TokenSource, VersionRef};

use crate::gcp_common::{PROJECT, client, config, name, quick};

#[tokio::test]
async fn a_metadata_server_that_is_not_ready_yet_is_waited_for() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    // What a new pod under Workload Identity sees: the first requests fail.
    fake.metadata_not_ready_for(4);
    let store = GcpSecretManager::new(GcpConfig {
        token_retry: quick(30),
        ..config(&fake, TokenSource::Metadata(fake.metadata_base()), 1)
    })
    .unwrap();
    store.add_version(&name("s"), &SecretString::from("x")).await.unwrap();
    assert_eq!(fake.token_requests(), 5, "four refusals, then the token");
}

#[tokio::test]
async fn a_metadata_server_that_never_answers_names_the_url_and_workload_identity() {
    // Nothing listens on this port: every attempt is refused at connect.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fake = FakeSecretManager::start().await;
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let store = GcpSecretManager::new(GcpConfig {
        token_retry: RetryPolicy {
            budget: Duration::from_millis(500),
            ..quick(100)
        },
        ..config(&fake, TokenSource::Metadata(base), 1)
    })
    .unwrap();
    let err = store.access(&name("s"), &VersionRef::Latest).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SecretError::Token { .. }), "{text}");
    for needle in [
        format!("http://127.0.0.1:{port}/computeMetadata/v1/instance/service-accounts/default/token"),
        "iam.gke.io/gcp-service-account".to_owned(),
        "roles/iam.workloadIdentityUser".to_owned(),
        "attempts".to_owned(),
        "request failed".to_owned(),
    ] {
        assert!(text.contains(&needle), "{needle:?} missing from: {text}");
    }
    assert_eq!(fake.api_requests(), 0, "no API call without a token");
}

#[tokio::test]
async fn a_metadata_server_still_refusing_after_the_budget_is_reported_with_its_answer() {
    let fake = FakeSecretManager::start().await;
    fake.metadata_not_ready_for(u32::MAX);
    let store = GcpSecretManager::new(GcpConfig {
        token_retry: RetryPolicy {
            budget: Duration::from_millis(300),
            ..quick(100)
        },
        ..config(&fake, TokenSource::Metadata(fake.metadata_base()), 1)
    })
    .unwrap();
    let err = store
        .access(&name("s"), &VersionRef::Latest)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HTTP 503") && err.contains("not ready for this pod"),
        "{err}"
    );
    assert!(err.contains("budget"), "{err}");
    assert!(fake.token_requests() >= 2, "it was retried");
}

#[tokio::test]
async fn tokens_are_reused_until_a_minute_before_they_expire() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    let n = name("s");
    let store = client(&fake, 1);
    store.add_version(&n, &SecretString::from("x")).await.unwrap();
    store.access(&n, &VersionRef::Latest).await.unwrap();
    store.list_versions(&n).await.unwrap();
    assert_eq!(fake.token_requests(), 1, "one token for three calls");

    // A token that lives less than the refresh margin is never reused.
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    fake.token_lifetime(30);
    let store = client(&fake, 1);
    store.add_version(&n, &SecretString::from("x")).await.unwrap();
    store.access(&n, &VersionRef::Latest).await.unwrap();
    assert_eq!(fake.token_requests(), 2);
}
