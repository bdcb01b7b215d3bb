//! Runs `pccdb plan | apply | check | rotate | capacity | secrets list` against the test cluster,
//! with credentials in a (fake, loopback) GCP Secret Manager reached as a workstation or CI
//! runner does (Application Default Credentials: a service-account key named by
//! `GOOGLE_APPLICATION_CREDENTIALS`) and trace-level logs of every crate, and searches
//! everything the commands wrote (stdout and stderr, human and JSON) for every password, SCRAM
//! verifier, access token and private key involved. None may appear.

use crate::common;

use std::process::Command;

use secrecy::ExposeSecret as _;
use secrets::gcp::fake::FakeSecretManager;
use secrets::{DbCredential, GcpConfig, GcpSecretManager, SecretName, SecretStore as _, TokenSource};

const PROJECT: &str = "pcc-leaktest";

fn pccdb(args: &[&str], dir: &std::path::Path, key: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pccdb"))
        .args(args)
        .args(["-vv"])
        .env("RUST_LOG", "trace")
        .env("GOOGLE_APPLICATION_CREDENTIALS", key)
        .current_dir(dir)
        .output()
        .expect("run pccdb");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_verifier_or_token_appears_in_any_output_or_log() {
    let cluster = test_support::cluster();
    let primary = cluster.primary();
    let fake = FakeSecretManager::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tok = format!("{:06x}", std::process::id() % 0xff_ffff);
    let (env, admin, migrator, service) = (
        format!("l{tok}"),
        format!("ladm_{tok}"),
        format!("lfly_{tok}"),
        format!("pcc-s{tok}"),
    );

    // A non-superuser admin, its credential in Secret Manager.
    let su = test_support::connect(&primary.config("postgres"), cluster.ca_cert())
        .await
        .unwrap();
    let admin_password = test_support::create_platform_admin(&su, &admin).await;
    let admin_secret = format!("ladm-{tok}-db");
    for s in [
        &admin_secret,
        &format!("{service}-{env}-db"),
        &format!("{}-{env}-db", migrator.replace('_', "-")),
    ] {
        fake.create_secret(PROJECT, s);
    }
    let store = GcpSecretManager::new(GcpConfig {
        api_base: fake.api_base(),
        ..GcpConfig::new(PROJECT, TokenSource::Metadata(fake.metadata_base()))
    })
    .unwrap();
    // The pipeline's service-account key; the manifest names no token source, so pccdb finds
    // this file through GOOGLE_APPLICATION_CREDENTIALS.
    let key = dir.path().join("ci-key.json");
    std::fs::write(
        &key,
        fake.service_account_key("pcc-ci@pcc-leaktest.iam.gserviceaccount.com"),
    )
    .unwrap();
    store
        .add_version(
            &SecretName::parse(&admin_secret).unwrap(),
            &DbCredential::new(admin.clone(), admin_password.clone()).to_json(),
        )
        .await
        .unwrap();

    let tls = common::tls_settings(cluster);
    let manifest = format!(
        r#"version = 1
[admin]
role = "{admin}"
[migrator]
role = "{migrator}"
[environments.{env}]
primary = "Host={host};Port={port};{tls}"
secrets = {{ backend = "gcp", project = "{PROJECT}", api_base = "{api}" }}
admin_secret = "{admin_secret}"
capacity_history = "{root}/capacity.jsonl"
[services.{service}]
pool = {{ min = 1, max = 4, max_lifetime = "1s" }}
rotation = {{ grace = "2s", credentials_refresh = "100ms" }}
"#,
        host = primary.host,
        port = primary.port,
        api = fake.api_base(),
        root = dir.path().display(),
    );
    let path = dir.path().join("pcc.toml");
    std::fs::write(&path, manifest).unwrap();
    let m = path.to_str().unwrap();

    let mut output = String::new();
    let runs: Vec<Vec<&str>> = vec![
        vec!["plan", "--manifest", m, "--env", &env],
        vec!["apply", "--manifest", m, "--env", &env],
        vec!["apply", "--manifest", m, "--env", &env, "--output", "json"],
        vec!["check", "--manifest", m, "--env", &env, "--all"],
        vec!["rotate", "--manifest", m, "--env", &env, "--wait"],
        vec!["rotate", "--manifest", m, "--env", &env, "--output", "json"],
        vec!["plan", "--manifest", m, "--env", &env, "--output", "json"],
        vec!["check", "--manifest", m, "--env", &env, "--output", "json"],
        vec!["capacity", "--manifest", m, "--env", &env],
        vec!["secrets", "list", "--manifest", m, "--env", &env],
    ];
    for args in &runs {
        let (ok, text) = pccdb(args, dir.path(), &key);
        assert!(ok, "pccdb {} failed:\n{text}", args.join(" "));
        output.push_str(&text);
    }
    // The logs really are at trace level, SQL included (so the search below means something).
    assert!(
        output.contains("CREATE ROLE") && output.contains("executing"),
        "trace logs missing"
    );
    assert!(
        fake.oauth_requests() > 0,
        "the commands never exchanged the key for a token"
    );
    assert_eq!(
        fake.token_requests(),
        1,
        "only this test's own client asked the metadata server"
    );

    // Every secret involved: each version's payload and password, the admin password, the
    // SCRAM verifiers the server stores, and the access tokens the metadata server issued.
    let mut needles: Vec<String> = vec![admin_password.expose_secret().to_owned(), "ya29.".to_owned()];
    // The private key, line by line (any line of its base64 body is secret).
    let private = secrets::gcp::fake::test_key_pair(0).private_pem.expose_secret();
    needles.extend(
        private
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_owned),
    );
    for secret in [
        &admin_secret,
        &format!("{service}-{env}-db"),
        &format!("{}-{env}-db", migrator.replace('_', "-")),
    ] {
        for (_, _, payload) in fake.payloads(PROJECT, secret) {
            let text = String::from_utf8(payload).unwrap();
            let credential = DbCredential::from_json(&secrecy::SecretString::from(text.clone())).unwrap();
            needles.push(credential.password.expose_secret().to_owned());
            needles.push(text);
        }
    }
    let rows = su
        .query(
            "SELECT rolpassword FROM pg_authid WHERE rolname LIKE $1 AND rolpassword IS NOT NULL",
            &[&format!("%{tok}%")],
        )
        .await
        .unwrap();
    assert!(
        rows.len() >= 3,
        "expected stored verifiers for admin, service login and migrator"
    );
    for r in rows {
        let stored: String = r.get(0);
        needles.push(stored.clone());
        // The salted keys alone are secret too.
        needles.extend(stored.split(['$', ':']).filter(|p| p.len() >= 20).map(str::to_owned));
    }
    assert!(needles.len() > 8);
    for needle in &needles {
        if let Some(at) = output.find(needle.as_str()) {
            let start = output[..at].rfind('\n').map_or(0, |i| i + 1);
            let context: String = output[start..at]
                .chars()
                .rev()
                .take(200)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            panic!(
                "a secret (length {}) appeared in the output after: {context:?}",
                needle.len()
            );
        }
    }
}
