//! The real `pccdb` binary against real servers, one test binary sharing one launcher cluster: dev, conninfo,
//! migrate (also from the manifest), the provisioning commands with file and (fake) GCP secret stores, and
//! the deployment files (Dockerfile, Cloud Build, Kubernetes) checked offline.

mod common;
mod conninfo_cli;
mod deploy;
mod dev_cli;
mod gcp_credentials_cli;
mod migrate_cli;
mod migrate_platform_cli;
mod provision_cli;
mod provision_no_secrets;
mod provision_terraform;
