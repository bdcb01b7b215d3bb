//! The desired state of one environment, derived from the manifest: the role model (least
//! privilege) written down as data the diff compares with the catalog.
//!
//! Per service (`client_api`):
//! - `client_api_owner` NOLOGIN owns the database, the schema `client_api` and every object in it;
//! - `client_api_app` NOLOGIN holds CONNECT, USAGE on the schema and, through default privileges
//!   FOR ROLE client_api_owner IN SCHEMA client_api, DML on tables, USAGE on sequences, EXECUTE on
//!   routines; `client_api_user` and `client_api_user_b` are its login members (rotation
//!   alternates them and owns their LOGIN flag and password); where the service logs in with
//!   IAM, its IAM database user is one too (created by Terraform; this tool grants it, never
//!   creates it), and the pair stays, unrotated, until it is set NOLOGIN;
//! - `client_api_readonly` NOLOGIN holds CONNECT, USAGE and SELECT, for replica/reporting reads;
//! - PUBLIC has no CONNECT or TEMPORARY on the database, no CREATE on schema public, and no
//!   EXECUTE on routines the owner creates (the database-wide default is revoked);
//! - login roles carry CONNECTION LIMIT (the connection budget) and the three timeouts.
//!
//! Cluster-wide: the migrator (`flyway_user`) LOGIN NOINHERIT is a member of every owner role,
//! so migrations `SET ROLE` to the owner; it has CONNECT on each database directly (NOINHERIT
//! does not pass the owner's CONNECT on). The admin (`pcc_admin`, and the connected role when
//! it is not a superuser) is a member of every owner role: PostgreSQL requires it to create a
//! database owned by that role and to change ownership.

use std::collections::BTreeSet;

use crate::acl::{Acl, DefaultObjType, Grantee, entries};
use crate::catalog::ClusterSnapshot;
use crate::manifest::{Access, Environment, Manifest};
use crate::naming::ServiceName;

/// The privileges the app group gets on tables.
pub const APP_TABLE_PRIVILEGES: &[&str] = &["DELETE", "INSERT", "SELECT", "UPDATE"];

/// Who controls a role's LOGIN flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginPolicy {
    /// NOLOGIN, always (owners and groups).
    NoLogin,
    /// Created NOLOGIN; `rotate` sets LOGIN and the password, and disables the retired login.
    Rotated,
    /// An IAM database user: created by the platform (Terraform `google_alloydb_user` of type
    /// `ALLOYDB_IAM_USER`), never by this tool, and its LOGIN and password are the platform's (the
    /// password is an access token). Its memberships, limit and timeouts are managed like any login's.
    Iam,
}

/// A role as it should be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DesiredRole {
    /// Name.
    pub name: String,
    /// LOGIN handling.
    pub login: LoginPolicy,
    /// INHERIT (false only for the migrator).
    pub inherit: bool,
    /// CONNECTION LIMIT (-1 for NOLOGIN roles).
    pub connection_limit: i32,
    /// Session defaults `(name, value)`, value in PostgreSQL syntax.
    pub settings: Vec<(String, String)>,
    /// Why the role exists (for plan output).
    pub purpose: String,
}

/// Default privileges for one (role, schema, kind), non-owner entries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DesiredDefaultAcl {
    /// FOR ROLE.
    pub role: String,
    /// IN SCHEMA, or database-wide.
    pub schema: Option<String>,
    /// Kind.
    pub kind: DefaultObjType,
    /// Entries for grantees other than the role.
    pub acl: Acl,
}

/// One service database as it should be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DesiredDatabase {
    /// The service.
    pub service: ServiceName,
    /// Database name.
    pub name: String,
    /// Owner role (also owns the schema and objects).
    pub owner: String,
    /// The service schema.
    pub schema: String,
    /// Non-owner entries of the database ACL.
    pub database_acl: Acl,
    /// Non-owner entries of the schema ACL.
    pub schema_acl: Acl,
    /// Default privileges (for the owner role).
    pub default_acls: Vec<DesiredDefaultAcl>,
    /// Non-owner entries on each table, view, materialized view and foreign table.
    pub table_acl: Acl,
    /// Non-owner entries on each sequence.
    pub sequence_acl: Acl,
    /// Non-owner entries on each routine.
    pub routine_acl: Acl,
    /// The migration history table and its non-owner entries (read-only for the service).
    pub history_table: (String, Acl),
}

