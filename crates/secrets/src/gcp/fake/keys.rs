//! RSA key pairs for fake service accounts, generated in the test process (2048 bits, as
//! Google's keys), once per slot per process because generation takes a moment.

use std::sync::OnceLock;

use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use secrecy::SecretString;

/// A generated key pair: the private key as PKCS#8 PEM (the form of a key file's
/// `private_key`), the public key as SPKI PEM.
pub struct TestKeyPair {
    /// `-----BEGIN PRIVATE KEY-----...`
    pub private_pem: SecretString,
    /// `-----BEGIN PUBLIC KEY-----...`
    pub public_pem: String,
}

impl std::fmt::Debug for TestKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKeyPair").finish_non_exhaustive()
    }
}

static PAIRS: [OnceLock<TestKeyPair>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];

/// Key pair number `slot` (0, 1 or 2): distinct slots are distinct keys, so a test can sign with
/// one and register another.
///
/// # Panics
/// For a slot above 2, or when the OS random generator fails.
pub fn test_key_pair(slot: usize) -> &'static TestKeyPair {
    PAIRS[slot].get_or_init(|| {
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate an RSA key");
        let private_pem = private.to_pkcs8_pem(LineEnding::LF).expect("encode PKCS#8");
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("encode SPKI");
        TestKeyPair {
            private_pem: SecretString::from(private_pem.as_str().to_owned()),
            public_pem,
        }
    })
}
