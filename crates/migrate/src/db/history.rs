//! The `flyway_schema_history` table: Flyway's DDL text for PostgreSQL (`PostgreSQLDatabase.
//! getRawCreateScript`), and reading, inserting and updating its rows.
//!
//! Identifiers are always double-quoted exactly as Flyway quotes them, so the table, its
//! `<table>_pk` primary key and `<table>_s_idx` index are the ones Flyway creates and expects.

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::error::Error;
use crate::model::{AppliedMigration, HistoryType};
use crate::version::MigrationVersion;

/// Flyway's identifier quoting for PostgreSQL: `"` + name with `"` doubled + `"`.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal that reads the same whatever `standard_conforming_strings` is.
pub fn quote_literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Where the history lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTable {
    /// Schema (the default schema).
    pub schema: String,
    /// Table name (`flyway_schema_history`).
    pub table: String,
}

/// Milliseconds since `pccdb.started` (a transaction-local setting holding `clock_timestamp()`).
pub const STARTED_MILLIS: &str =
    "floor(extract(epoch FROM clock_timestamp() - current_setting('pccdb.started')::timestamptz) * 1000)::integer";

const COLUMNS: &str = "\"installed_rank\", \"version\", \"description\", \"type\", \"script\", \"checksum\", \"installed_on\", \"installed_by\", \"execution_time\", \"success\"";

impl HistoryTable {
    /// `"schema"."table"`, as Flyway writes it (and hashes it for the lock key).
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }

    /// Flyway's DDL, one statement per element: CREATE TABLE, ALTER TABLE ... PRIMARY KEY,
    /// CREATE INDEX.
    pub fn create_statements(&self, tablespace: Option<&str>) -> Vec<String> {
        let t = self.qualified();
        let tablespace = tablespace.map_or_else(String::new, |ts| format!(" TABLESPACE {}", quote_ident(ts)));
        vec![
            format!(
                "CREATE TABLE {t} (\n    \"installed_rank\" INT NOT NULL,\n    \"version\" VARCHAR(50),\n    \
                 \"description\" VARCHAR(200) NOT NULL,\n    \"type\" VARCHAR(20) NOT NULL,\n    \
                 \"script\" VARCHAR(1000) NOT NULL,\n    \"checksum\" INTEGER,\n    \
                 \"installed_by\" VARCHAR(100) NOT NULL,\n    \"installed_on\" TIMESTAMP NOT NULL DEFAULT now(),\n    \
                 \"execution_time\" INTEGER NOT NULL,\n    \"success\" BOOLEAN NOT NULL\n){tablespace}"
            ),
            format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} PRIMARY KEY (\"installed_rank\")",
                quote_ident(&format!("{}_pk", self.table))
            ),
            format!(
                "CREATE INDEX {} ON {t} (\"success\")",
                quote_ident(&format!("{}_s_idx", self.table))
            ),
        ]
    }

    /// The INSERT of one row; `$8` is the execution time unless `server_timed`, in which case
    /// the server computes it at insert time from `pccdb.started` (set by the statement that
    /// starts the migration), so a pipelined migration and its row still commit together and
    /// carry the true duration.
    pub fn insert_sql(&self, server_timed: bool) -> String {
        let time = if server_timed { STARTED_MILLIS } else { "$8" };
        let success = if server_timed { "$8" } else { "$9" };
        format!(
            "INSERT INTO {} (\"installed_rank\", \"version\", \"description\", \"type\", \"script\", \"checksum\", \
             \"installed_by\", \"execution_time\", \"success\") VALUES ($1, $2, $3, $4, $5, $6, $7, {time}, {success})",
            self.qualified()
        )
    }

    /// Parameter types of [`HistoryTable::insert_sql`].
    pub fn insert_types(server_timed: bool) -> Vec<Type> {
        let mut types = vec![
            Type::INT4,
            Type::VARCHAR,
            Type::VARCHAR,
            Type::VARCHAR,
            Type::VARCHAR,
            Type::INT4,
            Type::VARCHAR,
        ];
        if !server_timed {
            types.push(Type::INT4);
        }
        types.push(Type::BOOL);
        types
    }

    /// Whether the table exists (by exact name, as Flyway quotes it).
    ///
    /// # Errors
    /// [`Error::Db`] when the catalog cannot be read.
    pub async fn exists(&self, client: &Client) -> Result<bool, Error> {
        let rows = client
            .query_typed(
                "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
                &[(&self.schema, Type::TEXT), (&self.table, Type::TEXT)],
            )
            .await
            .map_err(|e| Error::db("checking for the schema history table", e))?;
        Ok(!rows.is_empty())
    }

    /// Reads every row, in rank order.
    ///
    /// # Errors
    /// [`Error::Db`] when the table cannot be read; [`Error::InvalidHistory`] for a row whose
    /// version is not a version.
    pub async fn read(&self, client: &Client) -> Result<Vec<AppliedMigration>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM {} ORDER BY \"installed_rank\"", self.qualified());
        let rows = client
            .query_typed(&sql, &[])
            .await
            .map_err(|e| Error::db("reading the schema history", e))?;
        rows.iter()
            .map(|row| {
                // try_get: a table that only looks like Flyway's must give an error, not a panic.
                let rank: i32 = row.try_get(0).map_err(|e| Error::InvalidHistory {
                    rank: -1,
                    message: e.to_string(),
                })?;
                let bad = |e: tokio_postgres::Error| Error::InvalidHistory {
                    rank,
                    message: e.to_string(),
                };
                let version: Option<String> = row.try_get(1).map_err(bad)?;
                let version = match version {
                    Some(text) => Some(MigrationVersion::parse(&text).map_err(|e| Error::InvalidHistory {
                        rank,
                        message: e.to_string(),
                    })?),
                    None => None,
                };
                let kind: String = row.try_get(3).map_err(bad)?;
                Ok(AppliedMigration {
                    installed_rank: rank,
                    version,
                    description: row.try_get(2).map_err(bad)?,
                    kind: HistoryType::parse(&kind),
                    script: row.try_get(4).map_err(bad)?,
                    checksum: row.try_get(5).map_err(bad)?,
                    installed_on: row.try_get(6).map_err(bad)?,
                    installed_by: row.try_get(7).map_err(bad)?,
                    execution_time: row.try_get(8).map_err(bad)?,
                    success: row.try_get(9).map_err(bad)?,
                })
            })
            .collect()
    }
}

