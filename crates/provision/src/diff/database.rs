//! Database phases of the diff: the database itself (creation, owner, ACL) and what is inside
//! it (the service schema, schema public, default privileges, objects' owners and ACLs).
//!
//! ACL comparisons leave out the owner's own entries (see `acl.rs`). Ownership changes follow
//! PostgreSQL's rule (the actor must be able to act as both the old and the new owner): when
//! the old owner is a managed role the admin is not a member of (a login that somehow created
//! a table), the plan borrows membership for the duration of the statement and gives it back.

use std::collections::BTreeSet;

use crate::acl::{self, Acl, DefaultObjType, Target, without_owner};
use crate::catalog::{DatabaseSnapshot, ObjectKind};
use crate::desired::DesiredDatabase;
use crate::ident::quote_ident;

use super::{Actor, DbState, OwnerChange, Phase, Plan, fresh_database, fresh_database_acl};

/// Emits GRANT/REVOKE steps that take `have` (non-owner entries) to `want`.
fn acl_steps(plan: &mut Plan, phase: &Phase, target: &Target, what: &str, have: &Acl, want: &Acl) {
    let extra: Acl = have.difference(want).cloned().collect();
    let missing: Acl = want.difference(have).cloned().collect();
    // One statement per grantee, each with a reason that names who and what.
    for (grantee, items) in per_grantee(&extra) {
        let privs: Vec<&str> = items.iter().map(|i| i.privilege.as_str()).collect();
        for sql in acl::revoke(target, &items) {
            plan.step(
                phase,
                sql,
                format!("{what}: {grantee} holds {} beyond the manifest", privs.join(", ")),
            );
        }
    }
    for (grantee, items) in per_grantee(&missing) {
        let privs: Vec<&str> = items.iter().map(|i| i.privilege.as_str()).collect();
        for sql in acl::grant(target, &items) {
            plan.step(phase, sql, format!("{what}: {grantee} needs {}", privs.join(", ")));
        }
    }
}

fn per_grantee(items: &Acl) -> Vec<(crate::acl::Grantee, Acl)> {
    let mut out: Vec<(crate::acl::Grantee, Acl)> = Vec::new();
    for i in items {
        match out.iter_mut().find(|(g, _)| *g == i.grantee) {
            Some((_, acl)) => {
                acl.insert(i.clone());
            }
            None => out.push((i.grantee.clone(), std::iter::once(i.clone()).collect())),
        }
    }
    out
}

/// Emits an ownership change (`ALTER ... OWNER TO`), borrowing membership or blocking as needed.
fn owner_steps(plan: &mut Plan, phase: &Phase, actor: &Actor<'_>, what: &str, alter: &str, current: &str, owner: &str) {
    let sql = format!("{alter} OWNER TO {}", quote_ident(owner));
    let reason = format!("{what} is owned by {current}, not {owner}");
    match actor.owner_change(current) {
        OwnerChange::Direct => plan.step(phase, sql, reason),
        OwnerChange::Borrow(role) => {
            let (r, u) = (quote_ident(&role), quote_ident(actor.user()));
            plan.step(
                phase,
                format!("GRANT {r} TO {u}"),
                format!("borrow membership in {role} to change the owner of {what}"),
            );
            plan.step(phase, sql, reason);
            plan.step(
                phase,
                format!("REVOKE {r} FROM {u}"),
                format!("give back the membership in {role}"),
            );
        }
        OwnerChange::Impossible(why) => plan.block(
            format!("change the owner of {what} to {owner}"),
            why,
            actor.superuser_fix(&sql),
        ),
    }
}

