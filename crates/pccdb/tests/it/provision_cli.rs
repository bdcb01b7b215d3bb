//! The provisioning commands as a pipeline sees them: exit codes (0 ok, 2 findings) and the
//! "nothing to do" answers of plan and apply, against the test cluster with a non-superuser
//! admin whose credential is seeded with `pccdb secrets set` (password on stdin).

use secrecy::ExposeSecret as _;

use crate::common;

use common::tls_settings;

fn pccdb(args: &[&str], stdin: Option<&str>) -> (i32, String) {
    common::pccdb(args, None, &[], stdin)
}

#[tokio::test]
async fn plan_apply_check_exit_codes_and_no_op_messages() {
    let cluster = test_support::cluster();
    let primary = cluster.primary();
    let dir = tempfile::tempdir().unwrap();
    let tok = format!("{:06x}", (std::process::id() ^ 0x5a5a5a) % 0xff_ffff);
    let (env, admin) = (format!("c{tok}"), format!("cadm_{tok}"));
    let su = test_support::connect(&primary.config("postgres"), cluster.ca_cert())
        .await
        .unwrap();
    let password = test_support::create_platform_admin(&su, &admin).await;
    let tls = tls_settings(cluster);
    let root = dir.path().display();
    let manifest = format!(
        "version = 1\n[admin]\nrole = \"{admin}\"\n[migrator]\nrole = \"cfly_{tok}\"\n[environments.{env}]\n\
         primary = \"Host={};Port={};{tls}\"\nsecrets = {{ backend = \"file\", dir = \"{root}/s\" }}\n\
         admin_secret = \"admin\"\ncapacity_history = \"{root}/c.jsonl\"\n\
         [services.pcc-k{tok}]\npool = {{ min = 1, max = 4 }}\nsize_estimate = \"20MB\"\n",
        primary.host, primary.port
    );
    let path = dir.path().join("pcc.toml");
    std::fs::write(&path, manifest).unwrap();
    let m = path.to_str().unwrap();
    let base = |cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| (*s).to_owned()).collect();
        v.extend(["--manifest".to_owned(), m.to_owned(), "--env".to_owned(), env.clone()]);
        v
    };
    let run = |cmd: &[&str], stdin: Option<&str>| {
        let args = base(cmd);
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
    assert!(!out.contains(password.expose_secret()));

    let (code, out) = run(&["plan", "--detailed-exitcode"], None);
    assert_eq!(code, 2, "a fresh environment has changes:\n{out}");
    assert!(
        out.contains("CREATE DATABASE") && out.contains("not a superuser"),
        "{out}"
    );

    let (code, out) = run(&["apply"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Applied"), "{out}");

    let (code, out) = run(&["plan", "--detailed-exitcode"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes"), "{out}");
    let (code, out) = run(&["apply"], None);
    assert_eq!((code, out.contains("No changes")), (0, true), "{out}");
    let (code, out) = run(&["check"], None);
    assert_eq!(code, 0, "{out}");

    // Drift: PUBLIC may connect again.
    su.batch_execute(&format!("GRANT CONNECT ON DATABASE k{tok}_db_{env} TO PUBLIC"))
        .await
        .unwrap();
    let report = dir.path().join("check.json");
    let (code, out) = run(&["check", "--report", report.to_str().unwrap()], None);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("FAIL [drift]") && out.contains("PUBLIC holds CONNECT"),
        "{out}"
    );
    // The pipeline keeps the JSON report of a failed check (no shell redirects in the pccdb image).
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(saved["environment"], env.as_str());
    assert!(saved["failed"].as_u64().unwrap() >= 1, "{saved}");
    let (code, _) = run(&["plan", "--detailed-exitcode"], None);
    assert_eq!(code, 2);

    // Bad input: an unknown environment is an error (exit 1) that lists the known ones.
    let (code, out) = pccdb(&["plan", "--manifest", m, "--env", "nope"], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"nope\"") && out.contains(&env), "{out}");

    // Endpoints from Terraform outputs: when primary and replica resolve to the same server, check fails.
    let outputs = dir.path().join("outputs.json");
    let output = |ip: &str| format!("{{\"sensitive\":false,\"type\":\"string\",\"value\":\"{ip}\"}}");
    std::fs::write(
        &outputs,
        format!(
            "{{\"db_primary\":{},\"db_replica\":{}}}",
            output(&primary.host),
            output(&primary.host)
        ),
    )
    .unwrap();
    let from_terraform = std::fs::read_to_string(&path).unwrap().replace(
        &format!("primary = \"Host={};Port={};{tls}\"\n", primary.host, primary.port),
        &format!(
            "terraform = {{ outputs_file = \"{}\" }}\n\
             primary = {{ terraform_output = \"db_primary\", settings = \"Port={port};{tls}\" }}\n\
             replica = {{ terraform_output = \"db_replica\", settings = \"Port={port};{tls}\" }}\n",
            outputs.display(),
            port = primary.port
        ),
    );
    assert!(from_terraform.contains("terraform_output"), "{from_terraform}");
    std::fs::write(&path, from_terraform).unwrap();
    let (code, out) = run(&["check"], None);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("FAIL [endpoints]") && out.contains("primary and replica are the same server"),
        "{out}"
    );
    // A missing output is an error naming it and the file.
    std::fs::write(&outputs, format!("{{\"db_primary\":{}}}", output(&primary.host))).unwrap();
    let (code, out) = run(&["check"], None);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no output \"db_replica\"") && out.contains("outputs.json"),
        "{out}"
    );
}

