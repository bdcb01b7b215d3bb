//! `platform::clone_database`: the copy has the template's owner, privileges and connection limit, which
//! `CREATE DATABASE ... TEMPLATE` alone resets, and PUBLIC loses what provisioning revoked.

async fn facts(admin: &tokio_postgres::Client, db: &str) -> (String, i32, Vec<String>) {
    let row = admin
        .query_one(
            "SELECT pg_catalog.pg_get_userbyid(datdba), datconnlimit,
                    coalesce((SELECT array_agg(a ORDER BY a) FROM unnest(datacl::text[]) a), '{}')
               FROM pg_catalog.pg_database WHERE datname = $1",
            &[&db],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn a_clone_has_the_templates_owner_privileges_and_connection_limit() {
    let template = test_support::database().await;
    let admin = template.connect().await;
    let owner = test_support::unique_name("own");
    let reader = test_support::unique_name("rd");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {owner} NOLOGIN; CREATE ROLE {reader} NOLOGIN;
             ALTER DATABASE {db} OWNER TO {owner};
             ALTER DATABASE {db} CONNECTION LIMIT 7;
             REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC;
             GRANT CONNECT ON DATABASE {db} TO {reader};
             GRANT CREATE ON DATABASE {db} TO {reader} WITH GRANT OPTION;
             CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)",
            db = template.name()
        ))
        .await
        .unwrap();
    drop(admin);
    let maintenance = test_support::database().await;
    let admin = maintenance.connect().await;
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            template.name()
        ))
        .await
        .unwrap();
    let name = test_support::unique_name("c");
    platform::clone_database(&admin, template.name(), &name)
        .await
        .expect("clone");

    let (t_owner, t_limit, t_acl) = facts(&admin, template.name()).await;
    let (c_owner, c_limit, c_acl) = facts(&admin, &name).await;
    assert_eq!((c_owner.as_str(), c_limit), (owner.as_str(), 7));
    assert_eq!((t_owner, t_limit), (c_owner, c_limit));
    assert_eq!(c_acl, t_acl, "the same privileges, PUBLIC's CONNECT revoked");
    assert!(
        !c_acl.iter().any(|a| a.starts_with('=')),
        "PUBLIC has nothing: {c_acl:?}"
    );
    admin.batch_execute(&format!("DROP DATABASE {name}")).await.unwrap();
    admin
        .batch_execute(&format!(
            "DROP DATABASE {} WITH (FORCE); DROP ROLE {owner}; DROP ROLE {reader}",
            template.name()
        ))
        .await
        .ok();
}

#[tokio::test]
async fn a_missing_template_is_named() {
    let maintenance = test_support::database().await;
    let admin = maintenance.connect().await;
    let error = platform::clone_database(&admin, "no_such_db", "x")
        .await
        .expect_err("missing");
    assert_eq!(error.to_string(), "cannot clone database no_such_db: it does not exist");
}
