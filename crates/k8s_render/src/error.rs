//! Why a deployment cannot be rendered. Messages name the manifest key or the value at fault.

/// A render failure; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An environment or service the manifest does not have.
    #[error(transparent)]
    Manifest(#[from] provision::ManifestError),
    /// The manifest, its endpoints or the Terraform outputs they name.
    #[error(transparent)]
    Provision(#[from] provision::ProvisionError),
    /// Something the Kubernetes objects need is missing or unusable.
    #[error("cannot render {deployment}: {detail}")]
    Invalid {
        /// `pcc-client-api in devtest`.
        deployment: String,
        /// What is wrong and what to set.
        detail: String,
    },
    /// YAML serialization (not expected for these types).
    #[error("serializing {file}: {source}")]
    Yaml {
        /// The file being written.
        file: String,
        /// serde_yaml_ng's error.
        source: serde_yaml_ng::Error,
    },
    /// Reading or writing the output directory.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}
