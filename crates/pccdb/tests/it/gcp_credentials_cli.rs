//! `pccdb secrets set | list` as a real process against the fake Secret Manager, with the
//! manifest naming no token source: the credentials are found the way Google's client
//! libraries find them (Application Default Credentials), in their order:
//! `GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's file under `$HOME/.config/gcloud`, then the
//! metadata server (`GCE_METADATA_HOST`). IAM is enforced, so each run shows which identity the
//! fake saw.

use crate::common;

use secrets::gcp::fake::{FakeSecretManager, METADATA_PRINCIPAL};

const PROJECT: &str = "pcc-adc";
const CI: &str = "pcc-ci@pcc-adc.iam.gserviceaccount.com";

fn run(args: &[&str], vars: &[(&str, String)], stdin: Option<&str>) -> (i32, String) {
    // Start from nothing: the test process's own variables must not choose for pccdb.
    let mut all: Vec<(String, String)> = ["GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "GCE_METADATA_HOST"]
        .iter()
        .map(|k| ((*k).to_owned(), String::new()))
        .collect();
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    common::pccdb(args, None, &all, stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pccdb_finds_credentials_in_the_order_of_application_default_credentials() {
    let fake = FakeSecretManager::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = "adc";
    let service = "pcc-adcsvc";
    let secret = format!("{service}-{env}-db");
    fake.create_secret(PROJECT, &secret);
    fake.enforce_iam();
    let manifest = format!(
        r#"version = 1
[environments.{env}]
primary = "Host=127.0.0.1;Port=1;SSL Mode=Require"
secrets = {{ backend = "gcp", project = "{PROJECT}", api_base = "{api}" }}
admin_secret = "pcc-admin-{env}-db"
[services.{service}]
pool = {{ min = 1, max = 4 }}
"#,
        api = fake.api_base()
    );
    let path = dir.path().join("pcc.toml");
    std::fs::write(&path, manifest).unwrap();
    let m = path.to_str().unwrap();
    let set = [
        "secrets",
        "set",
        "--manifest",
        m,
        "--env",
        env,
        "--secret",
        &secret,
        "--username",
        "adcsvc_user",
    ];
    let list = ["secrets", "list", "--manifest", m, "--env", env];

    // 1. CI: a service-account key named by GOOGLE_APPLICATION_CREDENTIALS (even with a gcloud
    //    login present, the variable wins).
    let key = dir.path().join("ci-key.json");
    std::fs::write(&key, fake.service_account_key(CI)).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".config/gcloud")).unwrap();
    std::fs::write(
        home.join(".config/gcloud/application_default_credentials.json"),
        fake.authorized_user("dev@pcc.example", Some(PROJECT)),
    )
    .unwrap();
    let ci_vars = [
        ("GOOGLE_APPLICATION_CREDENTIALS", key.display().to_string()),
        ("HOME", home.display().to_string()),
    ];
    let (code, out) = run(&set, &ci_vars, Some("first-password"));
    assert_ne!(code, 0, "no grant yet: {out}");
    assert!(
        out.contains("roles/secretmanager.secretVersionAdder") && out.contains(CI),
        "the denial names the role and the identity: {out}"
    );
    fake.grant(
        &format!("serviceAccount:{CI}"),
        "roles/secretmanager.admin",
        PROJECT,
        None,
    );
    let (code, out) = run(&set, &ci_vars, Some("first-password"));
    assert_eq!(code, 0, "{out}");
    assert_eq!((fake.oauth_requests() > 0, fake.token_requests()), (true, 0));

    // 2. A workstation: gcloud's application-default login under $HOME.
    fake.grant("user:dev@pcc.example", "roles/secretmanager.admin", PROJECT, None);
    let (code, out) = run(&list, &[("HOME", home.display().to_string())], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("login adcsvc_user"), "{out}");
    assert_eq!(fake.token_requests(), 0);

    // 3. GCP: neither file, so the metadata server.
    fake.grant(METADATA_PRINCIPAL, "roles/secretmanager.admin", PROJECT, None);
    let metadata_host = fake.metadata_base().authority().to_owned();
    let gcp_vars = [
        ("HOME", dir.path().join("empty-home").display().to_string()),
        ("GCE_METADATA_HOST", metadata_host),
    ];
    let (code, out) = run(&list, &gcp_vars, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("login adcsvc_user"), "{out}");
    assert!(fake.token_requests() > 0, "the metadata server was asked");

    // A named file that does not exist is an error, not a silent fallback.
    let missing = [(
        "GOOGLE_APPLICATION_CREDENTIALS",
        dir.path().join("gone.json").display().to_string(),
    )];
    let (code, out) = run(&list, &missing, None);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("gone.json"), "{out}");
    assert!(!out.contains("first-password"), "{out}");
}
