//! Reads the catalog into the snapshot model, as any role can: pg_roles (not pg_authid),
//! pg_auth_members, pg_db_role_setting, pg_database, and inside a database pg_namespace,
//! pg_default_acl, pg_class, pg_proc and pg_type. ACLs are expanded with `aclexplode()`, a NULL
//! ACL (never granted or revoked) through `acldefault()`, so "no ACL" and "the default ACL"
//! compare equal. Objects that belong to an extension are skipped: the extension owns them.

use std::collections::{BTreeMap, BTreeSet};

use tokio_postgres::{Client, Row};

use super::model::{
    ClusterSnapshot, Database, DatabaseSnapshot, DbObject, DefaultAcl, Membership, ObjectKind, Platform, Role,
    RoleDbSetting, Schema, ServerSettings, Session,
};
use crate::acl::{Acl, AclItem, DefaultObjType, Grantee};

/// A catalog query failed.
#[derive(Debug, thiserror::Error)]
#[error("reading {what} from the catalog failed: {source}")]
pub struct CatalogError {
    /// What was being read.
    pub what: &'static str,
    /// The server's error.
    #[source]
    pub source: tokio_postgres::Error,
}

async fn query(client: &Client, what: &'static str, sql: &str) -> Result<Vec<Row>, CatalogError> {
    client
        .query(sql, &[])
        .await
        .map_err(|source| CatalogError { what, source })
}

/// Columns `grantee`, `privilege`, `grantable` of an `aclexplode` row; `None` for the NULL row
/// a LEFT JOIN produces for an empty ACL.
fn acl_item(row: &Row, base: usize) -> Option<AclItem> {
    let privilege: Option<String> = row.get(base + 1);
    let grantee: Option<String> = row.get(base);
    let grantable: Option<bool> = row.get(base + 2);
    let grantee = match grantee {
        None => Grantee::Public,
        Some(name) => Grantee::Role(name),
    };
    privilege.map(|privilege| AclItem {
        grantee,
        privilege,
        grantable: grantable.unwrap_or(false),
    })
}

const GRANTEE: &str =
    "CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, a.is_grantable";
const USER_SCHEMAS: &str = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'";

