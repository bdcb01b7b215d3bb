//! The cluster's TLS material: a private CA generated per cluster and a server certificate it signs,
//! valid for `localhost` and `127.0.0.1`. Both servers use the same certificate.
//!
//! Why a CA and not a bare self-signed certificate: `SSL Mode=Require` only encrypts, but
//! `VerifyCA`/`VerifyFull` need a root certificate to check against, exactly as AlloyDB's cluster
//! CA in production. With `ca.crt` beside the cluster every mode can be exercised for real.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

use crate::error::{LauncherError, Result};

/// PEM-encoded certificates and key for one cluster.
pub struct TlsMaterial {
    /// The CA certificate clients may trust.
    pub ca_cert_pem: String,
    /// The server certificate (signed by the CA).
    pub server_cert_pem: String,
    /// The server's private key. Only ever written to the data directory, mode 0600.
    pub server_key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("server_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Generates a fresh CA and a server certificate for `localhost` / `127.0.0.1` / `::1`.
///
/// # Errors
/// [`LauncherError::Certificate`] if key generation or signing fails.
pub fn generate() -> Result<TlsMaterial> {
    let cert_err = |e: rcgen::Error| LauncherError::Certificate(e.to_string());

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pccdb local cluster CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(cert_err)?;
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(cert_err)?;

    let mut server_params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(cert_err)?;
    server_params.distinguished_name.push(DnType::CommonName, "localhost");
    server_params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    let server_key = KeyPair::generate().map_err(cert_err)?;
    let server_cert = server_params.signed_by(&server_key, &ca).map_err(cert_err)?;

    Ok(TlsMaterial {
        ca_cert_pem: ca.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn generates_pem_and_hides_the_key_from_debug() {
        let material = super::generate().expect("generate");
        assert!(material.ca_cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(material.server_cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(material.server_key_pem.contains("PRIVATE KEY"));
        assert!(!format!("{material:?}").contains("PRIVATE KEY"));
    }
}
