//! `pccdb dev`: from nothing to a streaming replica, strings usable exactly as printed (by psql and
//! by our own connector), idempotent `up`, status, down, destroy; and `up` of the repository's manifest,
//! which provisions and migrates every service of its `dev` environment through the platform library.

use std::process::{Command, Output};

use pg_launcher::PgBinaries;
use serde_json::Value;

fn pccdb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pccdb"))
        .args(args)
        .env_remove("PCCDB_OUTPUT")
        .output()
        .expect("run pccdb")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "pccdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json on stdout")
}

/// Runs psql with a connection string exactly as printed and returns its single output line.
fn psql(uri: &str, sql: &str) -> String {
    let bins = PgBinaries::locate().expect("binaries");
    let out = Command::new(bins.program("psql"))
        .env_clear()
        .args(["-X", "-A", "-t", "-d", uri, "-c", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql refused the printed URI: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn dev_up_prints_strings_that_work_as_printed_and_is_idempotent() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("dev");
    let dir_arg = dir.to_str().expect("utf8 path");

    let first = json(&pccdb(&[
        "--output",
        "json",
        "dev",
        "up",
        "--cluster-only",
        "--dir",
        dir_arg,
    ]));
    assert_eq!(first["action"], "created");

    let primary_uri = first["primary"]["uri"].as_str().expect("uri");
    let replica_uri = first["replica"]["uri"].as_str().expect("replica uri");
    assert_eq!(psql(primary_uri, "SELECT pg_is_in_recovery()"), "f");
    assert_eq!(psql(replica_uri, "SELECT pg_is_in_recovery()"), "t");
    assert_eq!(
        psql(primary_uri, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
        "t"
    );

    // The Npgsql forms, through our own parser and connector (what the service uses).
    for (key, standby) in [("primary", false), ("replica", true)] {
        let npgsql = first[key]["npgsql"].as_str().expect("npgsql");
        assert!(npgsql.starts_with("Host=127.0.0.1;Port="), "seed shape: {npgsql}");
        let spec = conninfo::ConnSpec::parse(npgsql).expect("parses");
        let (client, host) = conninfo::connect(&spec).await.expect("connects as printed");
        let in_recovery: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .expect("q")
            .get(0);
        assert_eq!(in_recovery, standby, "{key}: {:?}", host.role);
    }

    // A second `up` changes nothing and prints the same connection information.
    let second = json(&pccdb(&[
        "--output",
        "json",
        "dev",
        "up",
        "--cluster-only",
        "--dir",
        dir_arg,
    ]));
    assert_eq!(second["action"], "already running");
    assert_eq!(second["primary"], first["primary"]);
    assert_eq!(second["replica"], first["replica"]);

    let status = json(&pccdb(&["--output", "json", "dev", "status", "--dir", dir_arg]));
    assert_eq!(status["replication_state"], "streaming");

    // down, then up again: same ports, same strings.
    json(&pccdb(&["--output", "json", "dev", "down", "--dir", dir_arg]));
    let third = json(&pccdb(&[
        "--output",
        "json",
        "dev",
        "up",
        "--cluster-only",
        "--dir",
        dir_arg,
    ]));
    assert_eq!(third["action"], "started");
    assert_eq!(third["primary"], first["primary"]);

    json(&pccdb(&["--output", "json", "dev", "destroy", "--dir", dir_arg]));
    assert!(!dir.exists());
}

#[test]
fn dev_status_on_a_missing_cluster_says_how_to_create_one() {
    let parent = tempfile::tempdir().expect("tempdir");
    let out = pccdb(&[
        "dev",
        "status",
        "--dir",
        parent.path().join("none").to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pccdb dev up"), "{stderr}");
}

#[tokio::test]
async fn dev_up_provisions_and_migrates_the_manifests_dev_environment_once() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("dev");
    let dir_arg = dir.to_str().expect("utf8 path");
    let root = test_support::repo_root();
    let manifest = root.join("deploy/pcc.toml");
    let migrations = root.join("migrations");
    let args = [
        "--output",
        "json",
        "dev",
        "up",
        "--dir",
        dir_arg,
        "--manifest",
        manifest.to_str().expect("utf8"),
        "--migrations",
        migrations.to_str().expect("utf8"),
    ];
    let first = json(&pccdb(&args));
    assert_eq!(first["action"], "created");
    assert_eq!(first["environment"], "dev");
    assert!(first["provisioning_statements"].as_u64() > Some(0));
    let service = &first["services"][0];
    assert_eq!(service["service"], "pcc-client-api");
    assert_eq!(service["database"], "client_api_db_dev");
    assert!(service["migrations_executed"].as_u64() > Some(0), "{service}");
    let npgsql = service["npgsql"].as_str().expect("service string");
    assert!(
        !npgsql.contains("Password"),
        "the printed service string carries no password: {npgsql}"
    );
    // The credentials of a relocated cluster live with it, not in the manifest's .pcc/secrets/dev.
    assert!(dir.join("secrets").join("pcc-client-api-dev-db").exists());

    // The service's database exists with its migration history, as the superuser sees it.
    let uri = first["primary"]["uri"]
        .as_str()
        .expect("uri")
        .replace("/postgres?", "/client_api_db_dev?");
    let applied = psql(
        &uri,
        "SELECT count(*) FROM client_api.flyway_schema_history WHERE success",
    );
    assert_eq!(applied, service["migrations_executed"].to_string());

    let second = json(&pccdb(&args));
    assert_eq!(second["action"], "already running");
    assert_eq!(second["provisioning_statements"], 0);
    assert_eq!(second["services"][0]["migrations_executed"], 0);

    json(&pccdb(&["--output", "json", "dev", "destroy", "--dir", dir_arg]));
}

#[test]
fn dev_up_without_a_manifest_says_what_to_do() {
    let parent = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_pccdb"))
        .args(["dev", "up", "--dir", parent.path().join("x").to_str().expect("utf8")])
        .current_dir(parent.path())
        .env_remove("PCCDB_OUTPUT")
        .env_remove("PCC_MANIFEST")
        .output()
        .expect("run pccdb");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--cluster-only") && stderr.contains("deploy/pcc.toml"),
        "{stderr}"
    );
    assert!(!parent.path().join("x").exists(), "nothing was created");
}
