//! The live catalog: a plain-data model (`model.rs`) and the reader that fills it from
//! pg_roles, pg_auth_members, pg_db_role_setting, pg_database, pg_namespace, pg_default_acl,
//! pg_class and pg_proc (`read.rs`).

mod model;
mod read;

pub use model::{
    ClusterSnapshot, Database, DatabaseSnapshot, DbObject, DefaultAcl, Membership, ObjectKind, Platform, Role,
    RoleDbSetting, Schema, ServerSettings, Session,
};
pub use read::{CatalogError, read_cluster, read_database};
