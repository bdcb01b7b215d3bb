//! `pccdb migrate --env <env> --service <service>`: the pipeline step resolves endpoint, database,
//! flyway_user's credential, schema and initSql from the manifest and the secret store; objects
//! end up owned by the service's owner role and the service group can only read the history.

use secrecy::ExposeSecret as _;

use crate::common;

#[tokio::test]
async fn migrate_resolves_everything_from_the_manifest() {
    let cluster = test_support::cluster();
    let primary = cluster.primary();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let tok = format!("{:06x}", (std::process::id() ^ 0x1e1e1e) % 0xff_ffff);
    let (env, admin, base) = (format!("m{tok}"), format!("madm_{tok}"), format!("w{tok}"));
    let su = test_support::connect(&primary.config("postgres"), cluster.ca_cert())
        .await
        .expect("superuser");
    let admin_password = test_support::create_platform_admin(&su, &admin).await;
    let ca = cluster
        .ca_cert()
        .expect("launched cluster has a CA")
        .display()
        .to_string();
    std::fs::write(
        root.join("pcc.toml"),
        format!(
            "version = 1\n[admin]\nrole = \"{admin}\"\n[migrator]\nrole = \"mfly_{tok}\"\n[environments.{env}]\n\
             primary = \"Host={};Port={};SSL Mode=VerifyFull;Root Certificate={ca}\"\n\
             secrets = {{ backend = \"file\", dir = \"{}/s\" }}\nadmin_secret = \"admin\"\n\
             [services.pcc-{base}]\npool = {{ min = 1, max = 4 }}\n",
            primary.host,
            primary.port,
            root.display()
        ),
    )
    .expect("manifest");
    let migrations = root.join("migrations").join(&base);
    std::fs::create_dir_all(&migrations).expect("migrations dir");
    std::fs::write(
        migrations.join("V1__accounts.sql"),
        format!("CREATE TABLE {base}.account (id bigint PRIMARY KEY, name text NOT NULL);\n"),
    )
    .expect("V1");
    std::fs::write(
        migrations.join("V2__seed.sql"),
        format!("INSERT INTO {base}.account VALUES (1, 'first');\n"),
    )
    .expect("V2");

    let target = ["--manifest", "pcc.toml", "--env", env.as_str()];
    let with = |cmd: &[&str]| -> Vec<String> { cmd.iter().chain(target.iter()).map(|s| (*s).to_owned()).collect() };
    let run = |cmd: &[&str], stdin: Option<&str>| {
        let args = with(cmd);
        common::pccdb(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            Some(root),
            &[],
            stdin,
        )
    };
    let (code, out) = run(
        &[
            "secrets",
            "set",
            "--secret",
            "admin",
            "--username",
            &admin,
            "--admin-store",
        ],
        Some(admin_password.expose_secret()),
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["apply"], None);
    assert_eq!(code, 0, "{out}");

    let service = format!("pcc-{base}");
    let (code, out) = run(&["migrate", "--service", &service], None);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(admin_password.expose_secret()), "no secret in the output");
    let (code, out) = run(&["--output", "json", "info", "--service", &service], None);
    assert_eq!(code, 0, "{out}");
    let info: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let states: Vec<&str> = info["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .filter_map(|m| m["state"].as_str())
        .collect();
    assert_eq!(states, ["Success", "Success"], "{out}");

    // As the platform promises: owned by the owner role, readable but not writable history for the app.
    let db = test_support::connect(&primary.config(&format!("{base}_db_{env}")), cluster.ca_cert())
        .await
        .expect("service database");
    let owner: String = db
        .query_one(
            &format!("SELECT tableowner::text FROM pg_tables WHERE schemaname = '{base}' AND tablename = 'account'"),
            &[],
        )
        .await
        .expect("owner")
        .get(0);
    assert_eq!(owner, format!("{base}_owner"));
    let (read, write): (bool, bool) = {
        let row = db
            .query_one(
                &format!(
                    "SELECT has_table_privilege('{base}_app', '{base}.flyway_schema_history', 'SELECT'), \
                            has_table_privilege('{base}_app', '{base}.flyway_schema_history', 'INSERT')"
                ),
                &[],
            )
            .await
            .expect("privileges");
        (row.get(0), row.get(1))
    };
    assert_eq!((read, write), (true, false));

    // Unknown service: exit 1 naming it.
    let (code, out) = run(&["migrate", "--service", "pcc-nope"], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("pcc-nope"), "{out}");
}
