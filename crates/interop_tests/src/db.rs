//! What Flyway's and pccdb's results are compared by: the rows of the schema history (every
//! column but `installed_on` and `execution_time`, which differ between any two runs) and the
//! schema as `pg_dump --schema-only` prints it, normalized; plus the connection settings both
//! tools get for a test database.

use std::path::PathBuf;
use std::process::Command;

use secrecy::ExposeSecret as _;
use test_support::{Server, TestDatabase};
use tokio_postgres::Client;

use crate::flyway::FlywayConfig;

/// A JDBC url for `database` on `server` (verify-full against the cluster CA, as the platform
/// connects), without credentials.
pub fn jdbc_url_for(server: &Server, database: &str) -> String {
    let mut url = format!("jdbc:postgresql://{}:{}/{database}", server.host, server.port);
    match (&server.ca_cert, server.tls) {
        (Some(ca), true) => url.push_str(&format!("?sslmode=verify-full&sslrootcert={}", ca.display())),
        (None, true) => url.push_str("?sslmode=require"),
        (_, false) => url.push_str("?sslmode=disable"),
    }
    url
}

/// The JDBC url of a test database on the primary.
pub fn jdbc_url(db: &TestDatabase) -> String {
    jdbc_url_for(db.cluster().primary(), db.name())
}

/// A Flyway configuration for a test database as its superuser.
pub fn flyway_config(db: &TestDatabase) -> FlywayConfig {
    let server = db.cluster().primary();
    FlywayConfig::new(&jdbc_url(db), &server.user, server.password.clone())
}

/// One row of `flyway_schema_history`, without `installed_on` and `execution_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// `installed_rank`.
    pub rank: i32,
    /// `version`.
    pub version: Option<String>,
    /// `description`.
    pub description: String,
    /// `type`.
    pub kind: String,
    /// `script`.
    pub script: String,
    /// `checksum`.
    pub checksum: Option<i32>,
    /// `installed_by`.
    pub installed_by: String,
    /// `success`.
    pub success: bool,
}

/// Every row of `"<schema>"."<table>"`, in rank order.
///
/// # Panics
/// When the table cannot be read.
pub async fn history_in(client: &Client, schema: &str, table: &str) -> Vec<HistoryRow> {
    let sql = format!(
        "SELECT installed_rank, version, description, type, script, checksum, installed_by, success \
         FROM \"{schema}\".\"{table}\" ORDER BY installed_rank"
    );
    client
        .query(&sql, &[])
        .await
        .unwrap_or_else(|e| panic!("reading {schema}.{table}: {e}"))
        .iter()
        .map(|r| HistoryRow {
            rank: r.get(0),
            version: r.get(1),
            description: r.get(2),
            kind: r.get(3),
            script: r.get(4),
            checksum: r.get(5),
            installed_by: r.get(6),
            success: r.get(7),
        })
        .collect()
}

/// The history in `public.flyway_schema_history`.
pub async fn history(client: &Client) -> Vec<HistoryRow> {
    history_in(client, "public", "flyway_schema_history").await
}

/// Rows of a query as text (`col|col|...`, NULL as `∅`), for comparing data across databases.
///
/// # Panics
/// When the query fails.
pub async fn rows(client: &Client, sql: &str) -> Vec<String> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("∅"))
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect()
}

fn pg_dump() -> PathBuf {
    match test_support::cluster().launched() {
        Some(cluster) => cluster.binaries().program("pg_dump"),
        None => pg_launcher::PgBinaries::locate()
            .unwrap_or_else(|e| panic!("finding pg_dump: {e}"))
            .program("pg_dump"),
    }
}

/// `pg_dump --schema-only` of `database` on the primary, normalized: comments, blank lines,
/// session `SET`s and the per-dump `\restrict` keys removed, so two databases built the same way
/// print the same text. Owners and privileges are kept.
///
/// # Panics
/// When pg_dump fails.
pub fn schema_dump(database: &str) -> String {
    let server = test_support::cluster().primary();
    let mut command = Command::new(pg_dump());
    command
        .args(["--schema-only", "--host", &server.host])
        .args([
            "--port",
            &server.port.to_string(),
            "--username",
            &server.user,
            "--dbname",
            database,
        ])
        .env("PGPASSWORD", server.password.expose_secret())
        .env("PGSSLMODE", if server.tls { "require" } else { "disable" });
    if let (Some(ca), true) = (&server.ca_cert, server.tls) {
        command.env("PGSSLMODE", "verify-full").env("PGSSLROOTCERT", ca);
    }
    let output = command.output().unwrap_or_else(|e| panic!("running pg_dump: {e}"));
    assert!(
        output.status.success(),
        "pg_dump {database} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    normalize_dump(&String::from_utf8_lossy(&output.stdout))
}

/// The normalization of [`schema_dump`].
pub fn normalize_dump(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let t = l.trim();
            !(t.is_empty()
                || t.starts_with("--")
                || t.starts_with("\\restrict")
                || t.starts_with("\\unrestrict")
                || t.starts_with("SET ")
                || t.starts_with("SELECT pg_catalog.set_config('search_path'"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_drops_only_what_differs_between_equal_schemas() {
        let dump = "--\n-- PostgreSQL database dump\n--\n\\restrict abc123\nSET statement_timeout = 0;\n\
                    SELECT pg_catalog.set_config('search_path', '', false);\n\nCREATE TABLE public.t (\n    id integer\n);\n\
                    ALTER TABLE public.t OWNER TO app;\n\\unrestrict abc123\n";
        assert_eq!(
            normalize_dump(dump),
            "CREATE TABLE public.t (\n    id integer\n);\nALTER TABLE public.t OWNER TO app;"
        );
    }
}
