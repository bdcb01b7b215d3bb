//! The pipelines' Secret Manager access, run rather than read: the grants deploy/terraform gives the Cloud
//! Build service account (iam_build.tf and modules/service, evaluated from the HCL for the `devtest`
//! environment) are the only grants of the fake Secret Manager's enforced IAM, and the pccdb steps of
//! deploy/ci/cloudbuild-database.yaml and cloudbuild-rotate.yaml run as real `pccdb` processes against a
//! real local primary + replica, as the metadata server's identity (a Cloud Build worker's), with the
//! repository's manifest pointed at that cluster and a rotation retention that disables AND destroys old
//! versions. Every step must pass, versions must really be destroyed, and the same run with
//! `secretmanager.versions.destroy` taken out of the custom role must fail with a 403 that names it: a
//! permission a step needs and Terraform does not grant fails here, not in production.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use hcl::{Block, Expression};
use pg_launcher::{ClusterOptions, NodeName};
use secrecy::ExposeSecret as _;
use secrets::gcp::fake::{FakeSecretManager, METADATA_EMAIL, METADATA_PRINCIPAL};
use test_support::repo_root;

use super::cloudbuild::{pccdb_steps, pipeline};
use super::terraform_hcl::{
    Scope, attr, blocks, dir, labels, module_dir, platform_secrets, resources, service_modules, strings, tfvars,
};
use crate::common;

/// The cloud environment whose grants and secret names the test evaluates (the pipelines' default `_ENV`).
const ENV: &str = "devtest";
/// The permission rotation needs to prune old disabled versions (missing once, found as a 403 in production).
const DESTROY: &str = "secretmanager.versions.destroy";

/// What Terraform grants the pipelines' account in one environment, and the secrets it creates.
#[derive(Debug, Clone)]
struct Grants {
    /// The project of the secrets and the custom role (`var.project`).
    project: String,
    /// The member of the bindings, evaluated (`serviceAccount:<build account>`).
    principal: String,
    /// Custom roles by full name (`projects/<p>/roles/<id>`, what `.id` resolves to) and their permissions.
    custom_roles: BTreeMap<String, Vec<String>>,
    /// (secret id, role) of every `google_secret_manager_secret_iam_member` for the principal.
    on_secrets: Vec<(String, String)>,
    /// Roles of the principal's `google_project_iam_member` bindings (none of them is a Secret Manager role).
    on_project: Vec<String>,
    /// Every `google_secret_manager_secret` Terraform creates.
    secrets: Vec<String>,
    /// The admin secret and the JSON user name of its first version (alloydb.tf writes it).
    admin: (String, String),
}

/// `projects/<project>/secrets/<id>`, the `id` the Google provider gives a secret, and back.
fn secret_path(project: &str, id: &str) -> String {
    format!("projects/{project}/secrets/{id}")
}

fn secret_id(project: &str, path: &str) -> String {
    path.strip_prefix(&format!("projects/{project}/secrets/"))
        .unwrap_or_else(|| panic!("{path} is not a secret of project {project}"))
        .to_owned()
}

/// An object of objects: `{label: {attribute: value}}`, how a resource kind appears to expressions.
fn object(entries: impl IntoIterator<Item = (String, BTreeMap<String, String>)>) -> hcl::Value {
    hcl::Value::Object(entries.into_iter().map(|(k, v)| (k, strings(&v))).collect())
}

/// The `google_secret_manager_secret` resources of `blocks` as expressions see them, and their ids: a
/// `for_each` over `local.platform_secrets` is a map by secret id (the root's), anything else one secret.
fn secrets_in(blocks: &[Block], scope: &Scope, project: &str, platform: &[String]) -> (hcl::Value, Vec<String>) {
    let mut created = Vec::new();
    let mut entries = Vec::new();
    for b in resources(blocks, "google_secret_manager_secret") {
        let label = labels(b)[1].to_owned();
        let id_of = |id: &str| {
            BTreeMap::from([
                ("id".to_owned(), secret_path(project, id)),
                ("secret_id".to_owned(), id.to_owned()),
            ])
        };
        match attr(b, "for_each").map(ToString::to_string) {
            Some(each) => {
                assert_eq!(each, "local.platform_secrets", "{label}: teach this test its for_each");
                created.extend(platform.iter().cloned());
                let map = object(platform.iter().map(|id| (id.clone(), id_of(id))));
                entries.push((label, map));
            }
            None => {
                let id = scope.string(attr(b, "secret_id").unwrap());
                created.push(id.clone());
                entries.push((label, strings(&id_of(&id))));
            }
        }
    }
    (hcl::Value::Object(entries.into_iter().collect()), created)
}

