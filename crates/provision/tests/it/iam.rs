//! IAM database authentication in the manifest (`auth = "iam"`) on the real test cluster: plan and apply
//! refuse, naming Terraform, while the IAM user does not exist and change nothing; once it exists (created
//! here as AlloyDB would, a login role) apply grants it the service's privileges like any login, a second
//! plan is empty, the user logs in and works with its (token) password, check passes without a
//! rotation-age finding for the service, and rotate refuses with what to do. Manifest validation of the
//! new keys, each problem named.

use std::path::Path;
use std::time::Duration;

use provision::Manifest;
use provision::apply::{apply, plan};
use provision::check::{Severity, check};
use provision::manifest::ServiceLogin;
use provision::rotate::{Mode, run_targets, targets};
use secrecy::SecretString;
use secrets::DbCredential;

use crate::common::{self, Harness, Opts, login, superuser};

const LOCK_WAIT: Duration = Duration::from_secs(120);
const PROJECT: &str = "pcc-itest";

#[tokio::test]
async fn an_iam_login_is_granted_once_terraform_created_it_and_has_nothing_to_rotate() {
    let h = Harness::new(Opts {
        env_extra: "auth = \"iam\"\ngke = { project = \"pcc-itest\" }",
        ..Opts::default()
    })
    .await;
    let d = h.deployment(0);
    let user = d.iam_user().expect("an IAM login").to_owned();
    // The service account's database user: `<service>-<env>@<project>.iam`.
    assert_eq!(user, format!("{}-{}@{PROJECT}.iam", h.services[0], h.env));
    assert!(
        targets(&h.manifest, h.env()).iter().all(|t| !t.is_service),
        "an IAM login is no rotation target"
    );

    // Terraform has not created the user yet: blocked, with what is missing and where it comes from.
    let before = plan(&h.manifest, &h.env).await.unwrap();
    let blocked: Vec<_> = before.plan.blocked.iter().filter(|b| b.what.contains(&user)).collect();
    assert_eq!(blocked.len(), 1, "{:#?}", before.plan.blocked);
    assert!(blocked[0].why.contains("does not exist"), "{:#?}", blocked[0]);
    assert!(
        blocked[0].fix.contains("google_alloydb_user") && blocked[0].fix.contains("ALLOYDB_IAM_USER"),
        "{:#?}",
        blocked[0]
    );
    assert!(
        !before.plan.steps.iter().any(|s| s.sql.contains(&user)),
        "nothing is planned for a user that does not exist: {:#?}",
        before.plan.steps
    );
    let err = apply(&h.manifest, &h.env, LOCK_WAIT).await.unwrap_err().to_string();
    assert!(err.contains(&user) && err.contains("Terraform"), "{err}");
    let su = superuser("postgres").await;
    let exists: bool = su
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            &[&d.names.database.as_str()],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!exists, "a refused apply changes nothing");

    // What Terraform's google_alloydb_user (ALLOYDB_IAM_USER) leaves: a login role, no privileges. Its
    // password stands in for the access token AlloyDB checks.
    let token = format!("ya29.token-{}", common::token());
    su.batch_execute(&format!("CREATE ROLE \"{user}\" LOGIN PASSWORD '{token}'"))
        .await
        .unwrap();
    let report = apply(&h.manifest, &h.env, LOCK_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report
            .executed
            .iter()
            .any(|s| s.sql == format!("GRANT {} TO \"{user}\"", d.names.app_group)),
        "{:#?}",
        report.executed
    );
    let session = h.session().await;
    provision::rotate::converge(&session, &h.manifest, h.env(), LOCK_WAIT)
        .await
        .unwrap();
    let again = plan(&h.manifest, &h.env).await.unwrap();
    assert!(again.plan.is_empty(), "second plan not empty: {:#?}", again.plan);

    // Like any login: member of the app group, the connection budget as its limit, the timeouts.
    let row = su
        .query_one(
            "SELECT rolconnlimit, rolcanlogin, pg_has_role(oid, $2, 'MEMBER'), rolconfig::text[] FROM pg_roles WHERE rolname = $1",
            &[&user, &d.names.app_group.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 10, "pool max 5 x (1 pod + 1 surge)");
    assert!(row.get::<_, bool>(1), "Terraform's LOGIN is left alone");
    assert!(row.get::<_, bool>(2), "a member of {}", d.names.app_group);
    let config: Vec<String> = row.get(3);
    assert!(config.iter().any(|c| c.starts_with("statement_timeout=")), "{config:?}");
    // It logs in with its token and uses the service's schema.
    let client = login(
        d.names.database.as_str(),
        &DbCredential::new(user.clone(), SecretString::from(token.clone())),
    )
    .await
    .unwrap_or_else(|e| panic!("the IAM user logs in: {e}"));
    let schema = client
        .query_one("SELECT has_schema_privilege($1, 'USAGE')", &[&d.names.schema.as_str()])
        .await
        .unwrap();
    assert!(schema.get::<_, bool>(0));

    // check: the IAM login passes, with no rotation age or stored credential for the service.
    let report = check(&h.manifest, &h.env).await.unwrap();
    let failed: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .collect();
    assert!(report.passed(), "check failed: {failed:#?}");
    assert!(
        report.findings.iter().any(|f| f.check == "credentials"
            && f.severity == Severity::Pass
            && f.subject == format!("IAM login {user}")),
        "{:#?}",
        report.findings
    );
    assert!(
        !report.findings.iter().any(|f| f.subject.contains(&d.names.secret)),
        "no finding about a service secret: {:#?}",
        report.findings
    );

    // rotate refuses, by service and by user, and says why.
    for select in [h.services[0].as_str(), user.as_str()] {
        let err = run_targets(
            &session,
            &h.manifest,
            h.env(),
            Some(select),
            Mode::Now,
            false,
            LOCK_WAIT,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("no password to rotate") && err.contains(&user), "{err}");
    }
    // A stored credential is not there to resolve either.
    let err = provision::resolve::runtime_connections(&h.manifest, &h.env, &h.services[0])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("PCC_DB_AUTH=iam"), "{err}");

    // Terraform's user is later deleted: check fails naming what to create.
    drop(client);
    su.batch_execute(&format!("DROP ROLE \"{user}\"")).await.unwrap();
    let report = check(&h.manifest, &h.env).await.unwrap();
    let missing = report
        .findings
        .iter()
        .find(|f| f.subject == format!("IAM login {user}") && f.severity == Severity::Fail)
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert!(
        missing.fix.as_deref().is_some_and(|f| f.contains("ALLOYDB_IAM_USER")),
        "{missing:#?}"
    );
}