impl HistoryTable {
    /// Runs `statements` and then inserts `rows`, all in one pipelined transaction.
    ///
    /// # Errors
    /// [`Error::Db`] (with `what`) for the first failure; nothing is changed then.
    pub async fn write(
        &self,
        client: &Client,
        statements: &[String],
        rows: &[NewRow],
        what: &str,
    ) -> Result<(), Error> {
        use super::pipeline::{Op, run};
        let insert = self.insert_sql(false);
        let mut ops = vec![Op::Sql("BEGIN")];
        ops.extend(statements.iter().map(|s| Op::Sql(s)));
        ops.extend(rows.iter().map(|r| Op::Params(&insert, r.params())));
        ops.push(Op::Sql("COMMIT"));
        if let Err(failure) = run(client, &ops).await {
            if failure.sent < ops.len() {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            return Err(Error::db(what, failure.error));
        }
        Ok(())
    }
}

/// The values of a row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRow {
    /// `installed_rank`.
    pub rank: i32,
    /// `version`.
    pub version: Option<String>,
    /// `description` (abbreviated).
    pub description: String,
    /// `type`.
    pub kind: String,
    /// `script` (abbreviated).
    pub script: String,
    /// `checksum`.
    pub checksum: Option<i32>,
    /// `installed_by`.
    pub installed_by: String,
    /// `execution_time` (ignored when the server times the row).
    pub execution_time: i32,
    /// `success`.
    pub success: bool,
}

impl NewRow {
    /// The parameters of [`HistoryTable::insert_sql`]`(false)`.
    pub(crate) fn params(&self) -> Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)> {
        vec![
            (&self.rank, Type::INT4),
            (&self.version, Type::VARCHAR),
            (&self.description, Type::VARCHAR),
            (&self.kind, Type::VARCHAR),
            (&self.script, Type::VARCHAR),
            (&self.checksum, Type::INT4),
            (&self.installed_by, Type::VARCHAR),
            (&self.execution_time, Type::INT4),
            (&self.success, Type::BOOL),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_like_flyway_does() {
        assert_eq!(quote_ident("public"), "\"public\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        let t = HistoryTable {
            schema: "App".into(),
            table: "flyway_schema_history".into(),
        };
        assert_eq!(t.qualified(), "\"App\".\"flyway_schema_history\"");
    }

    #[test]
    fn literals_survive_quotes_and_backslashes() {
        assert_eq!(quote_literal("a'b\\c"), "E'a''b\\\\c'");
    }

    #[test]
    fn the_ddl_is_flyways() {
        let t = HistoryTable {
            schema: "public".into(),
            table: "flyway_schema_history".into(),
        };
        let ddl = t.create_statements(None);
        assert!(
            ddl[0].starts_with(
                "CREATE TABLE \"public\".\"flyway_schema_history\" (\n    \"installed_rank\" INT NOT NULL,"
            )
        );
        assert!(ddl[0].contains("\"installed_on\" TIMESTAMP NOT NULL DEFAULT now(),"));
        assert_eq!(
            ddl[1],
            "ALTER TABLE \"public\".\"flyway_schema_history\" ADD CONSTRAINT \"flyway_schema_history_pk\" PRIMARY KEY (\"installed_rank\")"
        );
        assert_eq!(
            ddl[2],
            "CREATE INDEX \"flyway_schema_history_s_idx\" ON \"public\".\"flyway_schema_history\" (\"success\")"
        );
        assert!(t.create_statements(Some("fast"))[0].ends_with(") TABLESPACE \"fast\""));
    }

    #[test]
    fn insert_parameters_match_the_sql() {
        let t = HistoryTable {
            schema: "s".into(),
            table: "t".into(),
        };
        assert!(t.insert_sql(true).contains("current_setting('pccdb.started')") && t.insert_sql(true).ends_with("$8)"));
        assert_eq!(HistoryTable::insert_types(true).len(), 8);
        assert_eq!(HistoryTable::insert_types(false).len(), 9);
    }
}