/// The principal's grants among `blocks` evaluated in `scope`.
fn bindings_in(blocks: &[Block], scope: &Scope, grants: &mut Grants) {
    for b in resources(blocks, "google_secret_manager_secret_iam_member")
        .into_iter()
        .chain(resources(blocks, "google_project_iam_member"))
    {
        let member = scope.string(attr(b, "member").unwrap());
        if member != grants.principal {
            continue;
        }
        let name = labels(b).join(".");
        assert!(
            attr(b, "count").is_none() && attr(b, "for_each").is_none(),
            "{name}: a conditional grant of the pipelines' account; teach this test to evaluate it"
        );
        let role = scope.string(attr(b, "role").unwrap());
        match attr(b, "secret_id") {
            Some(secret) => {
                let id = secret_id(&grants.project, &scope.string(secret));
                grants.on_secrets.push((id, role));
            }
            None => grants.on_project.push(role),
        }
    }
}

/// The pipelines' grants in environment `env`, with the build account `account`, evaluated from the HCL
/// as Terraform would: the root (iam_build.tf, secrets.tf, alloydb.tf) and each service module with the
/// arguments services.tf passes it (`rotator_role` is the custom role's `.id`).
fn terraform_grants(env: &str, account: &str) -> Grants {
    let root = blocks(&dir());
    let module = blocks(&module_dir());
    let mut vars = tfvars(env);
    assert_eq!(vars["environment"], env);
    // The pipeline runs as the identity the worker's metadata server hands out: in production the build
    // account of the tfvars, here the fake's.
    vars.insert("build_service_account".to_owned(), account.to_owned());
    let project = vars["project"].clone();
    let mut scope = Scope::with_vars(&vars);
    // Custom roles: `.id` is `projects/<project>/roles/<role_id>` (the provider's project).
    let mut custom_roles = BTreeMap::new();
    let mut role_objects = Vec::new();
    for b in resources(&root, "google_project_iam_custom_role") {
        let role_id = scope.string(attr(b, "role_id").unwrap());
        let id = format!("projects/{project}/roles/{role_id}");
        let Some(Expression::Array(items)) = attr(b, "permissions") else {
            panic!("{}: permissions = [...]", labels(b).join("."))
        };
        custom_roles.insert(id.clone(), items.iter().map(|p| scope.string(p)).collect());
        role_objects.push((
            labels(b)[1].to_owned(),
            BTreeMap::from([("id".to_owned(), id.clone()), ("name".to_owned(), id)]),
        ));
    }
    scope.set("google_project_iam_custom_role", object(role_objects));
    let platform = platform_secrets(&root, &vars);
    let (secret_objects, mut created) = secrets_in(&root, &scope, &project, &platform);
    scope.set("google_secret_manager_secret", secret_objects);
    let mut grants = Grants {
        project: project.clone(),
        // IAM's member form of a service account; the bindings that carry it are the pipelines'.
        principal: format!("serviceAccount:{account}"),
        custom_roles,
        on_secrets: Vec::new(),
        on_project: Vec::new(),
        secrets: Vec::new(),
        admin: admin_version(&root, &scope, &project),
    };
    bindings_in(&root, &scope, &mut grants);

    for (service, call) in service_modules(&root) {
        // The module's variables: the call's arguments that are plain strings once evaluated (iam_auth is
        // a bool of a function the bindings of the pipelines' account do not use).
        let mut module_vars: BTreeMap<String, String> = call
            .body
            .attributes()
            .filter(|a| a.key.as_str() != "source")
            .filter_map(|a| match scope.try_eval(&a.expr) {
                Ok(hcl::Value::String(s)) => Some((a.key.to_string(), s)),
                _ => None,
            })
            .collect();
        assert_eq!(module_vars.get("service"), Some(&service));
        module_vars
            .entry("project".to_owned())
            .or_insert_with(|| project.clone());
        let mut inner = Scope::with_vars(&module_vars);
        let locals: BTreeMap<String, String> = module
            .iter()
            .filter(|b| b.identifier.as_str() == "locals")
            .flat_map(|b| b.body.attributes())
            .map(|a| (a.key.to_string(), inner.string(&a.expr)))
            .collect();
        inner.set("local", strings(&locals));
        let accounts = resources(&module, "google_service_account").into_iter().map(|b| {
            let email = format!(
                "{}@{project}.iam.gserviceaccount.com",
                inner.string(attr(b, "account_id").unwrap())
            );
            let name = format!("projects/{project}/serviceAccounts/{email}");
            (
                labels(b)[1].to_owned(),
                BTreeMap::from([("email".to_owned(), email), ("name".to_owned(), name)]),
            )
        });
        let accounts = object(accounts.collect::<Vec<_>>());
        inner.set("google_service_account", accounts);
        let (secret_objects, module_created) = secrets_in(&module, &inner, &project, &[]);
        inner.set("google_secret_manager_secret", secret_objects);
        created.extend(module_created);
        bindings_in(&module, &inner, &mut grants);
    }
    grants.secrets = created;
    grants
}

