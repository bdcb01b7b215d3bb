//! The connection strings `pccdb dev up` prints: the seed plan's Npgsql form and the libpq URI form,
//! for the primary and for the replica (`Target Session Attributes=read-only`), usable as printed.

use conninfo::{ConnSpec, SslMode, TargetSessionAttrs};
use pg_launcher::Endpoint;
use secrecy::ExposeSecret;
use serde::Serialize;

/// How to reach one node of the development cluster.
#[derive(Debug, Serialize)]
pub struct NodeStrings {
    /// Always 127.0.0.1.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Npgsql connection string (carries the local superuser password).
    pub npgsql: String,
    /// libpq URI (carries the local superuser password).
    pub uri: String,
}

/// The strings for one node; `read_only` adds the replica's target session attributes. The URI
/// is the portable form, which psql and every libpq client accept as printed.
pub fn for_node(endpoint: &Endpoint, read_only: bool) -> NodeStrings {
    let mut spec = ConnSpec::for_host(&endpoint.host, endpoint.port)
        .with_database("postgres")
        .with_user(&endpoint.user)
        .with_password(endpoint.password.clone())
        .with_ssl_mode(SslMode::Require);
    if read_only {
        spec = spec.with_target_session_attrs(TargetSessionAttrs::ReadOnly);
    }
    NodeStrings {
        host: endpoint.host.clone(),
        port: endpoint.port,
        npgsql: spec.to_npgsql_secret().expose_secret().to_owned(),
        uri: spec.to_libpq_uri_portable_secret().expose_secret().to_owned(),
    }
}
