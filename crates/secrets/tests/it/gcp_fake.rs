//! The Secret Manager backend against the fake REST server on 127.0.0.1: access by number,
//! `latest` and alias; addVersion with CRC32C; paging; disable; etag-guarded aliases; tokens
//! from the metadata endpoint (cached, refreshed after a 401); retries of transient errors;
//! a corrupted checksum refused.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use secrets::gcp::fake::FakeSecretManager;
use secrets::{
    AliasName, GcpConfig, GcpSecretManager, SecretError, SecretStore, TokenSource, VersionId, VersionRef, VersionState,
};

use crate::gcp_common::{PROJECT, client, name, quick};

#[tokio::test]
async fn versions_aliases_and_latest_behave_like_secret_manager() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "client-api-devtest-db");
    let store = client(&fake, 1);
    let n = name("client-api-devtest-db");

    let v1 = store.add_version(&n, &SecretString::from("first ✓")).await.unwrap();
    let v2 = store.add_version(&n, &SecretString::from("second")).await.unwrap();
    assert_eq!((v1.get(), v2.get()), (1, 2));
    // The payload on the server is the exact bytes sent.
    assert_eq!(
        fake.payloads(PROJECT, "client-api-devtest-db")[0].2,
        "first ✓".as_bytes()
    );

    let latest = store.access(&n, &VersionRef::Latest).await.unwrap();
    assert_eq!((latest.version, latest.value.expose_secret()), (Some(v2), "second"));
    let one = store.access(&n, &VersionRef::Number(v1)).await.unwrap();
    assert_eq!(one.value.expose_secret(), "first ✓");

    let current = AliasName::parse("current").unwrap();
    store.set_alias(&n, &current, v1).await.unwrap();
    store.set_alias(&n, &current, v1).await.unwrap();
    let via_alias = store.access(&n, &VersionRef::current()).await.unwrap();
    assert_eq!(via_alias.version, Some(v1));
    assert_eq!(store.aliases(&n).await.unwrap().get(&current), Some(&v1));

    store.disable_version(&n, v2).await.unwrap();
    store.disable_version(&n, v2).await.unwrap();
    let latest = store.access(&n, &VersionRef::Latest).await.unwrap();
    assert_eq!(latest.version, Some(v1));
    let err = store.access(&n, &VersionRef::Number(v2)).await.unwrap_err();
    assert!(
        matches!(err, SecretError::Api { status: 400, ref code, .. } if code == "FAILED_PRECONDITION"),
        "{err}"
    );

    let versions = store.list_versions(&n).await.unwrap();
    let states: Vec<_> = versions.iter().map(|v| (v.version.get(), v.state)).collect();
    assert_eq!(states, [(1, VersionState::Enabled), (2, VersionState::Disabled)]);
    assert!(versions.iter().all(|v| v.created.is_some()));
}

