//! What survives and what is reported: quota 429s and 503s are waited out as `Retry-After`
//! says (seconds or HTTP-date) within the budget, a wait beyond the budget fails at once, and
//! 404 / 403 / 401 become errors that say what to do (create the secret in Terraform, grant
//! this role, check this credential source); the fake's IAM honours custom roles as defined.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use secrets::gcp::RetryPolicy;
use secrets::gcp::fake::{FakeSecretManager, METADATA_EMAIL, METADATA_PRINCIPAL, RetryAfter};
use secrets::{
    AliasName, GcpConfig, GcpSecretManager, SecretError, SecretStore as _, TokenSource, VersionId, VersionRef,
};

use crate::gcp_common::{PROJECT, client, config, name, quick};

async fn with_version() -> FakeSecretManager {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    client(&fake, 1)
        .add_version(&name("s"), &SecretString::from("x"))
        .await
        .unwrap();
    fake
}

fn budget(fake: &FakeSecretManager, budget: Duration) -> GcpSecretManager {
    GcpSecretManager::new(GcpConfig {
        retry: RetryPolicy { budget, ..quick(1000) },
        ..config(fake, TokenSource::Metadata(fake.metadata_base()), 1)
    })
    .unwrap()
}

#[tokio::test]
async fn a_quota_429_is_waited_out_as_retry_after_seconds_says() {
    let fake = with_version().await;
    fake.throttle_next(2, 429, RetryAfter::Seconds(1));
    let before = fake.api_requests();
    let got = budget(&fake, Duration::from_secs(60))
        .access(&name("s"), &VersionRef::Latest)
        .await
        .unwrap();
    assert_eq!(got.value.expose_secret(), "x");
    assert_eq!(fake.api_requests() - before, 3, "two refusals, then the answer");
    assert_eq!(fake.early_requests(), 0, "no request came back before its Retry-After");
}

