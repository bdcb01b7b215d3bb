//! The session a command works in: `initSql` run first (the platform uses it for
//! `SET ROLE <owner>`, so objects belong to the service's owner role), then the facts every
//! command needs (current user, database, server version, search_path), the schemas and the
//! history table's place, exactly as Flyway derives them.

use tokio_postgres::Client;

use super::history::{HistoryTable, quote_ident, quote_literal};
use crate::config::Config;
use crate::error::Error;
use crate::placeholder::Placeholders;
use crate::sql::script::ScriptOptions;
use crate::sql::split::split;

/// A prepared session.
#[derive(Debug)]
pub struct Session<'a> {
    /// The connection.
    pub client: &'a Client,
    /// `current_user` after initSql.
    pub current_user: String,
    /// `session_user` (the login role).
    pub session_user: String,
    /// `current_database()`.
    pub database: String,
    /// `server_version_num`.
    pub server_version_num: u32,
    /// `role` after initSql (`none` when not set), restored before every migration.
    pub role: String,
    /// `search_path` after initSql.
    pub original_search_path: String,
    /// The schemas managed (the default schema first).
    pub schemas: Vec<String>,
    /// The schema of the history table, also first on the search_path while migrating.
    pub default_schema: String,
    /// The history table.
    pub history: HistoryTable,
    /// The `installed_by` value to write.
    pub installed_by: String,
}

impl<'a> Session<'a> {
    /// Runs `initSql`, reads the session's facts and derives the schemas.
    ///
    /// # Errors
    /// [`Error::Db`] when initSql or the fact query fails; [`Error::ReadOnly`] on a standby;
    /// [`Error::NoSchema`] when no schema is configured and the search_path has none.
    pub async fn open(client: &'a Client, config: &Config) -> Result<Self, Error> {
        if let Some(init) = &config.init_sql {
            let statements = split(init).map_err(|e| Error::Db {
                what: "parsing initSql".into(),
                message: e.to_string(),
                code: None,
            })?;
            for stmt in statements {
                client
                    .batch_execute(&stmt.text)
                    .await
                    .map_err(|e| Error::db(&format!("running initSql ({})", stmt.text), e))?;
            }
        }
        let row = client
            .query_typed_one(
                "SELECT current_user::text, session_user::text, current_database()::text, current_schema()::text, \
                 current_setting('search_path'), current_setting('server_version_num')::int4, pg_is_in_recovery(), \
                 current_setting('role')",
                &[],
            )
            .await
            .map_err(|e| Error::db("reading session facts", e))?;
        if row.get::<_, bool>(6) {
            return Err(Error::ReadOnly);
        }
        let server_version_num = u32::try_from(row.get::<_, i32>(5)).unwrap_or(0);
        if server_version_num >= 140_000 {
            // A backend running a long statement notices a client killed with -9 within a second
            // and rolls back, instead of holding its locks until the statement ends.
            let _ = client
                .batch_execute("SET client_connection_check_interval = '1s'")
                .await;
        }
        let current_schema: Option<String> = row.get(3);
        let mut schemas = config.schemas.clone();
        let default_schema = match (&config.default_schema, schemas.first(), current_schema) {
            (Some(d), _, _) => d.clone(),
            (None, Some(first), _) => first.clone(),
            (None, None, Some(current)) => current,
            (None, None, None) => return Err(Error::NoSchema),
        };
        if !schemas.contains(&default_schema) {
            schemas.insert(0, default_schema.clone());
        }
        let current_user: String = row.get(0);
        Ok(Self {
            client,
            installed_by: config.installed_by.clone().unwrap_or_else(|| current_user.clone()),
            current_user,
            session_user: row.get(1),
            database: row.get(2),
            server_version_num,
            role: row.get(7),
            original_search_path: row.get(4),
            history: HistoryTable {
                schema: default_schema.clone(),
                table: config.table.clone(),
            },
            schemas,
            default_schema,
        })
    }

    /// Flyway's placeholders plus its `flyway:*` built-ins for this session.
    pub fn placeholders(&self, config: &Config) -> Placeholders {
        let mut p = Placeholders::new(&config.placeholder_prefix, &config.placeholder_suffix);
        for (name, value) in &config.placeholders {
            p.insert(name, value);
        }
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        let now = time::OffsetDateTime::now_utc().format(&format).unwrap_or_default();
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        p.with_builtin("defaultSchema", &self.default_schema)
            .with_builtin("user", config.user.as_deref().unwrap_or(&self.session_user))
            .with_builtin("database", &self.database)
            .with_builtin("timestamp", &now)
            .with_builtin("workingDirectory", &cwd)
            .with_builtin("table", &config.table)
            .with_builtin("environment", &config.environment)
    }

    /// How scripts are parsed for this session.
    pub fn script_options(&self, config: &Config) -> ScriptOptions {
        ScriptOptions {
            mixed: config.mixed,
            execute_in_transaction: config.execute_in_transaction,
            placeholder_replacement: config.placeholder_replacement,
            server_version_num: self.server_version_num,
        }
    }

    /// The search_path while migrating: the default schema first, then the original path
    /// (Flyway's `changeCurrentSchemaTo`).
    pub fn migration_search_path(&self) -> String {
        let original = self.original_search_path.trim();
        let first = quote_ident(&self.default_schema);
        if original == self.default_schema
            || original == first
            || original.starts_with(&format!("{},", self.default_schema))
            || original.starts_with(&format!("{first},"))
        {
            original.to_owned()
        } else if original.is_empty() {
            first
        } else {
            format!("{first}, {original}")
        }
    }

    /// One statement that puts role and search_path back as they were after initSql, with the
    /// default schema first (Flyway restores both before every migration).
    pub fn reset_sql(&self) -> String {
        format!(
            "SELECT set_config('role', {}, false), set_config('search_path', {}, false)",
            quote_literal(&self.role),
            quote_literal(&self.migration_search_path())
        )
    }
}
