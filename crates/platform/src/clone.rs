//! [`clone_database`]: a copy of a provisioned database, complete. `CREATE DATABASE ... TEMPLATE` copies the
//! contents (schemas, objects, their owners and privileges, the migration history) but not what lives in
//! the shared catalog `pg_database`: the owner becomes the creator, privileges and the connection limit
//! revert to defaults (PUBLIC may connect again). This puts those back from the template's catalog row, so
//! the copy is what provisioning made (the test harness gives each test such a copy of one template).

use provision::quote_ident;
use tokio_postgres::Client;

use crate::error::PlatformError;

fn statement(step: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> PlatformError {
    let step = step.into();
    move |source| PlatformError::Statement { step, source }
}

/// Creates database `name` as a copy of `template` over `admin` (a connection to another database, as a
/// role that may create databases and grant on the template's behalf: the superuser, or the platform
/// admin when it is a member of the template's owner). Nobody may be connected to `template` meanwhile
/// (PostgreSQL refuses with SQLSTATE 55006, which is returned as is so callers can retry).
///
/// # Errors
/// [`PlatformError::Unclonable`] when the template has per-database settings (provisioning resets them,
/// so a template built through [`crate::up`] has none; copying them faithfully would need pg_dump's
/// quoting rules for list settings); [`PlatformError::Statement`] for a refused statement.
pub async fn clone_database(admin: &Client, template: &str, name: &str) -> Result<(), PlatformError> {
    let row = admin
        .query_opt(
            "SELECT pg_catalog.pg_get_userbyid(d.datdba), d.datconnlimit,
                    (SELECT count(*) FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = d.oid),
                    d.datacl IS NOT NULL
               FROM pg_catalog.pg_database d WHERE d.datname = $1",
            &[&template],
        )
        .await
        .map_err(statement(format!("reading database {template}")))?
        .ok_or_else(|| PlatformError::Unclonable {
            database: template.to_owned(),
            reason: "it does not exist".to_owned(),
        })?;
    let owner: String = row.get(0);
    let connection_limit: i32 = row.get(1);
    let settings: i64 = row.get(2);
    let explicit_acl: bool = row.get(3);
    if settings > 0 {
        return Err(PlatformError::Unclonable {
            database: template.to_owned(),
            reason: format!(
                "it has {settings} per-database setting(s) (ALTER DATABASE/ROLE ... SET), which are not copied"
            ),
        });
    }
    // (grantee, privilege, grantable) of the template's ACL; NULL datacl means the defaults, which the
    // new database has already. Grantee 0 is PUBLIC.
    let acl = admin
        .query(
            "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                    a.privilege_type, a.is_grantable
               FROM pg_catalog.pg_database d, LATERAL pg_catalog.aclexplode(d.datacl) a
              WHERE d.datname = $1 AND d.datacl IS NOT NULL
              ORDER BY 1 NULLS FIRST, 2",
            &[&template],
        )
        .await
        .map_err(statement(format!("reading the privileges of database {template}")))?;

    let db = quote_ident(name);
    // CREATE DATABASE cannot run in a transaction, so alone; the rest is one transaction.
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {db} TEMPLATE {} OWNER {} CONNECTION LIMIT {connection_limit}",
            quote_ident(template),
            quote_ident(&owner)
        ))
        .await
        .map_err(statement(format!("creating database {name} from {template}")))?;
    if !explicit_acl {
        return Ok(());
    }
    let mut sql = format!(
        "BEGIN; REVOKE ALL ON DATABASE {db} FROM PUBLIC; REVOKE ALL ON DATABASE {db} FROM {};",
        quote_ident(&owner)
    );
    for row in &acl {
        let grantee: Option<String> = row.get(0);
        let privilege: String = row.get(1);
        let grantable: bool = row.get(2);
        let to = grantee.as_deref().map_or_else(|| "PUBLIC".to_owned(), quote_ident);
        // Privilege names come from aclexplode (CONNECT, CREATE, TEMPORARY): keywords, never quoted.
        sql.push_str(&format!(
            "GRANT {privilege} ON DATABASE {db} TO {to}{};",
            if grantable { " WITH GRANT OPTION" } else { "" }
        ));
    }
    sql.push_str("COMMIT");
    admin
        .batch_execute(&sql)
        .await
        .map_err(statement(format!("copying the privileges of {template} to {name}")))?;
    Ok(())
}
