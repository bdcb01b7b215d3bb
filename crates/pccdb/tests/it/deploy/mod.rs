//! The production path on GCP, checked offline (no Docker engine, no GCP, no terraform binary): the
//! Dockerfile, the Cloud Build pipelines (also against Cloud Build's published schema) and the pod specs they
//! deploy (also built by the real kustomize), the Terraform read as HCL, and the pipelines' pccdb steps run
//! with exactly the Secret Manager grants that Terraform gives their account.

mod cloudbuild;
mod cloudbuild_schema;
pub mod dockerfile;
mod kustomize_build;
mod pipeline_iam;
pub mod pod;
mod pod_env;
mod render;
mod render_iam;
mod terraform;
mod terraform_hcl;

/// deploy/pcc.toml as pccdb reads it from the repository root: its relative paths (the Terraform outputs
/// files) made absolute, since tests run in the crate's directory.
pub fn repo_manifest() -> provision::Manifest {
    let root = test_support::repo_root();
    let mut manifest = provision::Manifest::load(&root.join("deploy/pcc.toml")).unwrap();
    for env in manifest.environments.values_mut() {
        if let Some(file) = env.terraform_outputs.as_mut().filter(|f| f.is_relative()) {
            *file = root.join(&*file);
        }
    }
    manifest
}
