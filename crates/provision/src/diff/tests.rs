//! The diff, on hand-built catalogs: from empty, converged, and with each kind of drift.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{DbState, Phase, Plan, diff};
use crate::acl::{Acl, AclItem, DefaultObjType, Grantee, entries};
use crate::catalog::{
    ClusterSnapshot, Database, DatabaseSnapshot, DbObject, DefaultAcl, Membership, ObjectKind, Platform, Role,
    RoleDbSetting, Schema, ServerSettings, Session,
};
use crate::desired::{Desired, LoginPolicy, desired};
use crate::manifest::Manifest;

const MANIFEST: &str = r#"
version = 1
[environments.devtest]
primary = "Host=10.0.0.1"
secrets = { backend = "gcp", project = "pcc-devtest" }
max_connections = 500
[services.pcc-client-api]
pool = { min = 2, max = 15 }
pods = 2
[[services.pcc-client-api.roles]]
name = "client_api_reporting"
access = "read_only"
login = true
connection_limit = 4
"#;

fn manifest() -> Manifest {
    Manifest::parse(Path::new("t.toml"), MANIFEST).unwrap()
}

fn role(login: bool) -> Role {
    Role {
        inherit: true,
        login,
        connection_limit: -1,
        ..Role::default()
    }
}

/// An empty PostgreSQL 15 cluster with the given session role.
fn empty(user: &str, superuser: bool, platform: Platform) -> ClusterSnapshot {
    let mut roles = BTreeMap::new();
    roles.insert(
        "postgres".to_owned(),
        Role {
            superuser: true,
            createrole: true,
            createdb: true,
            ..role(true)
        },
    );
    let session = Session {
        user: user.to_owned(),
        superuser,
        createrole: true,
        createdb: true,
        member_of: BTreeSet::new(),
    };
    if user != "postgres" {
        roles.insert(
            user.to_owned(),
            Role {
                superuser,
                createrole: true,
                createdb: true,
                ..role(true)
            },
        );
    }
    if let Some(group) = platform.admin_group() {
        roles.insert(
            group.to_owned(),
            Role {
                createrole: true,
                createdb: true,
                ..role(false)
            },
        );
    }
    let mut databases = BTreeMap::new();
    databases.insert(
        "postgres".to_owned(),
        Database {
            owner: "postgres".into(),
            acl: Acl::new(),
            encoding: "UTF8".into(),
            allow_connections: true,
            is_template: false,
        },
    );
    ClusterSnapshot {
        platform,
        session,
        settings: ServerSettings {
            version_num: 150_010,
            max_connections: 500,
            reserved_connections: 3,
            ssl: true,
            password_encryption: "scram-sha-256".into(),
        },
        roles,
        memberships: BTreeSet::new(),
        role_db_settings: Vec::new(),
        databases,
    }
}

