//! Shared setup of the Secret Manager tests: the project, quick retry policies (so a test of
//! giving up takes a moment, not the production 90 s), clients of the fake.

use std::time::Duration;

use secrets::gcp::RetryPolicy;
use secrets::gcp::fake::FakeSecretManager;
use secrets::{GcpConfig, GcpSecretManager, SecretName, TokenSource};

pub const PROJECT: &str = "pcc-devtest";

/// `attempts` attempts within 30 s, backoff 10-100 ms.
pub fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        budget: Duration::from_secs(30),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
    }
}

/// A configuration for the fake with tokens from `token`.
pub fn config(fake: &FakeSecretManager, token: TokenSource, attempts: u32) -> GcpConfig {
    GcpConfig {
        api_base: fake.api_base(),
        request_timeout: Duration::from_secs(5),
        retry: quick(attempts),
        token_retry: quick(5),
        ..GcpConfig::new(PROJECT, token)
    }
}

/// A client of the fake with tokens from its metadata endpoint.
pub fn client(fake: &FakeSecretManager, attempts: u32) -> GcpSecretManager {
    GcpSecretManager::new(config(fake, TokenSource::Metadata(fake.metadata_base()), attempts)).unwrap()
}

pub fn name(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}
