//! The real `pccdb` binary running migrations against real PostgreSQL: four processes at once,
//! kill -9 in the middle of a long migration, CREATE INDEX CONCURRENTLY while another process
//! waits for the lock, validate/repair exit codes, `\c` refused, info output, configuration
//! from flyway.toml and the environment, and no password on the command line.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret as _;
use tempfile::TempDir;
use test_support::TestDatabase;
use tokio_postgres::Client;

struct Project {
    dir: TempDir,
    db: TestDatabase,
    client: Client,
}

impl Project {
    async fn new() -> Self {
        let db = test_support::database().await;
        let client = db.connect().await;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("sql")).expect("mkdir");
        Self { dir, db, client }
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join("sql").join(name), text).expect("write migration");
    }

    /// `postgresql://user@host:port/db` (no password: it goes in FLYWAY_PASSWORD).
    fn url(&self) -> String {
        let server = self.db.cluster().primary();
        let sslmode = if server.tls { "require" } else { "disable" };
        format!(
            "postgresql://{}@{}:{}/{}?sslmode={sslmode}",
            server.user,
            server.host,
            server.port,
            self.db.name()
        )
    }

    /// `pccdb <args>` in the project directory with a clean environment.
    fn command(&self, args: &[&str]) -> Command {
        let server = self.db.cluster().primary();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pccdb"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("FLYWAY_URL", self.url())
            .env("FLYWAY_PASSWORD", server.password.expose_secret())
            .env("FLYWAY_LOCATIONS", "filesystem:sql")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run pccdb")
    }

    async fn scalar(&self, sql: &str) -> String {
        let rows = self.client.simple_query(sql).await.expect("query");
        rows.iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_owned()),
                _ => None,
            })
            .expect("a row")
    }

    async fn wait_until(&self, what: &str, sql: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.scalar(sql).await != "true" {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Waits for a child; a guard against hangs (the failure a hang would otherwise be), not a timing check.
fn wait(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn four_processes_migrating_at_once_apply_each_migration_exactly_once() {
    let p = Project::new().await;
    p.client
        .batch_execute(
            "CREATE SCHEMA audit; CREATE TABLE audit.applied (version text, pid int DEFAULT pg_backend_pid())",
        )
        .await
        .unwrap();
    for i in 1..=20 {
        p.write(
            &format!("V{i}__step.sql"),
            &format!("INSERT INTO audit.applied (version) VALUES ('{i}');\nSELECT pg_sleep(0.01);\n"),
        );
    }
    p.write("R__view.sql", "CREATE OR REPLACE VIEW audit.applied_count AS SELECT count(*) FROM audit.applied;\nINSERT INTO audit.applied (version) VALUES ('R');\n");
    let children: Vec<Child> = (0..4)
        .map(|_| p.command(&["migrate", "--schemas", "app"]).spawn().expect("spawn"))
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = wait(child, "a concurrent migrate");
        assert!(out.status.success(), "process {i}: {}", text(&out));
    }
    assert_eq!(
        p.scalar("SELECT count(*) || '/' || count(DISTINCT version) FROM audit.applied")
            .await,
        "21/21"
    );
    assert_eq!(
        p.scalar("SELECT count(*) || '/' || bool_and(success) FROM app.flyway_schema_history WHERE type = 'SQL'")
            .await,
        "21/true"
    );
    assert_eq!(
        p.scalar("SELECT count(DISTINCT installed_rank) = count(*) FROM app.flyway_schema_history")
            .await
            .as_str(),
        "t"
    );
}

#[tokio::test]
async fn kill_9_in_the_middle_of_a_long_migration_then_rerun_completes_with_a_consistent_history() {
    let p = Project::new().await;
    p.write(
        "V1__tables.sql",
        "CREATE TABLE t (a int);\nCREATE TABLE gate (open bool);\nINSERT INTO gate VALUES (false);\n",
    );
    p.write(
        "V2__long.sql",
        "INSERT INTO t VALUES (1);\nDO $$ BEGIN WHILE NOT (SELECT open FROM gate) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$;\nINSERT INTO t VALUES (2);\n",
    );
    p.write("V3__after.sql", "INSERT INTO t VALUES (3);\n");
    let first = p.command(&["migrate"]).spawn().expect("spawn");
    p.wait_until("V2 is running", "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN WHILE%' AND state = 'active' AND datname = current_database())::text").await;
    let mut first = first;
    first.kill().expect("kill -9");
    let _ = first.wait();
    p.client.batch_execute("UPDATE gate SET open = true").await.unwrap();
    let out = wait(p.command(&["migrate"]).spawn().expect("spawn"), "the rerun");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        p.scalar("SELECT string_agg(a::text, ',' ORDER BY a) FROM t").await,
        "1,2,3",
        "V2 ran exactly once, as a whole"
    );
    assert_eq!(
        p.scalar(
            "SELECT string_agg(version || ':' || success, ',' ORDER BY installed_rank) FROM flyway_schema_history"
        )
        .await,
        "1:true,2:true,3:true"
    );
}

#[tokio::test]
async fn create_index_concurrently_completes_while_another_process_waits_for_the_lock() {
    let p = Project::new().await;
    p.write("V1__tables.sql", "CREATE TABLE cities (name text, population int);\nINSERT INTO cities SELECT 'c' || g, g FROM generate_series(1, 5000) g;\nCREATE TABLE gate (open bool);\nINSERT INTO gate VALUES (false);\n");
    p.write(
        "V2__hold.sql",
        "DO $$ BEGIN WHILE NOT (SELECT open FROM gate) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$;\n",
    );
    p.write(
        "V3__index.sql",
        "CREATE INDEX CONCURRENTLY cities_name_idx ON cities (name);\n",
    );
    let first = p.command(&["migrate"]).spawn().expect("spawn");
    p.wait_until("V2 holds the first run", "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN WHILE%' AND state = 'active' AND datname = current_database())::text").await;
    let second = p.command(&["migrate"]).spawn().expect("spawn");
    p.wait_until(
        "the second run is polling for the lock",
        "SELECT (count(*) >= 2)::text FROM pg_stat_activity WHERE application_name = 'pccdb' AND datname = current_database()",
    )
    .await;
    p.client.batch_execute("UPDATE gate SET open = true").await.unwrap();
    let (a, b) = (
        wait(first, "the migrating process"),
        wait(second, "the waiting process"),
    );
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    assert_eq!(
        p.scalar("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'cities_name_idx'::regclass")
            .await,
        "true"
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM flyway_schema_history WHERE success")
            .await,
        "3"
    );
}

#[tokio::test]
async fn an_edited_file_makes_validate_exit_2_naming_version_and_script_and_repair_realigns_it() {
    let p = Project::new().await;
    p.write("V1__users.sql", "CREATE TABLE users (id int);\n");
    p.write("V2__index.sql", "CREATE INDEX users_id ON users (id);\n");
    assert!(p.run(&["migrate"]).status.success());
    assert_eq!(p.run(&["validate"]).status.code(), Some(0));
    p.write("V2__index.sql", "CREATE UNIQUE INDEX users_id ON users (id);\n");
    let out = p.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let message = text(&out);
    assert!(
        message.contains("version 2") && message.contains("V2__index.sql") && message.contains("pccdb repair"),
        "{message}"
    );
    let migrate = p.run(&["migrate"]);
    assert_eq!(
        migrate.status.code(),
        Some(2),
        "migrate refuses on a validation failure: {}",
        text(&migrate)
    );
    let repair = p.run(&["repair"]);
    assert!(repair.status.success(), "{}", text(&repair));
    assert!(text(&repair).contains("Realigned"), "{}", text(&repair));
    assert_eq!(p.run(&["validate"]).status.code(), Some(0));
}

#[tokio::test]
async fn a_file_with_backslash_c_is_refused_naming_file_line_and_pccdb_apply() {
    let p = Project::new().await;
    p.write(
        "V1__create_database_and_initial_schema.sql",
        "CREATE DATABASE client_api_db_devtest;\n\n\\c client_api_db_devtest\n\nCREATE TABLE users (id int);\n",
    );
    let out = p.run(&["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("V1__create_database_and_initial_schema.sql:3")
            && message.contains("\\c")
            && message.contains("pccdb apply"),
        "{message}"
    );
    assert_eq!(
        p.scalar("SELECT (to_regclass('flyway_schema_history') IS NULL)::text")
            .await,
        "true"
    );
}

#[tokio::test]
async fn info_prints_flyways_table_and_json_with_the_states() {
    let p = Project::new().await;
    p.write("V1__users.sql", "CREATE TABLE users (id int);\n");
    assert!(p.run(&["migrate"]).status.success());
    p.write("V2__more.sql", "CREATE TABLE more (id int);\n");
    let out = p.run(&["info"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("| Category  | Version | Description | Type | Installed On        | State   | Undoable |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| Versioned | 1       | users       | SQL  |") && stdout.contains("| Success |"),
        "{stdout}"
    );
    assert!(stdout.contains("| Pending |"), "{stdout}");
    let json = p.run(&["info", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON document");
    assert_eq!(doc["operation"], "info");
    assert_eq!(doc["schemaVersion"], "1");
    assert_eq!(doc["migrations"][1]["state"], "Pending");
    assert_eq!(doc["migrations"][0]["script"], "V1__users.sql");
}

#[tokio::test]
async fn a_failing_migration_exits_1_with_file_line_and_what_to_do() {
    let p = Project::new().await;
    p.write("V1__bad.sql", "CREATE TABLE ok (id int);\nSELECT * FROM\n  nowhere;\n");
    let out = p.run(&["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("V1__bad.sql:3") && message.contains("42P01") && message.contains("rolled back"),
        "{message}"
    );
}

#[tokio::test]
async fn configuration_comes_from_flyway_toml_with_the_password_from_the_environment() {
    let p = Project::new().await;
    p.write("V1__users.sql", "CREATE TABLE users (id int);\n");
    let toml = format!(
        "[environments.default]\nurl = \"{}\"\npassword = \"${{env.DB_SECRET}}\"\nschemas = [\"client_api\"]\n\n[flyway]\nlocations = [\"filesystem:sql\"]\n\n[flyway.placeholders]\nowner = \"x\"\n",
        p.url()
    );
    std::fs::write(p.dir.path().join("flyway.toml"), toml).unwrap();
    let password = p.db.cluster().primary().password.expose_secret().to_owned();
    let out = p
        .command(&["migrate"])
        .env_remove("FLYWAY_URL")
        .env_remove("FLYWAY_PASSWORD")
        .env("DB_SECRET", &password)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(&password));
    assert_eq!(
        p.scalar("SELECT (to_regclass('client_api.users') IS NOT NULL)::text")
            .await,
        "true"
    );
}

#[tokio::test]
async fn a_password_in_the_url_flag_is_refused_and_never_echoed() {
    let p = Project::new().await;
    let out = p.run(&["info", "--url", "postgresql://u:hunter2secret@127.0.0.1:1/db"]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out);
    assert!(
        message.contains("FLYWAY_PASSWORD") && !message.contains("hunter2secret"),
        "{message}"
    );
}

#[tokio::test]
async fn clean_is_refused_unless_enabled() {
    let p = Project::new().await;
    p.write("V1__users.sql", "CREATE TABLE users (id int);\n");
    assert!(p.run(&["migrate"]).status.success());
    let refused = p.run(&["clean"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).contains("cleanDisabled=false"));
    let cleaned = p.run(&["clean", "--set", "cleanDisabled=false"]);
    assert!(cleaned.status.success(), "{}", text(&cleaned));
    assert_eq!(p.scalar("SELECT (to_regclass('users') IS NULL)::text").await, "true");
    assert!(
        p.dir.path().join("sql/V1__users.sql").exists(),
        "clean never touches the files"
    );
}

#[tokio::test]
async fn kill_9_during_a_non_transactional_migration_leaves_a_failed_row_that_repair_clears() {
    let p = Project::new().await;
    p.write(
        "V1__tables.sql",
        "CREATE TABLE cities (name text);\nCREATE TABLE gate (open bool);\nINSERT INTO gate VALUES (false);\n",
    );
    p.write(
        "V2__index.sql",
        "DO $$ BEGIN WHILE NOT (SELECT open FROM gate) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$;\nCREATE INDEX CONCURRENTLY cities_name_idx ON cities (name);\n",
    );
    let mut first = p.command(&["migrate", "--mixed"]).spawn().expect("spawn");
    p.wait_until("V2 is running", "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN WHILE%' AND state = 'active' AND datname = current_database())::text").await;
    first.kill().expect("kill -9");
    let _ = first.wait();
    p.client.batch_execute("UPDATE gate SET open = true").await.unwrap();
    let refused = wait(
        p.command(&["migrate", "--mixed"]).spawn().expect("spawn"),
        "the refused rerun",
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("failed") && text(&refused).contains("pccdb repair"),
        "{}",
        text(&refused)
    );
    let repair = p.run(&["repair"]);
    assert!(
        repair.status.success() && text(&repair).contains("Removed failed migration version 2"),
        "{}",
        text(&repair)
    );
    let rerun = p.run(&["migrate", "--mixed"]);
    assert!(rerun.status.success(), "{}", text(&rerun));
    assert_eq!(
        p.scalar(
            "SELECT string_agg(version || ':' || success, ',' ORDER BY installed_rank) FROM flyway_schema_history"
        )
        .await,
        "1:true,2:true"
    );
    assert_eq!(
        p.scalar("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'cities_name_idx'::regclass")
            .await,
        "true"
    );
}

#[tokio::test]
async fn a_jdbc_url_with_the_user_as_a_parameter_works() {
    let p = Project::new().await;
    p.write("V1__users.sql", "CREATE TABLE users (id int);\n");
    let server = p.db.cluster().primary();
    let sslmode = if server.tls { "require" } else { "disable" };
    let jdbc = format!(
        "jdbc:postgresql://{}:{}/{}?user={}&sslmode={sslmode}",
        server.host,
        server.port,
        p.db.name(),
        server.user
    );
    let out = p.command(&["migrate"]).env("FLYWAY_URL", jdbc).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        p.scalar("SELECT (to_regclass('users') IS NOT NULL)::text").await,
        "true"
    );
}

#[tokio::test]
async fn a_url_flag_without_password_works_with_pgpassword_in_the_environment() {
    let p = Project::new().await;
    p.write("V1__users.sql", "CREATE TABLE users (id int);\n");
    let password = p.db.cluster().primary().password.expose_secret().to_owned();
    let url = p.url();
    let out = p
        .command(&["migrate", "--url", &url])
        .env_remove("FLYWAY_URL")
        .env_remove("FLYWAY_PASSWORD")
        .env("PGPASSWORD", &password)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}
