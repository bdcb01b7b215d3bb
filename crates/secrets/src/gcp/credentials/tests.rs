//! Application Default Credentials lookup order and credential file checks, against a
//! stand-in environment and real files in a temporary directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use secrecy::ExposeSecret as _;

use super::{CREDENTIALS_VAR, TokenSource};
use crate::gcp::fake::test_key_pair;

fn env(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> + use<> {
    let map: BTreeMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_os_str().to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn key_file(email: &str, token_uri: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "private_key_id": "k1",
        "private_key": test_key_pair(0).private_pem.expose_secret(),
        "client_email": email,
        "token_uri": token_uri,
    })
    .to_string()
}

fn user_file(quota: Option<&str>) -> String {
    let mut v = serde_json::json!({
        "type": "authorized_user",
        "client_id": "123.apps.googleusercontent.com",
        "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
        "refresh_token": "1//0dx-refresh-token-value",
    });
    if let Some(q) = quota {
        v["quota_project_id"] = serde_json::json!(q);
    }
    v.to_string()
}

#[test]
fn the_variable_wins_then_gclouds_file_then_the_metadata_server() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ci-key.json");
    std::fs::write(
        &key,
        key_file("ci@p.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token"),
    )
    .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".config/gcloud")).unwrap();
    std::fs::write(
        home.join(".config/gcloud/application_default_credentials.json"),
        user_file(Some("pcc-devtest")),
    )
    .unwrap();

    let both = env(&[(CREDENTIALS_VAR, &key), ("HOME", &home)]);
    let source = TokenSource::application_default_in(&both).unwrap();
    assert!(
        matches!(&source, TokenSource::ServiceAccount(k) if k.client_email() == "ci@p.iam.gserviceaccount.com"),
        "{source:?}"
    );

    let gcloud = env(&[("HOME", &home)]);
    let source = TokenSource::application_default_in(&gcloud).unwrap();
    assert!(matches!(&source, TokenSource::AuthorizedUser(_)), "{source:?}");
    assert_eq!(source.quota_project(), Some("pcc-devtest"));
    assert_eq!(
        source.describe(),
        format!(
            "gcloud application-default credentials {} (refresh `gcloud auth application-default login`)",
            home.join(".config/gcloud/application_default_credentials.json")
                .display()
        )
    );

    // CLOUDSDK_CONFIG moves gcloud's directory; an empty variable counts as unset.
    let config = dir.path().join("gcloud-config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("application_default_credentials.json"), user_file(None)).unwrap();
    let empty = dir.path().join("");
    let moved = env(&[
        (CREDENTIALS_VAR, Path::new("")),
        ("CLOUDSDK_CONFIG", &config),
        ("HOME", &empty),
    ]);
    let source = TokenSource::application_default_in(&moved).unwrap();
    assert!(
        matches!(&source, TokenSource::AuthorizedUser(u) if u.quota_project().is_none()),
        "{source:?}"
    );

    let nothing = env(&[("HOME", dir.path())]);
    let source = TokenSource::application_default_in(&nothing).unwrap();
    assert_eq!(
        source.describe(),
        "metadata server http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
    );
    let host = env(&[("GCE_METADATA_HOST", Path::new("169.254.169.254:8080"))]);
    let TokenSource::Metadata(url) = TokenSource::application_default_in(&host).unwrap() else {
        panic!("expected the metadata server")
    };
    assert_eq!(url.as_str(), "http://169.254.169.254:8080/");
    let bad = env(&[("GCE_METADATA_HOST", Path::new("a b/c"))]);
    let err = TokenSource::application_default_in(&bad).unwrap_err();
    assert!(err.to_string().contains("GCE_METADATA_HOST=a b/c"), "{err}");
}

#[test]
fn a_named_file_that_does_not_work_is_an_error_not_a_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = TokenSource::application_default_in(&env(&[(CREDENTIALS_VAR, &missing)])).unwrap_err();
    assert!(err.to_string().contains("nope.json"), "{err}");

    // A malformed file: the position is reported, never the content.
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----MIIEv-secret-bits"#,
    )
    .unwrap();
    let err = TokenSource::application_default_in(&env(&[(CREDENTIALS_VAR, &broken)])).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("broken.json") && text.contains("line 1"), "{text}");
    assert!(!text.contains("secret-bits"), "{text}");

    // A gcloud file that exists is used, so a broken one is reported too.
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".config/gcloud")).unwrap();
    std::fs::write(home.join(".config/gcloud/application_default_credentials.json"), "[]").unwrap();
    let err = TokenSource::application_default_in(&env(&[("HOME", &home)])).unwrap_err();
    assert!(
        err.to_string().contains("gcloud's application-default credentials"),
        "{err}"
    );
}

#[test]
fn credential_files_are_checked_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    let check = |content: String| {
        std::fs::write(&path, content).unwrap();
        TokenSource::from_file(&path, "test")
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let federated = serde_json::json!({"type": "external_account", "audience": "x"}).to_string();
    assert!(check(federated).contains("\"external_account\" are not supported"));
    let no_email = serde_json::json!({"type": "service_account", "private_key": "x"}).to_string();
    assert!(check(no_email).contains("\"client_email\" is missing"));
    let not_a_key = serde_json::json!({"type": "service_account", "client_email": "a@b", "private_key": "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"}).to_string();
    let err = check(not_a_key);
    assert!(
        err.contains("\"private_key\" is not a PEM RSA private key") && !err.contains("MIIBOg"),
        "{err}"
    );
    let no_refresh = serde_json::json!({"type": "authorized_user", "client_id": "c", "client_secret": "s"}).to_string();
    assert!(check(no_refresh).contains("\"refresh_token\" is missing"));
    // An assertion or a refresh token never travels over plain http beyond this machine.
    let plain = key_file("a@p.iam.gserviceaccount.com", "http://oauth2.googleapis.com/token");
    assert!(check(plain).contains("must be an https URL"));
    std::fs::write(
        &path,
        key_file("a@p.iam.gserviceaccount.com", "http://127.0.0.1:9/token"),
    )
    .unwrap();
    assert!(TokenSource::from_file(&path, "test").is_ok());
}

#[test]
fn debug_and_describe_show_where_a_credential_is_never_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.json");
    std::fs::write(
        &key,
        key_file("ci@p.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token"),
    )
    .unwrap();
    let user = dir.path().join("adc.json");
    std::fs::write(&user, user_file(None)).unwrap();
    let private = test_key_pair(0).private_pem.expose_secret();
    let body: String = private.lines().nth(3).unwrap().to_owned();
    for source in [
        TokenSource::from_file(&key, "test").unwrap(),
        TokenSource::from_file(&user, "test").unwrap(),
    ] {
        let shown = format!("{source:?} {}", source.describe());
        for secret in [body.as_str(), "d-FL95Q19q7MQmFpd7hHD0Ty", "1//0dx-refresh-token-value"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains(dir.path().to_str().unwrap()), "{shown}");
    }
}
