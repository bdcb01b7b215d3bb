//! Zero-downtime credential rotation (`pccdb rotate`).
//!
//! - `decide.rs`: the state machine, a pure function with its unit tests;
//! - `target.rs`: what has a credential in an environment;
//! - `run.rs`: observing the secret store and the catalog, executing steps, the loop.
//!
//! `apply` calls [`converge`] after provisioning, which creates first credentials and
//! finishes rotations whose grace period is over; `pccdb rotate` starts new ones.

mod decide;
mod observe;
mod redacted;
mod run;
mod target;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use decide::{
    DisabledVersion, LoginState, Mode, Observed, Policy, Retention, Step, VersionCredential, decide, destroyable,
    rfc3339,
};
pub use run::{MARK_PREFIX, Outcome, RotationReport, Rotator, parse_mark};
pub use target::{RotationTarget, targets};

use crate::apply::AdminSession;
use crate::error::ProvisionError;
use crate::manifest::{Environment, Manifest};
use crate::target::open_store;

/// Runs every target of `env` selected by `select` (all when `None`; else a service name or
/// a login role name) in `mode`.
///
/// # Errors
/// The first failing target's error (targets before it keep their progress).
pub async fn run_targets(
    session: &AdminSession,
    manifest: &Manifest,
    env: &Environment,
    select: Option<&str>,
    mode: Mode,
    wait_for_grace: bool,
    lock_wait: Duration,
) -> Result<Vec<RotationReport>, ProvisionError> {
    let all = targets(manifest, env);
    let chosen: Vec<RotationTarget> = match select {
        None => all,
        Some(name) => {
            let picked: Vec<_> = all
                .iter()
                .filter(|t| t.label == name || t.logins.iter().any(|l| l == name))
                .cloned()
                .collect();
            if picked.is_empty()
                && let Some(d) = manifest
                    .deployments(env)
                    .into_iter()
                    .find(|d| d.service.name.as_str() == name || d.iam_user() == Some(name))
                && let Some(user) = d.iam_user()
            {
                return Err(ProvisionError::NothingToRotate {
                    service: d.service.name.to_string(),
                    env: env.name.to_string(),
                    user: user.to_owned(),
                });
            }
            if picked.is_empty() {
                return Err(crate::error::ManifestError::Unknown {
                    what: "rotation target",
                    name: name.to_owned(),
                    known: all.iter().map(|t| t.label.clone()).collect::<Vec<_>>().join(", "),
                }
                .into());
            }
            picked
        }
    };
    let store = open_store(&env.secrets)?;
    let mut reports = Vec::new();
    for target in chosen {
        let mode = match mode {
            Mode::IfOlderThanDays(_) => Mode::IfOlderThanDays(target.max_age_days),
            m => m,
        };
        let rotator = Rotator::new(session, store.clone(), target);
        reports.push(rotator.run(mode, wait_for_grace, lock_wait).await?);
    }
    Ok(reports)
}

/// Creates missing credentials and finishes rotations past their grace period, for every
/// target of `env` (what apply runs after provisioning).
///
/// # Errors
/// As [`run_targets`].
pub async fn converge(
    session: &AdminSession,
    manifest: &Manifest,
    env: &Environment,
    lock_wait: Duration,
) -> Result<Vec<RotationReport>, ProvisionError> {
    run_targets(session, manifest, env, None, Mode::Converge, false, lock_wait).await
}

/// What [`converge`] would do next for one target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CredentialPreview {
    /// The target.
    pub target: RotationTarget,
    /// The next step, when the target could be observed (`Done` for a credential managed in a
    /// read-only store).
    pub next: Option<Step>,
    /// Why it could not be observed (its roles do not exist yet, say), or that it is managed
    /// elsewhere.
    pub note: Option<String>,
}

/// What converge would do next for every target of `env` (for `plan`); read-only apart from
/// login tests.
///
/// # Errors
/// Only a secret store that cannot be opened; per-target problems are in the preview.
pub async fn preview(
    session: &AdminSession,
    manifest: &Manifest,
    env: &Environment,
) -> Result<Vec<CredentialPreview>, ProvisionError> {
    let store = open_store(&env.secrets)?;
    let mut out = Vec::new();
    for target in targets(manifest, env) {
        if let Err(secrets::SecretError::Unsupported { .. }) = store.list_versions(&target.secret).await {
            let note = format!("managed outside pccdb ({} is read-only)", store.describe());
            out.push(CredentialPreview {
                target,
                next: Some(Step::Done),
                note: Some(note),
            });
            continue;
        }
        let rotator = Rotator::new(session, store.clone(), target.clone());
        let (next, note) = match rotator.observe().await {
            Ok(obs) => (Some(decide(&obs, &target.policy(), Mode::Converge, false)), None),
            Err(e) => (None, Some(e.to_string())),
        };
        out.push(CredentialPreview { target, next, note });
    }
    Ok(out)
}
