//! TLS for test connections. The launched clusters only accept TLS over TCP (as AlloyDB), and
//! test_support trusts exactly the cluster's own CA, so every test connection is verified for real.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A connector that trusts the CA in `ca_pem_file` (verifying the chain and the host name).
///
/// # Panics
/// If the CA file cannot be read: a harness misconfiguration, reported loudly.
pub fn tls_connector(ca_pem_file: &Path) -> MakeRustlsConnect {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_pem_file)
        .unwrap_or_else(|e| panic!("reading CA certificate {}: {e}", ca_pem_file.display()));
    for cert in certs {
        let cert = cert.unwrap_or_else(|e| panic!("parsing CA certificate {}: {e}", ca_pem_file.display()));
        roots.add(cert).unwrap_or_else(|e| panic!("adding CA certificate: {e}"));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("rustls protocol versions: {e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

/// Connects with `config` (TLS through the cluster CA when `ca` is given, plain otherwise) and
/// drives the connection on the current runtime.
///
/// # Errors
/// The server's or the network's error.
pub async fn connect(config: &Config, ca: Option<&Path>) -> Result<Client, tokio_postgres::Error> {
    match ca {
        Some(ca) => {
            let (client, connection) = config.connect(tls_connector(ca)).await?;
            tokio::spawn(connection);
            Ok(client)
        }
        None => {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            Ok(client)
        }
    }
}
