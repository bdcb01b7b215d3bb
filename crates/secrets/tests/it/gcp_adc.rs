//! Credentials for workstations and CI against the fake OAuth token endpoint: a service-account
//! key signs an RS256 assertion that the endpoint verifies with the key pair's public half
//! (and its audience, issuer, scope and lifetime); gcloud's user credentials use the
//! refresh-token grant and a quota project. Refusals say what to do and show no secret.

use std::path::PathBuf;

use secrecy::{ExposeSecret as _, SecretString};
use secrets::gcp::fake::{FakeSecretManager, test_key_pair};
use secrets::{GcpSecretManager, SecretError, SecretStore as _, TokenSource, VersionRef};

use crate::gcp_common::{PROJECT, config, name};

const CI: &str = "pcc-ci@pcc-devtest.iam.gserviceaccount.com";

fn write(dir: &tempfile::TempDir, file: &str, content: &str) -> PathBuf {
    let path = dir.path().join(file);
    std::fs::write(&path, content).unwrap();
    path
}

async fn seeded() -> FakeSecretManager {
    let fake = FakeSecretManager::start().await;
    fake.create_secret(PROJECT, "s");
    fake
}

#[tokio::test]
async fn a_service_account_key_gets_tokens_with_a_signed_assertion() {
    let fake = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let key = write(&dir, "ci.json", &fake.service_account_key(CI));
    let source = TokenSource::from_file(&key, "test").unwrap();
    assert_eq!(
        source.describe(),
        format!("service account key {} ({CI})", key.display())
    );
    // IAM on, granted to the key's service account only: the token really stands for it.
    fake.enforce_iam();
    let principal = format!("serviceAccount:{CI}");
    fake.grant(&principal, "roles/secretmanager.admin", PROJECT, Some("s"));
    let store = GcpSecretManager::new(config(&fake, source, 1)).unwrap();
    store.add_version(&name("s"), &SecretString::from("v")).await.unwrap();
    let got = store.access(&name("s"), &VersionRef::Latest).await.unwrap();
    assert_eq!(got.value.expose_secret(), "v");
    assert_eq!(fake.oauth_requests(), 1, "one exchange, the token is cached");
    assert_eq!(fake.token_requests(), 0, "the metadata server was not asked");
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused_with_advice() {
    let fake = seeded().await;
    fake.register_service_account(CI, &test_key_pair(0).public_pem);
    let wrong = test_key_pair(1);
    let dir = tempfile::tempdir().unwrap();
    let key = write(
        &dir,
        "old-key.json",
        &fake.service_account_file(CI, wrong.private_pem.expose_secret()),
    );
    let store = GcpSecretManager::new(config(&fake, TokenSource::from_file(&key, "test").unwrap(), 1)).unwrap();
    let err = store.access(&name("s"), &VersionRef::Latest).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, SecretError::Token { .. }), "{text}");
    for needle in [
        "invalid_grant",
        "Invalid JWT Signature",
        "old-key.json",
        CI,
        "keys create",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
    let key_body = wrong.private_pem.expose_secret().lines().nth(2).unwrap().to_owned();
    assert!(!text.contains(&key_body), "{text}");
    assert_eq!(fake.oauth_requests(), 1, "a refusal is final, not retried");
}

