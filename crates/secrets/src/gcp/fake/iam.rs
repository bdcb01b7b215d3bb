//! IAM for the fake: grants of predefined Secret Manager roles to principals on a secret or a
//! project, and the permission each API method needs. The role contents are Google's
//! predefined roles, restricted to the permissions the backend uses.

use std::collections::{BTreeMap, BTreeSet};

/// The permissions of a predefined role.
fn permissions(role: &str) -> &'static [&'static str] {
    match role {
        "roles/secretmanager.admin" => &[
            "secretmanager.secrets.get",
            "secretmanager.secrets.update",
            "secretmanager.versions.access",
            "secretmanager.versions.add",
            "secretmanager.versions.destroy",
            "secretmanager.versions.disable",
            "secretmanager.versions.get",
            "secretmanager.versions.list",
        ],
        "roles/secretmanager.secretAccessor" => &["secretmanager.versions.access"],
        "roles/secretmanager.secretVersionAdder" => &["secretmanager.versions.add"],
        "roles/secretmanager.secretVersionManager" => &[
            "secretmanager.versions.add",
            "secretmanager.versions.destroy",
            "secretmanager.versions.disable",
            "secretmanager.versions.get",
            "secretmanager.versions.list",
        ],
        "roles/secretmanager.viewer" => &[
            "secretmanager.secrets.get",
            "secretmanager.versions.get",
            "secretmanager.versions.list",
        ],
        _ => &[],
    }
}

/// Who holds which roles where. The key's secret is `None` for a project-level grant.
#[derive(Default)]
pub(super) struct Policy {
    grants: BTreeMap<(String, Option<String>), BTreeMap<String, BTreeSet<String>>>,
}

impl Policy {
    pub(super) fn grant(&mut self, principal: &str, role: &str, project: &str, secret: Option<&str>) {
        self.grants
            .entry((project.to_owned(), secret.map(str::to_owned)))
            .or_default()
            .entry(principal.to_owned())
            .or_default()
            .insert(role.to_owned());
    }

    /// Whether `principal` has `permission` on the secret, directly or through the project.
    pub(super) fn allows(&self, principal: &str, permission: &str, project: &str, secret: &str) -> bool {
        [Some(secret.to_owned()), None].into_iter().any(|s| {
            self.grants
                .get(&(project.to_owned(), s))
                .and_then(|by_principal| by_principal.get(principal))
                .is_some_and(|roles| roles.iter().any(|r| permissions(r).contains(&permission)))
        })
    }
}
