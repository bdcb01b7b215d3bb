//! Validation of one `[services.<name>]` table: pools, timeouts, rotation, extra roles,
//! per-environment overrides and derived names.

use std::collections::{BTreeMap, BTreeSet};

use super::kubernetes;
use super::raw::{RawPool, RawService};
use super::rotation::{CREDENTIALS_REFRESH, Window};
use super::validate::Problems;
use super::{Access, Environment, ExtraRole, PodSettings, Pool, Rotation, Service, ServiceEnv, Sizing, Timeouts};
use crate::ident::Ident;
use crate::naming::{EnvName, ServiceName, ServiceNames};
use crate::units::Millis;

fn pool(p: &mut Problems, key: &str, raw: &RawPool) -> Pool {
    if raw.max == 0 {
        p.push(&format!("{key}.max"), "must be at least 1");
    }
    if raw.min > raw.max {
        p.push(key, format!("min {} is larger than max {}", raw.min, raw.max));
    }
    let max_lifetime = p.millis(&format!("{key}.max_lifetime"), raw.max_lifetime.as_ref(), 1_800_000);
    if max_lifetime.0 == 0 {
        p.push(
            &format!("{key}.max_lifetime"),
            "must be positive: rotation relies on pools replacing connections",
        );
    }
    Pool {
        min: raw.min,
        max: raw.max,
        max_lifetime,
    }
}