/// Posts a hand-made assertion to the fake's token endpoint.
async fn exchange(
    fake: &FakeSecretManager,
    claims: &serde_json::Value,
    slot: usize,
    alg: jsonwebtoken::Algorithm,
) -> (u16, String) {
    let key = match alg {
        jsonwebtoken::Algorithm::HS256 => jsonwebtoken::EncodingKey::from_secret(b"shared"),
        _ => {
            jsonwebtoken::EncodingKey::from_rsa_pem(test_key_pair(slot).private_pem.expose_secret().as_bytes()).unwrap()
        }
    };
    let jwt = jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &key).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .post(fake.token_uri())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &jwt),
                ])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_fake_token_endpoint_checks_signature_audience_issuer_scope_and_lifetime() {
    use jsonwebtoken::Algorithm::{HS256, RS256};
    let fake = seeded().await;
    fake.register_service_account(CI, &test_key_pair(0).public_pem);
    let now = jsonwebtoken::get_current_timestamp();
    let aud = fake.token_uri().to_string();
    let scope = "https://www.googleapis.com/auth/cloud-platform";
    let good = serde_json::json!({"iss": CI, "aud": aud, "scope": scope, "iat": now, "exp": now + 3600});
    assert_eq!(
        exchange(&fake, &good, 0, RS256).await.0,
        200,
        "the well-formed assertion is accepted"
    );
    let with = |k: &str, v: serde_json::Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let cases = [
        ("another key", good.clone(), 1, RS256, "Invalid JWT Signature"),
        ("a shared secret", good.clone(), 0, HS256, "not RS256"),
        (
            "another audience",
            with("aud", "https://example.com/token".into()),
            0,
            RS256,
            "audience",
        ),
        (
            "an unknown issuer",
            with("iss", "x@y.iam.gserviceaccount.com".into()),
            0,
            RS256,
            "no key",
        ),
        (
            "no cloud-platform scope",
            with("scope", "email".into()),
            0,
            RS256,
            "scope",
        ),
        (
            "an expired assertion",
            with("exp", (now - 10).into()),
            0,
            RS256,
            "short-lived",
        ),
        (
            "a two-hour assertion",
            with("exp", (now + 7200).into()),
            0,
            RS256,
            "short-lived",
        ),
        (
            "an assertion from the future",
            with("iat", (now + 600).into()),
            0,
            RS256,
            "short-lived",
        ),
    ];
    for (what, claims, slot, alg, needle) in cases {
        let (status, body) = exchange(&fake, &claims, slot, alg).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert!(
            body.contains("invalid_grant") && body.contains(needle),
            "{what}: {body}"
        );
    }
}

#[tokio::test]
async fn gcloud_user_credentials_refresh_and_bill_their_quota_project() {
    let fake = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let adc = write(
        &dir,
        "adc.json",
        &fake.authorized_user("dev@pcc.example", Some(PROJECT)),
    );
    fake.enforce_iam();
    fake.grant("user:dev@pcc.example", "roles/secretmanager.admin", PROJECT, None);
    let store = GcpSecretManager::new(config(&fake, TokenSource::from_file(&adc, "test").unwrap(), 1)).unwrap();
    store.add_version(&name("s"), &SecretString::from("v")).await.unwrap();
    assert_eq!(store.list_versions(&name("s")).await.unwrap().len(), 1);
    assert_eq!(fake.oauth_requests(), 1);

    // Without a quota project Secret Manager refuses user credentials; the error says how to set one.
    let bare = write(&dir, "bare.json", &fake.authorized_user("dev@pcc.example", None));
    let store = GcpSecretManager::new(config(&fake, TokenSource::from_file(&bare, "test").unwrap(), 1)).unwrap();
    let err = store.access(&name("s"), &VersionRef::Latest).await.unwrap_err();
    assert!(matches!(err, SecretError::PermissionDenied { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("gcloud auth application-default set-quota-project pcc-devtest"),
        "{err}"
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_says_to_log_in_again() {
    let fake = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let mut file: serde_json::Value =
        serde_json::from_str(&fake.authorized_user("dev@pcc.example", Some(PROJECT))).unwrap();
    file["refresh_token"] = "1//revoked-refresh-token".into();
    let adc = write(&dir, "adc.json", &file.to_string());
    let store = GcpSecretManager::new(config(&fake, TokenSource::from_file(&adc, "test").unwrap(), 1)).unwrap();
    let err = store.access(&name("s"), &VersionRef::Latest).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("invalid_grant") && text.contains("gcloud auth application-default login"),
        "{text}"
    );
    assert!(
        !text.contains("revoked-refresh-token") && !text.contains("fake-client-secret"),
        "{text}"
    );
}
