//! The platform admin as Terraform creates it on AlloyDB (`google_alloydb_user`): LOGIN CREATEROLE
//! CREATEDB, not a superuser. Tests that prove provisioning works without superuser rights create it here.

use secrecy::{ExposeSecret as _, SecretString};
use tokio_postgres::Client;

/// Creates `role` (LOGIN CREATEROLE CREATEDB, no SUPERUSER) over a superuser session, with a fresh random
/// password sent only as a SCRAM verifier, and returns the password.
///
/// # Panics
/// If the server refuses (the role exists already, say): the test cannot run.
pub async fn create_platform_admin(superuser: &Client, role: &str) -> SecretString {
    let password = secrets::generate_password().unwrap_or_else(|e| panic!("generating a password: {e}"));
    let verifier = postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
    superuser
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD '{verifier}'",
            provision::quote_ident(role)
        ))
        .await
        .unwrap_or_else(|e| panic!("creating the platform admin {role}: {e}"));
    password
}