/// The secret of alloydb.tf's `google_secret_manager_secret_version` and the user name its JSON holds.
fn admin_version(root: &[Block], scope: &Scope, project: &str) -> (String, String) {
    let version = resources(root, "google_secret_manager_secret_version")
        .into_iter()
        .next()
        .expect("alloydb.tf writes the admin credential's first version");
    let secret = secret_id(project, &scope.string(attr(version, "secret").unwrap()));
    let user = resources(root, "google_alloydb_user")
        .into_iter()
        .find(|b| {
            attr(version, "secret_data")
                .unwrap()
                .to_string()
                .contains(&format!("google_alloydb_user.{}", labels(b)[1]))
        })
        .expect("the version holds a google_alloydb_user's credential");
    (secret, scope.string(attr(user, "user_id").unwrap()))
}

/// deploy/pcc.toml with its `devtest` environment on the local cluster `cluster` and its secrets in the
/// fake, and only that environment; rotation settings that make two rotations disable and destroy.
fn test_manifest(cluster: &pg_launcher::Cluster, fake: &FakeSecretManager, grace: Duration) -> String {
    let text = std::fs::read_to_string(repo_root().join("deploy/pcc.toml")).unwrap();
    let mut doc: toml::Table = toml::from_str(&text).unwrap();
    let environments = doc.get_mut("environments").and_then(toml::Value::as_table_mut).unwrap();
    let mut env = environments
        .remove(ENV)
        .expect("deploy/pcc.toml has devtest")
        .as_table()
        .unwrap()
        .clone();
    environments.clear();
    let ca = cluster.ca_cert_path().display().to_string();
    // The endpoints' settings as the manifest has them (TLS mode, read pool), on this cluster's ports and CA.
    for (key, node) in [("primary", NodeName::Primary), ("replica", NodeName::Replica)] {
        let settings = env
            .get(key)
            .and_then(|e| e.get("settings"))
            .and_then(toml::Value::as_str)
            .unwrap();
        let port = cluster.endpoint(node).unwrap().port;
        let local = settings
            .replace("Port=5432", &format!("Port={port}"))
            .replace("/etc/pcc/alloydb-ca.pem", &ca);
        assert!(
            local.contains(&ca) && local.contains(&port.to_string()),
            "{key}: {settings}"
        );
        env.insert(key.to_owned(), toml::Value::String(format!("Host=127.0.0.1;{local}")));
    }
    env.remove("terraform");
    // No GKE add-on syncs secrets here, so the grace only has to outlast the pools and the refresh.
    env.remove("gke");
    let Some(toml::Value::Table(secrets)) = env.get_mut("secrets") else {
        panic!("secrets = {{ ... }}")
    };
    assert_eq!(secrets["backend"].as_str(), Some("gcp"));
    // No token source named: pccdb finds the metadata server as in Cloud Build (GCE_METADATA_HOST here).
    secrets.insert("api_base".to_owned(), fake.api_base().to_string().into());
    environments.insert(ENV.to_owned(), toml::Value::Table(env));
    let services = doc.get_mut("services").and_then(toml::Value::as_table_mut).unwrap();
    for (_, service) in services.iter_mut() {
        let service = service.as_table_mut().unwrap();
        service.insert("environments".to_owned(), toml::Value::Array(vec![ENV.into()]));
        if let Some(toml::Value::Table(overrides)) = service.get_mut("overrides") {
            overrides.retain(|k, _| k == ENV);
        }
        for pool in ["pool", "replica_pool"] {
            if let Some(toml::Value::Table(p)) = service.get_mut(pool) {
                p.insert("max_lifetime".to_owned(), "500ms".into());
            }
        }
        // Keep one disabled version and destroy older ones at once: the second rotation destroys.
        let rotation = service
            .entry("rotation")
            .or_insert(toml::Value::Table(toml::Table::new()));
        let rotation = rotation.as_table_mut().unwrap();
        rotation.insert("grace".to_owned(), format!("{}ms", grace.as_millis()).into());
        rotation.insert("credentials_refresh".to_owned(), "100ms".into());
        rotation.insert("keep_disabled".to_owned(), 1_i64.into());
        rotation.insert("destroy_disabled_after_days".to_owned(), 0_i64.into());
    }
    toml::to_string(&doc).unwrap()
}