#[tokio::test]
async fn a_503_with_an_http_date_retry_after_is_waited_out_until_that_date() {
    let fake = with_version().await;
    fake.throttle_next(1, 503, RetryAfter::Date(1));
    let got = budget(&fake, Duration::from_secs(60))
        .access(&name("s"), &VersionRef::Latest)
        .await
        .unwrap();
    assert_eq!(got.value.expose_secret(), "x");
    assert_eq!(fake.early_requests(), 0, "no request came back before the date");
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_fails_at_once_naming_the_quota() {
    let fake = with_version().await;
    fake.throttle_next(1, 429, RetryAfter::Seconds(120));
    let before = fake.api_requests();
    let err = budget(&fake, Duration::from_secs(90))
        .access(&name("s"), &VersionRef::Latest)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SecretError::RetriesExhausted {
                status: 429,
                attempts: 1,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    for needle in ["quota", "120.", "90.0 s budget", "RESOURCE_EXHAUSTED"] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
    assert_eq!(fake.api_requests() - before, 1, "it did not sleep into a failure");
}

#[tokio::test]
async fn a_quota_that_outlasts_the_budget_fails_after_backing_off() {
    let fake = with_version().await;
    fake.throttle_next(10_000, 429, RetryAfter::Absent);
    let before = fake.api_requests();
    let err = budget(&fake, Duration::from_millis(400))
        .list_versions(&name("s"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SecretError::RetriesExhausted { status: 429, .. }),
        "{err}"
    );
    assert!(fake.api_requests() - before >= 2, "it backed off and tried again");
}

#[tokio::test]
async fn add_version_retries_a_quota_refusal_but_never_a_503() {
    let fake = with_version().await;
    let store = budget(&fake, Duration::from_secs(60));
    fake.throttle_next(1, 429, RetryAfter::Seconds(1));
    store.add_version(&name("s"), &SecretString::from("y")).await.unwrap();
    assert_eq!(
        fake.payloads(PROJECT, "s").len(),
        2,
        "a 429 was not applied, so it was sent again"
    );
    // A 503 may have been applied: adding again could store the value twice.
    fake.fail_next(&[503]);
    let err = store
        .add_version(&name("s"), &SecretString::from("z"))
        .await
        .unwrap_err();
    assert!(matches!(err, SecretError::Api { status: 503, .. }), "{err}");
    assert_eq!(fake.payloads(PROJECT, "s").len(), 2);
}

#[tokio::test]
async fn a_missing_secret_says_to_create_it_in_terraform() {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "empty");
    let store = client(&fake, 1);
    let absent = name("pcc-orders-devtest-db");
    let expected = "secret pcc-orders-devtest-db does not exist in project pcc-devtest: create it (Terraform google_secret_manager_secret";
    let errors = [
        store.add_version(&absent, &SecretString::from("x")).await.unwrap_err(),
        store.aliases(&absent).await.unwrap_err(),
        store.list_versions(&absent).await.unwrap_err(),
        store.access(&absent, &VersionRef::Latest).await.unwrap_err(),
    ];
    for err in errors {
        assert!(err.is_secret_missing() && err.is_not_found(), "{err}");
        assert!(err.to_string().starts_with(expected), "{err}");
    }
    // A secret without versions answers `latest` with the same words; the error says both.
    let err = store.access(&name("empty"), &VersionRef::Latest).await.unwrap_err();
    assert!(err.to_string().contains("no enabled version yet"), "{err}");
    // A missing version of an existing secret is a missing version, not a missing secret.
    let nine = VersionId::new(9).unwrap();
    let err = store.disable_version(&name("empty"), nine).await.unwrap_err();
    assert!(
        matches!(err, SecretError::VersionNotFound { ref version, .. } if version == "9"),
        "{err}"
    );
}

#[tokio::test]
async fn permission_denied_names_the_role_each_operation_needs() {
    let fake = with_version().await;
    fake.enforce_iam();
    fake.grant(
        METADATA_PRINCIPAL,
        "roles/secretmanager.secretAccessor",
        PROJECT,
        Some("s"),
    );
    let store = client(&fake, 1);
    let s = name("s");
    let one = VersionId::new(1).unwrap();
    store.access(&s, &VersionRef::Latest).await.unwrap();
    let current = AliasName::parse("current").unwrap();
    let denied = [
        (
            "addVersion",
            "roles/secretmanager.secretVersionAdder",
            store.add_version(&s, &SecretString::from("y")).await,
        ),
        (
            "disable",
            "roles/secretmanager.secretVersionManager",
            store.disable_version(&s, one).await.map(|()| one),
        ),
        (
            "destroy",
            "roles/secretmanager.secretVersionManager",
            store.destroy_version(&s, one).await.map(|()| one),
        ),
        (
            "list",
            "roles/secretmanager.viewer",
            store.list_versions(&s).await.map(|_| one),
        ),
        (
            "get",
            "roles/secretmanager.viewer",
            store.aliases(&s).await.map(|_| one),
        ),
    ];
    for (operation, role, result) in denied {
        let err = result.unwrap_err();
        assert!(
            matches!(err, SecretError::PermissionDenied { operation: o, .. } if o == operation),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(role), "{operation}: {text}");
        assert!(
            text.contains("metadata server http://127.0.0.1") && text.contains(METADATA_EMAIL),
            "{operation} names the identity: {text}"
        );
    }
    // Moving an alias first reads the secret (viewer), then patches it (admin among predefined roles).
    fake.grant(METADATA_PRINCIPAL, "roles/secretmanager.viewer", PROJECT, Some("s"));
    let err = store.set_alias(&s, &current, one).await.unwrap_err();
    assert!(err.to_string().contains("secretmanager.secrets.update"), "{err}");
    // The role the error named is the one that works.
    fake.grant(
        METADATA_PRINCIPAL,
        "roles/secretmanager.secretVersionManager",
        PROJECT,
        Some("s"),
    );
    store.disable_version(&s, one).await.unwrap();
    // Grants are per secret: another secret stays closed.
    fake.create_secret(PROJECT, "other");
    let err = store.access(&name("other"), &VersionRef::Latest).await.unwrap_err();
    assert!(matches!(err, SecretError::PermissionDenied { .. }), "{err}");
}

#[tokio::test]
async fn a_custom_role_permits_exactly_the_permissions_it_was_defined_with() {
    let fake = with_version().await;
    let store = client(&fake, 1);
    let s = name("s");
    let one = VersionId::new(1).unwrap();
    let role = format!("projects/{PROJECT}/roles/pccSecretRotator");
    // Granted before it is defined, a custom role permits nothing (as a role IAM does not know).
    fake.grant(METADATA_PRINCIPAL, &role, PROJECT, Some("s"));
    let err = store.list_versions(&s).await.unwrap_err();
    assert!(matches!(err, SecretError::PermissionDenied { .. }), "{err}");
    fake.define_role(
        &role,
        &["secretmanager.versions.list", "secretmanager.versions.disable"],
    );
    assert_eq!(store.list_versions(&s).await.unwrap().len(), 1);
    store.disable_version(&s, one).await.unwrap();
    // What it was not defined with stays denied, naming the permission Google names.
    let err = store.destroy_version(&s, one).await.unwrap_err().to_string();
    assert!(
        err.contains("secretmanager.versions.destroy") && err.contains("metadata server http://127.0.0.1"),
        "{err}"
    );
    // Redefining it (an update of the role) changes what the grant permits.
    fake.define_role(
        &role,
        &["secretmanager.versions.list", "secretmanager.versions.destroy"],
    );
    store.destroy_version(&s, one).await.unwrap();
    assert_eq!(fake.payloads(PROJECT, "s")[0].1, "DESTROYED");
    // Another project's role of the same id is another role: defining it opens nothing here.
    let other = format!("projects/other-{PROJECT}/roles/pccSecretRotator");
    fake.define_role(&other, &["secretmanager.versions.access"]);
    let err = store.access(&s, &VersionRef::Latest).await.unwrap_err();
    assert!(matches!(err, SecretError::PermissionDenied { .. }), "{err}");
}

#[tokio::test]
async fn a_token_the_api_keeps_rejecting_names_the_credential_source() {
    let fake = with_version().await;
    let store = client(&fake, 1);
    let before = fake.token_requests();
    fake.reject_issued_tokens();
    fake.revoke_tokens();
    let err = store.access(&name("s"), &VersionRef::Latest).await.unwrap_err();
    assert!(matches!(err, SecretError::Unauthenticated { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("metadata server http://127.0.0.1")
            && text.contains("/computeMetadata/v1/instance/service-accounts/default/token"),
        "{text}"
    );
    assert!(!text.contains("ya29."), "{text}");
    assert_eq!(
        fake.token_requests() - before,
        2,
        "one fresh token was tried before giving up"
    );
}
