//! Privileges as sets: what `aclexplode()` returns for an ACL, and the GRANT / REVOKE /
//! ALTER DEFAULT PRIVILEGES statements that add or remove entries.
//!
//! ACLs are compared as sets of (grantee, privilege, grant option), ignoring the grantor: a
//! grant issued by a superuser or a member of the owner is recorded as granted by the owner,
//! which is what apply does too. The owner's own entries are left out of every comparison:
//! an owner holds all privileges implicitly, and which letters `acldefault()` lists for it
//! changes between major versions (PostgreSQL 17 added MAINTAIN).

use std::collections::BTreeSet;
use std::fmt;

use crate::ident::quote_ident;

/// Who holds a privilege.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// Every role (`PUBLIC`, grantee oid 0).
    Public,
    /// One role.
    Role(String),
}

impl Grantee {
    /// A role grantee.
    pub fn role(name: impl Into<String>) -> Self {
        Self::Role(name.into())
    }

    /// SQL spelling (`PUBLIC` or the quoted role).
    pub fn sql(&self) -> String {
        match self {
            Self::Public => "PUBLIC".to_owned(),
            Self::Role(r) => quote_ident(r),
        }
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Public => f.write_str("PUBLIC"),
            Self::Role(r) => f.write_str(r),
        }
    }
}

/// One entry of an ACL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct AclItem {
    /// Who.
    pub grantee: Grantee,
    /// What, as `aclexplode` names it (`SELECT`, `CONNECT`, `TEMPORARY`...).
    pub privilege: String,
    /// WITH GRANT OPTION.
    pub grantable: bool,
}

impl AclItem {
    /// A plain (non-grantable) entry.
    pub fn new(grantee: Grantee, privilege: &str) -> Self {
        Self {
            grantee,
            privilege: privilege.to_owned(),
            grantable: false,
        }
    }
}

/// A set of ACL entries.
pub type Acl = BTreeSet<AclItem>;

/// Entries for `grantee` with each of `privileges`.
pub fn entries(grantee: &Grantee, privileges: &[&str]) -> Acl {
    privileges.iter().map(|p| AclItem::new(grantee.clone(), p)).collect()
}

/// The entries of `acl` whose grantee is not `owner`.
pub fn without_owner(acl: &Acl, owner: &str) -> Acl {
    acl.iter()
        .filter(|i| i.grantee != Grantee::Role(owner.to_owned()))
        .cloned()
        .collect()
}

/// What a GRANT applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `DATABASE x`.
    Database(String),
    /// `SCHEMA x`.
    Schema(String),
    /// `TABLE s.x` (also views, materialized views, foreign tables).
    Table(String, String),
    /// `SEQUENCE s.x`.
    Sequence(String, String),
    /// `ROUTINE s.f(args)` (identity text from `regprocedure`, already quoted).
    Routine(String),
}

impl Target {
    fn sql(&self) -> String {
        match self {
            Self::Database(d) => format!("DATABASE {}", quote_ident(d)),
            Self::Schema(s) => format!("SCHEMA {}", quote_ident(s)),
            Self::Table(s, t) => format!("TABLE {}.{}", quote_ident(s), quote_ident(t)),
            Self::Sequence(s, t) => format!("SEQUENCE {}.{}", quote_ident(s), quote_ident(t)),
            Self::Routine(identity) => format!("ROUTINE {identity}"),
        }
    }
}

/// Kinds of objects default privileges cover (`pg_default_acl.defaclobjtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultObjType {
    /// `r`: tables, views...
    Tables,
    /// `S`: sequences.
    Sequences,
    /// `f`: functions and procedures.
    Functions,
    /// `T`: types.
    Types,
    /// `n`: schemas.
    Schemas,
}

impl DefaultObjType {
    /// From `defaclobjtype`.
    pub fn from_catalog(c: char) -> Option<Self> {
        match c {
            'r' => Some(Self::Tables),
            'S' => Some(Self::Sequences),
            'f' => Some(Self::Functions),
            'T' => Some(Self::Types),
            'n' => Some(Self::Schemas),
            _ => None,
        }
    }

    /// The SQL word (`TABLES`).
    pub fn sql(self) -> &'static str {
        match self {
            Self::Tables => "TABLES",
            Self::Sequences => "SEQUENCES",
            Self::Functions => "FUNCTIONS",
            Self::Types => "TYPES",
            Self::Schemas => "SCHEMAS",
        }
    }

    /// The non-owner part of `acldefault()` for this kind: what PUBLIC gets when no default
    /// ACL row exists (EXECUTE on functions, USAGE on types, nothing else).
    pub fn builtin_public(self) -> Acl {
        match self {
            Self::Functions => entries(&Grantee::Public, &["EXECUTE"]),
            Self::Types => entries(&Grantee::Public, &["USAGE"]),
            _ => Acl::new(),
        }
    }
}