/// One pipeline run's outcome: the steps that ran, and the first that failed with its output.
struct Run {
    steps: Vec<String>,
    failed: Option<(String, i32, String)>,
}

/// Runs the pipelines' pccdb steps in `cwd` (the checkout: the manifest, `migrations/`, `.pcc/`).
fn run_pipelines(cwd: &Path, manifest: &Path, metadata_host: &str, home: &Path, grace: Duration) -> Run {
    let vars = [
        // Application Default Credentials as on a Cloud Build worker: no key file, no gcloud login, so
        // the metadata server.
        ("GOOGLE_APPLICATION_CREDENTIALS".to_owned(), String::new()),
        ("CLOUDSDK_CONFIG".to_owned(), String::new()),
        ("HOME".to_owned(), home.display().to_string()),
        ("GCE_METADATA_HOST".to_owned(), metadata_host.to_owned()),
    ];
    let database = pccdb_steps(&pipeline("cloudbuild-database.yaml"));
    let rotate = pccdb_steps(&pipeline("cloudbuild-rotate.yaml"));
    assert!(database.iter().any(|(_, a)| a[0] == "apply") && rotate.iter().any(|(_, a)| a[0] == "rotate"));
    // The scheduled pipeline starts rotations with --due, which waits for max_age_days (at least a day):
    // `pccdb rotate` starts them now through the same run (and the same API calls); --finish then
    // completes them after the grace period, as the next scheduled run does.
    let start: (String, Vec<String>) = (
        "rotate-now".to_owned(),
        ["rotate", "--env", ENV].map(str::to_owned).to_vec(),
    );
    let mut plan: Vec<Option<(String, Vec<String>)>> = database.into_iter().map(Some).collect();
    for _ in 0..2 {
        plan.push(Some(start.clone()));
        plan.push(None);
        plan.extend(rotate.iter().cloned().map(Some));
    }
    let mut run = Run {
        steps: Vec::new(),
        failed: None,
    };
    for item in plan {
        let Some((id, mut args)) = item else {
            // Past the grace period (its end is marked in whole seconds, so one more).
            std::thread::sleep(grace + Duration::from_secs(1));
            continue;
        };
        args.extend(["--manifest".to_owned(), manifest.display().to_string()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = common::pccdb(&refs, Some(cwd), &vars, None);
        run.steps.push(format!("{id}: pccdb {}", args.join(" ")));
        if code != 0 {
            run.failed = Some((id, code, out));
            break;
        }
    }
    run
}

/// Sets up the fake as Terraform leaves it for `grants` (custom roles, the secrets, the admin credential,
/// exactly the grants) and runs the pipelines; the fake is returned for what it holds.
async fn pipelines_with(
    grants: &Grants,
    cluster: &pg_launcher::Cluster,
    admin_password: &secrecy::SecretString,
) -> (FakeSecretManager, Run) {
    let fake = FakeSecretManager::start().await;
    fake.enforce_iam();
    for id in &grants.secrets {
        fake.create_secret(&grants.project, id);
    }
    let (admin_secret, admin_user) = &grants.admin;
    let credential = secrets::DbCredential::new(admin_user.clone(), admin_password.clone()).to_json();
    fake.add_version(&grants.project, admin_secret, credential.expose_secret().as_bytes());
    for (role, permissions) in &grants.custom_roles {
        let permissions: Vec<&str> = permissions.iter().map(String::as_str).collect();
        fake.define_role(role, &permissions);
    }
    for (secret, role) in &grants.on_secrets {
        fake.grant(&grants.principal, role, &grants.project, Some(secret));
    }
    for role in &grants.on_project {
        fake.grant(&grants.principal, role, &grants.project, None);
    }

    let dir = tempfile::tempdir().unwrap();
    let grace = Duration::from_secs(1);
    let manifest = dir.path().join("pcc.toml");
    std::fs::write(&manifest, test_manifest(cluster, &fake, grace)).unwrap();
    // The checkout as the pipeline's workspace step leaves it. What the migrations contain does not change
    // what Secret Manager access `migrate` needs (the schema has its own tests), so one script stands in.
    std::fs::create_dir_all(dir.path().join(".pcc/capacity")).unwrap();
    std::fs::create_dir_all(dir.path().join(".pcc/reports")).unwrap();
    let scripts = dir.path().join("migrations/client_api");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(
        scripts.join("V1__pipeline_iam.sql"),
        "CREATE TABLE pipeline_iam (id bigint);\n",
    )
    .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let metadata_host = fake.metadata_base().authority().to_owned();
    let cwd = dir.path().to_owned();
    let run = tokio::task::spawn_blocking(move || run_pipelines(&cwd, &manifest, &metadata_host, &home, grace))
        .await
        .unwrap();
    (fake, run)
}

/// The secret versions' states, oldest first, and whether each destroyed one lost its payload.
fn states(fake: &FakeSecretManager, project: &str, secret: &str) -> Vec<String> {
    fake.payloads(project, secret)
        .into_iter()
        .map(|(n, state, payload)| {
            assert_eq!(
                state == "DESTROYED",
                payload.is_empty(),
                "{secret} version {n} ({state})"
            );
            state
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipelines_run_with_exactly_the_grants_terraform_gives_their_account() {
    let started = Instant::now();
    let grants = terraform_grants(ENV, METADATA_EMAIL);
    assert_eq!(
        grants.principal, METADATA_PRINCIPAL,
        "the bindings' member is the pipelines' identity"
    );
    let rotator = grants
        .custom_roles
        .iter()
        .find(|(id, _)| grants.on_secrets.iter().any(|(_, role)| role == *id))
        .map(|(id, p)| (id.clone(), p.clone()))
        .expect("a custom role granted on the pipelines' secrets");
    // The manifest's view of the same environment: its secrets project and admin are Terraform's.
    let manifest = super::repo_manifest();
    let environment = manifest.environment(ENV).unwrap();
    match &environment.secrets {
        provision::manifest::SecretsBackend::Gcp { project, .. } => assert_eq!(*project, grants.project),
        other => panic!("{ENV}: secrets in {other:?}, not Secret Manager"),
    }
    assert_eq!(
        grants.admin.1,
        manifest.admin_role.as_str(),
        "alloydb.tf's user is the manifest's admin"
    );
    match &environment.admin_credential {
        provision::manifest::AdminCredential::Secret(s) => assert_eq!(*s, grants.admin.0, "the admin secret"),
        other => panic!("{ENV}: admin credential {other:?}"),
    }
    eprintln!(
        "Terraform grants {}:\n  custom {rotator:?}\n  secrets {:?}\n  project {:?}",
        grants.principal, grants.on_secrets, grants.on_project
    );

    // A private primary + replica: the roles are the manifest's own (pcc_admin, flyway_user, client_api_*),
    // cluster-wide, so they must not meet the shared cluster's other tests. 500 connections, as AlloyDB's.
    let cluster = tokio::task::spawn_blocking(|| {
        test_support::dedicated_cluster(ClusterOptions {
            max_connections: 500,
            ..ClusterOptions::ephemeral()
        })
    })
    .await
    .unwrap();
    let su = cluster.endpoint(NodeName::Primary).unwrap();
    let mut config = tokio_postgres::Config::new();
    config
        .host(&su.host)
        .port(su.port)
        .user(&su.user)
        .password(su.password.expose_secret())
        .dbname("postgres");
    config.ssl_mode(tokio_postgres::config::SslMode::Require);
    let ca = cluster.ca_cert_path();
    let superuser = test_support::connect(&config, Some(ca.as_path())).await.unwrap();
    // pcc_admin as alloydb.tf creates it (CREATEROLE CREATEDB, no superuser); its credential goes into the
    // admin secret as Terraform's first version does.
    let admin_password = test_support::create_platform_admin(&superuser, &grants.admin.1).await;

    // 1. Terraform's grants: every step passes, and the second rotation destroyed old versions.
    let (fake, run) = pipelines_with(&grants, &cluster, &admin_password).await;
    if let Some((id, code, out)) = &run.failed {
        panic!(
            "step {id} exited {code} with exactly Terraform's grants:\n{out}\nsteps run:\n{}",
            run.steps.join("\n")
        );
    }
    eprintln!("steps run:\n{}", run.steps.join("\n"));
    let rotated: Vec<&String> = grants
        .on_secrets
        .iter()
        .filter(|(_, r)| *r == rotator.0)
        .map(|(s, _)| s)
        .collect();
    assert!(
        rotated.len() >= 2,
        "the migrator's and the services' secrets: {rotated:?}"
    );
    for secret in &rotated {
        let states = states(&fake, &grants.project, secret);
        assert_eq!(
            states,
            ["DESTROYED", "DISABLED", "ENABLED"],
            "{secret}: apply's version, two rotations"
        );
    }
    assert_eq!(
        states(&fake, &grants.project, &grants.admin.0),
        ["ENABLED"],
        "the admin secret is only read"
    );

    // 2. The test bites: without versions.destroy in the custom role, pruning fails, and says what and who.
    let mut without = grants.clone();
    let permissions = without.custom_roles.get_mut(&rotator.0).unwrap();
    assert!(
        permissions.iter().any(|p| p == DESTROY),
        "iam_build.tf's role has {DESTROY}: {permissions:?}"
    );
    permissions.retain(|p| p != DESTROY);
    let (fake, run) = pipelines_with(&without, &cluster, &admin_password).await;
    let Some((id, code, out)) = run.failed else {
        panic!("every step passed without {DESTROY}:\n{}", run.steps.join("\n"));
    };
    assert_eq!(code, 1, "{id}: {out}");
    assert!(id.starts_with("rotate") || id == "finish", "{id}: {out}");
    assert!(out.contains(DESTROY), "the 403 names the permission: {out}");
    assert!(
        out.contains("metadata server http://127.0.0.1") && out.contains(METADATA_EMAIL),
        "and the identity it was denied to: {out}"
    );
    assert!(
        rotated
            .iter()
            .all(|s| !states(&fake, &grants.project, s).contains(&"DESTROYED".to_owned())),
        "nothing was destroyed"
    );
    eprintln!(
        "denied as expected at step {id}:\n{out}\nran in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
