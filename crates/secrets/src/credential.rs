//! A database credential (user name and password) and its JSON form inside a secret:
//! `{"username":"client_api_user_b","password":"..."}`.
//!
//! The user name travels with the password because rotation alternates between two login
//! roles: a service that reads a new version may have to log in as the other user. Unknown
//! JSON fields are ignored, so a newer `pccdb` can add fields without breaking running services.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};

/// A PostgreSQL user name and its password.
#[derive(Clone)]
pub struct DbCredential {
    /// The login role.
    pub username: String,
    /// Its password, never printed.
    pub password: SecretString,
}

impl fmt::Debug for DbCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbCredential")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

impl PartialEq for DbCredential {
    fn eq(&self, other: &Self) -> bool {
        self.username == other.username && self.password.expose_secret() == other.password.expose_secret()
    }
}

impl Eq for DbCredential {}

#[derive(serde::Deserialize)]
struct Wire {
    username: String,
    password: SecretString,
}

/// Why a secret value is not a credential; the message never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialFormatError {
    /// Not JSON, or fields missing or of the wrong type (serde's message, position only).
    #[error("expected a JSON object with string fields \"username\" and \"password\" ({0})")]
    Json(String),
    /// An empty user name.
    #[error("the \"username\" field is empty")]
    EmptyUsername,
    /// An empty password.
    #[error("the \"password\" field is empty")]
    EmptyPassword,
}

impl DbCredential {
    /// A credential from its parts.
    pub fn new(username: impl Into<String>, password: SecretString) -> Self {
        Self {
            username: username.into(),
            password,
        }
    }

    /// Parses the JSON form.
    ///
    /// # Errors
    /// [`CredentialFormatError`] when the value is not such a JSON object or a field is empty.
    pub fn from_json(value: &SecretString) -> Result<Self, CredentialFormatError> {
        let wire: Wire = serde_json::from_str(value.expose_secret()).map_err(|e| {
            // serde_json's messages can quote input ("invalid type: string \"hunter2\""); keep only
            // the category and the position, which name the problem without the value.
            let category = match e.classify() {
                serde_json::error::Category::Io => "i/o error",
                serde_json::error::Category::Syntax => "invalid JSON",
                serde_json::error::Category::Data => "missing field or wrong type",
                serde_json::error::Category::Eof => "truncated JSON",
            };
            CredentialFormatError::Json(format!("{category} at line {} column {}", e.line(), e.column()))
        })?;
        if wire.username.is_empty() {
            return Err(CredentialFormatError::EmptyUsername);
        }
        if wire.password.expose_secret().is_empty() {
            return Err(CredentialFormatError::EmptyPassword);
        }
        Ok(Self {
            username: wire.username,
            password: wire.password,
        })
    }

    /// The JSON form, to store as a secret version.
    pub fn to_json(&self) -> SecretString {
        let json = serde_json::json!({
            "username": self.username,
            "password": self.password.expose_secret(),
        });
        SecretString::from(json.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_and_debug_hides_the_password() {
        let cred = DbCredential::new("client_api_user", SecretString::from("p\"w;x=1"));
        let back = DbCredential::from_json(&cred.to_json()).unwrap();
        assert_eq!(back, cred);
        let debug = format!("{cred:?}");
        assert!(debug.contains("client_api_user"));
        assert!(!debug.contains("p\\\"w"), "{debug}");
        assert!(!debug.contains("x=1"), "{debug}");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let raw = SecretString::from(r#"{"username":"u","password":"p","rotated_at":"2026-01-01"}"#);
        assert_eq!(DbCredential::from_json(&raw).unwrap().username, "u");
    }

    #[test]
    fn errors_name_the_problem_without_the_value() {
        let raw = SecretString::from(r#"{"username":"u","password":12345678}"#);
        let err = DbCredential::from_json(&raw).unwrap_err().to_string();
        assert!(err.contains("wrong type"), "{err}");
        assert!(!err.contains("12345678"), "{err}");
        let raw = SecretString::from("hunter2");
        let err = DbCredential::from_json(&raw).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let raw = SecretString::from(r#"{"username":"","password":"p"}"#);
        assert_eq!(
            DbCredential::from_json(&raw).unwrap_err(),
            CredentialFormatError::EmptyUsername
        );
        let raw = SecretString::from(r#"{"username":"u","password":""}"#);
        assert_eq!(
            DbCredential::from_json(&raw).unwrap_err(),
            CredentialFormatError::EmptyPassword
        );
    }
}
