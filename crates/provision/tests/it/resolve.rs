//! The pipeline's and the service's view: `provision` in one call, then the migration target
//! and the runtime connection specs resolved from the manifest and the secret store, used for
//! real against the test cluster.

use crate::common;

use std::time::Duration;

use common::{Harness, Opts, sqlstate};
use conninfo::TargetSessionAttrs;
use provision::resolve::{migration_target, runtime_connections};
use secrecy::ExposeSecret as _;

#[tokio::test]
async fn migrations_run_as_the_owner_and_the_service_connects_with_its_current_credential() {
    let h = Harness::new(Opts::default()).await;
    let report = provision::apply::provision(&h.manifest, &h.env, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!report.apply.executed.is_empty());
    assert_eq!(report.credentials.len(), 2, "the service's pair and the migrator");
    let service = h.services[0].clone();
    let d = h.deployment(0);

    let target = migration_target(&h.manifest, &h.env, &service).await.unwrap();
    assert_eq!(target.user, h.migrator);
    assert_eq!(target.schema, d.names.schema.as_str());
    assert_eq!(target.init_sql, format!("SET ROLE {}", d.names.owner));
    assert!(
        !format!("{target:?}").contains(target.password.expose_secret()),
        "Debug shows the password"
    );
    let (m, _) = conninfo::connect(&target.spec).await.unwrap();
    m.batch_execute(&target.init_sql).await.unwrap();
    m.batch_execute(&format!(
        "CREATE TABLE {s}.flyway_schema_history (installed_rank int PRIMARY KEY, success boolean NOT NULL); \
         CREATE TABLE {s}.clients (id int PRIMARY KEY, name text)",
        s = target.schema
    ))
    .await
    .unwrap();
    for sql in &target.after_history_created {
        m.batch_execute(sql).await.unwrap();
    }
    let owner: String = m
        .query_one(
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = $1::text::regclass",
            &[&format!("{}.clients", target.schema)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        owner,
        d.names.owner.as_str(),
        "objects created by migrations belong to the owner role"
    );
    // With the history table read-only for the service, the environment has no drift.
    assert!(
        provision::apply::plan(&h.manifest, &h.env)
            .await
            .unwrap()
            .plan
            .is_empty()
    );

    let rt = runtime_connections(&h.manifest, &h.env, &service).await.unwrap();
    assert_eq!(rt.credential.username, d.names.logins[0].as_str());
    assert_eq!((rt.primary.pool.min_size, rt.primary.pool.max_size), (1, 5));
    assert!(rt.primary_npgsql().expose_secret().contains("Password="));
    let (c, _) = conninfo::connect(&rt.primary).await.unwrap();
    // search_path is the service schema: unqualified names work.
    c.batch_execute("INSERT INTO clients VALUES (1, 'acme')").await.unwrap();
    let err = c
        .batch_execute("INSERT INTO flyway_schema_history VALUES (99, true)")
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "42501",
        "the service must not write the migration history: {err}"
    );
    if let Some(replica) = &rt.replica {
        // Rotation waited for the replica to replay the password before publishing it, so
        // the replica accepts the credential right away.
        assert_eq!(replica.target_session_attrs, TargetSessionAttrs::ReadOnly);
        assert_eq!(replica.pool.max_size, 3);
        let (r, _) = conninfo::connect(replica).await.unwrap();
        let read_only: bool = r.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
        assert!(read_only, "the replica spec reached a standby");
    }
}

#[tokio::test]
async fn resolution_before_apply_says_what_to_do() {
    let h = Harness::new(Opts::default()).await;
    let err = migration_target(&h.manifest, &h.env, &h.services[0])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not found") && err.contains("fly-"), "{err}");
    let err = runtime_connections(&h.manifest, &h.env, "pcc-nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"pcc-nope\"") && err.contains("known:"), "{err}");
}
