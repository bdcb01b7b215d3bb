//! Superuser sessions on a local (pg_launcher) cluster, for what only its superuser does: bulk demo and
//! benchmark loads that skip triggers, server settings. TLS verified against the cluster's own CA.

use conninfo::{ConnSpec, SslMode};
use pg_launcher::{Cluster, NodeName};
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::PlatformError;

/// A spec for `database` on `node` of `cluster` as its superuser.
///
/// # Errors
/// [`PlatformError::LocalCluster`] when the cluster has no such node or its state cannot be read.
pub fn superuser_spec(cluster: &Cluster, node: NodeName, database: &str) -> Result<ConnSpec, PlatformError> {
    let endpoint = cluster.endpoint(node).map_err(|source| PlatformError::LocalCluster {
        dir: cluster.dir().display().to_string(),
        source,
    })?;
    Ok(ConnSpec::for_host(&endpoint.host, endpoint.port)
        .with_user(endpoint.user.clone())
        .with_password(SecretString::from(endpoint.password.expose_secret().to_owned()))
        .with_database(database.to_owned())
        .with_ssl_mode(SslMode::VerifyFull)
        .with_root_cert(cluster.ca_cert_path()))
}

/// A superuser session on `database` of `cluster`'s primary.
///
/// # Errors
/// As [`superuser_spec`], and [`PlatformError::Connect`] when the server cannot be reached.
pub async fn superuser(cluster: &Cluster, database: &str) -> Result<tokio_postgres::Client, PlatformError> {
    let spec = superuser_spec(cluster, NodeName::Primary, database)?;
    let (client, _) = conninfo::connect(&spec)
        .await
        .map_err(|source| PlatformError::Connect {
            service: format!("the local cluster's superuser ({database})"),
            source,
        })?;
    Ok(client)
}
