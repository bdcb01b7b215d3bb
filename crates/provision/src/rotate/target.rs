//! What has credentials to rotate in an environment: each service's login pair (unless the
//! service logs in there as an IAM user, which has no password), each extra login role, and the
//! migrator; with their secret, the database a login test uses, the grace period and how much
//! history the secret keeps.

use secrets::SecretName;

use super::decide::{Policy, Retention};
use crate::manifest::{Environment, Manifest, Rotation};
use crate::naming::role_secret;

/// One rotatable credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RotationTarget {
    /// What it is (`pcc-client-api`, `flyway_user`).
    pub label: String,
    /// A service's login pair (else a single login role).
    pub is_service: bool,
    /// The secret holding it.
    pub secret: SecretName,
    /// The login roles: two for a service (alternating), one otherwise.
    pub logins: Vec<String>,
    /// The database a login test connects to.
    pub database: String,
    /// How long the previous login stays valid after the alias moves (zero for single logins).
    #[serde(skip)]
    pub grace: time::Duration,
    /// Rotate when the current credential is older than this (days).
    pub max_age_days: u32,
    /// How many superseded versions the secret keeps.
    #[serde(skip)]
    pub retention: Retention,
}

impl RotationTarget {
    /// The policy `decide` applies to this target.
    pub fn policy(&self) -> Policy {
        Policy {
            grace: self.grace,
            retention: self.retention,
        }
    }
}

fn retention(rotation: &Rotation) -> Retention {
    Retention {
        keep_disabled: rotation.keep_disabled,
        destroy_after: time::Duration::days(i64::from(rotation.destroy_disabled_after_days)),
    }
}

fn secret(name: &str) -> SecretName {
    SecretName::parse(name).expect("derived secret names use [A-Za-z0-9-] only")
}

/// Every rotation target of `env`, services first, the migrator last.
pub fn targets(manifest: &Manifest, env: &Environment) -> Vec<RotationTarget> {
    let mut out = Vec::new();
    let deployments = manifest.deployments(env);
    for d in &deployments {
        let grace = time::Duration::milliseconds(i64::try_from(d.service.rotation.grace.0).unwrap_or(i64::MAX));
        // An IAM login's password is an access token its pods fetch: nothing to store or rotate.
        let pair = d.iam_user().is_none().then(|| RotationTarget {
            label: d.service.name.to_string(),
            is_service: true,
            secret: secret(&d.names.secret),
            logins: d.names.logins.iter().map(ToString::to_string).collect(),
            database: d.names.database.to_string(),
            grace,
            max_age_days: d.service.rotation.max_age_days,
            retention: retention(&d.service.rotation),
        });
        out.extend(pair);
        for extra in d.service.roles.iter().filter(|r| r.login) {
            out.push(RotationTarget {
                label: extra.name.to_string(),
                is_service: false,
                secret: secret(&role_secret(&extra.name, &env.name)),
                logins: vec![extra.name.to_string()],
                database: d.names.database.to_string(),
                grace: time::Duration::ZERO,
                max_age_days: d.service.rotation.max_age_days,
                retention: retention(&d.service.rotation),
            });
        }
    }
    let max_age_days = deployments
        .iter()
        .map(|d| d.service.rotation.max_age_days)
        .min()
        .unwrap_or(90);
    // The migrator serves every service: it keeps the least history any of them asks for.
    let migrator_retention = deployments
        .iter()
        .map(|d| retention(&d.service.rotation))
        .reduce(|a, b| Retention {
            keep_disabled: a.keep_disabled.min(b.keep_disabled),
            destroy_after: a.destroy_after.min(b.destroy_after),
        })
        .unwrap_or(Retention::DEFAULT);
    out.push(RotationTarget {
        label: manifest.migrator.role.to_string(),
        is_service: false,
        secret: secret(&role_secret(&manifest.migrator.role, &env.name)),
        logins: vec![manifest.migrator.role.to_string()],
        database: deployments
            .first()
            .map_or_else(|| env.maintenance_database.clone(), |d| d.names.database.to_string()),
        grace: time::Duration::ZERO,
        max_age_days,
        retention: migrator_retention,
    });
    out
}