/// Groups entries by (grantee, grant option) so one statement carries all privileges of a grantee.
fn by_grantee(items: &Acl) -> Vec<(Grantee, bool, Vec<String>)> {
    let mut out: Vec<(Grantee, bool, Vec<String>)> = Vec::new();
    for i in items {
        match out.iter_mut().find(|(g, o, _)| *g == i.grantee && *o == i.grantable) {
            Some((_, _, privs)) => privs.push(i.privilege.clone()),
            None => out.push((i.grantee.clone(), i.grantable, vec![i.privilege.clone()])),
        }
    }
    out
}

/// `GRANT ... ON target TO grantee` statements adding `items`.
pub fn grant(target: &Target, items: &Acl) -> Vec<String> {
    by_grantee(items)
        .into_iter()
        .map(|(g, option, privs)| {
            let with = if option { " WITH GRANT OPTION" } else { "" };
            format!("GRANT {} ON {} TO {}{with}", privs.join(", "), target.sql(), g.sql())
        })
        .collect()
}

/// `REVOKE ... ON target FROM grantee` statements removing `items` (CASCADE, so privileges
/// that were passed on through a grant option go too).
pub fn revoke(target: &Target, items: &Acl) -> Vec<String> {
    by_grantee(items)
        .into_iter()
        .map(|(g, _, privs)| {
            format!(
                "REVOKE {} ON {} FROM {} CASCADE",
                privs.join(", "),
                target.sql(),
                g.sql()
            )
        })
        .collect()
}

/// `ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] GRANT|REVOKE ...` statements.
pub fn alter_default(role: &str, schema: Option<&str>, kind: DefaultObjType, add: &Acl, remove: &Acl) -> Vec<String> {
    let scope = match schema {
        Some(s) => format!(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}",
            quote_ident(role),
            quote_ident(s)
        ),
        None => format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}", quote_ident(role)),
    };
    let mut out = Vec::new();
    for (g, _, privs) in by_grantee(remove) {
        out.push(format!(
            "{scope} REVOKE {} ON {} FROM {}",
            privs.join(", "),
            kind.sql(),
            g.sql()
        ));
    }
    for (g, option, privs) in by_grantee(add) {
        let with = if option { " WITH GRANT OPTION" } else { "" };
        out.push(format!(
            "{scope} GRANT {} ON {} TO {}{with}",
            privs.join(", "),
            kind.sql(),
            g.sql()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_group_privileges_per_grantee() {
        let mut acl = entries(&Grantee::role("client_api_app"), &["SELECT", "INSERT"]);
        acl.extend(entries(&Grantee::Public, &["CONNECT"]));
        let t = Target::Table("client_api".into(), "clients".into());
        assert_eq!(
            grant(&t, &acl),
            [
                "GRANT CONNECT ON TABLE client_api.clients TO PUBLIC",
                "GRANT INSERT, SELECT ON TABLE client_api.clients TO client_api_app"
            ]
        );
        let d = Target::Database("Odd\"Name".into());
        assert_eq!(
            revoke(&d, &entries(&Grantee::Public, &["CONNECT", "TEMPORARY"])),
            ["REVOKE CONNECT, TEMPORARY ON DATABASE \"Odd\"\"Name\" FROM PUBLIC CASCADE"]
        );
    }

    #[test]
    fn default_privileges_render_scope_and_kind() {
        let add = entries(&Grantee::role("client_api_app"), &["USAGE"]);
        let sql = alter_default(
            "client_api_owner",
            Some("client_api"),
            DefaultObjType::Sequences,
            &add,
            &Acl::new(),
        );
        assert_eq!(
            sql,
            [
                "ALTER DEFAULT PRIVILEGES FOR ROLE client_api_owner IN SCHEMA client_api GRANT USAGE ON SEQUENCES TO client_api_app"
            ]
        );
        let remove = DefaultObjType::Functions.builtin_public();
        let sql = alter_default(
            "client_api_owner",
            None,
            DefaultObjType::Functions,
            &Acl::new(),
            &remove,
        );
        assert_eq!(
            sql,
            ["ALTER DEFAULT PRIVILEGES FOR ROLE client_api_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"]
        );
    }

    #[test]
    fn the_owner_is_left_out_of_comparisons() {
        let mut acl = entries(&Grantee::role("o"), &["CREATE", "CONNECT"]);
        acl.extend(entries(&Grantee::Public, &["CONNECT"]));
        assert_eq!(without_owner(&acl, "o"), entries(&Grantee::Public, &["CONNECT"]));
    }
}
