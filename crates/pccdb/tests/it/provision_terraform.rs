//! A manifest whose endpoints come from Terraform, as deploy/pcc.toml's cloud environments do: the hosts are
//! outputs of a `terraform output -json` file (written here, naming the test cluster's primary and replica),
//! the rest of each Npgsql string is the manifest's `settings`. `pccdb plan` and `pccdb apply` reach the
//! servers those outputs name and converge.

use secrecy::ExposeSecret as _;

use crate::common;

use common::tls_settings;

fn pccdb(args: &[&str], stdin: Option<&str>) -> (i32, String) {
    common::pccdb(args, None, &[], stdin)
}

/// One output as `terraform output -json` writes it.
fn output(value: &str) -> serde_json::Value {
    serde_json::json!({ "sensitive": false, "type": "string", "value": value })
}

#[tokio::test]
async fn plan_and_apply_reach_the_servers_the_terraform_outputs_name() {
    let cluster = test_support::cluster();
    let primary = cluster.primary();
    let replica = cluster
        .replica()
        .expect("the test cluster has a streaming replica (the launcher starts one)");
    let dir = tempfile::tempdir().unwrap();
    let tok = format!("{:06x}", (std::process::id() ^ 0x71f0a3) % 0xff_ffff);
    let (env, admin) = (format!("t{tok}"), format!("tadm_{tok}"));
    let su = test_support::connect(&primary.config("postgres"), cluster.ca_cert())
        .await
        .unwrap();
    let password = test_support::create_platform_admin(&su, &admin).await;

    // The outputs file, as deploy/terraform's outputs.tf names them; a non-endpoint output beside them, as
    // the real file has (service_accounts), is not read.
    let outputs = dir.path().join("devtest.outputs.json");
    let json = serde_json::json!({
        "alloydb_primary_ip": output(&primary.host),
        "alloydb_read_pool_ip": output(&replica.host),
        "service_accounts": {
            "sensitive": false,
            "type": ["object", { "pcc-client-api": "string" }],
            "value": { "pcc-client-api": "pcc-client-api-devtest@pcc-devtest.iam.gserviceaccount.com" }
        }
    });
    std::fs::write(&outputs, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let tls = tls_settings(cluster);
    let root = dir.path().display();
    let manifest = format!(
        r#"version = 1
[admin]
role = "{admin}"
[migrator]
role = "tfly_{tok}"
[environments.{env}]
terraform = {{ outputs_file = "{outputs}" }}
primary = {{ terraform_output = "alloydb_primary_ip", settings = "Port={pport};{tls}" }}
replica = {{ terraform_output = "alloydb_read_pool_ip", settings = "Port={rport};{tls};Target Session Attributes=read-only" }}
secrets = {{ backend = "file", dir = "{root}/s" }}
admin_secret = "admin"
capacity_history = "{root}/c.jsonl"
[services.pcc-f{tok}]
pool = {{ min = 1, max = 4 }}
replica_pool = {{ min = 1, max = 3 }}
size_estimate = "20MB"
"#,
        outputs = outputs.display(),
        pport = primary.port,
        rport = replica.port,
    );
    let path = dir.path().join("pcc.toml");
    std::fs::write(&path, &manifest).unwrap();
    let m = path.to_str().unwrap();
    let run = |cmd: &[&str], stdin: Option<&str>| {
        let mut args: Vec<String> = cmd.iter().map(|s| (*s).to_owned()).collect();
        args.extend(["--manifest".to_owned(), m.to_owned(), "--env".to_owned(), env.clone()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        pccdb(&refs, stdin)
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
        Some(password.expose_secret()),
    );
    assert_eq!(code, 0, "{out}");

    let (code, out) = run(&["plan", "--detailed-exitcode"], None);
    assert_eq!(code, 2, "a fresh environment has changes:\n{out}");
    assert!(
        out.contains("CREATE DATABASE") && out.contains(&format!("f{tok}_db_{env}")),
        "{out}"
    );
    let (code, out) = run(&["apply"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Applied"), "{out}");
    let (code, out) = run(&["plan", "--detailed-exitcode"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes"), "{out}");

    // What apply did is on the server the output named: the database and the service's login exist there.
    let row = su
        .query_one(
            "SELECT (SELECT count(*) FROM pg_database WHERE datname = $1), \
                    (SELECT count(*) FROM pg_roles WHERE rolname = $2 AND rolcanlogin)",
            &[&format!("f{tok}_db_{env}"), &format!("f{tok}_user")],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (1, 1));
}