/// The catalog exactly as the desired state describes it (what a successful apply leaves).
fn materialize(d: &Desired, mut c: ClusterSnapshot) -> (ClusterSnapshot, BTreeMap<String, DbState>) {
    for r in &d.roles {
        let settings = r.settings.iter().cloned().collect();
        c.roles.insert(
            r.name.clone(),
            Role {
                inherit: r.inherit,
                login: r.login == LoginPolicy::Rotated,
                connection_limit: r.connection_limit,
                settings,
                ..Role::default()
            },
        );
    }
    for (g, m) in &d.memberships {
        c.memberships.insert(Membership {
            group: g.clone(),
            member: m.clone(),
            admin_option: false,
        });
        if *m == c.session.user {
            c.session.member_of.insert(g.clone());
        }
    }
    let mut dbs = BTreeMap::new();
    for db in &d.databases {
        let mut acl = db.database_acl.clone();
        acl.extend(entries(&Grantee::role(&db.owner), &["CONNECT", "CREATE", "TEMPORARY"]));
        c.databases.insert(
            db.name.clone(),
            Database {
                owner: db.owner.clone(),
                acl,
                encoding: "UTF8".into(),
                allow_connections: true,
                is_template: false,
            },
        );
        let mut schemas = BTreeMap::new();
        schemas.insert(
            db.schema.clone(),
            Schema {
                owner: db.owner.clone(),
                acl: db.schema_acl.clone(),
            },
        );
        schemas.insert(
            "public".into(),
            Schema {
                owner: "pg_database_owner".into(),
                acl: entries(&Grantee::Public, &["USAGE"]),
            },
        );
        let default_acls = db
            .default_acls
            .iter()
            .filter(|w| {
                w.schema.is_some() && !w.acl.is_empty() || w.schema.is_none() && w.acl != w.kind.builtin_public()
            })
            .map(|w| DefaultAcl {
                role: w.role.clone(),
                schema: w.schema.clone(),
                kind: w.kind,
                acl: w.acl.clone(),
            })
            .collect();
        let objects = vec![
            object(
                &db.schema,
                "clients",
                ObjectKind::Table,
                &db.owner,
                db.table_acl.clone(),
            ),
            object(
                &db.schema,
                "clients_id_seq",
                ObjectKind::Sequence,
                &db.owner,
                db.sequence_acl.clone(),
            ),
            object(
                &db.schema,
                "flyway_schema_history",
                ObjectKind::Table,
                &db.owner,
                db.history_table.1.clone(),
            ),
        ];
        dbs.insert(
            db.name.clone(),
            DbState::Read(DatabaseSnapshot {
                name: db.name.clone(),
                schemas,
                default_acls,
                objects,
            }),
        );
    }
    (c, dbs)
}

fn object(schema: &str, name: &str, kind: ObjectKind, owner: &str, acl: Acl) -> DbObject {
    DbObject {
        schema: schema.into(),
        name: name.into(),
        identity: format!("{schema}.{name}"),
        kind,
        owner: owner.into(),
        acl,
        owned_by_table: false,
    }
}

fn converged(user: &str, superuser: bool) -> (Desired, ClusterSnapshot, BTreeMap<String, DbState>) {
    let m = manifest();
    let env = m.environment("devtest").unwrap();
    let base = empty(user, superuser, Platform::PostgreSql);
    let d = desired(&m, env, &base);
    let (c, dbs) = materialize(&d, base);
    (d, c, dbs)
}

fn db_snapshot(dbs: &mut BTreeMap<String, DbState>) -> &mut DatabaseSnapshot {
    match dbs.get_mut("client_api_db_devtest").unwrap() {
        DbState::Read(s) => s,
        _ => unreachable!(),
    }
}

fn sql(plan: &Plan) -> Vec<String> {
    plan.steps.iter().map(|s| s.sql.clone()).collect()
}

#[test]
fn a_converged_catalog_gives_an_empty_plan() {
    for (user, superuser) in [("postgres", true), ("pcc_admin", false)] {
        let (d, c, dbs) = converged(user, superuser);
        let plan = diff(&d, &c, &dbs);
        assert!(plan.is_empty(), "{user}: {:#?}", plan);
    }
}

