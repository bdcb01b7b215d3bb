//! Validation of one `[environments.<name>]` table and of secret store settings.

use std::path::PathBuf;

use url::Url;

use super::raw::{RawEndpoint, RawEnvironment, RawMaxConnections, RawSecrets};
use super::validate::Problems;
use super::{AdminCredential, Endpoint, Endpoints, Environment, MaxConnections, SecretsBackend};
use crate::ident::Ident;
use crate::naming::{EnvName, role_secret};

pub(super) fn environment(
    p: &mut Problems,
    key: &str,
    name: EnvName,
    raw: RawEnvironment,
    migrator: Option<&Ident>,
) -> Option<Environment> {
    let terraform_outputs = raw.terraform.map(|t| PathBuf::from(t.outputs_file));
    let mut endpoint = |which: &str, raw: RawEndpoint| -> Endpoint {
        match raw {
            RawEndpoint::Literal(s) => Endpoint::Literal(s),
            RawEndpoint::Terraform(t) => {
                let ek = format!("{key}.{which}");
                if terraform_outputs.is_none() {
                    p.push(
                        &ek,
                        "takes its host from a Terraform output: set `terraform = { outputs_file = \"...\" }` (the file `terraform output -json` writes)",
                    );
                }
                let name_ok = !t.terraform_output.is_empty()
                    && t.terraform_output
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !name_ok {
                    p.push(
                        &format!("{ek}.terraform_output"),
                        format!("{:?} is not a Terraform output name", t.terraform_output),
                    );
                }
                Endpoint::Terraform {
                    output: t.terraform_output,
                    settings: t.settings,
                }
            }
        }
    };
    let primary = raw.primary.map(|e| endpoint("primary", e));
    let replica = raw.replica.map(|e| endpoint("replica", e));
    let uses_terraform = [&primary, &replica]
        .into_iter()
        .flatten()
        .any(|e| matches!(e, Endpoint::Terraform { .. }));
    if terraform_outputs.is_some() && !uses_terraform {
        p.push(
            &format!("{key}.terraform"),
            "no endpoint takes its host from a Terraform output; remove `terraform` or use `terraform_output`",
        );
    }
    let endpoints = match (primary, replica, raw.local_cluster) {
        (Some(primary), replica, None) => Some(Endpoints::Remote { primary, replica }),
        (None, None, Some(dir)) => Some(Endpoints::LocalCluster(PathBuf::from(dir))),
        (None, _, None) => {
            p.push(
                key,
                "set `primary` (a connection string) or `local_cluster` (a `pccdb dev` directory)",
            );
            None
        }
        _ => {
            p.push(
                key,
                "`local_cluster` provides the endpoints; do not also set `primary` or `replica`",
            );
            None
        }
    };
    let max_connections = match raw.max_connections {
        None => MaxConnections::FromServer,
        Some(RawMaxConnections::Text(t)) if t == "server" => MaxConnections::FromServer,
        Some(RawMaxConnections::Number(n)) if (1..=262_143).contains(&n) => {
            MaxConnections::Fixed(u32::try_from(n).expect("range checked"))
        }
        Some(other) => {
            p.push(
                &format!("{key}.max_connections"),
                format!("{other:?} must be a number from 1 to 262143 or \"server\""),
            );
            MaxConnections::FromServer
        }
    };
    let secrets = raw.secrets.map(|s| secrets_backend(p, &format!("{key}.secrets"), s));
    let admin_secrets = raw
        .admin_secrets
        .map(|s| secrets_backend(p, &format!("{key}.admin_secrets"), s));
    let local = matches!(endpoints, Some(Endpoints::LocalCluster(_)));
    let secrets = match secrets {
        Some(s) => s?,
        None if local => SecretsBackend::File(PathBuf::from(format!(".pcc/secrets/{name}"))),
        None => {
            p.push(key, "set `secrets` (where service credentials live: gcp, file or env)");
            return None;
        }
    };
    let admin_secrets = match admin_secrets {
        Some(s) => s?,
        None => secrets.clone(),
    };
    let admin_credential = match (raw.admin_secret, local) {
        (Some(secret), _) => AdminCredential::Secret(secret),
        (None, true) => AdminCredential::LocalCluster,
        (None, false) => {
            let default = Ident::parse("role", "pcc_admin").expect("constant");
            AdminCredential::Secret(role_secret(&default, &name))
        }
    };
    if let AdminCredential::Secret(s) = &admin_credential
        && secrets::SecretName::parse(s).is_err()
    {
        p.push(
            &format!("{key}.admin_secret"),
            format!("{s:?} is not a valid secret id ([A-Za-z0-9_-], 1-255)"),
        );
    }
    let maintenance_database = raw.maintenance_database.unwrap_or_else(|| "postgres".to_owned());
    if maintenance_database.is_empty() || maintenance_database.len() > 63 {
        p.push(
            &format!("{key}.maintenance_database"),
            format!("{maintenance_database:?} is not a database name"),
        );
    }
    let migration_headroom = raw.migration_headroom.unwrap_or(2);
    if migration_headroom == 0 && migrator.is_some() {
        p.push(
            &format!("{key}.migration_headroom"),
            "must be at least 1: migrations need a connection",
        );
    }
    Some(Environment {
        capacity_history: raw
            .capacity_history
            .map_or_else(|| PathBuf::from(format!(".pcc/capacity/{name}.jsonl")), PathBuf::from),
        name,
        endpoints: endpoints?,
        maintenance_database,
        max_connections,
        reserved_connections: raw.reserved_connections.unwrap_or(3),
        admin_headroom: raw.admin_headroom.unwrap_or(5),
        migration_headroom,
        storage_limit: p.size(&format!("{key}.storage_limit"), raw.storage_limit.as_ref()),
        admin_credential,
        secrets,
        admin_secrets,
        gke: raw.gke.map(|g| super::kubernetes::gke(p, &format!("{key}.gke"), g)),
        terraform_outputs,
    })
}

