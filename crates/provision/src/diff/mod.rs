//! The diff: a pure function from (desired state, catalog snapshots) to an ordered SQL plan.
//!
//! No I/O and no state file: `plan` prints this, `apply` executes it, `check` turns each step
//! into a failed finding. Steps are grouped in phases because PostgreSQL needs them apart:
//! role changes run in one transaction on the maintenance database, `CREATE DATABASE` cannot
//! run inside a transaction, and everything inside a database runs on a connection to it.
//!
//! What the connected role cannot do is not planned as SQL that would fail half-way: it is
//! reported as a [`Blocked`] item with the reason and the fix, and `apply` refuses to start
//! while any exist (refuse, clearly, to plan what it cannot do there).

mod database;
mod roles;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use crate::acl::{Acl, AclItem, Grantee};
use crate::catalog::{ClusterSnapshot, DatabaseSnapshot, Schema};
use crate::desired::Desired;

/// Where a step runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "phase", content = "database", rename_all = "snake_case")]
pub enum Phase {
    /// Roles and memberships: one transaction on the maintenance database.
    Cluster,
    /// `CREATE DATABASE`: alone, outside any transaction.
    CreateDatabase(String),
    /// Database-level ownership and ACL: a transaction on the maintenance database.
    Database(String),
    /// Schemas, default privileges, objects: a transaction on a connection to this database.
    InDatabase(String),
}

/// One SQL statement of the plan and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// Where it runs.
    #[serde(flatten)]
    pub phase: Phase,
    /// The statement.
    pub sql: String,
    /// Why (`role client_api_user is missing`).
    pub reason: String,
}

/// Something the connected role cannot do here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blocked {
    /// What needs doing.
    pub what: String,
    /// Why it cannot be done.
    pub why: String,
    /// What to do about it.
    pub fix: String,
}

/// The state of a managed database as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbState {
    /// Read from the catalog.
    Read(DatabaseSnapshot),
    /// Does not exist yet; planned against a fresh `CREATE DATABASE ... TEMPLATE template0`.
    Missing,
    /// Exists but could not be read (no CONNECT for the admin, say); the reason.
    Unreadable(String),
}

/// The ordered plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Plan {
    /// Statements, in execution order.
    pub steps: Vec<Step>,
    /// What cannot be done as the connected role.
    pub blocked: Vec<Blocked>,
    /// Observations that need no SQL (a database with the wrong encoding, objects outside
    /// the service schema).
    pub notes: Vec<String>,
    /// Databases whose in-database steps were predicted (they do not exist yet).
    pub predicted: BTreeSet<String>,
}

impl Plan {
    /// True when there is nothing to do and nothing blocked.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.blocked.is_empty()
    }

    fn step(&mut self, phase: &Phase, sql: String, reason: impl Into<String>) {
        self.steps.push(Step {
            phase: phase.clone(),
            sql,
            reason: reason.into(),
        });
    }

    fn block(&mut self, what: impl Into<String>, why: impl Into<String>, fix: impl Into<String>) {
        self.blocked.push(Blocked {
            what: what.into(),
            why: why.into(),
            fix: fix.into(),
        });
    }
}

/// What the planner knows about the connected role, including memberships the plan itself
/// grants in the cluster phase (those take effect before the later phases run).
pub(crate) struct Actor<'a> {
    pub cluster: &'a ClusterSnapshot,
    pub member_of: BTreeSet<String>,
    pub managed: &'a BTreeSet<String>,
}

/// How to change an object's owner as the actor: directly, by briefly borrowing membership in
/// the current owner (a managed role), or not at all.
pub(crate) enum OwnerChange {
    Direct,
    Borrow(String),
    Impossible(String),
}

impl Actor<'_> {
    pub(crate) fn superuser(&self) -> bool {
        self.cluster.session.superuser
    }

    pub(crate) fn user(&self) -> &str {
        &self.cluster.session.user
    }

    pub(crate) fn owner_change(&self, current: &str) -> OwnerChange {
        if self.superuser() || self.member_of.contains(current) || current == self.user() {
            return OwnerChange::Direct;
        }
        let current_is_superuser = self.cluster.roles.get(current).is_some_and(|r| r.superuser);
        if self.managed.contains(current) && self.cluster.session.createrole && !current_is_superuser {
            return OwnerChange::Borrow(current.to_owned());
        }
        let why = if current_is_superuser {
            format!(
                "it is owned by superuser {current} and {} is not a superuser",
                self.user()
            )
        } else {
            format!(
                "it is owned by {current}, which {} is not a member of and this tool does not manage",
                self.user()
            )
        };
        OwnerChange::Impossible(why)
    }

    /// The fix to suggest for something only a superuser can do, per platform.
    pub(crate) fn superuser_fix(&self, sql: &str) -> String {
        match self.cluster.platform.admin_group() {
            None => format!("run as a superuser: {sql}"),
            Some(group) => format!(
                "{} has no superuser and members of {group} cannot do this; run it as the role that owns the object, or recreate it: {sql}",
                self.cluster.platform.name()
            ),
        }
    }
}

/// The ACL of a database created from template0 (NULL, so `acldefault('d')`: PUBLIC has
/// CONNECT and TEMPORARY).
pub(crate) fn fresh_database_acl() -> Acl {
    ["CONNECT", "TEMPORARY"]
        .iter()
        .map(|p| AclItem::new(Grantee::Public, p))
        .collect()
}

/// The catalog of a database created from template0, for planning before it exists:
/// PostgreSQL 15 made schema public owned by `pg_database_owner` without CREATE for PUBLIC.
pub(crate) fn fresh_database(name: &str, version_num: u32, bootstrap_superuser: &str) -> DatabaseSnapshot {
    let (owner, acl) = if version_num >= 150_000 {
        ("pg_database_owner", crate::acl::entries(&Grantee::Public, &["USAGE"]))
    } else {
        (
            bootstrap_superuser,
            crate::acl::entries(&Grantee::Public, &["USAGE", "CREATE"]),
        )
    };
    let mut schemas = BTreeMap::new();
    schemas.insert(
        "public".to_owned(),
        Schema {
            owner: owner.to_owned(),
            acl,
        },
    );
    DatabaseSnapshot {
        name: name.to_owned(),
        schemas,
        default_acls: Vec::new(),
        objects: Vec::new(),
    }
}

/// The plan that takes the catalog to the desired state.
pub fn diff(desired: &Desired, cluster: &ClusterSnapshot, databases: &BTreeMap<String, DbState>) -> Plan {
    let mut plan = Plan::default();
    let mut member_of = cluster.session.member_of.clone();
    member_of.extend(
        desired
            .memberships
            .iter()
            .filter(|(_, m)| *m == cluster.session.user)
            .map(|(g, _)| g.clone()),
    );
    let actor = Actor {
        cluster,
        member_of,
        managed: &desired.managed,
    };
    roles::diff_roles(&mut plan, desired, &actor);
    roles::diff_memberships(&mut plan, desired, &actor);
    for db in &desired.databases {
        let state = databases.get(&db.name).cloned().unwrap_or(DbState::Missing);
        database::diff_database(&mut plan, db, &state, &actor, &desired.managed);
    }
    // Stable execution order: cluster, then each database's phases in the order emitted.
    plan.steps.sort_by_key(|s| match s.phase {
        Phase::Cluster => 0,
        _ => 1,
    });
    plan
}
