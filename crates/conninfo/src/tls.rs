//! rustls (ring provider) client configuration for each TLS mode.
//!
//! - `Allow`, `Prefer`, `Require`: encrypt, accept any certificate (libpq without a root file,
//!   Npgsql 8+). Handshake signatures are still checked, so the session key belongs to whoever
//!   holds the certificate's key; what is not checked is who that is.
//! - `VerifyCa`: the chain must end in the root certificate; the host name is not checked
//!   (AlloyDB's server certificates name the instance, not the IP clients dial).
//! - `VerifyFull`: chain and host name (an IP host must appear as an IP SAN).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::modes::{SslMode, SslNegotiation};
use crate::spec::ConnSpec;

/// Why TLS could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// VerifyCa / VerifyFull without a root certificate file.
    #[error(
        "ssl mode {0} verifies the server certificate and needs a root certificate (`Root Certificate` / `sslrootcert`)"
    )]
    MissingRootCert(SslMode),
    /// A certificate or key file could not be read or holds no usable PEM item.
    #[error("cannot load {what} from {}: {reason}", path.display())]
    File {
        /// Which file (root certificate, client certificate, client key).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Only one of client certificate and client key was given.
    #[error("a client certificate needs both `SSL Certificate`/`sslcert` and `SSL Key`/`sslkey`")]
    IncompleteClientAuth,
    /// rustls refused the configuration.
    #[error("tls configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Builds the TLS connector for a spec. Files are read now, once.
///
/// # Errors
/// [`TlsError`] when a needed file is missing or unreadable.
pub fn tls_connector(spec: &ConnSpec) -> Result<MakeRustlsConnect, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match spec.ssl_mode {
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let path = spec
                .root_cert
                .as_deref()
                .ok_or(TlsError::MissingRootCert(spec.ssl_mode))?;
            let roots = Arc::new(load_roots(path)?);
            if spec.ssl_mode == SslMode::VerifyFull {
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|err| file_error("root certificate", path, err))?
            } else {
                Arc::new(ChainOnly {
                    roots,
                    algorithms: provider.signature_verification_algorithms,
                })
            }
        }
        _ => Arc::new(AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&spec.client_cert, &spec.client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            builder.with_client_auth_cert(load_certs(cert, "client certificate")?, load_key(key)?)?
        }
        _ => return Err(TlsError::IncompleteClientAuth),
    };
    if spec.ssl_negotiation == SslNegotiation::Direct {
        config.alpn_protocols = vec![b"postgresql".to_vec()];
    }
    Ok(MakeRustlsConnect::new(config))
}

fn file_error(what: &'static str, path: &Path, reason: impl fmt::Display) -> TlsError {
    TlsError::File {
        what,
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|err| file_error(what, path, err))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| file_error(what, path, err))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate found"));
    }
    Ok(certs)
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path, "root certificate")? {
        roots
            .add(cert)
            .map_err(|err| file_error("root certificate", path, err))?;
    }
    Ok(roots)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|err| file_error("client key", path, err))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|err| file_error("client key", path, err))
}

/// Accepts any server certificate (Require and weaker), still checking handshake signatures.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// VerifyCa: the chain must end in a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnly {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(&cert, &self.roots, intermediates, now, self.algorithms.all)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Exposed for tests of this crate: whether a mode's connector would need a root certificate.
#[cfg(test)]
pub(crate) fn needs_root(mode: SslMode) -> bool {
    mode.verifies_chain()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let spec = ConnSpec::for_host("h", 5432).with_ssl_mode(SslMode::VerifyFull);
        assert!(matches!(
            tls_connector(&spec),
            Err(TlsError::MissingRootCert(SslMode::VerifyFull))
        ));
        assert!(needs_root(SslMode::VerifyCa));
        let spec = ConnSpec::for_host("h", 5432).with_ssl_mode(SslMode::Require);
        assert!(tls_connector(&spec).is_ok());
    }

    #[test]
    fn a_missing_root_file_is_named() {
        let spec = ConnSpec::for_host("h", 5432)
            .with_ssl_mode(SslMode::VerifyCa)
            .with_root_cert("/nonexistent/root.crt");
        let err = tls_connector(&spec).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/root.crt"), "{err}");
    }
}
