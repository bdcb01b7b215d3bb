//! A bind parameter that tokio-postgres cannot log: its debug log ("executing statement ...
//! with parameters: [...]") prints each parameter's `Debug`, and this one prints `[REDACTED]`.

use std::error::Error;
use std::fmt;

use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// Text sent as a bind parameter but never shown by `Debug`.
pub(crate) struct Redacted<'a>(pub &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl ToSql for Redacted<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let p = Redacted("SCRAM-SHA-256$4096:abc");
        let params: [&(dyn ToSql + Sync); 1] = [&p];
        assert_eq!(format!("{params:?}"), "[[REDACTED]]");
    }
}
