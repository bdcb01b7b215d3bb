//! Privilege probes: a service login must not create objects, use TEMP, or connect to another
//! service's database, asked of the server with `has_database_privilege` / `has_schema_privilege`.

use super::{Finding, Severity};
use crate::apply::AdminSession;
use crate::catalog::ClusterSnapshot;
use crate::error::ProvisionError;
use crate::manifest::{Environment, Manifest};

async fn probe(
    client: &tokio_postgres::Client,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<bool, ProvisionError> {
    client
        .query_one(sql, args)
        .await
        .map(|r| r.get::<_, bool>(0))
        .map_err(|source| ProvisionError::Sql {
            context: "privilege probe".to_owned(),
            statement: sql.to_owned(),
            source,
        })
}

/// Service logins must not create objects, use TEMP, or reach another service's database.
pub(super) async fn isolation(
    session: &AdminSession,
    manifest: &Manifest,
    env: &Environment,
    cluster: &ClusterSnapshot,
    out: &mut Vec<Finding>,
) -> Result<(), ProvisionError> {
    let deployments = manifest.deployments(env);
    for d in &deployments {
        let db = d.names.database.as_str();
        if !cluster.databases.contains_key(db) {
            continue;
        }
        let mut problems = Vec::new();
        let logins = d.logins();
        for login in &logins {
            let login = login.as_str();
            if !cluster.roles.contains_key(login) {
                continue;
            }
            for (privilege, label) in [
                ("CREATE", "create schemas in"),
                ("TEMPORARY", "create temporary tables in"),
            ] {
                if probe(
                    &session.client,
                    "SELECT has_database_privilege($1, $2, $3)",
                    &[&login, &db, &privilege],
                )
                .await?
                {
                    problems.push(format!("{login} can {label} {db}"));
                }
            }
            for other in deployments
                .iter()
                .map(|o| o.names.database.as_str())
                .filter(|o| *o != db && cluster.databases.contains_key(*o))
            {
                if probe(
                    &session.client,
                    "SELECT has_database_privilege($1, $2, 'CONNECT')",
                    &[&login, &other],
                )
                .await?
                {
                    problems.push(format!("{login} can connect to {other}, another service's database"));
                }
            }
        }
        let client = match session.connect_to(db).await {
            Ok(client) => Some(client),
            Err(e) => {
                out.push(Finding::new(
                    "isolation",
                    Severity::Warn,
                    format!("schema of {db}"),
                    format!("cannot probe schema privileges: {e}"),
                ));
                None
            }
        };
        if let Some(client) = client {
            let schema = d.names.schema.as_str();
            for login in logins
                .iter()
                .map(String::as_str)
                .filter(|l| cluster.roles.contains_key(*l))
            {
                let exists = probe(
                    &client,
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                    &[&schema],
                )
                .await?;
                if exists
                    && probe(
                        &client,
                        "SELECT has_schema_privilege($1, $2, 'CREATE')",
                        &[&login, &schema],
                    )
                    .await?
                {
                    problems.push(format!("{login} can create objects in schema {schema}"));
                }
                if probe(
                    &client,
                    "SELECT has_schema_privilege($1, 'public', 'CREATE')",
                    &[&login],
                )
                .await?
                {
                    problems.push(format!("{login} can create objects in schema public"));
                }
            }
        }
        let subject = format!("logins of {}", d.service.name);
        if problems.is_empty() {
            out.push(Finding::new(
                "isolation",
                Severity::Pass,
                subject,
                "cannot create objects, use TEMP, or connect to other services' databases",
            ));
        } else {
            for p in problems {
                out.push(
                    Finding::new("isolation", Severity::Fail, subject.clone(), p)
                        .fix(format!("pccdb apply --env {}", env.name)),
                );
            }
        }
    }
    Ok(())
}