fn parse(text: &str) -> Result<Manifest, String> {
    Manifest::parse(Path::new("pcc.toml"), text).map_err(|e| e.to_string())
}

const BASE: &str = r#"version = 1
[environments.devtest]
primary = "Host=10.0.0.2;SSL Mode=Require"
secrets = { backend = "gcp", project = "pcc-devtest" }
"#;

#[test]
fn auth_is_chosen_per_environment_and_per_service_and_bad_values_are_named() {
    let service = "[services.pcc-client-api]\npool = { min = 1, max = 5 }\n";
    let gke = "gke = { project = \"pcc-devtest\" }\n";
    // Default: passwords.
    let m = parse(&format!("{BASE}{service}")).unwrap();
    assert_eq!(
        *m.deployment("devtest", "pcc-client-api").unwrap().login,
        ServiceLogin::Password
    );
    // The environment's auth, the user of the service's Google service account.
    let m = parse(&format!("{BASE}auth = \"iam\"\n{gke}{service}")).unwrap();
    assert_eq!(
        m.deployment("devtest", "pcc-client-api").unwrap().iam_user(),
        Some("pcc-client-api-devtest@pcc-devtest.iam")
    );
    // A service overrides it either way, and may name its IAM user.
    let m = parse(&format!(
        "{BASE}auth = \"iam\"\n{gke}{service}[services.pcc-client-api.overrides.devtest]\nauth = \"password\"\n"
    ))
    .unwrap();
    assert_eq!(
        *m.deployment("devtest", "pcc-client-api").unwrap().login,
        ServiceLogin::Password
    );
    let m = parse(&format!(
        "{BASE}{service}[services.pcc-client-api.overrides.devtest]\nauth = \"iam\"\niam_user = \"reporting@pcc-devtest.iam\"\n"
    ))
    .unwrap();
    assert_eq!(
        m.deployment("devtest", "pcc-client-api").unwrap().iam_user(),
        Some("reporting@pcc-devtest.iam")
    );

    for (text, says) in [
        (
            format!("{BASE}auth = \"token\"\n{service}"),
            "environments.devtest.auth: \"token\" must be \"password\" or \"iam\"",
        ),
        (
            format!("{BASE}auth = \"iam\"\n{service}"),
            "set environments.devtest.gke",
        ),
        (
            format!("{BASE}{service}[services.pcc-client-api.overrides.devtest]\niam_user = \"a@p.iam\"\n"),
            "iam_user: is set but pcc-client-api logs in to devtest with a password",
        ),
        (
            format!(
                "{BASE}{service}[services.pcc-client-api.overrides.devtest]\nauth = \"iam\"\niam_user = \"svc@p.iam.gserviceaccount.com\"\n"
            ),
            "without it (\"svc@p.iam\")",
        ),
        (
            format!(
                "{BASE}{service}[services.pcc-client-api.overrides.devtest]\nauth = \"iam\"\niam_user = \"Robert'); DROP\"\n"
            ),
            "is not an IAM user",
        ),
    ] {
        let err = parse(&text).unwrap_err();
        assert!(err.contains(says), "{err}\n---\n{text}");
    }
}
