//! Provisions a database the way production does and applies the client_api migrations to it.
//!
//! Production (docs/SCHEMA.md, "Deployment"): the provisioning tool creates the NOLOGIN role `client_api_owner`,
//! makes it the owner of the database and of the schema `client_api`, and the migration user runs every migration
//! as that owner through `SET ROLE`, never as a superuser. [`provision`] reproduces that on a test database
//! (over a superuser connection), [`migrate_with_engine`] runs the location through the `migrate` crate (the
//! Flyway-compatible engine behind `pccdb migrate`: history table, checksums, lock) with `initSql = SET ROLE`,
//! [`apply`] runs given files directly, one transaction each under `SET LOCAL ROLE` (for re-running repeatables
//! on purpose), and [`grant_service_role`] gives a stand-in for the service's login role the privileges a service
//! gets, so tests can act with exactly those rights.

use tokio_postgres::Client;

use crate::migrations::MigrationFile;

/// The NOLOGIN role that owns the database, the schema and every object in it.
pub const OWNER_ROLE: &str = "client_api_owner";

/// The stand-in for the service's role in tests (`SET ROLE client_api_app`): data privileges only.
pub const SERVICE_ROLE: &str = "client_api_app";

/// Why provisioning or a migration failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A provisioning step failed.
    #[error("provisioning step `{step}` failed: {source}")]
    Provision {
        /// What was being done.
        step: &'static str,
        /// The server's error.
        source: tokio_postgres::Error,
    },
    /// The migration engine refused or failed.
    #[error("migrate: {0}")]
    Engine(#[from] migrate::Error),
    /// The migration location is not a usable path.
    #[error("migration location {0}: not valid UTF-8")]
    Location(std::path::PathBuf),
    /// A migration statement failed; the file's transaction was rolled back.
    #[error("{file}:{line}: {message}")]
    Statement {
        /// The migration file.
        file: String,
        /// 1-based line of the statement (or of the error position inside it).
        line: usize,
        /// The server's message with its SQLSTATE.
        message: String,
    },
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the roles (once per cluster), hands the current database to the owner and creates the schema.
///
/// # Errors
/// [`ApplyError::Provision`] naming the step the server refused.
pub async fn provision(client: &Client) -> Result<(), ApplyError> {
    let step = |step: &'static str| move |source| ApplyError::Provision { step, source };
    // Roles are cluster-wide and test binaries may share a server: creating one that exists is fine.
    for (role, options) in [(OWNER_ROLE, "NOLOGIN"), (SERVICE_ROLE, "NOLOGIN")] {
        client
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {role} {options}; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ))
            .await
            .map_err(step("create roles"))?;
    }
    let database: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .map_err(step("read database name"))?
        .get(0);
    client
        .batch_execute(&format!(
            "ALTER DATABASE {} OWNER TO {OWNER_ROLE}; CREATE SCHEMA client_api AUTHORIZATION {OWNER_ROLE}",
            quote_ident(&database)
        ))
        .await
        .map_err(step("database owner and schema"))?;
    Ok(())
}

/// The engine configuration for `dir`: schema `client_api` (history table `client_api.flyway_schema_history`),
/// migrations run as [`OWNER_ROLE`], schemas never created by the engine (provisioning owns them).
///
/// # Errors
/// [`ApplyError::Location`] / [`ApplyError::Engine`] for a path the engine cannot use.
pub fn engine_config(dir: &std::path::Path) -> Result<migrate::Config, ApplyError> {
    let text = dir.to_str().ok_or_else(|| ApplyError::Location(dir.to_path_buf()))?;
    let location = migrate::config::Location::parse(&format!("filesystem:{text}"), "schema_tests")
        .map_err(|e| ApplyError::Engine(e.into()))?;
    let mut config = migrate::Config::defaults();
    config.locations = vec![location];
    config.schemas = vec!["client_api".to_owned()];
    config.create_schemas = false;
    config.init_sql = Some(format!("SET ROLE {OWNER_ROLE}"));
    Ok(config)
}

/// Runs `migrate` on the location `dir` with [`engine_config`], as `pccdb migrate` does.
///
/// # Errors
/// [`ApplyError::Engine`] with the engine's message (file, line, server error).
pub async fn migrate_with_engine(client: &Client, dir: &std::path::Path) -> Result<migrate::MigrateReport, ApplyError> {
    Ok(migrate::migrate(client, &engine_config(dir)?, &()).await?)
}

/// Applies the files in order, each in its own transaction as [`OWNER_ROLE`] with `search_path = client_api`
/// (what Flyway sets for its default schema), statement by statement as the splitter produced them.
///
/// # Errors
/// [`ApplyError::Statement`] with the file and line of the first failing statement.
pub async fn apply(client: &mut Client, files: &[MigrationFile]) -> Result<(), ApplyError> {
    for file in files {
        let fail = |line: usize, e: &tokio_postgres::Error| ApplyError::Statement {
            file: file.file_name.clone(),
            line,
            message: describe(e),
        };
        let tx = client.transaction().await.map_err(|e| fail(0, &e))?;
        tx.batch_execute(&format!(
            "SET LOCAL ROLE {OWNER_ROLE}; SET LOCAL search_path = client_api"
        ))
        .await
        .map_err(|e| fail(0, &e))?;
        for statement in &file.script.statements {
            tx.batch_execute(&statement.text).await.map_err(|e| {
                let line = match e.as_db_error().and_then(|d| d.position()) {
                    Some(tokio_postgres::error::ErrorPosition::Original(at)) => {
                        statement.line_of_position(*at as usize)
                    }
                    _ => statement.line,
                };
                fail(line, &e)
            })?;
        }
        tx.commit().await.map_err(|e| fail(0, &e))?;
    }
    Ok(())
}

/// Grants [`SERVICE_ROLE`] what the provisioning tool grants a service: use of the schema and read/write on its
/// tables. Functions are executable by everyone by default. Run after [`apply`].
///
/// # Errors
/// [`ApplyError::Provision`] when the server refuses.
pub async fn grant_service_role(client: &Client) -> Result<(), ApplyError> {
    client
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA client_api TO {SERVICE_ROLE}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA client_api TO {SERVICE_ROLE}"
        ))
        .await
        .map_err(|source| ApplyError::Provision {
            step: "grant service role",
            source,
        })
}

/// The server's message, SQLSTATE, detail and hint in one line.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => e.to_string(),
    }
}
