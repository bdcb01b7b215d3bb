//! `pccdb dev`: from nothing to a streaming replica, strings usable exactly as printed (by psql and
//! by our own connector), idempotent `up`, status, down, destroy.

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

    let first = json(&pccdb(&["--output", "json", "dev", "up", "--dir", dir_arg]));
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
    let second = json(&pccdb(&["--output", "json", "dev", "up", "--dir", dir_arg]));
    assert_eq!(second["action"], "already running");
    assert_eq!(second["primary"], first["primary"]);
    assert_eq!(second["replica"], first["replica"]);

    let status = json(&pccdb(&["--output", "json", "dev", "status", "--dir", dir_arg]));
    assert_eq!(status["replication_state"], "streaming");

    // down, then up again: same ports, same strings.
    json(&pccdb(&["--output", "json", "dev", "down", "--dir", dir_arg]));
    let third = json(&pccdb(&["--output", "json", "dev", "up", "--dir", dir_arg]));
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