/// Reads roles, memberships, role settings, databases and the connected role.
///
/// # Errors
/// [`CatalogError`] naming the query that failed.
pub async fn read_cluster(client: &Client) -> Result<ClusterSnapshot, CatalogError> {
    let row = &query(
        client,
        "server settings",
        "SELECT current_setting('server_version_num')::int, current_setting('max_connections')::int, \
         current_setting('superuser_reserved_connections')::int, coalesce(current_setting('reserved_connections', true), '0')::int, \
         current_setting('ssl') = 'on', current_setting('password_encryption')",
    )
    .await?[0];
    let (su_reserved, reserved): (i32, i32) = (row.get(2), row.get(3));
    let settings = ServerSettings {
        version_num: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
        max_connections: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
        reserved_connections: u32::try_from(su_reserved + reserved).unwrap_or(0),
        ssl: row.get(4),
        password_encryption: row.get(5),
    };

    let mut roles = BTreeMap::new();
    for r in query(
        client,
        "roles",
        "SELECT rolname::text, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, \
         rolbypassrls, rolconnlimit, shobj_description(oid, 'pg_authid') FROM pg_roles",
    )
    .await?
    {
        let role = Role {
            superuser: r.get(1),
            inherit: r.get(2),
            createrole: r.get(3),
            createdb: r.get(4),
            login: r.get(5),
            replication: r.get(6),
            bypassrls: r.get(7),
            connection_limit: r.get(8),
            settings: BTreeMap::new(),
            comment: r.get(9),
        };
        roles.insert(r.get::<_, String>(0), role);
    }

    let mut role_db_settings = Vec::new();
    for r in query(
        client,
        "role settings",
        "SELECT r.rolname::text, d.datname::text, s.setconfig FROM pg_db_role_setting s \
         JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase",
    )
    .await?
    {
        let role: String = r.get(0);
        let database: Option<String> = r.get(1);
        for item in r.get::<_, Vec<String>>(2) {
            let Some((name, value)) = item.split_once('=') else {
                continue;
            };
            match &database {
                None => {
                    if let Some(entry) = roles.get_mut(&role) {
                        entry.settings.insert(name.to_owned(), value.to_owned());
                    }
                }
                Some(db) => role_db_settings.push(RoleDbSetting {
                    role: role.clone(),
                    database: db.clone(),
                    name: name.to_owned(),
                    value: value.to_owned(),
                }),
            }
        }
    }

    let memberships: BTreeSet<Membership> = query(
        client,
        "role memberships",
        "SELECT g.rolname::text, m.rolname::text, am.admin_option FROM pg_auth_members am \
         JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member",
    )
    .await?
    .iter()
    .map(|r| Membership {
        group: r.get(0),
        member: r.get(1),
        admin_option: r.get(2),
    })
    .collect();

    let mut databases: BTreeMap<String, Database> = BTreeMap::new();
    let sql = format!(
        "SELECT d.datname::text, pg_get_userbyid(d.datdba)::text, pg_encoding_to_char(d.encoding)::text, \
         d.datallowconn, d.datistemplate, {GRANTEE} FROM pg_database d \
         LEFT JOIN LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a ON true"
    );
    for r in query(client, "databases", &sql).await? {
        let entry = databases.entry(r.get(0)).or_insert_with(|| Database {
            owner: r.get(1),
            acl: Acl::new(),
            encoding: r.get(2),
            allow_connections: r.get(3),
            is_template: r.get(4),
        });
        if let Some(item) = acl_item(&r, 5) {
            entry.acl.insert(item);
        }
    }

    let row = &query(
        client,
        "the connected role",
        "SELECT session_user::text, r.rolsuper, r.rolcreaterole, r.rolcreatedb, \
         ARRAY(SELECT g.rolname::text FROM pg_roles g WHERE g.oid <> r.oid AND pg_has_role(r.oid, g.oid, 'MEMBER')) \
         FROM pg_roles r WHERE r.rolname = session_user",
    )
    .await?[0];
    let session = Session {
        user: row.get(0),
        superuser: row.get(1),
        createrole: row.get(2),
        createdb: row.get(3),
        member_of: row.get::<_, Vec<String>>(4).into_iter().collect(),
    };
    let platform = if roles.contains_key("alloydbsuperuser") {
        Platform::AlloyDb
    } else if roles.contains_key("cloudsqlsuperuser") {
        Platform::CloudSql
    } else {
        Platform::PostgreSql
    };
    Ok(ClusterSnapshot {
        platform,
        session,
        settings,
        roles,
        memberships,
        role_db_settings,
        databases,
    })
}