#[test]
fn an_empty_cluster_gets_roles_then_the_database_then_its_insides() {
    let m = manifest();
    let c = empty("pcc_admin", false, Platform::PostgreSql);
    let d = desired(&m, m.environment("devtest").unwrap(), &c);
    let plan = diff(&d, &c, &BTreeMap::new());
    let s = sql(&plan);
    let pos = |needle: &str| {
        s.iter()
            .position(|x| x == needle)
            .unwrap_or_else(|| panic!("missing {needle}\n{s:#?}"))
    };
    let owner = pos("CREATE ROLE client_api_owner NOLOGIN");
    let login = pos("CREATE ROLE client_api_user NOLOGIN CONNECTION LIMIT 45");
    let flyway = pos("CREATE ROLE flyway_user NOLOGIN NOINHERIT CONNECTION LIMIT 2");
    let member = pos("GRANT client_api_owner TO pcc_admin");
    let create =
        pos("CREATE DATABASE client_api_db_devtest WITH OWNER client_api_owner TEMPLATE template0 ENCODING 'UTF8'");
    let public = pos("REVOKE CONNECT, TEMPORARY ON DATABASE client_api_db_devtest FROM PUBLIC CASCADE");
    let schema = pos("CREATE SCHEMA client_api AUTHORIZATION client_api_owner");
    let defaults = pos(
        "ALTER DEFAULT PRIVILEGES FOR ROLE client_api_owner IN SCHEMA client_api GRANT DELETE, INSERT, SELECT, UPDATE ON TABLES TO client_api_app",
    );
    let routines = pos("ALTER DEFAULT PRIVILEGES FOR ROLE client_api_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC");
    assert!(owner < login && login < member && flyway < member && member < create && create < public);
    assert!(public < schema && schema < defaults && schema < routines);
    pos("GRANT CONNECT ON DATABASE client_api_db_devtest TO flyway_user");
    pos("GRANT client_api_owner TO flyway_user");
    pos("GRANT client_api_app TO client_api_user_b");
    pos("GRANT client_api_readonly TO client_api_reporting");
    pos("ALTER ROLE client_api_user SET statement_timeout = '30s'");
    pos("ALTER ROLE client_api_reporting SET default_transaction_read_only = 'on'");
    pos("GRANT USAGE ON SCHEMA client_api TO client_api_app");
    assert!(matches!(&plan.steps[create].phase, Phase::CreateDatabase(d) if d == "client_api_db_devtest"));
    assert!(plan.predicted.contains("client_api_db_devtest"));
    // PostgreSQL 15 already keeps PUBLIC from creating in schema public of a new database.
    assert!(!s.iter().any(|x| x.contains("ON SCHEMA public")), "{s:#?}");
    assert!(plan.blocked.is_empty());
}

#[test]
fn a_manual_grant_is_revoked() {
    let (d, c, mut dbs) = converged("pcc_admin", false);
    let snap = db_snapshot(&mut dbs);
    snap.objects[0]
        .acl
        .insert(AclItem::new(Grantee::role("client_api_user"), "TRUNCATE"));
    snap.objects[0].acl.insert(AclItem::new(Grantee::Public, "SELECT"));
    let plan = diff(&d, &c, &dbs);
    assert_eq!(
        sql(&plan),
        [
            "REVOKE SELECT ON TABLE client_api.clients FROM PUBLIC CASCADE",
            "REVOKE TRUNCATE ON TABLE client_api.clients FROM client_api_user CASCADE"
        ]
    );
    assert!(
        plan.steps
            .iter()
            .all(|s| s.phase == Phase::InDatabase("client_api_db_devtest".into()))
    );
}

#[test]
fn a_dropped_role_is_recreated_with_its_settings_and_memberships() {
    let (d, mut c, dbs) = converged("pcc_admin", false);
    c.roles.remove("client_api_user_b");
    c.memberships.retain(|m| m.member != "client_api_user_b");
    let plan = diff(&d, &c, &dbs);
    let s = sql(&plan);
    assert_eq!(s[0], "CREATE ROLE client_api_user_b NOLOGIN CONNECTION LIMIT 45");
    assert!(s.contains(&"ALTER ROLE client_api_user_b SET lock_timeout = '5s'".to_owned()));
    assert!(s.contains(&"GRANT client_api_app TO client_api_user_b".to_owned()));
    assert_eq!(s.len(), 5, "{s:#?}");
}

#[test]
fn a_changed_database_owner_is_restored() {
    let (d, mut c, dbs) = converged("pcc_admin", false);
    c.databases.get_mut("client_api_db_devtest").unwrap().owner = "client_api_owner_old".into();
    c.roles.insert("client_api_owner_old".into(), role(false));
    c.session.member_of.insert("client_api_owner_old".into());
    let plan = diff(&d, &c, &dbs);
    assert_eq!(
        sql(&plan),
        ["ALTER DATABASE client_api_db_devtest OWNER TO client_api_owner"]
    );
}

