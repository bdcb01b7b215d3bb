//! `platform::up` end to end: what production's pipeline steps leave behind, and idempotence.

use platform::UpOptions;
use provision::Manifest;
use provision::manifest::{AdminCredential, Endpoints, SecretsBackend};

/// deploy/pcc.toml's `dev` environment on this binary's launched cluster, secrets in `dir`.
fn manifest(dir: &std::path::Path) -> Manifest {
    let mut manifest = Manifest::load(&test_support::repo_root().join("deploy/pcc.toml")).expect("deploy/pcc.toml");
    let launched = test_support::cluster().launched().expect("a launched test cluster");
    let env = manifest
        .environments
        .values_mut()
        .find(|e| e.name.as_str() == "dev")
        .expect("dev environment");
    env.endpoints = Endpoints::LocalCluster(launched.dir().to_owned());
    env.admin_credential = AdminCredential::LocalCluster;
    env.secrets = SecretsBackend::File(dir.join("secrets"));
    env.admin_secrets = env.secrets.clone();
    env.capacity_history = dir.join("capacity.jsonl");
    manifest
}

#[tokio::test]
async fn up_provisions_migrates_and_resolves_then_does_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path());
    let options = UpOptions::from_directory(test_support::repo_root().join("migrations"));

    let first = platform::up(&manifest, "dev", &options).await.expect("first up");
    let service = first.service("pcc-client-api").expect("the service is deployed to dev");
    assert!(service.migrate.migrations_executed > 0, "the first run migrates");
    assert!(first.local_cluster.is_some(), "dev is a local cluster");

    // The service's login, with the credential the platform stored, reaches its schema and data...
    let (client, _) = conninfo::connect(&service.runtime.primary)
        .await
        .expect("service login connects");
    let user: String = client.query_one("SELECT current_user", &[]).await.unwrap().get(0);
    assert!(
        service.names.logins.iter().any(|l| l.as_str() == user),
        "connected as a service login, not {user}"
    );
    client
        .query_one("SELECT count(*) FROM client_api.client", &[])
        .await
        .expect("the service reads its tables");
    // ...reads the migration history, but cannot change it (secure_history ran after the engine)...
    client
        .query_one("SELECT count(*) FROM client_api.flyway_schema_history", &[])
        .await
        .expect("the service may read the history");
    let denied = client
        .execute("DELETE FROM client_api.flyway_schema_history", &[])
        .await
        .expect_err("the service may not change the history");
    assert_eq!(
        denied.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    // ...and cannot create objects (least privilege).
    let denied = client
        .batch_execute("CREATE TABLE client_api.intruder (x int)")
        .await
        .expect_err("the service may not create tables");
    assert_eq!(
        denied.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );

    let second = platform::up(&manifest, "dev", &options).await.expect("second up");
    assert!(
        second.provision.apply.executed.is_empty(),
        "nothing to provision: {:?}",
        second.provision.apply.executed
    );
    let again = second.service("pcc-client-api").unwrap();
    assert_eq!(again.migrate.migrations_executed, 0);
    assert_eq!(
        again.runtime.credential.username, service.runtime.credential.username,
        "the credential is reused, not rotated"
    );
}
