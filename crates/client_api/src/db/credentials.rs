//! Where the service's database password comes from: inline in the connection string (development), or a
//! secret store (a Kubernetes-mounted file re-read on rotation, or GCP Secret Manager) through
//! `secrets::CachedCredential`, which re-reads after the server rejects a password.

use secrecy::SecretString;
use secrets::{CachedCredential, SecretError};

/// The credential source of the pools.
#[derive(Debug)]
pub enum Credentials {
    /// Use the user and password of the connection string.
    Inline,
    /// A JSON `{"username","password"}` secret read through the cache.
    Store(CachedCredential),
}

impl Credentials {
    /// The current user, password and generation; `None` for inline credentials.
    ///
    /// # Errors
    /// The store's error when nothing is cached yet.
    pub async fn current(&self) -> Result<Option<(String, SecretString, u64)>, SecretError> {
        match self {
            Credentials::Inline => Ok(None),
            Credentials::Store(cached) => {
                let current = cached.current().await?;
                Ok(Some((
                    current.credential.username.clone(),
                    current.credential.password.clone(),
                    current.generation,
                )))
            }
        }
    }

    /// Re-reads the secret after the server refused `generation`'s password.
    ///
    /// # Errors
    /// The store's error.
    pub async fn reload_after(&self, generation: u64) -> Result<(String, SecretString), SecretError> {
        match self {
            Credentials::Inline => Err(SecretError::SecretNotFound {
                store: "inline connection string".to_owned(),
                secret: "password".to_owned(),
            }),
            Credentials::Store(cached) => {
                let reloaded = cached.reload_after(generation).await?;
                Ok((
                    reloaded.current.credential.username.clone(),
                    reloaded.current.credential.password.clone(),
                ))
            }
        }
    }
}