pub(super) fn secrets_backend(p: &mut Problems, key: &str, raw: RawSecrets) -> Option<SecretsBackend> {
    let url = |p: &mut Problems, field: &str, v: Option<String>| -> Option<Url> {
        v.and_then(|v| {
            Url::parse(&v)
                .map_err(|e| p.push(&format!("{key}.{field}"), format!("{v:?}: {e}")))
                .ok()
        })
    };
    let stray = |p: &mut Problems, field: &str, present: bool, backend: &str| {
        if present {
            p.push(&format!("{key}.{field}"), format!("is not used by backend {backend:?}"));
        }
    };
    match raw.backend.as_str() {
        "gcp" => {
            stray(p, "dir", raw.dir.is_some(), "gcp");
            stray(p, "prefix", raw.prefix.is_some(), "gcp");
            let Some(project) = raw.project else {
                p.push(key, "backend \"gcp\" needs `project`");
                return None;
            };
            let ok = !project.is_empty()
                && project
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                p.push(
                    &format!("{key}.project"),
                    format!("{project:?} is not a GCP project id"),
                );
            }
            Some(SecretsBackend::Gcp {
                project,
                api_base: url(p, "api_base", raw.api_base),
                metadata_base: url(p, "metadata_base", raw.metadata_base),
            })
        }
        "file" => {
            for (f, present) in [
                ("project", raw.project.is_some()),
                ("prefix", raw.prefix.is_some()),
                ("api_base", raw.api_base.is_some()),
                ("metadata_base", raw.metadata_base.is_some()),
            ] {
                stray(p, f, present, "file");
            }
            match raw.dir {
                Some(dir) => Some(SecretsBackend::File(PathBuf::from(dir))),
                None => {
                    p.push(key, "backend \"file\" needs `dir`");
                    None
                }
            }
        }
        "env" => {
            for (f, present) in [
                ("project", raw.project.is_some()),
                ("dir", raw.dir.is_some()),
                ("api_base", raw.api_base.is_some()),
                ("metadata_base", raw.metadata_base.is_some()),
            ] {
                stray(p, f, present, "env");
            }
            Some(SecretsBackend::Env(
                raw.prefix.unwrap_or_else(|| "PCC_SECRET_".to_owned()),
            ))
        }
        other => {
            p.push(
                &format!("{key}.backend"),
                format!("{other:?} is not a backend (use \"gcp\", \"file\" or \"env\")"),
            );
            None
        }
    }
}