pub(super) fn diff_database(
    plan: &mut Plan,
    db: &DesiredDatabase,
    state: &DbState,
    actor: &Actor<'_>,
    managed: &BTreeSet<String>,
) {
    let name = quote_ident(&db.name);
    let db_phase = Phase::Database(db.name.clone());
    let inside = Phase::InDatabase(db.name.clone());
    let existing = actor.cluster.databases.get(&db.name);
    let snapshot = match (existing, state) {
        (None, _) => {
            if !(actor.superuser() || actor.cluster.session.createdb) {
                plan.block(
                    format!("create database {}", db.name),
                    format!("{} has neither SUPERUSER nor CREATEDB", actor.user()),
                    "connect as the admin role (LOGIN CREATEROLE CREATEDB)",
                );
                return;
            }
            let sql = format!(
                "CREATE DATABASE {name} WITH OWNER {} TEMPLATE template0 ENCODING 'UTF8'",
                quote_ident(&db.owner)
            );
            plan.step(
                &Phase::CreateDatabase(db.name.clone()),
                sql,
                format!("database {} of {} is missing", db.name, db.service),
            );
            let have = without_owner(&fresh_database_acl(), &db.owner);
            acl_steps(
                plan,
                &db_phase,
                &Target::Database(db.name.clone()),
                &format!("new database {}", db.name),
                &have,
                &db.database_acl,
            );
            plan.predicted.insert(db.name.clone());
            fresh_database(&db.name, actor.cluster.settings.version_num, "postgres")
        }
        (Some(have), state) => {
            let fixes_owner =
                have.owner != db.owner && !matches!(actor.owner_change(&have.owner), OwnerChange::Impossible(_));
            if have.owner != db.owner {
                owner_steps(
                    plan,
                    &db_phase,
                    actor,
                    &format!("database {}", db.name),
                    &format!("ALTER DATABASE {name}"),
                    &have.owner,
                    &db.owner,
                );
            }
            if !have.encoding.eq_ignore_ascii_case("UTF8") {
                plan.notes.push(format!(
                    "database {} has encoding {}, not UTF8; only recreating it changes that",
                    db.name, have.encoding
                ));
            }
            let current = without_owner(&without_owner(&have.acl, &have.owner), &db.owner);
            acl_steps(
                plan,
                &db_phase,
                &Target::Database(db.name.clone()),
                &format!("database {}", db.name),
                &current,
                &db.database_acl,
            );
            match state {
                DbState::Read(s) => s.clone(),
                DbState::Missing => fresh_database(&db.name, actor.cluster.settings.version_num, "postgres"),
                DbState::Unreadable(why) if fixes_owner => {
                    // Giving the database back to its owner role gives the admin (a member)
                    // its CONNECT again; apply plans the inside after that phase.
                    plan.notes.push(format!(
                        "database {} cannot be inspected until its owner is restored ({why}); apply plans its inside after that",
                        db.name
                    ));
                    return;
                }
                DbState::Unreadable(why) => {
                    plan.block(
                        format!("inspect schemas and privileges inside database {}", db.name),
                        why.clone(),
                        format!(
                            "let {} connect to {} (it must be a member of {})",
                            actor.user(),
                            db.name,
                            db.owner
                        ),
                    );
                    return;
                }
            }
        }
    };
    diff_inside(plan, db, &snapshot, &inside, actor, managed);
}

fn diff_inside(
    plan: &mut Plan,
    db: &DesiredDatabase,
    s: &DatabaseSnapshot,
    phase: &Phase,
    actor: &Actor<'_>,
    managed: &BTreeSet<String>,
) {
    let schema = quote_ident(&db.schema);
    match s.schemas.get(&db.schema) {
        None => {
            plan.step(
                phase,
                format!("CREATE SCHEMA {schema} AUTHORIZATION {}", quote_ident(&db.owner)),
                format!("schema {} is missing", db.schema),
            );
            acl_steps(
                plan,
                phase,
                &Target::Schema(db.schema.clone()),
                &format!("new schema {}", db.schema),
                &Acl::new(),
                &db.schema_acl,
            );
        }
        Some(have) => {
            if have.owner != db.owner {
                owner_steps(
                    plan,
                    phase,
                    actor,
                    &format!("schema {}", db.schema),
                    &format!("ALTER SCHEMA {schema}"),
                    &have.owner,
                    &db.owner,
                );
            }
            let current = without_owner(&without_owner(&have.acl, &have.owner), &db.owner);
            acl_steps(
                plan,
                phase,
                &Target::Schema(db.schema.clone()),
                &format!("schema {}", db.schema),
                &current,
                &db.schema_acl,
            );
        }
    }
    if let Some(public) = s.schemas.get("public") {
        let creators: Acl = without_owner(&public.acl, &public.owner)
            .into_iter()
            .filter(|i| i.privilege == "CREATE")
            .collect();
        for sql in acl::revoke(&Target::Schema("public".to_owned()), &creators) {
            plan.step(
                phase,
                sql,
                format!(
                    "schema public of {} lets roles other than its owner create objects",
                    db.name
                ),
            );
        }
    }
    diff_default_acls(plan, db, s, phase, managed);
    diff_objects(plan, db, s, phase, actor);
}

