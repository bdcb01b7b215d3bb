//! The Kubernetes objects of one service in one environment, rendered from the platform manifest
//! (deploy/pcc.toml) so nothing in them is copied by hand: `pccdb render k8s --env devtest --service
//! pcc-client-api` writes them to `deploy/k8s/pcc-client-api-devtest/`, where they are committed, and a
//! test renders again and compares byte for byte.
//!
//! Objects (names follow the seed plan: namespace, service accounts and service `<service>-<env>`):
//! - Namespace;
//! - ServiceAccount annotated for Workload Identity with the Google service account
//!   `<service>-<env>@<gke.project>.iam.gserviceaccount.com` (deploy/terraform creates it and its binding);
//! - SecretProviderClass for GKE's Secret Manager add-on: the service's secret, alias `current`, as a file,
//!   annotated with the add-on's rotation interval the manifest assumes (`gke.secret_sync_interval`);
//! - Deployment: the image's binary as command, every variable of [`env`], probes, the kubelet's preStop
//!   sleep, the secret and the database CA (ConfigMap `db-ca`, created by the deploy pipeline from the
//!   cluster) mounted read-only, pods and surge from the manifest;
//! - Service and PodDisruptionBudget;
//! - kustomization.yaml listing them; the deploy pipeline sets the image `<service>` to the registry path
//!   and commit tag over it.

pub mod env;
mod error;
mod files;
pub mod objects;

use std::collections::BTreeMap;
use std::path::Path;

use provision::Manifest;
use provision::manifest::{Deployment, SecretsBackend};
use serde::Serialize;

pub use error::RenderError;
pub use files::Difference;
use objects::*;

/// Where the credential secret is mounted in the pod.
pub const SECRET_DIR: &str = "/var/run/secrets/pcc";
/// The ConfigMap holding the database CA, in the deployment's namespace.
pub const CA_CONFIG_MAP: &str = "db-ca";
/// Annotation of the SecretProviderClass: the cluster's Secret Manager rotation interval the manifest assumes.
pub const SYNC_INTERVAL_ANNOTATION: &str = "pccdb/secret-manager-rotation-interval";
/// The numeric user and group of the image (Dockerfile `USER 65532:65532`).
pub const IMAGE_USER: u32 = 65532;
/// The first line of every rendered file; also how stale rendered files are recognised.
pub const HEADER: &str = "# Rendered by `pccdb render k8s` from the platform manifest (deploy/pcc.toml); do not edit:";

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// File name in the output directory.
    pub name: String,
    /// Its whole text.
    pub text: String,
}

/// Every file of a deployment.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// `pcc-client-api-devtest`: the default directory under deploy/k8s.
    pub name: String,
    /// The files, objects in apply order, then kustomization.yaml.
    pub files: Vec<RenderedFile>,
}

impl Rendered {
    /// Writes the files into `dir` (created if needed) and removes rendered files of an earlier render that
    /// this one no longer has. Everything is rendered before this is called, so a bad manifest writes
    /// nothing.
    ///
    /// # Errors
    /// [`RenderError::Io`].
    pub fn write(&self, dir: &Path) -> Result<(), RenderError> {
        files::write(self, dir)
    }

    /// How `dir` differs from this render (empty when it is up to date).
    ///
    /// # Errors
    /// [`RenderError::Io`] for an unreadable directory.
    pub fn compare(&self, dir: &Path) -> Result<Vec<Difference>, RenderError> {
        files::compare(self, dir)
    }
}

fn yaml<T: Serialize>(file: &str, command: &str, value: &T) -> Result<RenderedFile, RenderError> {
    let body = serde_yaml_ng::to_string(value).map_err(|source| RenderError::Yaml {
        file: file.to_owned(),
        source,
    })?;
    Ok(RenderedFile {
        name: file.to_owned(),
        text: format!("{HEADER}\n# change the manifest and run `{command}`.\n{body}"),
    })
}

