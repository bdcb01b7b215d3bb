//! `pccdb conninfo`: JSON and human output, stdin input, redaction, and errors that name the key.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn pccdb(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pccdb"))
        .args(args)
        .env_remove("PCCDB_OUTPUT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

const SEED_REPLICA: &str = "Host=10.28.48.10;Port=5432;Database=client_api_db_devtest;Username=client_api_user;Password=s3cr3t-pw;Target Session Attributes=read-only;SSL Mode=Require";

#[test]
fn json_explains_the_seed_replica_string_without_the_password() {
    let out = pccdb(&["conninfo", "--no-env", "--output", "json", SEED_REPLICA], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("s3cr3t-pw"));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["syntax"], "npgsql");
    assert_eq!(json["hosts"][0]["host"], "10.28.48.10");
    assert_eq!(json["hosts"][0]["port"], 5432);
    assert_eq!(json["database"], "client_api_db_devtest");
    assert_eq!(json["user"], "client_api_user");
    assert_eq!(json["password"], "set (redacted)");
    assert_eq!(json["tls"]["mode"], "require");
    assert_eq!(json["tls"]["verifies_chain"], false);
    assert_eq!(json["session"]["target_session_attrs"], "read-only");
    assert_eq!(json["pool"]["max_size"], 100);
    assert!(json["notes"][0].as_str().unwrap().contains("Npgsql refuses"));
}

#[test]
fn stdin_input_and_human_output() {
    let out = pccdb(
        &["conninfo", "--no-env", "-"],
        Some(
            "postgresql://app:pw%21@db1:5433,db2/app?target_session_attrs=read-write&sslmode=verify-full&sslrootcert=/etc/ca.pem\n",
        ),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("db1:5433 (tcp)"), "{stdout}");
    assert!(stdout.contains("db2:5432 (tcp)"), "{stdout}");
    assert!(
        stdout.contains("verify-full (encrypted; certificate chain and host name verified)"),
        "{stdout}"
    );
    assert!(stdout.contains("target read-write"), "{stdout}");
    assert!(!stdout.contains("pw!") && !stdout.contains("pw%21"), "{stdout}");
}

#[test]
fn a_bad_value_exits_1_and_names_the_key() {
    let out = pccdb(&["conninfo", "--no-env", "Host=h;Password=hunter2;Port=hello"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("`Port`"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
