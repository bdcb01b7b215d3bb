//! [`IamCredentials`] as db_router's `CredentialProvider` (feature `db-router`): every new
//! connection logs in as the IAM user with the current token, and a refused login (SQLSTATE
//! 28P01: an expired or revoked token) fetches a new token before the router retries once.

use db_router::{CredentialError, CredentialProvider, Credentials, RefreshFuture};

use super::IamCredentials;

impl CredentialProvider for IamCredentials {
    fn current(&self) -> Credentials {
        Credentials {
            username: Some(self.user.clone()),
            password: self.token(),
        }
    }

    fn refresh(&self) -> RefreshFuture<'_> {
        Box::pin(async move {
            self.refresh()
                .await
                .map(|password| Credentials {
                    username: Some(self.user.clone()),
                    password,
                })
                .map_err(|e| CredentialError(e.to_string()))
        })
    }
}
