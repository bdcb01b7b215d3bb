//! IAM for the fake: grants of roles to principals on a secret or a project, and what each role
//! permits. Predefined roles are Google's, restricted to the permissions the backend uses; custom
//! roles (`projects/<p>/roles/<id>`, what Terraform's `google_project_iam_custom_role` creates)
//! permit exactly the permissions a test defines them with. A role that is neither permits
//! nothing, as a grant of a role that does not exist would in IAM.

use std::collections::{BTreeMap, BTreeSet};

/// The permissions of a predefined role (none for any other name).
fn predefined(role: &str) -> &'static [&'static str] {
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

/// Who holds which roles where, and the custom roles. The key's secret is `None` for a
/// project-level grant.
#[derive(Default)]
pub(super) struct Policy {
    grants: BTreeMap<(String, Option<String>), BTreeMap<String, BTreeSet<String>>>,
    custom_roles: BTreeMap<String, BTreeSet<String>>,
}

impl Policy {
    /// Defines (or redefines, as an update of a custom role does) the custom role `name`.
    pub(super) fn define_role(&mut self, name: &str, permissions: &[&str]) {
        self.custom_roles
            .insert(name.to_owned(), permissions.iter().map(|p| (*p).to_owned()).collect());
    }

    fn permits(&self, role: &str, permission: &str) -> bool {
        predefined(role).contains(&permission)
            || self
                .custom_roles
                .get(role)
                .is_some_and(|permissions| permissions.contains(permission))
    }

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
                .is_some_and(|roles| roles.iter().any(|r| self.permits(r, permission)))
        })
    }
}