#[tokio::test]
async fn listing_follows_page_tokens() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "many");
    let store = client(&fake, 1);
    let n = name("many");
    for i in 0..130 {
        store
            .add_version(&n, &SecretString::from(format!("v{i}")))
            .await
            .unwrap();
    }
    let versions = store.list_versions(&n).await.unwrap();
    let numbers: Vec<u64> = versions.iter().map(|v| v.version.get()).collect();
    assert_eq!(numbers, (1..=130).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_corrupted_checksum_is_refused() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    let store = client(&fake, 1);
    let n = name("s");
    store
        .add_version(&n, &SecretString::from("s3cr3t-value"))
        .await
        .unwrap();
    fake.corrupt_next_access();
    let err = store.access(&n, &VersionRef::Latest).await.unwrap_err();
    assert!(matches!(err, SecretError::Checksum { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains("s3cr3t"), "{err}");
    assert!(store.access(&n, &VersionRef::Latest).await.is_ok());
}

#[tokio::test]
async fn tokens_are_cached_and_refreshed_after_401() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    let store = client(&fake, 1);
    let n = name("s");
    store.add_version(&n, &SecretString::from("x")).await.unwrap();
    store.access(&n, &VersionRef::Latest).await.unwrap();
    store.list_versions(&n).await.unwrap();
    assert_eq!(fake.token_requests(), 1);
    fake.revoke_tokens();
    store.access(&n, &VersionRef::Latest).await.unwrap();
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn transient_errors_are_retried_for_reads_but_not_for_add_version() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    let store = client(&fake, 3);
    let n = name("s");
    store.add_version(&n, &SecretString::from("x")).await.unwrap();
    fake.fail_next(&[503, 429]);
    assert_eq!(
        store
            .access(&n, &VersionRef::Latest)
            .await
            .unwrap()
            .value
            .expose_secret(),
        "x"
    );
    fake.fail_next(&[503]);
    let err = store.add_version(&n, &SecretString::from("y")).await.unwrap_err();
    assert!(matches!(err, SecretError::Api { status: 503, .. }), "{err}");
    assert_eq!(fake.payloads(PROJECT, "s").len(), 1);
    fake.fail_next(&[503, 503, 503]);
    let err = store.access(&n, &VersionRef::Latest).await.unwrap_err();
    assert!(
        matches!(
            err,
            SecretError::RetriesExhausted {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn missing_secrets_and_versions_are_not_found() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "empty");
    let store = client(&fake, 1);
    assert!(
        store
            .access(&name("absent"), &VersionRef::Latest)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .access(&name("empty"), &VersionRef::Latest)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let err = store
        .add_version(&name("absent"), &SecretString::from("x"))
        .await
        .unwrap_err();
    assert!(err.is_not_found() && err.to_string().contains("absent"), "{err}");
    let nine = VersionId::new(9).unwrap();
    assert!(
        store
            .disable_version(&name("empty"), nine)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn concurrent_alias_moves_do_not_lose_each_other() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    let store = Arc::new(client(&fake, 8));
    let n = name("s");
    let v = store.add_version(&n, &SecretString::from("x")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, n) = (store.clone(), n.clone());
        tasks.push(tokio::spawn(async move {
            let alias = AliasName::parse(&format!("a{i}")).unwrap();
            store.set_alias(&n, &alias, v).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.aliases(&n).await.unwrap().len(), 6);
}

#[tokio::test]
async fn static_tokens_and_bad_projects() {
    let fake = FakeSecretManager::start().await;
    let bad = GcpSecretManager::new(GcpConfig {
        api_base: fake.api_base(),
        ..GcpConfig::new("Bad/Project", TokenSource::Static(SecretString::from("t")))
    })
    .unwrap_err();
    assert!(bad.to_string().contains("Bad/Project"), "{bad}");
    // A static token the server never issued is rejected with a clear 401.
    fake.create_secret(PROJECT, "s");
    let store = GcpSecretManager::new(GcpConfig {
        api_base: fake.api_base(),
        request_timeout: Duration::from_secs(1),
        retry: quick(1),
        ..GcpConfig::new(PROJECT, TokenSource::Static(SecretString::from("ya29.not-issued")))
    })
    .unwrap();
    let err = store.access(&name("s"), &VersionRef::Latest).await.unwrap_err();
    assert!(
        matches!(err, SecretError::Unauthenticated { ref credentials, .. } if credentials == "the supplied access token"),
        "{err}"
    );
    assert!(!format!("{err} {err:?} {store:?}").contains("ya29.not-issued"));
}

#[tokio::test]
async fn destroyed_versions_lose_their_payload_and_destroying_again_succeeds() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    let store = client(&fake, 1);
    let n = name("s");
    let v1 = store
        .add_version(&n, &SecretString::from("old-password"))
        .await
        .unwrap();
    let v2 = store.add_version(&n, &SecretString::from("new")).await.unwrap();
    store.disable_version(&n, v1).await.unwrap();
    store.destroy_version(&n, v1).await.unwrap();
    // The fake, like Secret Manager, refuses a second destroy; the client checks the state.
    store.destroy_version(&n, v1).await.unwrap();
    let payloads = fake.payloads(PROJECT, "s");
    assert_eq!((payloads[0].1.as_str(), payloads[0].2.len()), ("DESTROYED", 0));
    let err = store.access(&n, &VersionRef::Number(v1)).await.unwrap_err();
    assert!(err.to_string().contains("DESTROYED"), "{err}");
    let states: Vec<_> = store.list_versions(&n).await.unwrap().iter().map(|v| v.state).collect();
    assert_eq!(states, [VersionState::Destroyed, VersionState::Enabled]);
    assert_eq!(store.access(&n, &VersionRef::Latest).await.unwrap().version, Some(v2));
    let nine = VersionId::new(9).unwrap();
    assert!(store.destroy_version(&n, nine).await.unwrap_err().is_not_found());
}