/// The desired state of one environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Desired {
    /// Roles, groups before their members.
    pub roles: Vec<DesiredRole>,
    /// `(group, member)` memberships.
    pub memberships: BTreeSet<(String, String)>,
    /// Roles whose memberships are managed (all of `roles`).
    pub managed: BTreeSet<String>,
    /// Roles that may be members of managed roles without being declared (the admin, the
    /// connected role; PostgreSQL 16 grants a role's creator ADMIN membership in it).
    pub tolerated_members: BTreeSet<String>,
    /// Service databases.
    pub databases: Vec<DesiredDatabase>,
}

/// The table Flyway (and crates/migrate) keeps its history in.
pub const HISTORY_TABLE: &str = "flyway_schema_history";

fn timeouts_settings(t: &crate::manifest::Timeouts) -> Vec<(String, String)> {
    t.settings()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_string()))
        .collect()
}

/// The desired state of `env` as seen from `cluster` (which says who is connected and whether
/// the admin role exists).
pub fn desired(manifest: &Manifest, env: &Environment, cluster: &ClusterSnapshot) -> Desired {
    let mut roles = Vec::new();
    let mut memberships = BTreeSet::new();
    let mut databases = Vec::new();
    let migrator = manifest.migrator.role.as_str().to_owned();
    let mut admins: Vec<String> = Vec::new();
    if cluster.roles.contains_key(manifest.admin_role.as_str()) {
        admins.push(manifest.admin_role.to_string());
    }
    if !cluster.session.superuser && !admins.contains(&cluster.session.user) {
        admins.push(cluster.session.user.clone());
    }
    let nologin = |name: &str, purpose: String| DesiredRole {
        name: name.to_owned(),
        login: LoginPolicy::NoLogin,
        inherit: true,
        connection_limit: -1,
        settings: Vec::new(),
        purpose,
    };
    for d in manifest.deployments(env) {
        let n = d.names;
        let svc = &d.service.name;
        roles.push(nologin(
            n.owner.as_str(),
            format!("owns {} and everything in it", n.database),
        ));
        roles.push(nologin(n.app_group.as_str(), format!("privileges of {svc}")));
        roles.push(nologin(
            n.readonly_group.as_str(),
            format!("read-only access to {}", n.database),
        ));
        let limit = i32::try_from(d.sizing.peak_connections()).unwrap_or(i32::MAX);
        // With IAM the password pair stays a member too: pods still on passwords keep working
        // while the deployment moves to IAM, and `check` warns until the pair is NOLOGIN.
        let pair = n.logins.iter().map(|l| (l.to_string(), LoginPolicy::Rotated));
        for (login, policy) in pair.chain(d.iam_user().map(|u| (u.to_owned(), LoginPolicy::Iam))) {
            let purpose = match policy {
                LoginPolicy::Iam => format!("IAM login of {svc}"),
                _ => format!("login of {svc} (rotation pair)"),
            };
            roles.push(DesiredRole {
                name: login.clone(),
                login: policy,
                inherit: true,
                connection_limit: limit,
                settings: timeouts_settings(&d.service.timeouts),
                purpose,
            });
            memberships.insert((n.app_group.to_string(), login));
        }
        for extra in &d.service.roles {
            let group = match extra.access {
                Access::ReadOnly => &n.readonly_group,
                Access::ReadWrite => &n.app_group,
            };
            memberships.insert((group.to_string(), extra.name.to_string()));
            if extra.login {
                let mut settings = timeouts_settings(&d.service.timeouts);
                if extra.access == Access::ReadOnly {
                    settings.insert(0, ("default_transaction_read_only".to_owned(), "on".to_owned()));
                }
                roles.push(DesiredRole {
                    name: extra.name.to_string(),
                    login: LoginPolicy::Rotated,
                    inherit: true,
                    connection_limit: i32::try_from(extra.connection_limit).unwrap_or(i32::MAX),
                    settings,
                    purpose: format!("extra login of {svc}"),
                });
            } else {
                roles.push(nologin(extra.name.as_str(), format!("extra group of {svc}")));
            }
        }
        memberships.insert((n.owner.to_string(), migrator.clone()));
        for admin in &admins {
            memberships.insert((n.owner.to_string(), admin.clone()));
        }
        databases.push(database(d.service.name.clone(), n, &migrator));
    }
    roles.insert(
        0,
        DesiredRole {
            name: migrator,
            login: LoginPolicy::Rotated,
            inherit: false,
            connection_limit: i32::try_from(env.migration_headroom).unwrap_or(i32::MAX),
            settings: timeouts_settings(&manifest.migrator.timeouts),
            purpose: "migrations (SET ROLE to each owner)".to_owned(),
        },
    );
    // Groups and owners first, so members can be granted in the same pass.
    roles.sort_by_key(|r| r.login != LoginPolicy::NoLogin);
    let managed = roles.iter().map(|r| r.name.clone()).collect();
    Desired {
        roles,
        memberships,
        managed,
        tolerated_members: admins.into_iter().collect(),
        databases,
    }
}

