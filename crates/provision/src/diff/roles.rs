//! Cluster phase of the diff: roles (attributes, connection limits, session defaults) and
//! memberships, including the removal of memberships nobody declared (a login granted
//! `pg_read_all_data`, another role granted the app group).
//!
//! PostgreSQL 15 rules for a non-superuser with CREATEROLE (the managed-platform admin): it may
//! create, alter and drop non-superuser roles, change their CREATEDB/CREATEROLE/LOGIN/INHERIT
//! and connection limits, set their session defaults and grant membership in them; it may not
//! touch SUPERUSER, REPLICATION or BYPASSRLS, nor alter a superuser role. Those cases are
//! reported as blocked. So is an IAM login that does not exist: only the platform creates one.

use crate::catalog::Role;
use crate::desired::{Desired, DesiredRole, LoginPolicy};
use crate::ident::{quote_ident, quote_literal};
use crate::units::Millis;

use super::{Actor, Phase, Plan};

/// The three timeouts compare as durations (`30s` = `30000`); other settings as text,
/// ignoring case (`on` = `ON`).
fn same_setting(name: &str, actual: &str, wanted: &str) -> bool {
    if name.ends_with("_timeout") {
        return matches!((Millis::parse(actual), Millis::parse(wanted)), (Ok(a), Ok(b)) if a == b);
    }
    actual.eq_ignore_ascii_case(wanted)
}

fn create_sql(role: &DesiredRole) -> String {
    let mut sql = format!("CREATE ROLE {} NOLOGIN", quote_ident(&role.name));
    if !role.inherit {
        sql.push_str(" NOINHERIT");
    }
    if role.connection_limit >= 0 {
        sql.push_str(&format!(" CONNECTION LIMIT {}", role.connection_limit));
    }
    sql
}

fn attribute_changes(want: &DesiredRole, have: &Role) -> (Vec<&'static str>, Vec<&'static str>) {
    // (changes a CREATEROLE admin may make, changes that need a superuser)
    let mut plain = Vec::new();
    let mut super_only = Vec::new();
    if have.superuser {
        super_only.push("NOSUPERUSER");
    }
    if have.replication {
        super_only.push("NOREPLICATION");
    }
    if have.bypassrls {
        super_only.push("NOBYPASSRLS");
    }
    if have.createrole {
        plain.push("NOCREATEROLE");
    }
    if have.createdb {
        plain.push("NOCREATEDB");
    }
    if want.login == LoginPolicy::NoLogin && have.login {
        plain.push("NOLOGIN");
    }
    if want.inherit != have.inherit {
        plain.push(if want.inherit { "INHERIT" } else { "NOINHERIT" });
    }
    (plain, super_only)
}

