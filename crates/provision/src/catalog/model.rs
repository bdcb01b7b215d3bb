//! What the catalog reader returns: a plain-data snapshot of the cluster (roles, memberships,
//! role settings, databases) and of each managed database (schemas, default privileges,
//! objects). The diff is a pure function of these values and the manifest, so tests build
//! snapshots by hand.

use std::collections::{BTreeMap, BTreeSet};

use crate::acl::{Acl, DefaultObjType};

/// The platform behind the server, detected from role names only it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Self-managed PostgreSQL (superusers exist).
    PostgreSql,
    /// Google AlloyDB: no SUPERUSER; admins are members of `alloydbsuperuser`.
    AlloyDb,
    /// Google Cloud SQL: no SUPERUSER; admins are members of `cloudsqlsuperuser`.
    CloudSql,
}

impl Platform {
    /// The role that stands in for superuser on a managed platform.
    pub fn admin_group(self) -> Option<&'static str> {
        match self {
            Self::PostgreSql => None,
            Self::AlloyDb => Some("alloydbsuperuser"),
            Self::CloudSql => Some("cloudsqlsuperuser"),
        }
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::PostgreSql => "PostgreSQL",
            Self::AlloyDb => "AlloyDB",
            Self::CloudSql => "Cloud SQL",
        }
    }
}

/// The connected role and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Session {
    /// `session_user`.
    pub user: String,
    /// rolsuper.
    pub superuser: bool,
    /// rolcreaterole.
    pub createrole: bool,
    /// rolcreatedb.
    pub createdb: bool,
    /// Every role it is a member of, directly or not (`pg_has_role(..., 'MEMBER')`).
    pub member_of: BTreeSet<String>,
}

/// A role's attributes (pg_roles) and session defaults (pg_db_role_setting, all databases).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Role {
    /// rolsuper.
    pub superuser: bool,
    /// rolinherit.
    pub inherit: bool,
    /// rolcreaterole.
    pub createrole: bool,
    /// rolcreatedb.
    pub createdb: bool,
    /// rolcanlogin.
    pub login: bool,
    /// rolreplication.
    pub replication: bool,
    /// rolbypassrls.
    pub bypassrls: bool,
    /// rolconnlimit (-1: none).
    pub connection_limit: i32,
    /// `ALTER ROLE ... SET` values for all databases, by setting name.
    pub settings: BTreeMap<String, String>,
    /// `COMMENT ON ROLE` (rotation keeps its ledger there).
    pub comment: Option<String>,
}

/// `GRANT group TO member`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Membership {
    /// The role granted.
    pub group: String,
    /// The role it is granted to.
    pub member: String,
    /// WITH ADMIN OPTION.
    pub admin_option: bool,
}

/// A database (pg_database).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Database {
    /// Its owner.
    pub owner: String,
    /// Its ACL (acldefault when NULL).
    pub acl: Acl,
    /// Server encoding name.
    pub encoding: String,
    /// datallowconn.
    pub allow_connections: bool,
    /// datistemplate.
    pub is_template: bool,
}

/// `ALTER ROLE r IN DATABASE d SET k = v`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleDbSetting {
    /// The role.
    pub role: String,
    /// The database.
    pub database: String,
    /// Setting name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// Server settings the plan and checks depend on.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ServerSettings {
    /// `server_version_num`.
    pub version_num: u32,
    /// `max_connections`.
    pub max_connections: u32,
    /// `superuser_reserved_connections` (+ `reserved_connections` on 16+).
    pub reserved_connections: u32,
    /// `ssl`.
    pub ssl: bool,
    /// `password_encryption`.
    pub password_encryption: String,
}

/// The cluster-wide part of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterSnapshot {
    /// Detected platform.
    pub platform: Platform,
    /// The connected role.
    pub session: Session,
    /// Server settings.
    pub settings: ServerSettings,
    /// Every role by name.
    pub roles: BTreeMap<String, Role>,
    /// Every membership.
    pub memberships: BTreeSet<Membership>,
    /// Per-database role settings.
    pub role_db_settings: Vec<RoleDbSetting>,
    /// Every database by name.
    pub databases: BTreeMap<String, Database>,
}

/// What kind of object a schema holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// Table or partitioned table.
    Table,
    /// View.
    View,
    /// Materialized view.
    MaterializedView,
    /// Foreign table.
    ForeignTable,
    /// Sequence.
    Sequence,
    /// Function, procedure or aggregate.
    Routine,
    /// Enum, range or composite type.
    Type,
    /// Domain.
    Domain,
}

impl ObjectKind {
    /// The word ALTER ... OWNER TO uses.
    pub fn alter_word(self) -> &'static str {
        match self {
            Self::Table => "TABLE",
            Self::View => "VIEW",
            Self::MaterializedView => "MATERIALIZED VIEW",
            Self::ForeignTable => "FOREIGN TABLE",
            Self::Sequence => "SEQUENCE",
            Self::Routine => "ROUTINE",
            Self::Type => "TYPE",
            Self::Domain => "DOMAIN",
        }
    }
}

/// One object in a managed schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DbObject {
    /// Schema.
    pub schema: String,
    /// Name (for routines, the name without arguments).
    pub name: String,
    /// Quoted identity for SQL (`client_api.f(integer)` for routines, `client_api.t` otherwise).
    pub identity: String,
    /// Kind.
    pub kind: ObjectKind,
    /// Owner.
    pub owner: String,
    /// ACL (acldefault when NULL); empty for types, whose privileges are not managed.
    pub acl: Acl,
    /// A sequence owned by a table column (serial, identity): it follows its table's owner.
    pub owned_by_table: bool,
}

/// A schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Schema {
    /// Owner.
    pub owner: String,
    /// ACL (acldefault when NULL).
    pub acl: Acl,
}

/// One `pg_default_acl` row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DefaultAcl {
    /// The role whose new objects it applies to.
    pub role: String,
    /// The schema, or `None` for the database-wide entry.
    pub schema: Option<String>,
    /// Object kind.
    pub kind: DefaultObjType,
    /// The stored ACL (for a database-wide entry, a replacement of the built-in default).
    pub acl: Acl,
}

/// The part of the catalog inside one database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatabaseSnapshot {
    /// The database.
    pub name: String,
    /// Schemas by name (system schemas excluded).
    pub schemas: BTreeMap<String, Schema>,
    /// Default privileges.
    pub default_acls: Vec<DefaultAcl>,
    /// Objects of the schemas read (extension members excluded).
    pub objects: Vec<DbObject>,
}