#[test]
fn a_superuser_owned_database_blocks_a_non_superuser_admin_with_the_platform_fix() {
    let (d, mut c, dbs) = converged("pcc_admin", false);
    c.platform = Platform::AlloyDb;
    c.databases.get_mut("client_api_db_devtest").unwrap().owner = "postgres".into();
    let plan = diff(&d, &c, &dbs);
    assert!(plan.steps.is_empty(), "{:#?}", plan.steps);
    assert_eq!(plan.blocked.len(), 1);
    let b = &plan.blocked[0];
    assert!(b.why.contains("superuser postgres"), "{b:?}");
    assert!(
        b.fix.contains("AlloyDB has no superuser")
            && b.fix
                .contains("ALTER DATABASE client_api_db_devtest OWNER TO client_api_owner"),
        "{b:?}"
    );
    // A superuser fixes it directly.
    let (d, mut c, dbs) = converged("postgres", true);
    c.databases.get_mut("client_api_db_devtest").unwrap().owner = "pcc_admin".into();
    assert_eq!(
        sql(&diff(&d, &c, &dbs)),
        ["ALTER DATABASE client_api_db_devtest OWNER TO client_api_owner"]
    );
}

#[test]
fn a_table_owned_by_a_login_is_reassigned_by_borrowing_membership() {
    let (d, c, mut dbs) = converged("pcc_admin", false);
    db_snapshot(&mut dbs).objects[0].owner = "client_api_user".into();
    let plan = diff(&d, &c, &dbs);
    assert_eq!(
        sql(&plan),
        [
            "GRANT client_api_user TO pcc_admin",
            "ALTER TABLE client_api.clients OWNER TO client_api_owner",
            "REVOKE client_api_user FROM pcc_admin",
        ]
    );
}

#[test]
fn public_connect_temp_and_create_on_public_are_revoked() {
    let (d, mut c, mut dbs) = converged("pcc_admin", false);
    c.databases
        .get_mut("client_api_db_devtest")
        .unwrap()
        .acl
        .extend(entries(&Grantee::Public, &["CONNECT", "TEMPORARY"]));
    db_snapshot(&mut dbs)
        .schemas
        .get_mut("public")
        .unwrap()
        .acl
        .insert(AclItem::new(Grantee::Public, "CREATE"));
    let s = sql(&diff(&d, &c, &dbs));
    assert_eq!(
        s,
        [
            "REVOKE CONNECT, TEMPORARY ON DATABASE client_api_db_devtest FROM PUBLIC CASCADE",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC CASCADE"
        ]
    );
}

#[test]
fn timeouts_compare_as_durations() {
    let (d, mut c, dbs) = converged("pcc_admin", false);
    let r = c.roles.get_mut("client_api_user").unwrap();
    r.settings.insert("statement_timeout".into(), "30000".into());
    r.settings.insert("lock_timeout".into(), "5000ms".into());
    assert!(diff(&d, &c, &dbs).is_empty());
    c.roles
        .get_mut("client_api_user")
        .unwrap()
        .settings
        .insert("statement_timeout".into(), "1min".into());
    let plan = diff(&d, &c, &dbs);
    assert_eq!(sql(&plan), ["ALTER ROLE client_api_user SET statement_timeout = '30s'"]);
    assert!(plan.steps[0].reason.contains("\"1min\""), "{}", plan.steps[0].reason);
}

#[test]
fn the_login_flag_of_rotated_roles_is_left_to_rotation_but_owners_must_not_log_in() {
    let (d, mut c, dbs) = converged("pcc_admin", false);
    c.roles.get_mut("client_api_user_b").unwrap().login = false;
    c.roles.get_mut("flyway_user").unwrap().login = false;
    assert!(diff(&d, &c, &dbs).is_empty());
    c.roles.get_mut("client_api_owner").unwrap().login = true;
    c.roles.get_mut("flyway_user").unwrap().inherit = true;
    c.roles.get_mut("client_api_user").unwrap().connection_limit = 3;
    let s = sql(&diff(&d, &c, &dbs));
    assert_eq!(
        s,
        [
            "ALTER ROLE client_api_owner WITH NOLOGIN",
            "ALTER ROLE flyway_user WITH NOINHERIT",
            "ALTER ROLE client_api_user WITH CONNECTION LIMIT 45",
        ]
    );
}