fn database(service: ServiceName, n: &crate::naming::ServiceNames, migrator: &str) -> DesiredDatabase {
    let app = Grantee::role(n.app_group.as_str());
    let ro = Grantee::role(n.readonly_group.as_str());
    let mut database_acl = entries(&app, &["CONNECT"]);
    database_acl.extend(entries(&ro, &["CONNECT"]));
    database_acl.extend(entries(&Grantee::role(migrator), &["CONNECT"]));
    let mut schema_acl = entries(&app, &["USAGE"]);
    schema_acl.extend(entries(&ro, &["USAGE"]));
    let mut table_acl = entries(&app, APP_TABLE_PRIVILEGES);
    table_acl.extend(entries(&ro, &["SELECT"]));
    let sequence_acl = entries(&app, &["USAGE"]);
    let routine_acl = entries(&app, &["EXECUTE"]);
    let mut history_acl = entries(&app, &["SELECT"]);
    history_acl.extend(entries(&ro, &["SELECT"]));
    let owner = n.owner.to_string();
    let schema = n.schema.to_string();
    let in_schema = |kind, acl: &Acl| DesiredDefaultAcl {
        role: owner.clone(),
        schema: Some(schema.clone()),
        kind,
        acl: acl.clone(),
    };
    let global = |kind: DefaultObjType, acl: Acl| DesiredDefaultAcl {
        role: owner.clone(),
        schema: None,
        kind,
        acl,
    };
    let default_acls = vec![
        in_schema(DefaultObjType::Tables, &table_acl),
        in_schema(DefaultObjType::Sequences, &sequence_acl),
        in_schema(DefaultObjType::Functions, &routine_acl),
        in_schema(DefaultObjType::Types, &Acl::new()),
        // Database-wide: the built-in defaults, except PUBLIC's EXECUTE on new routines.
        global(DefaultObjType::Tables, DefaultObjType::Tables.builtin_public()),
        global(DefaultObjType::Sequences, DefaultObjType::Sequences.builtin_public()),
        global(DefaultObjType::Functions, Acl::new()),
        global(DefaultObjType::Types, DefaultObjType::Types.builtin_public()),
        global(DefaultObjType::Schemas, DefaultObjType::Schemas.builtin_public()),
    ];
    DesiredDatabase {
        service,
        name: n.database.to_string(),
        owner,
        schema,
        database_acl,
        schema_acl,
        default_acls,
        table_acl,
        sequence_acl,
        routine_acl,
        history_table: (HISTORY_TABLE.to_owned(), history_acl),
    }
}