fn diff_default_acls(
    plan: &mut Plan,
    db: &DesiredDatabase,
    s: &DatabaseSnapshot,
    phase: &Phase,
    managed: &BTreeSet<String>,
) {
    for want in &db.default_acls {
        let row = s
            .default_acls
            .iter()
            .find(|r| r.role == want.role && r.schema == want.schema && r.kind == want.kind);
        let have = match (row, &want.schema) {
            (Some(r), _) => without_owner(&r.acl, &want.role),
            // No row: nothing extra in a schema; the built-in default database-wide.
            (None, Some(_)) => Acl::new(),
            (None, None) => want.kind.builtin_public(),
        };
        default_steps(
            plan,
            phase,
            &want.role,
            want.schema.as_deref(),
            want.kind,
            &have,
            &want.acl,
        );
    }
    // Rows for managed roles that the manifest does not declare (FOR ROLE client_api_user, or IN SCHEMA public).
    for row in &s.default_acls {
        let declared = db
            .default_acls
            .iter()
            .any(|w| w.role == row.role && w.schema == row.schema && w.kind == row.kind);
        if declared || !managed.contains(&row.role) {
            continue;
        }
        let want = if row.schema.is_none() {
            row.kind.builtin_public()
        } else {
            Acl::new()
        };
        default_steps(
            plan,
            phase,
            &row.role,
            row.schema.as_deref(),
            row.kind,
            &without_owner(&row.acl, &row.role),
            &want,
        );
    }
}

fn default_steps(
    plan: &mut Plan,
    phase: &Phase,
    role: &str,
    schema: Option<&str>,
    kind: DefaultObjType,
    have: &Acl,
    want: &Acl,
) {
    let extra: Acl = have.difference(want).cloned().collect();
    let missing: Acl = want.difference(have).cloned().collect();
    let scope = schema.map_or_else(|| "database-wide".to_owned(), |s| format!("in schema {s}"));
    let kind_name = kind.sql().to_lowercase();
    for (grantee, items) in per_grantee(&extra) {
        let privs: Vec<&str> = items.iter().map(|i| i.privilege.as_str()).collect();
        for sql in acl::alter_default(role, schema, kind, &Acl::new(), &items) {
            plan.step(
                phase,
                sql,
                format!(
                    "new {kind_name} of {role} {scope} would give {grantee} {} beyond the manifest",
                    privs.join(", ")
                ),
            );
        }
    }
    for (grantee, items) in per_grantee(&missing) {
        let privs: Vec<&str> = items.iter().map(|i| i.privilege.as_str()).collect();
        for sql in acl::alter_default(role, schema, kind, &items, &Acl::new()) {
            plan.step(
                phase,
                sql,
                format!(
                    "new {kind_name} of {role} {scope} must give {grantee} {}",
                    privs.join(", ")
                ),
            );
        }
    }
}

fn diff_objects(plan: &mut Plan, db: &DesiredDatabase, s: &DatabaseSnapshot, phase: &Phase, actor: &Actor<'_>) {
    let outside: BTreeSet<&str> = s
        .objects
        .iter()
        .filter(|o| o.schema != db.schema)
        .map(|o| o.schema.as_str())
        .collect();
    for schema in outside {
        plan.notes.push(format!(
            "database {} has objects in schema {schema}, outside the service schema {}",
            db.name, db.schema
        ));
    }
    for o in s.objects.iter().filter(|o| o.schema == db.schema) {
        let what = format!("{} {}", o.kind.alter_word().to_lowercase(), o.identity);
        if o.owner != db.owner && !(o.kind == ObjectKind::Sequence && o.owned_by_table) {
            owner_steps(
                plan,
                phase,
                actor,
                &what,
                &format!("ALTER {} {}", o.kind.alter_word(), o.identity),
                &o.owner,
                &db.owner,
            );
        }
        let (target, want) = match o.kind {
            ObjectKind::Type | ObjectKind::Domain => continue,
            ObjectKind::Sequence => (Target::Sequence(o.schema.clone(), o.name.clone()), &db.sequence_acl),
            ObjectKind::Routine => (Target::Routine(o.identity.clone()), &db.routine_acl),
            _ if o.name == db.history_table.0 => (Target::Table(o.schema.clone(), o.name.clone()), &db.history_table.1),
            _ => (Target::Table(o.schema.clone(), o.name.clone()), &db.table_acl),
        };
        let have = without_owner(&without_owner(&o.acl, &o.owner), &db.owner);
        acl_steps(plan, phase, &target, &what, &have, want);
    }
}
