//! What the manifest says about running a service on GKE, beyond its database: an environment's GCP project
//! (Workload Identity, the services' Google service accounts) and a service's pod variables and resources.
//! `pccdb render k8s` turns these, with everything the manifest already says (endpoints, pools, read
//! fallback, secret names), into the Kubernetes objects of a deployment.
//!
//! Pod variables are plain settings only: the database variables (`PCC_DB_*`) and the listen address are
//! derived by the renderer, and anything that looks like a credential is refused (credentials come from
//! Secret Manager through the mounted secret, never from this file).

use std::collections::BTreeMap;

use super::raw::RawGke;
use super::rotation::SECRET_SYNC_INTERVAL;
use super::validate::Problems;
use crate::units::Millis;

/// GKE settings of an environment (`gke = { project = "...", secret_sync_interval = "2min" }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gke {
    /// The project of the GKE cluster and of the services' Google service accounts; its Workload Identity
    /// pool is `<project>.svc.id.goog`.
    pub project: String,
    /// How often the Secret Manager add-on re-syncs mounted secrets: the cluster's
    /// `--secret-manager-rotation-interval`, which the rotation grace must leave room for. Default 2min.
    pub secret_sync_interval: Millis,
}

/// Requests and limit of a service's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodResources {
    /// CPU request (a Kubernetes quantity, `250m`).
    pub cpu: String,
    /// Memory request (`96Mi`).
    pub memory: String,
    /// Memory limit (`256Mi`); no CPU limit, so the pods are never throttled below their request.
    pub memory_limit: String,
}

impl Default for PodResources {
    fn default() -> Self {
        Self {
            cpu: "250m".to_owned(),
            memory: "96Mi".to_owned(),
            memory_limit: "256Mi".to_owned(),
        }
    }
}

/// A service's pod settings in one environment (`pod_env` merged with the environment's override).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodSettings {
    /// Variables of the container beyond those the renderer derives.
    pub env: BTreeMap<String, String>,
    /// Requests and limit.
    pub resources: PodResources,
}

/// Variables the renderer derives from the rest of the manifest; the manifest may not set them.
const DERIVED_PREFIXES: &[&str] = &["PCC_DB_", "PCC_HTTP_ADDR"];
/// Words that mark a credential in a variable's name.
const CREDENTIAL_WORDS: &[&str] = &["PASSWORD", "SECRET", "TOKEN", "PRIVATE_KEY"];

pub(super) fn gke(p: &mut Problems, key: &str, raw: RawGke) -> Gke {
    let project = raw.project;
    // GCP project ids: 6-30 lower-case letters, digits and hyphens, starting with a letter.
    let ok = (6..=30).contains(&project.len())
        && project.starts_with(|c: char| c.is_ascii_lowercase())
        && !project.ends_with('-')
        && project
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        p.push(
            &format!("{key}.project"),
            format!("{project:?} is not a GCP project id"),
        );
    }
    let sk = format!("{key}.secret_sync_interval");
    let secret_sync_interval = p.millis(&sk, raw.secret_sync_interval.as_ref(), SECRET_SYNC_INTERVAL.0);
    // The cluster flag takes whole seconds; an interval of 0 would mean the mounted secret never follows
    // the alias, and no grace would be long enough.
    if secret_sync_interval.0 == 0 || !secret_sync_interval.0.is_multiple_of(1000) {
        p.push(
            &sk,
            format!(
                "{secret_sync_interval} must be a positive whole number of seconds (the add-on's rotation interval)"
            ),
        );
    }
    Gke {
        project,
        secret_sync_interval,
    }
}

/// Checks the variables of `pod_env` (service level or an override) and returns them.
pub(super) fn pod_env(p: &mut Problems, key: &str, raw: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    for (name, value) in raw {
        let vk = format!("{key}.{name}");
        let well_formed = name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            p.push(&vk, "variable names are upper-case letters, digits and '_'");
        } else if let Some(prefix) = DERIVED_PREFIXES.iter().find(|d| name.starts_with(**d)) {
            p.push(
                &vk,
                format!("{prefix}* is derived from the manifest by `pccdb render k8s`; do not set it here"),
            );
        } else if let Some(word) = CREDENTIAL_WORDS.iter().find(|w| name.contains(**w)) {
            p.push(
                &vk,
                format!(
                    "looks like a credential ({word}); credentials come from Secret Manager, never from the manifest"
                ),
            );
        }
        if value.contains('\n') {
            p.push(&vk, "values are one line");
        }
    }
    raw.clone()
}

/// Whether `q` is a Kubernetes quantity as we write them: a decimal number and an optional suffix.
fn quantity(q: &str) -> bool {
    let digits = q.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &q[digits.len()..];
    !digits.is_empty()
        && digits.parse::<f64>().is_ok_and(|v| v > 0.0)
        && ["", "m", "k", "M", "G", "Ki", "Mi", "Gi"].contains(&suffix)
}

pub(super) fn resources(
    p: &mut Problems,
    key: &str,
    cpu: Option<String>,
    memory: Option<String>,
    memory_limit: Option<String>,
) -> PodResources {
    let d = PodResources::default();
    let out = PodResources {
        cpu: cpu.unwrap_or(d.cpu),
        memory: memory.unwrap_or(d.memory),
        memory_limit: memory_limit.unwrap_or(d.memory_limit),
    };
    for (field, value) in [
        ("cpu", &out.cpu),
        ("memory", &out.memory),
        ("memory_limit", &out.memory_limit),
    ] {
        if !quantity(value) {
            p.push(
                &format!("{key}.{field}"),
                format!("{value:?} is not a Kubernetes quantity (250m, 96Mi, 1Gi)"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_numbers_with_a_known_suffix() {
        for ok in ["250m", "1", "0.5", "96Mi", "1Gi", "2G"] {
            assert!(quantity(ok), "{ok}");
        }
        for bad in ["", "m", "0", "96MB", "-1", "1.2.3Mi", "big"] {
            assert!(!quantity(bad), "{bad}");
        }
    }

    #[test]
    fn pod_variables_may_not_be_derived_ones_or_credentials() {
        let mut p = Problems::default();
        let raw: BTreeMap<String, String> = [
            ("PCC_LOG", "info"),
            ("PCC_DB_POOL_MAX", "9"),
            ("PCC_HTTP_ADDR", "0.0.0.0:1"),
            ("PCC_AUTH_CLIENT_SECRET", "x"),
            ("lower", "x"),
            ("PCC_NOTE", "a\nb"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        pod_env(&mut p, "k", &raw);
        let text = p.0.join("\n");
        assert_eq!(p.0.len(), 5, "{text}");
        assert!(text.contains("k.PCC_DB_POOL_MAX: PCC_DB_* is derived"), "{text}");
        assert!(
            text.contains("k.PCC_AUTH_CLIENT_SECRET: looks like a credential"),
            "{text}"
        );
        assert!(!text.contains("PCC_LOG:"), "{text}");
    }
}
