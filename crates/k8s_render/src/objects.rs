//! The Kubernetes objects the renderer writes, as typed values: only the fields we set, named and nested as
//! the Kubernetes API has them (the vendored OpenAPI schemas are the referee in the tests), serialized in
//! declaration order so the YAML reads like a hand-written manifest.

use std::collections::BTreeMap;

use serde::Serialize;

/// `metadata` of an object.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// Object name.
    pub name: String,
    /// Namespace (absent for the Namespace itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An object: `apiVersion`, `kind`, `metadata`, then its body (`spec`, or nothing).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S: Serialize> {
    /// `v1`, `apps/v1`, ...
    pub api_version: &'static str,
    /// `Deployment`, ...
    pub kind: &'static str,
    /// Name, namespace, labels, annotations.
    pub metadata: Meta,
    /// The spec, when the kind has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<S>,
}

/// A kind without a spec (Namespace, ServiceAccount).
#[derive(Debug, Clone, Serialize)]
pub struct NoSpec {}

/// `spec` of a SecretProviderClass (Secrets Store CSI driver).
#[derive(Debug, Clone, Serialize)]
pub struct SecretProviderClassSpec {
    /// `gke` for GKE's Secret Manager add-on.
    pub provider: &'static str,
    /// Provider parameters; the GKE provider reads `secrets`, a YAML list of {resourceName, path}.
    pub parameters: BTreeMap<String, String>,
}

/// `spec` of a Deployment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// Pods.
    pub replicas: u32,
    /// Rolling update bounds.
    pub strategy: Strategy,
    /// Which pods are this deployment's.
    pub selector: Selector,
    /// The pods.
    pub template: PodTemplate,
}

/// `strategy` of a Deployment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    /// `RollingUpdate`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its bounds.
    pub rolling_update: RollingUpdate,
}

/// `maxSurge` and `maxUnavailable`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    /// Extra pods during an update (the manifest's `max_surge`, counted in the connection budget).
    pub max_surge: u32,
    /// Pods that may be missing during an update.
    pub max_unavailable: u32,
}

/// A label selector.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Labels that must match.
    pub match_labels: BTreeMap<String, String>,
}

/// `template` of a Deployment.
#[derive(Debug, Clone, Serialize)]
pub struct PodTemplate {
    /// Labels of the pods.
    pub metadata: TemplateMeta,
    /// The pod spec.
    pub spec: PodSpec,
}

/// `metadata` of a pod template.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateMeta {
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A pod spec.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// The Kubernetes service account (Workload Identity maps it to the Google one).
    pub service_account_name: String,
    /// Room for the preStop pause plus the service's drain.
    pub termination_grace_period_seconds: u32,
    /// Pod-level security.
    pub security_context: PodSecurityContext,
    /// The service container.
    pub containers: Vec<Container>,
    /// Secret and CA volumes.
    pub volumes: Vec<Volume>,
}

/// Pod-level security context.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    /// Refuse to start as root.
    pub run_as_non_root: bool,
    /// The image's numeric user.
    pub run_as_user: u32,
    /// Its group.
    pub run_as_group: u32,
    /// The runtime's default seccomp profile.
    pub seccomp_profile: SeccompProfile,
}

/// `seccompProfile`.
#[derive(Debug, Clone, Serialize)]
pub struct SeccompProfile {
    /// `RuntimeDefault`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A container.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Container name.
    pub name: String,
    /// Image (a name kustomize's `images` replaces with the registry path and commit tag).
    pub image: String,
    /// What runs: the image's binary, by path.
    pub command: Vec<String>,
    /// Ports.
    pub ports: Vec<ContainerPort>,
    /// Variables.
    pub env: Vec<EnvVar>,
    /// Ready when the database is reachable and the pod is not draining.
    pub readiness_probe: Probe,
    /// Alive while the process answers (a database outage must not restart pods).
    pub liveness_probe: Probe,
    /// The preStop pause.
    pub lifecycle: Lifecycle,
    /// Requests and limits.
    pub resources: Resources,
    /// Container-level security.
    pub security_context: ContainerSecurityContext,
    /// Mounted volumes.
    pub volume_mounts: Vec<VolumeMount>,
}

/// A container port.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// Port name (probes and the Service refer to it).
    pub name: &'static str,
    /// Port number.
    pub container_port: u16,
}

/// A variable with a literal value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// An HTTP probe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// The request.
    pub http_get: HttpGet,
    /// Seconds between probes.
    pub period_seconds: u32,
    /// Failures before the pod is unready (or restarted).
    pub failure_threshold: u32,
}

/// `httpGet` of a probe.
#[derive(Debug, Clone, Serialize)]
pub struct HttpGet {
    /// Path.
    pub path: &'static str,
    /// Port name.
    pub port: &'static str,
}

/// `lifecycle` of a container.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    /// Runs before SIGTERM.
    pub pre_stop: LifecycleHandler,
}

/// A lifecycle handler: the kubelet's own sleep (Kubernetes >= 1.30), nothing run in the container.
#[derive(Debug, Clone, Serialize)]
pub struct LifecycleHandler {
    /// The pause.
    pub sleep: Sleep,
}

/// `sleep` action.
#[derive(Debug, Clone, Serialize)]
pub struct Sleep {
    /// Seconds.
    pub seconds: u32,
}

/// `resources` of a container.
#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    /// Requests.
    pub requests: BTreeMap<&'static str, String>,
    /// Limits.
    pub limits: BTreeMap<&'static str, String>,
}

/// Container-level security context.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSecurityContext {
    /// No setuid gains.
    pub allow_privilege_escalation: bool,
    /// The image is read-only; the service writes nothing.
    pub read_only_root_filesystem: bool,
    /// No capabilities.
    pub capabilities: Capabilities,
}

/// `capabilities`.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    /// Dropped (`ALL`).
    pub drop: Vec<&'static str>,
}

/// A volume mount.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// Volume name.
    pub name: String,
    /// Directory in the container.
    pub mount_path: String,
    /// Always read-only here.
    pub read_only: bool,
}

/// A volume: a CSI secret mount or a ConfigMap.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume name.
    pub name: String,
    /// The Secret Manager mount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csi: Option<CsiVolume>,
    /// A ConfigMap (the cluster CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolume>,
}

/// `csi` volume source.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CsiVolume {
    /// `secrets-store-gke.csi.k8s.io`.
    pub driver: &'static str,
    /// Read-only.
    pub read_only: bool,
    /// `secretProviderClass`.
    pub volume_attributes: BTreeMap<&'static str, String>,
}

/// `configMap` volume source.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigMapVolume {
    /// ConfigMap name.
    pub name: String,
}

/// `spec` of a Service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSpec {
    /// Pods behind it.
    pub selector: BTreeMap<String, String>,
    /// Ports.
    pub ports: Vec<ServicePort>,
}

/// A Service port.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Port name.
    pub name: &'static str,
    /// Port of the Service.
    pub port: u16,
    /// The container port's name.
    pub target_port: &'static str,
}

/// `spec` of a PodDisruptionBudget.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    /// Pods a voluntary disruption may take at once.
    pub max_unavailable: u32,
    /// Which pods.
    pub selector: Selector,
}

/// A kustomization listing the files (the deploy pipeline layers the image tag over it).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    /// `kustomize.config.k8s.io/v1beta1`.
    pub api_version: &'static str,
    /// `Kustomization`.
    pub kind: &'static str,
    /// The object files.
    pub resources: Vec<String>,
}
