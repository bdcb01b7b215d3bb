//! Shared helpers of the integration tests: a fresh database, a migrations directory, and a
//! configuration pointing at both.

#![allow(dead_code)]

use std::path::Path;

use migrate::{Config, ConfigLayer, ConfigSources};
use tempfile::TempDir;
use test_support::TestDatabase;
use tokio_postgres::Client;

/// A fresh database and an empty migrations directory.
pub struct Fixture {
    pub dir: TempDir,
    pub db: TestDatabase,
    pub client: Client,
}

/// One history row, as (rank, version, description, type, script, checksum, success).
pub type Row = (i32, Option<String>, String, String, String, Option<i32>, bool);

impl Fixture {
    pub async fn new() -> Self {
        let db = test_support::database().await;
        let client = db.connect().await;
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            db,
            client,
        }
    }

    /// Writes a migration file (creating directories).
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write migration");
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir.path().join(rel)).expect("remove migration");
    }

    pub fn location(&self) -> String {
        format!("filesystem:{}", self.dir.path().display())
    }

    /// The configuration: these migrations plus `settings` (Flyway keys), as command-line flags.
    pub fn config_with(&self, settings: &[(&str, &str)]) -> Config {
        let mut cli = ConfigLayer::new();
        cli.set("locations", &self.location(), "test").expect("locations");
        for (k, v) in settings {
            cli.set(k, v, "test").expect("setting");
        }
        Config::resolve(&ConfigSources {
            cli,
            ..ConfigSources::default()
        })
        .expect("config")
    }

    pub fn config(&self) -> Config {
        self.config_with(&[])
    }

    /// A new connection to the same database (a second session).
    pub async fn connect(&self) -> Client {
        self.db.connect().await
    }

    pub async fn history_in(&self, schema: &str) -> Vec<Row> {
        let sql = format!(
            "SELECT installed_rank, version, description, type, script, checksum, success FROM \"{schema}\".flyway_schema_history ORDER BY 1"
        );
        self.client
            .query(&sql, &[])
            .await
            .expect("read history")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)))
            .collect()
    }

    pub async fn history(&self) -> Vec<Row> {
        self.history_in("public").await
    }

    pub async fn scalar(&self, sql: &str) -> String {
        let rows = self.client.simple_query(sql).await.expect("query");
        rows.iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_owned()),
                _ => None,
            })
            .expect("one row")
    }

    pub async fn exists(&self, relation: &str) -> bool {
        self.scalar(&format!("SELECT (to_regclass('{relation}') IS NOT NULL)::text"))
            .await
            == "true"
    }
}

/// The checksum Flyway stores for a file's text.
pub fn checksum(text: &str) -> i32 {
    migrate::checksum::checksum_text(text)
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