pub(super) fn service(
    p: &mut Problems,
    key: &str,
    prefix: &str,
    name: ServiceName,
    raw: RawService,
    environments: &BTreeMap<EnvName, Environment>,
) -> Option<Service> {
    let deployed: BTreeSet<EnvName> = match &raw.environments {
        None => environments.keys().cloned().collect(),
        Some(list) => list
            .iter()
            .filter_map(|e| match environments.keys().find(|k| k.as_str() == e) {
                Some(k) => Some(k.clone()),
                None => {
                    p.push(
                        &format!("{key}.environments"),
                        format!("{e:?} is not a declared environment"),
                    );
                    None
                }
            })
            .collect(),
    };
    let timeouts = Timeouts {
        statement_timeout: p.millis(
            &format!("{key}.statement_timeout"),
            raw.statement_timeout.as_ref(),
            30_000,
        ),
        lock_timeout: p.millis(&format!("{key}.lock_timeout"), raw.lock_timeout.as_ref(), 5_000),
        idle_in_transaction_session_timeout: p.millis(
            &format!("{key}.idle_in_transaction_session_timeout"),
            raw.idle_in_transaction_session_timeout.as_ref(),
            60_000,
        ),
    };
    let base_pool = pool(p, &format!("{key}.pool"), &raw.pool);
    let base_replica = raw
        .replica_pool
        .as_ref()
        .map(|r| pool(p, &format!("{key}.replica_pool"), r));
    let rotation = {
        let lifetime = base_pool
            .max_lifetime
            .max(base_replica.map_or(Millis(0), |r| r.max_lifetime));
        let rk = format!("{key}.rotation");
        let grace = p.millis(
            &format!("{rk}.grace"),
            raw.rotation.as_ref().and_then(|r| r.grace.as_ref()),
            2 * lifetime.0 + 300_000,
        );
        // Checked per environment below, against the pools, sync interval and refresh there.
        let credentials_refresh = p.millis(
            &format!("{rk}.credentials_refresh"),
            raw.rotation.as_ref().and_then(|r| r.credentials_refresh.as_ref()),
            CREDENTIALS_REFRESH.0,
        );
        // The service refuses less (each refresh reads the secret store).
        if credentials_refresh.0 < 100 {
            p.push(
                &format!("{rk}.credentials_refresh"),
                format!("{credentials_refresh} must be at least 100ms (each refresh reads the secret store)"),
            );
        }
        let max_age_days = raw.rotation.as_ref().and_then(|r| r.max_age_days).unwrap_or(90);
        if !(1..=365).contains(&max_age_days) {
            p.push(
                &format!("{rk}.max_age_days"),
                format!("{max_age_days} must be 1-365 (the seed plan rotates every 30-90 days)"),
            );
        }
        let keep_disabled = raw.rotation.as_ref().and_then(|r| r.keep_disabled).unwrap_or(3);
        if keep_disabled > 100 {
            p.push(
                &format!("{rk}.keep_disabled"),
                format!("{keep_disabled} must be 0-100 (Secret Manager bills every version that is not destroyed)"),
            );
        }
        let destroy_disabled_after_days = raw
            .rotation
            .as_ref()
            .and_then(|r| r.destroy_disabled_after_days)
            .unwrap_or(7);
        if destroy_disabled_after_days > 365 {
            p.push(
                &format!("{rk}.destroy_disabled_after_days"),
                format!("{destroy_disabled_after_days} must be 0-365"),
            );
        }
        Rotation {
            grace,
            credentials_refresh,
            max_age_days,
            keep_disabled,
            destroy_disabled_after_days,
        }
    };
    let base = name
        .as_str()
        .strip_prefix(prefix)
        .unwrap_or(name.as_str())
        .replace('-', "_");
    let roles = extra_roles(p, key, &base, &raw);
    let base_sizing = Sizing {
        pool: base_pool,
        replica_pool: base_replica,
        pods: raw.pods.unwrap_or(1),
        max_surge: raw.max_surge.unwrap_or(1),
        size_estimate: p
            .size(&format!("{key}.size_estimate"), raw.size_estimate.as_ref())
            .unwrap_or_default(),
        monthly_growth: p
            .size(&format!("{key}.monthly_growth"), raw.monthly_growth.as_ref())
            .unwrap_or_default(),
    };
    if base_sizing.pods == 0 {
        p.push(&format!("{key}.pods"), "must be at least 1");
    }
    for env in raw.overrides.keys() {
        if !deployed.iter().any(|d| d.as_str() == env) {
            p.push(
                &format!("{key}.overrides.{env}"),
                "the service is not deployed to this environment",
            );
        }
    }
    let pod_resources = {
        let r = raw.pod_resources.unwrap_or_default();
        kubernetes::resources(p, &format!("{key}.pod_resources"), r.cpu, r.memory, r.memory_limit)
    };
    let base_pod_env = kubernetes::pod_env(p, &format!("{key}.pod_env"), &raw.pod_env);
    let mut per_env = BTreeMap::new();
    let mut windows_checked = 0;
    for env in &deployed {
        let ok = format!("{key}.overrides.{env}");
        let o = raw.overrides.get(env.as_str());
        let sizing = match o {
            None => base_sizing,
            Some(o) => Sizing {
                pool: o
                    .pool
                    .as_ref()
                    .map_or(base_sizing.pool, |r| pool(p, &format!("{ok}.pool"), r)),
                replica_pool: o
                    .replica_pool
                    .as_ref()
                    .map(|r| pool(p, &format!("{ok}.replica_pool"), r))
                    .or(base_sizing.replica_pool),
                pods: o.pods.unwrap_or(base_sizing.pods),
                max_surge: o.max_surge.unwrap_or(base_sizing.max_surge),
                size_estimate: p
                    .size(&format!("{ok}.size_estimate"), o.size_estimate.as_ref())
                    .unwrap_or(base_sizing.size_estimate),
                monthly_growth: p
                    .size(&format!("{ok}.monthly_growth"), o.monthly_growth.as_ref())
                    .unwrap_or(base_sizing.monthly_growth),
            },
        };
        if sizing.pods == 0 {
            p.push(&format!("{ok}.pods"), "must be at least 1");
        }
        let lifetime = sizing
            .pool
            .max_lifetime
            .max(sizing.replica_pool.map_or(Millis(0), |r| r.max_lifetime));
        if let Some(environment) = environments.get(env) {
            let window = Window {
                max_lifetime: lifetime,
                // Without the add-on (a local cluster, a file or env store) the service reads the store itself.
                secret_sync: environment.gke.as_ref().map_or(Millis(0), |g| g.secret_sync_interval),
                credential_refresh: rotation.credentials_refresh,
            };
            windows_checked += 1;
            if let Err(e) = window.check(rotation.grace) {
                p.push(&format!("{key}.rotation.grace"), format!("in environment {env}: {e}"));
            }
        }
        let mut pod_env = base_pod_env.clone();
        if let Some(o) = o {
            pod_env.extend(kubernetes::pod_env(p, &format!("{ok}.pod_env"), &o.pod_env));
        }
        let pod = PodSettings {
            env: pod_env,
            resources: pod_resources.clone(),
        };
        match ServiceNames::derive(&name, prefix, env) {
            Ok(names) => {
                per_env.insert(env.clone(), ServiceEnv { sizing, names, pod });
            }
            Err(e) => p.push(key, format!("in environment {env}: {e}")),
        }
    }
    // No valid environment to check against (its table has its own problems): the base pools, no add-on,
    // so the grace is still reported with everything else.
    if windows_checked == 0 {
        let window = Window {
            max_lifetime: base_pool
                .max_lifetime
                .max(base_replica.map_or(Millis(0), |r| r.max_lifetime)),
            secret_sync: Millis(0),
            credential_refresh: rotation.credentials_refresh,
        };
        if let Err(e) = window.check(rotation.grace) {
            p.push(&format!("{key}.rotation.grace"), e);
        }
    }
    let read_fallback = read_fallback(p, key, raw.read_fallback.as_ref());
    Some(Service {
        name,
        description: raw.description,
        environments: deployed,
        timeouts,
        rotation,
        read_fallback,
        roles,
        per_env,
    })
}

