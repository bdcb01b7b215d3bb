//! Connections for tests. Launched clusters only accept TLS over TCP (as AlloyDB), and
//! test_support verifies the server against the cluster's own CA (VerifyFull), so every test
//! connection exercises real TLS. The TLS configuration itself comes from `conninfo`.

use std::path::Path;

use conninfo::{ConnSpec, SslMode};
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A connector that trusts the CA in `ca_pem_file` and checks the chain and host name; without a
/// CA it encrypts without verifying (`SSL Mode=Require`), for servers given by URL.
///
/// # Panics
/// If the CA file cannot be read: a harness misconfiguration, reported loudly.
pub fn tls_connector(ca_pem_file: Option<&Path>) -> MakeRustlsConnect {
    let spec = match ca_pem_file {
        Some(ca) => ConnSpec::for_host("127.0.0.1", 5432)
            .with_ssl_mode(SslMode::VerifyFull)
            .with_root_cert(ca),
        None => ConnSpec::for_host("127.0.0.1", 5432).with_ssl_mode(SslMode::Require),
    };
    conninfo::tls_connector(&spec).unwrap_or_else(|e| panic!("test TLS configuration: {e}"))
}

/// Connects with `config`, over TLS (verified against `ca` when given) unless the config disables
/// it, and drives the connection on the current runtime.
///
/// # Errors
/// The server's or the network's error.
pub async fn connect(config: &Config, ca: Option<&Path>) -> Result<Client, tokio_postgres::Error> {
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        return Ok(client);
    }
    let (client, connection) = config.connect(tls_connector(ca)).await?;
    tokio::spawn(connection);
    Ok(client)
}
