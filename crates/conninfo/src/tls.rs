//! rustls (ring provider) client configuration for each TLS mode.
//!
//! - `Allow`, `Prefer`, `Require`: encrypt, accept any certificate (libpq without a root file,
//!   Npgsql 8+). Handshake signatures are still checked, so the session key belongs to whoever
//!   holds the certificate's key; what is not checked is who that is.
//! - `VerifyCa`: the chain must end in the root certificate; the host name is not checked (for a
//!   server whose certificate does not name the address clients dial).
//! - `VerifyFull`: chain and host name: a host given as an IP address must appear in the certificate
//!   as an IP SAN, a DNS name as a DNS SAN (README "TLS against AlloyDB").

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
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
    let verifier = server_verifier(spec, &provider)?;
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

/// The certificate verifier for the spec's TLS mode.
fn server_verifier(spec: &ConnSpec, provider: &Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
    let algorithms = provider.signature_verification_algorithms;
    if !spec.ssl_mode.verifies_chain() {
        return Ok(Arc::new(ModeVerifier {
            roots: None,
            algorithms,
        }));
    }
    let path = spec
        .root_cert
        .as_deref()
        .ok_or(TlsError::MissingRootCert(spec.ssl_mode))?;
    let roots = Arc::new(load_roots(path)?);
    if spec.ssl_mode.verifies_host_name() {
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|err| file_error("root certificate", path, err))?;
        Ok(verifier)
    } else {
        Ok(Arc::new(ModeVerifier {
            roots: Some(roots),
            algorithms,
        }))
    }
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

/// The verifier for every mode but VerifyFull (which uses rustls' own WebPKI verifier).
///
/// Handshake signatures are always checked against the provider's algorithms. With `roots`
/// (VerifyCa) the chain must end in a trusted root and the name is not checked; without them
/// (Require and weaker) any certificate is accepted.
#[derive(Debug)]
struct ModeVerifier {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ModeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(&cert, roots, intermediates, now, self.algorithms.all)?;
        }
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    use super::*;

    struct Pki {
        ca_file: tempfile::NamedTempFile,
        server: CertificateDer<'static>,
    }

    /// A CA and a server certificate for `localhost` / 127.0.0.1 signed by it.
    fn pki() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let server = server_params.signed_by(&server_key, &issuer).unwrap();
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(ca.pem().as_bytes()).unwrap();
        Pki {
            ca_file,
            server: server.der().clone(),
        }
    }

    fn verify(
        mode: SslMode,
        root: &Path,
        cert: &CertificateDer<'_>,
        name: &str,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let spec = ConnSpec::for_host("h", 5432).with_ssl_mode(mode).with_root_cert(root);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = server_verifier(&spec, &provider).unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        verifier.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
    }

    #[test]
    fn verify_full_checks_the_name_verify_ca_does_not() {
        let pki = pki();
        let root = pki.ca_file.path();
        assert!(verify(SslMode::VerifyFull, root, &pki.server, "localhost").is_ok());
        assert!(verify(SslMode::VerifyFull, root, &pki.server, "127.0.0.1").is_ok());
        let wrong_name = verify(SslMode::VerifyFull, root, &pki.server, "db.example.com").unwrap_err();
        assert!(wrong_name.to_string().contains("not valid for name"), "{wrong_name}");
        assert!(verify(SslMode::VerifyCa, root, &pki.server, "db.example.com").is_ok());
    }

    fn make_other_ca() -> tempfile::NamedTempFile {
        pki().ca_file
    }

    #[test]
    fn a_foreign_ca_fails_both_verifying_modes_and_require_accepts_anything() {
        let pki = pki();
        let other = make_other_ca();
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
            let err = verify(mode, other.path(), &pki.server, "localhost").unwrap_err();
            assert!(err.to_string().contains("invalid peer certificate"), "{mode}: {err}");
        }
        assert!(verify(SslMode::Require, other.path(), &pki.server, "anything.example").is_ok());
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let spec = ConnSpec::for_host("h", 5432).with_ssl_mode(SslMode::VerifyFull);
        assert!(matches!(
            tls_connector(&spec),
            Err(TlsError::MissingRootCert(SslMode::VerifyFull))
        ));
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

    #[test]
    fn half_a_client_certificate_is_an_error() {
        let mut spec = ConnSpec::for_host("h", 5432);
        spec.client_cert = Some("/x/client.crt".into());
        assert!(matches!(tls_connector(&spec), Err(TlsError::IncompleteClientAuth)));
    }
}