fn read_fallback(p: &mut Problems, key: &str, raw: Option<&super::raw::RawReadFallback>) -> super::ReadFallback {
    let defaults = super::ReadFallback::default();
    let Some(raw) = raw else { return defaults };
    let fk = format!("{key}.read_fallback");
    let out = super::ReadFallback {
        min_in_flight: raw.min_in_flight.unwrap_or(defaults.min_in_flight),
        max_in_flight: raw.max_in_flight.unwrap_or(defaults.max_in_flight),
        queue: raw.queue.unwrap_or(defaults.queue),
        queue_wait: p.millis(
            &format!("{fk}.queue_wait"),
            raw.queue_wait.as_ref(),
            defaults.queue_wait.0,
        ),
        latency_tolerance: raw.latency_tolerance.unwrap_or(defaults.latency_tolerance),
        write_reserve: raw.write_reserve.unwrap_or(defaults.write_reserve),
    };
    if out.min_in_flight == 0 || out.max_in_flight < out.min_in_flight {
        p.push(
            &format!("{fk}.max_in_flight"),
            format!(
                "{} must be at least min_in_flight ({}), which must be at least 1",
                out.max_in_flight, out.min_in_flight
            ),
        );
    }
    if out
        .latency_tolerance
        .partial_cmp(&1.0)
        .is_none_or(std::cmp::Ordering::is_lt)
    {
        p.push(&format!("{fk}.latency_tolerance"), "must be at least 1");
    }
    if !(0.0..1.0).contains(&out.write_reserve) {
        p.push(
            &format!("{fk}.write_reserve"),
            "must be at least 0 and below 1 (a share of the pool)",
        );
    }
    out
}

fn extra_roles(p: &mut Problems, key: &str, base: &str, raw: &RawService) -> Vec<ExtraRole> {
    let mut out = Vec::new();
    for (i, r) in raw.roles.iter().enumerate() {
        let rk = format!("{key}.roles[{i}]");
        let name = match Ident::parse("role", &r.name) {
            Ok(n) => n,
            Err(e) => {
                p.push(&format!("{rk}.name"), e);
                continue;
            }
        };
        if !r.name.starts_with(&format!("{base}_")) {
            p.push(
                &format!("{rk}.name"),
                format!("{:?} must start with the service's base \"{base}_\"", r.name),
            );
        }
        let standard = ["owner", "app", "readonly", "user", "user_b"].map(|s| format!("{base}_{s}"));
        if standard.contains(&r.name) {
            p.push(
                &format!("{rk}.name"),
                format!("{:?} is one of the service's standard roles", r.name),
            );
        }
        let access = match r.access.as_str() {
            "read_only" => Access::ReadOnly,
            "read_write" => Access::ReadWrite,
            other => {
                p.push(
                    &format!("{rk}.access"),
                    format!("{other:?} must be \"read_only\" or \"read_write\""),
                );
                continue;
            }
        };
        if !r.login && r.connection_limit.is_some() {
            p.push(
                &format!("{rk}.connection_limit"),
                "only login roles have a connection limit",
            );
        }
        out.push(ExtraRole {
            name,
            access,
            login: r.login,
            connection_limit: r.connection_limit.unwrap_or(if r.login { 5 } else { 0 }),
        });
    }
    out
}
