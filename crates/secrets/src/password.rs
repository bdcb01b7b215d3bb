//! New passwords, drawn from the operating system's CSPRNG.
//!
//! 32 random bytes (256 bits) encoded as unpadded URL-safe base64: 43 characters of
//! `[A-Za-z0-9_-]`, which need no quoting in any connection-string grammar (Npgsql, libpq
//! keyword/URI, JDBC) nor in SQL, and fit every password length limit we know of.

use base64::Engine as _;
use secrecy::SecretString;

use crate::error::SecretError;

/// Bytes of entropy in a generated password.
pub const PASSWORD_BYTES: usize = 32;

/// A fresh random password.
///
/// # Errors
/// [`SecretError::Random`] when the operating system cannot supply random bytes.
pub fn generate_password() -> Result<SecretString, SecretError> {
    let mut bytes = [0u8; PASSWORD_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    // Overwrite the raw bytes; `SecretString` zeroizes the encoded copy when dropped.
    bytes.fill(0);
    Ok(SecretString::from(encoded))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn passwords_are_43_safe_characters_and_differ() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.expose_secret().len(), 43);
        assert!(
            a.expose_secret()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