#[test]
fn superuser_only_attributes_block_a_createrole_admin_and_name_the_platform() {
    let (d, mut c, dbs) = converged("pcc_admin", false);
    c.platform = Platform::CloudSql;
    c.roles.get_mut("client_api_user").unwrap().bypassrls = true;
    let plan = diff(&d, &c, &dbs);
    assert!(plan.steps.is_empty());
    assert!(
        plan.blocked[0].what.contains("BYPASSRLS from role client_api_user"),
        "{:?}",
        plan.blocked
    );
    assert!(plan.blocked[0].fix.contains("Cloud SQL") && plan.blocked[0].fix.contains("cloudsqlsuperuser"));
    let (d, mut c, dbs) = converged("pcc_admin", false);
    c.roles.get_mut("flyway_user").unwrap().superuser = true;
    let plan = diff(&d, &c, &dbs);
    assert!(
        plan.blocked[0].why.contains("flyway_user is a superuser"),
        "{:?}",
        plan.blocked
    );
}

#[test]
fn undeclared_memberships_are_revoked_but_the_admin_is_tolerated() {
    let (d, mut c, dbs) = converged("pcc_admin", false);
    let add = |c: &mut ClusterSnapshot, g: &str, m: &str, admin_option| {
        c.memberships.insert(Membership {
            group: g.into(),
            member: m.into(),
            admin_option,
        });
    };
    add(&mut c, "pg_read_all_data", "client_api_user", false);
    add(&mut c, "client_api_owner", "client_api_user", false);
    add(&mut c, "client_api_app", "pcc_admin", true);
    add(&mut c, "pg_monitor", "someone_else", false);
    let s = sql(&diff(&d, &c, &dbs));
    assert_eq!(
        s,
        [
            "REVOKE client_api_owner FROM client_api_user",
            "REVOKE pg_read_all_data FROM client_api_user"
        ]
    );
}

#[test]
fn routines_lose_public_execute_and_the_history_table_is_read_only() {
    let (d, c, mut dbs) = converged("pcc_admin", false);
    let snap = db_snapshot(&mut dbs);
    let mut f = object(
        "client_api",
        "f",
        ObjectKind::Routine,
        "client_api_owner",
        entries(&Grantee::Public, &["EXECUTE"]),
    );
    f.identity = "client_api.f(integer)".into();
    f.acl.insert(AclItem::new(Grantee::role("client_api_app"), "EXECUTE"));
    snap.objects.push(f);
    snap.objects[2].acl.extend(entries(
        &Grantee::role("client_api_app"),
        &["INSERT", "UPDATE", "DELETE"],
    ));
    let s = sql(&diff(&d, &c, &dbs));
    assert_eq!(
        s,
        [
            "REVOKE DELETE, INSERT, UPDATE ON TABLE client_api.flyway_schema_history FROM client_api_app CASCADE",
            "REVOKE EXECUTE ON ROUTINE client_api.f(integer) FROM PUBLIC CASCADE",
        ]
    );
}

#[test]
fn default_privileges_are_compared_with_builtin_defaults() {
    let (d, c, mut dbs) = converged("pcc_admin", false);
    let snap = db_snapshot(&mut dbs);
    // Someone re-granted EXECUTE to PUBLIC database-wide and added defaults for a login.
    snap.default_acls
        .retain(|r| !(r.schema.is_none() && r.kind == DefaultObjType::Functions));
    snap.default_acls.push(DefaultAcl {
        role: "client_api_user".into(),
        schema: Some("client_api".into()),
        kind: DefaultObjType::Tables,
        acl: entries(&Grantee::role("client_api_reporting"), &["SELECT"]),
    });
    let s = sql(&diff(&d, &c, &dbs));
    assert_eq!(
        s,
        [
            "ALTER DEFAULT PRIVILEGES FOR ROLE client_api_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
            "ALTER DEFAULT PRIVILEGES FOR ROLE client_api_user IN SCHEMA client_api REVOKE SELECT ON TABLES FROM client_api_reporting",
        ]
    );
}

