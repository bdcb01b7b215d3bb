//! The connection strings `pccdb dev up` prints: the seed plan's Npgsql form and the libpq URI form,
//! for the primary and for the replica (`Target Session Attributes=read-only`), usable as printed.

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

/// The strings for one node; `read_only` adds the replica's target session attributes.
pub fn for_node(endpoint: &Endpoint, read_only: bool) -> NodeStrings {
    let password = endpoint.password.expose_secret();
    let mut npgsql = format!(
        "Host={};Port={};Database=postgres;Username={};Password={};",
        endpoint.host, endpoint.port, endpoint.user, password
    );
    if read_only {
        npgsql.push_str("Target Session Attributes=read-only;");
    }
    npgsql.push_str("SSL Mode=Require");
    let mut uri = format!(
        "postgresql://{}:{}@{}:{}/postgres?sslmode=require",
        endpoint.user, password, endpoint.host, endpoint.port
    );
    if read_only {
        uri.push_str("&target_session_attrs=read-only");
    }
    NodeStrings {
        host: endpoint.host.clone(),
        port: endpoint.port,
        npgsql,
        uri,
    }
}
