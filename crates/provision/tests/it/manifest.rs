//! Manifest loading: the shipped deploy/pcc.toml, and precise errors for every kind of bad manifest.

use std::path::Path;

use provision::manifest::{AdminCredential, Endpoints, MaxConnections, SecretsBackend};
use provision::{Manifest, ManifestError};

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(Path::new("test.toml"), text)
}

fn problems(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("manifest unexpectedly valid:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const MINIMAL: &str = r#"
version = 1
[environments.devtest]
primary = "Host=10.0.0.1;SSL Mode=Require"
secrets = { backend = "gcp", project = "pcc-devtest" }
max_connections = 100
[services.pcc-client-api]
pool = { min = 2, max = 15 }
"#;

#[test]
fn the_shipped_manifest_loads_and_derives_the_seed_names() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/pcc.toml");
    let m = Manifest::load(&path).unwrap();
    let d = m.deployment("devtest", "pcc-client-api").unwrap();
    assert_eq!(d.names.database.as_str(), "client_api_db_devtest");
    assert_eq!(d.names.logins[0].as_str(), "client_api_user");
    assert_eq!(d.names.owner.as_str(), "client_api_owner");
    assert_eq!(d.sizing.pool.max, 15);
    assert_eq!(d.sizing.peak_connections(), 45);
    assert_eq!(m.admin_role.as_str(), "pcc_admin");
    assert_eq!(m.migrator.role.as_str(), "flyway_user");
    let dev = m.deployment("dev", "pcc-client-api").unwrap();
    assert_eq!(dev.names.database.as_str(), "client_api_db_dev");
    assert_eq!((dev.sizing.pods, dev.sizing.max_surge, dev.sizing.pool.max), (1, 0, 10));
    assert!(matches!(dev.env.endpoints, Endpoints::LocalCluster(_)));
    assert_eq!(dev.env.admin_credential, AdminCredential::LocalCluster);
    assert_eq!(m.deployment("prod", "pcc-client-api").unwrap().sizing.pods, 3);
    assert_eq!(d.env.max_connections, MaxConnections::Fixed(500));
    assert_eq!(
        d.env.secrets,
        SecretsBackend::Gcp {
            project: "pcc-devtest".into(),
            api_base: None,
            metadata_base: None
        }
    );
}

#[test]
fn defaults_fill_what_is_not_written() {
    let m = parse(MINIMAL).unwrap();
    let d = m.deployment("devtest", "pcc-client-api").unwrap();
    assert_eq!((d.sizing.pods, d.sizing.max_surge), (1, 1));
    assert_eq!(d.service.timeouts.statement_timeout.to_string(), "30s");
    assert_eq!(d.service.rotation.grace.to_string(), "65min");
    assert_eq!(
        (
            d.service.rotation.keep_disabled,
            d.service.rotation.destroy_disabled_after_days
        ),
        (3, 7)
    );
    assert_eq!(
        d.env.admin_credential,
        AdminCredential::Secret("pcc-admin-devtest-db".into())
    );
    assert_eq!(d.env.maintenance_database, "postgres");
    assert_eq!(d.service.read_fallback, provision::manifest::ReadFallback::default());
}

#[test]
fn read_fallback_is_read_and_checked() {
    let text =
        format!("{MINIMAL}read_fallback = {{ max_in_flight = 64, queue_wait = \"250ms\", write_reserve = 0.25 }}\n");
    let m = parse(&text).unwrap();
    let f = m.deployment("devtest", "pcc-client-api").unwrap().service.read_fallback;
    assert_eq!(
        (f.min_in_flight, f.max_in_flight, f.queue_wait.0, f.write_reserve),
        (4, 64, 250, 0.25)
    );
    let bad = problems(&format!(
        "{MINIMAL}read_fallback = {{ min_in_flight = 8, max_in_flight = 2, write_reserve = 1.0, bogus = 1 }}\n"
    ));
    assert!(bad.contains("bogus"), "{bad}");
    let bad = problems(&format!(
        "{MINIMAL}read_fallback = {{ min_in_flight = 8, max_in_flight = 2, write_reserve = 1.0 }}\n"
    ));
    assert!(
        bad.contains("services.pcc-client-api.read_fallback.max_in_flight"),
        "{bad}"
    );
    assert!(
        bad.contains("services.pcc-client-api.read_fallback.write_reserve"),
        "{bad}"
    );
}

#[test]
fn an_unknown_key_is_an_error_with_its_name_and_line() {
    let text = MINIMAL.replace("max_connections = 100", "max_conections = 100");
    let e = problems(&text);
    assert!(e.contains("max_conections") && e.contains("line 6"), "{e}");
    let text = MINIMAL.replace("pool = { min = 2, max = 15 }", "pool = { min = 2, max = 15, size = 3 }");
    assert!(problems(&text).contains("size"));
}

#[test]
fn a_service_name_with_an_environment_suffix_is_refused() {
    let text = MINIMAL.replace("[services.pcc-client-api]", "[services.pcc-client-api-devtest]");
    let e = problems(&text);
    assert!(
        e.contains("services.pcc-client-api-devtest") && e.contains("environment suffix -devtest"),
        "{e}"
    );
}

#[test]
fn names_that_break_the_convention_are_refused() {
    for bad in ["client-api", "pcc-Client", "pcc-client_api", "pcc--x"] {
        let text = MINIMAL.replace("[services.pcc-client-api]", &format!("[services.\"{bad}\"]"));
        let e = problems(&text);
        assert!(e.contains(bad) && e.contains("naming convention"), "{bad}: {e}");
    }
    let text = MINIMAL.replace("[environments.devtest]", "[environments.dev_test]");
    assert!(problems(&text).contains("dev_test"));
}

#[test]
fn identifiers_over_63_bytes_are_refused() {
    let long = format!("pcc-{}", "portfolio-".repeat(6) + "x");
    let text = MINIMAL.replace("pcc-client-api", &long);
    let e = problems(&text);
    assert!(e.contains("PostgreSQL keeps at most 63"), "{e}");
}

#[test]
fn a_budget_that_cannot_fit_names_every_consumer() {
    let text = MINIMAL
        .replace("pool = { min = 2, max = 15 }", "pool = { min = 2, max = 40 }\npods = 2")
        .replace(
            "max_connections = 100",
            "max_connections = 100\nreserved_connections = 10",
        );
    let e = problems(&text);
    // 40 x (2 + 1) = 120 + migrations 2 + admin 5 = 127 > 100 - 10.
    assert!(e.contains("primary needs 127 connections"), "{e}");
    assert!(e.contains("pcc-client-api 40x3=120") && e.contains("leaves 90"), "{e}");
}

#[test]
fn every_problem_is_listed_at_once() {
    let text = r#"
version = 2
[environments.devtest]
primary = "Host=x"
secrets = { backend = "vault" }
[services.pcc-a]
pool = { min = 5, max = 2 }
statement_timeout = "5 minutes"
rotation = { grace = "1min", keep_disabled = 101, destroy_disabled_after_days = 400 }
[[services.pcc-a.roles]]
name = "other_reporting"
access = "write"
"#;
    let e = problems(text);
    for needle in [
        "version: 2 is not supported",
        "secrets.backend: \"vault\" is not a backend",
        "min 5 is larger than max 2",
        "statement_timeout: unknown time unit",
        "rotation.grace: rotation grace 1min must be longer than pool max_lifetime 30min + secret sync interval 0 + credential refresh 30s",
        "rotation.keep_disabled: 101 must be 0-100",
        "rotation.destroy_disabled_after_days: 400 must be 0-365",
        "must start with the service's base \"a_\"",
        "\"write\" must be \"read_only\" or \"read_write\"",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
    }
}

#[test]
fn overrides_must_target_deployed_environments_and_environments_must_exist() {
    let text =
        format!("{MINIMAL}environments = [\"devtest\", \"qa\"]\n[services.pcc-client-api.overrides.prod]\npods = 2\n");
    let e = problems(&text);
    assert!(e.contains("\"qa\" is not a declared environment"), "{e}");
    assert!(e.contains("overrides.prod: the service is not deployed"), "{e}");
}

#[test]
fn roles_claimed_twice_are_refused() {
    let text = format!("{MINIMAL}migrator = {{ role = \"client_api_user\" }}\n");
    // `migrator` is a top-level table; writing it after a service table makes it a service key.
    assert!(parse(&text).is_err());
    let text = MINIMAL.replace("version = 1", "version = 1\n[migrator]\nrole = \"client_api_user\"\n");
    let e = problems(&text);
    assert!(e.contains("\"client_api_user\" is claimed twice"), "{e}");
}

#[test]
fn unknown_environments_and_services_list_what_exists() {
    let m = parse(MINIMAL).unwrap();
    let e = m.deployment("prod", "pcc-client-api").unwrap_err().to_string();
    assert!(e.contains("\"prod\"") && e.contains("known: devtest"), "{e}");
    let e = m.deployment("devtest", "pcc-x").unwrap_err().to_string();
    assert!(e.contains("known: pcc-client-api"), "{e}");
}

#[test]
fn local_cluster_and_primary_are_exclusive() {
    let text = MINIMAL.replace(
        "primary = \"Host=10.0.0.1;SSL Mode=Require\"",
        "primary = \"Host=x\"\nlocal_cluster = \".pcc/dev\"",
    );
    assert!(problems(&text).contains("do not also set `primary`"));
}

#[test]
fn the_builtin_manifest_is_the_shipped_one() {
    let m = Manifest::builtin();
    assert!(m.deployment("dev", "pcc-client-api").is_ok());
}

#[test]
fn the_error_text_for_a_bad_manifest_snapshot() {
    let text = r#"
version = 1
[environments.devtest]
primary = "Host=x"
secrets = { backend = "gcp", project = "pcc-devtest" }
max_connections = 40
[services.pcc-client-api-devtest]
pool = { min = 1, max = 10 }
[services.pcc-billing]
pool = { min = 1, max = 20 }
pods = 2
idle_in_transaction_session_timeout = "forever"
"#;
    insta::assert_snapshot!(problems(text));
}

#[test]
fn terraform_endpoints_need_an_outputs_file_and_resolve_from_it() {
    let tf = r#"primary = { terraform_output = "db_primary", settings = "Port=5432;SSL Mode=Require" }"#;
    let text = MINIMAL.replace(r#"primary = "Host=10.0.0.1;SSL Mode=Require""#, tf);
    let e = problems(&text);
    assert!(
        e.contains("environments.devtest.primary: takes its host from a Terraform output"),
        "{e}"
    );
    let e = problems(&MINIMAL.replace(
        "max_connections = 100",
        "max_connections = 100\nterraform = { outputs_file = \"o.json\" }",
    ));
    assert!(
        e.contains("environments.devtest.terraform: no endpoint takes its host"),
        "{e}"
    );
    let e = problems(&text.replace("db_primary", "db primary").replace(
        "max_connections = 100",
        "max_connections = 100\nterraform = { outputs_file = \"o.json\" }",
    ));
    assert!(e.contains("\"db primary\" is not a Terraform output name"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("outputs.json");
    std::fs::write(
        &outputs,
        r#"{"db_primary":{"sensitive":false,"type":"string","value":"10.9.8.7"}}"#,
    )
    .unwrap();
    let text = text.replace(
        "max_connections = 100",
        &format!(
            "max_connections = 100\nterraform = {{ outputs_file = \"{}\" }}",
            outputs.display()
        ),
    );
    let m = parse(&text).unwrap();
    let env = m.environment("devtest").unwrap();
    let ends = provision::target::endpoints(env).unwrap();
    assert_eq!(ends.primary.hosts[0].host, conninfo::Host::Tcp("10.9.8.7".into()));
    assert_eq!(ends.primary.ssl_mode, conninfo::SslMode::Require);
    // Settings that name a host of their own are refused: the host is Terraform's.
    let m = parse(&text.replace("Port=5432;SSL Mode=Require", "Host=10.0.0.9;SSL Mode=Require")).unwrap();
    let e = provision::target::endpoints(m.environment("devtest").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("settings name a host"), "{e}");
}

#[test]
fn pod_settings_refuse_derived_variables_credentials_and_bad_quantities() {
    let text = MINIMAL.replace(
        "pool = { min = 2, max = 15 }",
        "pool = { min = 2, max = 15 }\npod_env = { PCC_DB_PRIMARY = \"x\", PCC_API_TOKEN = \"t\", PCC_LOG = \"info\" }\n\
         pod_resources = { memory = \"96MB\" }",
    );
    let e = problems(&text.replace(
        "max_connections = 100",
        "max_connections = 100\ngke = { project = \"Not_A_Project\" }",
    ));
    for expected in [
        "services.pcc-client-api.pod_env.PCC_DB_PRIMARY: PCC_DB_* is derived",
        "services.pcc-client-api.pod_env.PCC_API_TOKEN: looks like a credential",
        "services.pcc-client-api.pod_resources.memory: \"96MB\" is not a Kubernetes quantity",
        "environments.devtest.gke.project: \"Not_A_Project\" is not a GCP project id",
    ] {
        assert!(e.contains(expected), "{expected}\n{e}");
    }
    assert!(!e.contains("PCC_LOG"), "{e}");
}

/// The rotation grace against pool lifetime + the GKE add-on's sync interval + the service's refresh, per
/// environment (overrides and each environment's `gke` counted).
#[test]
fn a_rotation_grace_shorter_than_lifetime_sync_and_refresh_is_refused_naming_them() {
    let manifest = |gke: &str, grace: &str, refresh: &str| {
        format!(
            r#"
version = 1
[environments.devtest]
primary = "Host=10.0.0.1;SSL Mode=Require"
secrets = {{ backend = "gcp", project = "pcc-devtest" }}
max_connections = 100
{gke}
[services.pcc-client-api]
pool = {{ min = 2, max = 15, max_lifetime = "30min" }}
rotation = {{ grace = "{grace}"{refresh} }}
"#
        )
    };
    let gke = r#"gke = { project = "pcc-devtest", secret_sync_interval = "5min" }"#;
    // 30min + 5min + 30s = 35min 30s.
    let e = problems(&manifest(gke, "35min", ""));
    assert!(
        e.contains("services.pcc-client-api.rotation.grace: in environment devtest: rotation grace 35min must be longer than pool max_lifetime 30min + secret sync interval 5min + credential refresh 30s = 2130s"),
        "{e}"
    );
    let m = parse(&manifest(gke, "36min", "")).unwrap();
    let d = m.deployment("devtest", "pcc-client-api").unwrap();
    assert_eq!(d.env.gke.as_ref().unwrap().secret_sync_interval.to_string(), "5min");
    assert_eq!(d.service.rotation.credentials_refresh.to_string(), "30s");
    // A longer refresh moves the bound; the default sync interval is 2min.
    let e = problems(&manifest(
        r#"gke = { project = "pcc-devtest" }"#,
        "36min",
        r#", credentials_refresh = "5min""#,
    ));
    assert!(
        e.contains("secret sync interval 2min + credential refresh 5min = 37min"),
        "{e}"
    );
    // Without the add-on nothing is added for the sync.
    parse(&manifest("", "31min", "")).unwrap();
    for (bad, needle) in [
        (
            r#"gke = { project = "pcc-devtest", secret_sync_interval = "0" }"#,
            "gke.secret_sync_interval: 0 must be a positive whole number of seconds",
        ),
        (
            r#"gke = { project = "pcc-devtest", secret_sync_interval = "1500ms" }"#,
            "gke.secret_sync_interval: 1500ms must be a positive whole number of seconds",
        ),
    ] {
        let e = problems(&manifest(bad, "65min", ""));
        assert!(e.contains(needle), "{e}");
    }
    let e = problems(&manifest("", "65min", r#", credentials_refresh = "50ms""#));
    assert!(
        e.contains("rotation.credentials_refresh: 50ms must be at least 100ms"),
        "{e}"
    );
}

/// An override's longer pool lifetime is held against the grace in its own environment.
#[test]
fn an_overridden_pool_lifetime_is_checked_in_its_environment() {
    let text = r#"
version = 1
[environments.devtest]
primary = "Host=10.0.0.1;SSL Mode=Require"
secrets = { backend = "gcp", project = "pcc-devtest" }
max_connections = 100
gke = { project = "pcc-devtest" }
[environments.prod]
primary = "Host=10.0.0.2;SSL Mode=Require"
secrets = { backend = "gcp", project = "pcc-prod" }
max_connections = 100
[services.pcc-client-api]
pool = { min = 2, max = 15, max_lifetime = "30min" }
rotation = { grace = "40min" }
[services.pcc-client-api.overrides.devtest]
pool = { min = 2, max = 15, max_lifetime = "38min" }
"#;
    let e = problems(text);
    assert!(
        e.contains("in environment devtest: rotation grace 40min must be longer than pool max_lifetime 38min + secret sync interval 2min + credential refresh 30s"),
        "{e}"
    );
    assert!(!e.contains("in environment prod"), "{e}");
}