/// Reads schemas, default privileges and objects of the database `client` is connected to.
///
/// # Errors
/// [`CatalogError`] naming the query that failed.
pub async fn read_database(client: &Client, name: &str) -> Result<DatabaseSnapshot, CatalogError> {
    let mut schemas: BTreeMap<String, Schema> = BTreeMap::new();
    let sql = format!(
        "SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text, {GRANTEE} FROM pg_namespace n \
         LEFT JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a ON true WHERE {USER_SCHEMAS}"
    );
    for r in query(client, "schemas", &sql).await? {
        let entry = schemas.entry(r.get(0)).or_insert_with(|| Schema {
            owner: r.get(1),
            acl: Acl::new(),
        });
        if let Some(item) = acl_item(&r, 2) {
            entry.acl.insert(item);
        }
    }

    let mut default_acls: Vec<DefaultAcl> = Vec::new();
    let sql = format!(
        "SELECT d.oid::bigint, pg_get_userbyid(d.defaclrole)::text, n.nspname::text, d.defaclobjtype::text, {GRANTEE} \
         FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace \
         LEFT JOIN LATERAL aclexplode(d.defaclacl) a ON true ORDER BY d.oid"
    );
    let mut last_oid = None;
    for r in query(client, "default privileges", &sql).await? {
        let oid: i64 = r.get(0);
        let kind: String = r.get(3);
        let Some(kind) = kind.chars().next().and_then(DefaultObjType::from_catalog) else {
            continue;
        };
        if last_oid != Some(oid) {
            default_acls.push(DefaultAcl {
                role: r.get(1),
                schema: r.get(2),
                kind,
                acl: Acl::new(),
            });
            last_oid = Some(oid);
        }
        if let (Some(item), Some(entry)) = (acl_item(&r, 4), default_acls.last_mut()) {
            entry.acl.insert(item);
        }
    }

    let mut objects: BTreeMap<(String, ObjectKind), DbObject> = BTreeMap::new();
    let not_extension = |class: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{class}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"
        )
    };
    let relations = format!(
        "SELECT n.nspname::text, c.relname::text, format('%I.%I', n.nspname, c.relname), c.relkind::text, \
         pg_get_userbyid(c.relowner)::text, EXISTS (SELECT 1 FROM pg_depend t WHERE t.classid = 'pg_class'::regclass \
         AND t.objid = c.oid AND t.refclassid = 'pg_class'::regclass AND t.deptype IN ('a', 'i')), {GRANTEE} \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner))) a ON true \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {USER_SCHEMAS} AND {}",
        not_extension("pg_class", "c.oid")
    );
    for r in query(client, "tables, views and sequences", &relations).await? {
        let kind = match r.get::<_, String>(3).as_str() {
            "r" | "p" => ObjectKind::Table,
            "v" => ObjectKind::View,
            "m" => ObjectKind::MaterializedView,
            "f" => ObjectKind::ForeignTable,
            _ => ObjectKind::Sequence,
        };
        let entry = objects.entry((r.get(2), kind)).or_insert_with(|| DbObject {
            schema: r.get(0),
            name: r.get(1),
            identity: r.get(2),
            kind,
            owner: r.get(4),
            acl: Acl::new(),
            owned_by_table: r.get(5),
        });
        if let Some(item) = acl_item(&r, 6) {
            entry.acl.insert(item);
        }
    }
    let routines = format!(
        "SELECT n.nspname::text, p.proname::text, format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), \
         pg_get_userbyid(p.proowner)::text, {GRANTEE} FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         LEFT JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a ON true \
         WHERE {USER_SCHEMAS} AND {}",
        not_extension("pg_proc", "p.oid")
    );
    for r in query(client, "routines", &routines).await? {
        let entry = objects
            .entry((r.get(2), ObjectKind::Routine))
            .or_insert_with(|| DbObject {
                schema: r.get(0),
                name: r.get(1),
                identity: r.get(2),
                kind: ObjectKind::Routine,
                owner: r.get(3),
                acl: Acl::new(),
                owned_by_table: false,
            });
        if let Some(item) = acl_item(&r, 4) {
            entry.acl.insert(item);
        }
    }
    // Standalone types: enums, ranges, domains and composite types made by CREATE TYPE (not the
    // row types of tables, not arrays or multiranges, which follow their base type).
    let types = format!(
        "SELECT n.nspname::text, t.typname::text, format('%I.%I', n.nspname, t.typname), t.typtype::text, \
         pg_get_userbyid(t.typowner)::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype IN ('c', 'd', 'e', 'r') AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c') \
         AND {USER_SCHEMAS} AND {}",
        not_extension("pg_type", "t.oid")
    );
    for r in query(client, "types", &types).await? {
        let kind = if r.get::<_, String>(3) == "d" {
            ObjectKind::Domain
        } else {
            ObjectKind::Type
        };
        objects.insert(
            (r.get(2), kind),
            DbObject {
                schema: r.get(0),
                name: r.get(1),
                identity: r.get(2),
                kind,
                owner: r.get(4),
                acl: Acl::new(),
                owned_by_table: false,
            },
        );
    }
    Ok(DatabaseSnapshot {
        name: name.to_owned(),
        schemas,
        default_acls,
        objects: objects.into_values().collect(),
    })
}
