//! What `VerifyFull` and `VerifyCa` need from a server certificate when clients dial an IP address, as
//! they dial AlloyDB: an instance has no DNS name that clients use, and its server certificate, signed by
//! the cluster's own CA, names the instance's IP address. A dedicated cluster presents certificates made
//! here (issued by a CA made here, installed with `Cluster::install_server_certificate`):
//! - `VerifyFull` checks the chain and that the certificate names what the client dialed: an IP SAN for an
//!   IP, a DNS SAN for a name. A certificate with the IP passes; one that names only a DNS name fails,
//!   with an error that says the certificate is not valid for the address.
//! - `VerifyCa` checks the chain only, so it accepts both; it still refuses a certificate from another CA.

use std::io::Write as _;

use conninfo::{ConnSpec, FailureReason, HostSpec, SslMode};
use pg_launcher::{Cluster, ClusterOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};

/// A certificate authority that can issue server certificates, and its certificate as a file.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    file: tempfile::NamedTempFile,
}

fn authority(name: &str) -> Authority {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(issuer.pem().as_bytes()).unwrap();
    Authority { issuer, file }
}

/// A server certificate with exactly `names` as its subject alternative names, and its key.
fn server_certificate(ca: &Authority, names: Vec<SanType>) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, "pcc test instance");
    params.subject_alt_names = names;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn spec(cluster: &Cluster, host: &str, mode: SslMode, ca: &Authority) -> ConnSpec {
    let e = cluster.primary();
    ConnSpec::for_host(host, e.port)
        .with_user(&e.user)
        .with_password(e.password)
        .with_database("postgres")
        .with_ssl_mode(mode)
        .with_root_cert(ca.file.path())
}

/// Connects and returns whether the session is encrypted, or the first host's failure.
async fn try_connect(spec: &ConnSpec) -> Result<bool, FailureReason> {
    match conninfo::connect(spec).await {
        Ok((client, _)) => Ok(client
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0)),
        Err(e) => Err(e.failures()[0].reason.clone()),
    }
}

fn io_message(reason: &FailureReason) -> &str {
    match reason {
        FailureReason::Io(message) => message,
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

#[tokio::test]
async fn verify_full_against_an_ip_needs_the_ip_in_the_certificate_and_verify_ca_does_not() {
    let cluster = tokio::task::spawn_blocking(|| {
        test_support::dedicated_cluster(ClusterOptions {
            replica: false,
            ..ClusterOptions::ephemeral()
        })
    })
    .await
    .unwrap();
    let ip = cluster.primary().host;
    assert_eq!(ip, "127.0.0.1");
    let ca = authority("AlloyDB-like cluster CA (test)");

    // As AlloyDB: the certificate names the instance's IP address.
    let (cert, key) = server_certificate(&ca, vec![SanType::IpAddress([127, 0, 0, 1].into())]);
    cluster.install_server_certificate(&cert, &key).unwrap();
    assert_eq!(
        try_connect(&spec(&cluster, &ip, SslMode::VerifyFull, &ca)).await,
        Ok(true)
    );
    assert_eq!(
        try_connect(&spec(&cluster, &ip, SslMode::VerifyCa, &ca)).await,
        Ok(true)
    );
    // Dialed by a name the certificate does not hold, VerifyFull refuses; VerifyCa does not look.
    let by_name = try_connect(&spec(&cluster, "localhost", SslMode::VerifyFull, &ca))
        .await
        .unwrap_err();
    assert!(io_message(&by_name).contains("not valid for name"), "{by_name:?}");
    assert_eq!(
        try_connect(&spec(&cluster, "localhost", SslMode::VerifyCa, &ca)).await,
        Ok(true)
    );

    // A certificate that names only a DNS name: VerifyFull against the IP fails and says why.
    let (cert, key) = server_certificate(
        &ca,
        vec![SanType::DnsName("instance.example.internal".try_into().unwrap())],
    );
    cluster.install_server_certificate(&cert, &key).unwrap();
    let refused = try_connect(&spec(&cluster, &ip, SslMode::VerifyFull, &ca))
        .await
        .unwrap_err();
    let message = io_message(&refused);
    assert!(
        message.contains("not valid for name") && message.contains("127.0.0.1"),
        "{message}"
    );
    assert_eq!(
        try_connect(&spec(&cluster, &ip, SslMode::VerifyCa, &ca)).await,
        Ok(true)
    );

    // From another CA, neither mode accepts it.
    let other = authority("another CA");
    let (cert, key) = server_certificate(&other, vec![SanType::IpAddress([127, 0, 0, 1].into())]);
    cluster.install_server_certificate(&cert, &key).unwrap();
    for mode in [SslMode::VerifyFull, SslMode::VerifyCa] {
        let refused = try_connect(&spec(&cluster, &ip, mode, &ca)).await.unwrap_err();
        assert!(io_message(&refused).contains("certificate"), "{mode}: {refused:?}");
    }
    // The multi-host form dials each address as written: the IP SAN is checked per host.
    let (cert, key) = server_certificate(&ca, vec![SanType::IpAddress([127, 0, 0, 1].into())]);
    cluster.install_server_certificate(&cert, &key).unwrap();
    let port = cluster.primary().port;
    let two = spec(&cluster, &ip, SslMode::VerifyFull, &ca)
        .with_hosts(vec![HostSpec::tcp("localhost", port), HostSpec::tcp(&ip, port)]);
    let (_, host) = conninfo::connect(&two).await.unwrap();
    assert_eq!(host.index, 1, "localhost is not in the certificate; 127.0.0.1 is");
}