#[test]
fn a_database_specific_role_setting_is_reset() {
    let (d, mut c, dbs) = converged("pcc_admin", false);
    c.role_db_settings.push(RoleDbSetting {
        role: "client_api_user".into(),
        database: "client_api_db_devtest".into(),
        name: "statement_timeout".into(),
        value: "0".into(),
    });
    assert_eq!(
        sql(&diff(&d, &c, &dbs)),
        ["ALTER ROLE client_api_user IN DATABASE client_api_db_devtest RESET statement_timeout"]
    );
}

#[test]
fn without_createrole_or_createdb_everything_is_blocked_not_attempted() {
    let m = manifest();
    let mut c = empty("weak", false, Platform::PostgreSql);
    c.session.createrole = false;
    c.session.createdb = false;
    let d = desired(&m, m.environment("devtest").unwrap(), &c);
    let plan = diff(&d, &c, &BTreeMap::new());
    assert!(plan.steps.is_empty(), "{:#?}", plan.steps);
    assert!(
        plan.blocked
            .iter()
            .any(|b| b.what == "create role client_api_owner" && b.why.contains("CREATEROLE"))
    );
    assert!(
        plan.blocked
            .iter()
            .any(|b| b.what == "create database client_api_db_devtest" && b.why.contains("CREATEDB"))
    );
}

#[test]
fn an_unreadable_database_is_blocked_with_the_fix() {
    let (d, c, mut dbs) = converged("pcc_admin", false);
    dbs.insert(
        "client_api_db_devtest".into(),
        DbState::Unreadable("permission denied for database".into()),
    );
    let plan = diff(&d, &c, &dbs);
    assert!(plan.steps.is_empty());
    assert!(
        plan.blocked[0].fix.contains("member of client_api_owner"),
        "{:?}",
        plan.blocked
    );
}

#[test]
fn sequences_owned_by_tables_follow_their_table_and_objects_elsewhere_are_noted() {
    let (d, c, mut dbs) = converged("pcc_admin", false);
    let snap = db_snapshot(&mut dbs);
    snap.objects[1].owner = "someone".into();
    snap.objects[1].owned_by_table = true;
    snap.objects.push(object(
        "public",
        "stray",
        ObjectKind::Table,
        "client_api_owner",
        Acl::new(),
    ));
    let plan = diff(&d, &c, &dbs);
    assert!(plan.steps.is_empty(), "{:#?}", plan.steps);
    assert!(
        plan.notes.iter().any(|n| n.contains("schema public")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn hostile_names_from_the_catalog_are_quoted() {
    let (d, c, mut dbs) = converged("pcc_admin", false);
    let snap = db_snapshot(&mut dbs);
    snap.objects[0]
        .acl
        .insert(AclItem::new(Grantee::role("x\"; DROP ROLE y; --"), "SELECT"));
    assert_eq!(
        sql(&diff(&d, &c, &dbs)),
        ["REVOKE SELECT ON TABLE client_api.clients FROM \"x\"\"; DROP ROLE y; --\" CASCADE"]
    );
}

/// The whole plan for a fresh environment as a non-superuser admin: the SQL a reviewer reads.
#[test]
fn the_plan_for_an_empty_cluster_snapshot() {
    let m = manifest();
    let c = empty("pcc_admin", false, Platform::AlloyDb);
    let d = desired(&m, m.environment("devtest").unwrap(), &c);
    let plan = diff(&d, &c, &BTreeMap::new());
    let text: Vec<String> = plan
        .steps
        .iter()
        .map(|s| format!("{:?}: {};  -- {}", s.phase, s.sql, s.reason))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}
