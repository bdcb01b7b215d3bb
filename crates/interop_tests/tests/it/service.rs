//! The service's own migrations (`migrations/client_api`) applied by real Flyway with the
//! configuration pccdb resolves from the manifest (`pccdb migrate --env E --service S
//! --print-flyway-config`: JDBC url, flyway_user, schema, `initSql = SET ROLE client_api_owner`,
//! locations), the way a team would run Flyway's own image in its pipeline: a JVM of its own
//! reading the printed flyway.toml, the password only in `FLYWAY_PASSWORD`. The result is the
//! schema and history pccdb produces itself, and each tool accepts the other's database.

use std::path::Path;

use interop_tests::db::{self, HistoryRow};
use interop_tests::{flyway, pccdb};
use secrecy::ExposeSecret as _;

use crate::common::diff_lines;

const SERVICE: &str = "pcc-client-api";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read migrations") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy migration");
    }
}

async fn service_history(database: &str) -> Vec<HistoryRow> {
    let cluster = test_support::cluster();
    let client = test_support::connect(&cluster.primary().config(database), cluster.ca_cert())
        .await
        .expect("service database");
    db::history_in(&client, "client_api", "flyway_schema_history").await
}

#[tokio::test]
async fn real_flyway_on_the_printed_configuration_builds_the_schema_pccdb_builds() {
    let cluster = test_support::cluster();
    let primary = cluster.primary();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let tok = format!("{:06x}", (std::process::id() ^ 0x5a5a5a) % 0xff_ffff);
    let (env, admin) = (format!("i{tok}"), format!("iadm_{tok}"));
    let database = format!("client_api_db_{env}");
    let ca = cluster
        .ca_cert()
        .expect("launched cluster has a CA")
        .display()
        .to_string();
    let su = test_support::connect(&primary.config("postgres"), cluster.ca_cert())
        .await
        .expect("superuser");
    let admin_password = test_support::create_platform_admin(&su, &admin).await;
    let manifest = root.join("pcc.toml");
    std::fs::write(
        &manifest,
        format!(
            "version = 1\n[admin]\nrole = \"{admin}\"\n[migrator]\nrole = \"ifly_{tok}\"\n[environments.{env}]\n\
             primary = \"Host={};Port={};SSL Mode=VerifyFull;Root Certificate={ca}\"\n\
             secrets = {{ backend = \"file\", dir = \"{}/secrets\" }}\nadmin_secret = \"admin\"\n\
             [services.{SERVICE}]\npool = {{ min = 1, max = 4 }}\n",
            primary.host,
            primary.port,
            root.display()
        ),
    )
    .expect("manifest");
    copy_dir(
        &test_support::repo_root().join("migrations").join("client_api"),
        &root.join("migrations").join("client_api"),
    );
    let platform = ["--manifest", "pcc.toml", "--env", env.as_str()];
    let run = |args: &[&str]| {
        let all: Vec<&str> = args.iter().chain(platform.iter()).copied().collect();
        pccdb::run(&all, root, &[])
    };
    pccdb::run_with_input(
        &[
            &[
                "secrets",
                "set",
                "--secret",
                "admin",
                "--username",
                &admin,
                "--admin-store",
            ][..],
            &platform[..],
        ]
        .concat(),
        root,
        &[],
        Some(admin_password.expose_secret()),
    )
    .expect(0);
    run(&["apply"]).expect(0);

    // The configuration, printed: no password in it.
    let printed = run(&["migrate", "--service", SERVICE, "--print-flyway-config"])
        .expect(0)
        .stdout;
    let target = provision::resolve::migration_target(
        &provision::Manifest::load(&manifest).expect("manifest loads"),
        &env,
        SERVICE,
    )
    .await
    .expect("migration target");
    let password = target.password.expose_secret();
    assert!(
        !printed.contains(password),
        "the printed configuration holds no password"
    );
    assert!(printed.contains("password = \"${env.FLYWAY_PASSWORD}\""), "{printed}");
    for setting in [
        "initSql = \"SET ROLE client_api_owner\"",
        "schemas = [\"client_api\"]",
        "locations = [\"filesystem:migrations/client_api\"]",
        "targetServerType=primary",
    ] {
        assert!(printed.contains(setting), "{setting} in:\n{printed}");
    }
    // Not ./flyway.toml: pccdb (like Flyway) reads that one by default, and the platform runs
    // below must not depend on FLYWAY_PASSWORD.
    std::fs::create_dir(root.join("ci")).expect("mkdir");
    let toml = root.join("ci").join("flyway.toml");
    std::fs::write(&toml, &printed).expect("flyway.toml");

    // Real Flyway on that file, in a JVM of its own, the password in FLYWAY_PASSWORD only.
    let env_vars = [("FLYWAY_PASSWORD", password)];
    let result = flyway::toml_run("migrate", &[&toml], root, &env_vars).expect("real Flyway migrates");
    let files = std::fs::read_dir(root.join("migrations").join("client_api"))
        .expect("dir")
        .count();
    assert_eq!(result["migrationsExecuted"], files, "{result}");
    let by_flyway = service_history(&database).await;
    let flyway_dump = db::schema_dump(&database);
    // pccdb accepts Flyway's database, also through the printed file itself.
    run(&["validate", "--service", SERVICE]).expect(0);
    pccdb::run(&["validate", "--config-file", "ci/flyway.toml"], root, &env_vars).expect(0);
    // The next `pccdb apply` takes the service's write access to the history away (pccdb migrate
    // does it at once): that is the only difference, and after it the schemas are equal.
    run(&["apply"]).expect(0);
    let flyway_then_apply = db::schema_dump(&database);

    // The same database built by pccdb from scratch.
    su.batch_execute(&format!("DROP DATABASE {database} WITH (FORCE)"))
        .await
        .expect("drop the service database");
    run(&["apply"]).expect(0);
    run(&["migrate", "--service", SERVICE]).expect(0);
    let by_pccdb = service_history(&database).await;
    let pccdb_dump = db::schema_dump(&database);

    let rows = |h: &[HistoryRow]| h.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join("\n");
    assert_eq!(
        rows(&by_flyway),
        rows(&by_pccdb),
        "history (left: real Flyway, right: pccdb)"
    );
    assert!(
        by_flyway.iter().all(|r| r.installed_by == "client_api_owner"),
        "{by_flyway:#?}"
    );
    if flyway_then_apply != pccdb_dump {
        panic!(
            "schemas differ (- Flyway + apply, + pccdb):\n{}",
            diff_lines(&flyway_then_apply, &pccdb_dump).join("\n")
        );
    }
    let before_apply = diff_lines(&flyway_dump, &pccdb_dump);
    assert!(
        before_apply.iter().all(|l| l.contains("flyway_schema_history")),
        "before `pccdb apply`, only the history's privileges differ: {before_apply:#?}"
    );
    // Real Flyway accepts pccdb's database.
    let validated = flyway::toml_run("validate", &[&toml], root, &env_vars).expect("real Flyway validates");
    assert_eq!(validated["valid"], true, "{validated}");
}