/// Runs pccdb with extra environment variables.
fn pccdb_env(args: &[&str], vars: &[(String, String)]) -> (i32, String) {
    common::pccdb(args, None, vars, None)
}

#[tokio::test]
async fn credentials_in_a_read_only_store_are_accepted_but_not_rotated() {
    let cluster = test_support::cluster();
    let primary = cluster.primary();
    let dir = tempfile::tempdir().unwrap();
    let tok = format!("{:06x}", (std::process::id() ^ 0x3c3c3c) % 0xff_ffff);
    let (env, migrator) = (format!("r{tok}"), format!("rfly_{tok}"));
    let su = test_support::connect(&primary.config("postgres"), cluster.ca_cert())
        .await
        .unwrap();
    let tls = tls_settings(cluster);
    let root = dir.path().display();
    let prefix = format!("PCCT{tok}_").to_uppercase();
    let manifest = format!(
        "version = 1\n[migrator]\nrole = \"{migrator}\"\n[environments.{env}]\n\
         primary = \"Host={};Port={};{tls}\"\nsecrets = {{ backend = \"env\", prefix = \"{prefix}\" }}\n\
         admin_secrets = {{ backend = \"file\", dir = \"{root}/a\" }}\nadmin_secret = \"admin\"\n\
         [services.pcc-q{tok}]\npool = {{ min = 1, max = 4 }}\n",
        primary.host, primary.port
    );
    let path = dir.path().join("pcc.toml");
    std::fs::write(&path, manifest).unwrap();
    let m = path.to_str().unwrap();
    // The admin is the superuser here; its credential sits in a file store.
    let (code, out) = pccdb(
        &[
            "secrets",
            "set",
            "--manifest",
            m,
            "--env",
            &env,
            "--secret",
            "admin",
            "--username",
            &primary.user,
            "--admin-store",
        ],
        Some(primary.password.expose_secret()),
    );
    assert_eq!(code, 0, "{out}");

    let (code, out) = pccdb(&["apply", "--manifest", m, "--env", &env, "--no-credentials"], None);
    assert_eq!(code, 0, "{out}");
    // Credentials managed elsewhere: someone set the passwords and put them in the environment.
    let mut vars = Vec::new();
    for (login, secret) in [
        (format!("q{tok}_user"), format!("pcc-q{tok}-{env}-db")),
        (migrator.clone(), format!("rfly-{tok}-{env}-db")),
    ] {
        let password = secrets::generate_password().unwrap();
        let verifier = postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
        su.batch_execute(&format!("ALTER ROLE {login} LOGIN PASSWORD '{verifier}'"))
            .await
            .unwrap();
        let var = format!("{prefix}{}", secret.replace('-', "_").to_uppercase());
        let value = secrets::DbCredential::new(login, password).to_json();
        vars.push((var, value.expose_secret().to_owned()));
    }
    let (code, out) = pccdb_env(&["apply", "--manifest", m, "--env", &env], &vars);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes"), "{out}");
    let (code, out) = pccdb_env(&["plan", "--manifest", m, "--env", &env, "--detailed-exitcode"], &vars);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("managed outside pccdb"), "{out}");
    let (code, out) = pccdb_env(&["check", "--manifest", m, "--env", &env], &vars);
    assert_eq!(code, 0, "{out}");
    let (code, out) = pccdb_env(&["rotate", "--manifest", m, "--env", &env], &vars);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("read-only"), "{out}");
    for (_, value) in &vars {
        assert!(!out.contains(value.as_str()));
    }
}