/// Renders `service` in `env`.
///
/// # Errors
/// An unknown environment or service, endpoints that cannot be resolved (a missing Terraform output), or
/// what the objects need and the manifest lacks (`gke.project`, a Secret Manager backend).
pub fn render(manifest: &Manifest, env: &str, service: &str) -> Result<Rendered, RenderError> {
    let d = manifest.deployment(env, service)?;
    let name = format!("{service}-{env}");
    let invalid = |detail: String| RenderError::Invalid {
        deployment: format!("{service} in {env}"),
        detail,
    };
    let Some(gke) = &d.env.gke else {
        return Err(invalid(format!(
            "environments.{env}.gke is not set (gke = {{ project = \"...\" }}: the project of the GKE cluster and its service accounts)"
        )));
    };
    let SecretsBackend::Gcp {
        project: secrets_project,
        ..
    } = &d.env.secrets
    else {
        return Err(invalid(format!(
            "environments.{env}.secrets is not the gcp backend; pods mount their credential from Secret Manager"
        )));
    };
    // Google service account ids are 6-30 characters; the Kubernetes names are DNS labels (63).
    if !(6..=30).contains(&name.len()) {
        return Err(invalid(format!(
            "the Google service account id {name:?} would be {} characters; GCP allows 6 to 30 (shorten the service name)",
            name.len()
        )));
    }
    let specs = provision::resolve::runtime_specs(manifest, env, service)?;
    let ca = ca_file(&specs, &invalid)?;
    let command = format!("pccdb render k8s --env {env} --service {service}");
    let ns = Some(name.clone());
    let labels: BTreeMap<String, String> = [
        ("app.kubernetes.io/name", service.to_owned()),
        ("app.kubernetes.io/instance", name.clone()),
        ("app.kubernetes.io/managed-by", "pccdb".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let selector: BTreeMap<String, String> = labels
        .iter()
        .filter(|(k, _)| *k != "app.kubernetes.io/managed-by")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let meta = |annotations: BTreeMap<String, String>, namespaced: bool| Meta {
        name: name.clone(),
        namespace: if namespaced { ns.clone() } else { None },
        labels: labels.clone(),
        annotations,
    };
    let gsa = format!("{name}@{}.iam.gserviceaccount.com", gke.project);
    let secret = &d.names.secret;
    let credentials_file = format!("{SECRET_DIR}/{secret}");

    let mut files = Vec::new();
    files.push(yaml(
        "namespace.yaml",
        &command,
        &Object::<NoSpec> {
            api_version: "v1",
            kind: "Namespace",
            metadata: meta(BTreeMap::new(), false),
            spec: None,
        },
    )?);
    files.push(yaml(
        "serviceaccount.yaml",
        &command,
        &Object::<NoSpec> {
            api_version: "v1",
            kind: "ServiceAccount",
            metadata: meta(
                BTreeMap::from([("iam.gke.io/gcp-service-account".to_owned(), gsa)]),
                true,
            ),
            spec: None,
        },
    )?);
    let secrets_param = format!(
        "- resourceName: \"projects/{secrets_project}/secrets/{secret}/versions/current\"\n  path: \"{secret}\"\n"
    );
    files.push(yaml(
        "secretproviderclass.yaml",
        &command,
        &Object {
            api_version: "secrets-store.csi.x-k8s.io/v1",
            kind: "SecretProviderClass",
            metadata: Meta {
                name: secret.clone(),
                // The add-on's rotation interval is a cluster setting (`--secret-manager-rotation-interval`),
                // not a field of this object; the annotation records the figure the manifest's rotation
                // grace was checked against, next to the secret it concerns, in the flag's spelling.
                ..meta(
                    BTreeMap::from([(
                        SYNC_INTERVAL_ANNOTATION.to_owned(),
                        format!("{}s", gke.secret_sync_interval.0 / 1000),
                    )]),
                    true,
                )
            },
            spec: Some(SecretProviderClassSpec {
                provider: "gke",
                parameters: BTreeMap::from([("secrets".to_owned(), secrets_param)]),
            }),
        },
    )?);
    files.push(yaml(
        "deployment.yaml",
        &command,
        &Object {
            api_version: "apps/v1",
            kind: "Deployment",
            metadata: meta(BTreeMap::new(), true),
            spec: Some(deployment_spec(
                &d,
                &specs,
                &name,
                &selector,
                &labels,
                &credentials_file,
                ca.as_deref(),
            )),
        },
    )?);
    files.push(yaml(
        "service.yaml",
        &command,
        &Object {
            api_version: "v1",
            kind: "Service",
            metadata: meta(BTreeMap::new(), true),
            spec: Some(ServiceSpec {
                selector: selector.clone(),
                ports: vec![ServicePort {
                    name: "http",
                    port: 80,
                    target_port: "http",
                }],
            }),
        },
    )?);
    files.push(yaml(
        "poddisruptionbudget.yaml",
        &command,
        &Object {
            api_version: "policy/v1",
            kind: "PodDisruptionBudget",
            metadata: meta(BTreeMap::new(), true),
            spec: Some(PdbSpec {
                max_unavailable: 1,
                selector: Selector { match_labels: selector },
            }),
        },
    )?);
    let resources = files.iter().map(|f| f.name.clone()).collect();
    files.push(yaml(
        "kustomization.yaml",
        &command,
        &Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            resources,
        },
    )?);
    Ok(Rendered { name, files })
}

/// The one root certificate file the endpoints verify with, if any; the pods get it from the ConfigMap.
fn ca_file(
    specs: &provision::resolve::RuntimeSpecs,
    invalid: &dyn Fn(String) -> RenderError,
) -> Result<Option<String>, RenderError> {
    let mut roots: Vec<&Path> = std::iter::once(&specs.primary)
        .chain(specs.replica.as_ref())
        .filter_map(|s| s.root_cert.as_deref())
        .collect();
    roots.dedup();
    match roots.as_slice() {
        [] => Ok(None),
        [one] => {
            let ok =
                one.is_absolute() && one.parent().is_some_and(|p| p != Path::new("/")) && one.file_name().is_some();
            if !ok {
                return Err(invalid(format!(
                    "the endpoints' Root Certificate {} must be an absolute path in a directory of its own (the pods mount it there)",
                    one.display()
                )));
            }
            Ok(Some(one.display().to_string()))
        }
        many => Err(invalid(format!(
            "primary and replica verify with different root certificates ({}); one cluster has one CA",
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn deployment_spec(
    d: &Deployment<'_>,
    specs: &provision::resolve::RuntimeSpecs,
    name: &str,
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
    credentials_file: &str,
    ca: Option<&str>,
) -> DeploymentSpec {
    let service = d.service.name.as_str();
    let probe = |path: &'static str, period_seconds: u32, failure_threshold: u32| Probe {
        http_get: HttpGet { path, port: "http" },
        period_seconds,
        failure_threshold,
    };
    let mut mounts = vec![VolumeMount {
        name: "db-credential".to_owned(),
        mount_path: SECRET_DIR.to_owned(),
        read_only: true,
    }];
    let mut volumes = vec![Volume {
        name: "db-credential".to_owned(),
        csi: Some(CsiVolume {
            driver: "secrets-store-gke.csi.k8s.io",
            read_only: true,
            volume_attributes: BTreeMap::from([("secretProviderClass", d.names.secret.clone())]),
        }),
        config_map: None,
    }];
    if let Some(ca) = ca {
        let dir = Path::new(ca).parent().expect("checked in ca_file");
        mounts.push(VolumeMount {
            name: CA_CONFIG_MAP.to_owned(),
            mount_path: dir.display().to_string(),
            read_only: true,
        });
        volumes.push(Volume {
            name: CA_CONFIG_MAP.to_owned(),
            csi: None,
            config_map: Some(ConfigMapVolume {
                name: CA_CONFIG_MAP.to_owned(),
            }),
        });
    }
    let r = &d.pod.resources;
    DeploymentSpec {
        replicas: d.sizing.pods,
        strategy: Strategy {
            kind: "RollingUpdate",
            rolling_update: RollingUpdate {
                max_surge: d.sizing.max_surge,
                // New pods come up before old ones go: the budget counts pods + max_surge, never more.
                max_unavailable: 0,
            },
        },
        selector: Selector {
            match_labels: selector.clone(),
        },
        template: PodTemplate {
            metadata: TemplateMeta { labels: labels.clone() },
            spec: PodSpec {
                service_account_name: name.to_owned(),
                // preStop 5 s + the service's drain (PCC_HTTP_DRAIN_TIMEOUT_MS, 20 s) + slack.
                termination_grace_period_seconds: 30,
                security_context: PodSecurityContext {
                    run_as_non_root: true,
                    run_as_user: IMAGE_USER,
                    run_as_group: IMAGE_USER,
                    seccomp_profile: SeccompProfile { kind: "RuntimeDefault" },
                },
                containers: vec![Container {
                    name: service.to_owned(),
                    image: service.to_owned(),
                    command: vec![format!("/usr/local/bin/{service}")],
                    ports: vec![ContainerPort {
                        name: "http",
                        container_port: env::HTTP_PORT,
                    }],
                    env: env::variables(d, specs, credentials_file),
                    readiness_probe: probe("/readyz", 5, 2),
                    liveness_probe: probe("/healthz", 10, 3),
                    lifecycle: Lifecycle {
                        pre_stop: LifecycleHandler {
                            sleep: Sleep { seconds: 5 },
                        },
                    },
                    resources: Resources {
                        requests: BTreeMap::from([("cpu", r.cpu.clone()), ("memory", r.memory.clone())]),
                        limits: BTreeMap::from([("memory", r.memory_limit.clone())]),
                    },
                    security_context: ContainerSecurityContext {
                        allow_privilege_escalation: false,
                        read_only_root_filesystem: true,
                        capabilities: Capabilities { drop: vec!["ALL"] },
                    },
                    volume_mounts: mounts,
                }],
                volumes,
            },
        },
    }
}