pub(super) fn diff_roles(plan: &mut Plan, desired: &Desired, actor: &Actor<'_>) {
    let phase = Phase::Cluster;
    let can_manage_roles = actor.superuser() || actor.cluster.session.createrole;
    for want in &desired.roles {
        let name = quote_ident(&want.name);
        let Some(have) = actor.cluster.roles.get(&want.name) else {
            if want.login == LoginPolicy::Iam {
                // Only the platform makes a role an IAM user (a plain CREATE ROLE would be a password
                // login nobody can use), so its absence is reported with where it comes from.
                plan.block(
                    format!("grant the privileges of its service to IAM user {}", want.name),
                    format!(
                        "the IAM database user {} does not exist ({})",
                        want.name, want.purpose
                    ),
                    format!(
                        "create it with Terraform (deploy/terraform: google_alloydb_user with user_id = \"{}\", user_type = \"ALLOYDB_IAM_USER\"; the module does so for a service whose environment uses IAM) and apply again",
                        want.name
                    ),
                );
                continue;
            }
            if !can_manage_roles {
                plan.block(
                    format!("create role {}", want.name),
                    format!("{} has neither SUPERUSER nor CREATEROLE", actor.user()),
                    "connect as the admin role (LOGIN CREATEROLE CREATEDB)",
                );
                continue;
            }
            plan.step(
                &phase,
                create_sql(want),
                format!("role {} is missing ({})", want.name, want.purpose),
            );
            for (k, v) in &want.settings {
                plan.step(
                    &phase,
                    format!("ALTER ROLE {name} SET {k} = {}", quote_literal(v)),
                    format!("new role {} needs {k}", want.name),
                );
            }
            continue;
        };
        let (plain, super_only) = attribute_changes(want, have);
        let mut clauses: Vec<String> = plain.iter().map(|s| (*s).to_owned()).collect();
        if have.connection_limit != want.connection_limit {
            clauses.push(format!("CONNECTION LIMIT {}", want.connection_limit));
        }
        let mut reasons = Vec::new();
        if !clauses.is_empty() {
            reasons.push(format!("attributes differ ({})", clauses.join(" ")));
        }
        let settings: Vec<(&String, &String)> = want
            .settings
            .iter()
            .filter(|(k, v)| !have.settings.get(k).is_some_and(|a| same_setting(k, a, v)))
            .map(|(k, v)| (k, v))
            .collect();
        if have.superuser && !actor.superuser() {
            plan.block(
                format!(
                    "alter role {} (must be {})",
                    want.name,
                    [super_only.clone(), plain.clone()].concat().join(" ")
                ),
                format!("{} is a superuser and {} is not", want.name, actor.user()),
                actor.superuser_fix(&format!("ALTER ROLE {name} NOSUPERUSER")),
            );
            continue;
        }
        if !super_only.is_empty() {
            let sql = format!("ALTER ROLE {name} {}", super_only.join(" "));
            if actor.superuser() {
                plan.step(
                    &phase,
                    sql,
                    format!(
                        "role {} must not have {}",
                        want.name,
                        super_only.join(" ").replace("NO", "")
                    ),
                );
            } else {
                plan.block(
                    format!(
                        "remove {} from role {}",
                        super_only.join(" ").replace("NO", ""),
                        want.name
                    ),
                    format!(
                        "only a superuser can change these attributes and {} is not one",
                        actor.user()
                    ),
                    actor.superuser_fix(&sql),
                );
            }
        }
        if !clauses.is_empty() || !settings.is_empty() {
            if !can_manage_roles {
                plan.block(
                    format!("alter role {}", want.name),
                    format!("{} has neither SUPERUSER nor CREATEROLE", actor.user()),
                    "connect as the admin role (LOGIN CREATEROLE CREATEDB)",
                );
                continue;
            }
            if !clauses.is_empty() {
                plan.step(
                    &phase,
                    format!("ALTER ROLE {name} WITH {}", clauses.join(" ")),
                    format!("role {}: {}", want.name, reasons.join("; ")),
                );
            }
            for (k, v) in settings {
                let was = have
                    .settings
                    .get(k)
                    .map_or_else(|| "unset".to_owned(), |a| format!("{a:?}"));
                plan.step(
                    &phase,
                    format!("ALTER ROLE {name} SET {k} = {}", quote_literal(v)),
                    format!("role {}: {k} is {was}, want {v:?}", want.name),
                );
            }
        }
        // A database-specific value would override the role's own for that database.
        for s in actor.cluster.role_db_settings.iter().filter(|s| s.role == want.name) {
            if want.settings.iter().any(|(k, _)| *k == s.name) {
                plan.step(
                    &phase,
                    format!(
                        "ALTER ROLE {name} IN DATABASE {} RESET {}",
                        quote_ident(&s.database),
                        s.name
                    ),
                    format!(
                        "role {} has {} = {:?} in database {}, overriding the managed value",
                        want.name, s.name, s.value, s.database
                    ),
                );
            }
        }
    }
}

pub(super) fn diff_memberships(plan: &mut Plan, desired: &Desired, actor: &Actor<'_>) {
    let phase = Phase::Cluster;
    let have = &actor.cluster.memberships;
    for (group, member) in &desired.memberships {
        if have.iter().any(|m| m.group == *group && m.member == *member) {
            continue;
        }
        // A missing IAM user is already blocked (it cannot be created here).
        let missing_iam = !actor.cluster.roles.contains_key(member)
            && desired
                .roles
                .iter()
                .any(|r| r.name == *member && r.login == LoginPolicy::Iam);
        if missing_iam {
            continue;
        }
        let group_is_superuser = actor.cluster.roles.get(group).is_some_and(|r| r.superuser);
        let sql = format!("GRANT {} TO {}", quote_ident(group), quote_ident(member));
        if !(actor.superuser() || actor.cluster.session.createrole) || group_is_superuser && !actor.superuser() {
            plan.block(
                format!("grant {group} to {member}"),
                format!("{} cannot grant membership in {group}", actor.user()),
                actor.superuser_fix(&sql),
            );
            continue;
        }
        plan.step(&phase, sql, format!("{member} must be a member of {group}"));
    }
    for m in have {
        let involved = desired.managed.contains(&m.group) || desired.managed.contains(&m.member);
        let declared = desired.memberships.contains(&(m.group.clone(), m.member.clone()));
        let tolerated = desired.managed.contains(&m.group) && desired.tolerated_members.contains(&m.member);
        if !involved || declared || tolerated {
            continue;
        }
        let sql = format!("REVOKE {} FROM {}", quote_ident(&m.group), quote_ident(&m.member));
        let group_is_superuser = actor.cluster.roles.get(&m.group).is_some_and(|r| r.superuser);
        if !(actor.superuser() || actor.cluster.session.createrole) || group_is_superuser && !actor.superuser() {
            plan.block(
                format!("revoke {} from {}", m.group, m.member),
                format!("{} cannot revoke membership in {}", actor.user(), m.group),
                actor.superuser_fix(&sql),
            );
            continue;
        }
        plan.step(
            &phase,
            sql,
            format!(
                "{} is a member of {} but the manifest does not say so",
                m.member, m.group
            ),
        );
    }
}
