//! Value parsers shared by the syntaxes, each producing an error that names the key.
//!
//! .NET and libpq differ in what they accept (`bool.Parse` takes only `true`/`false`; libpq
//! integers are `strtol` with trailing blanks), so each rule is spelled out here once.

use std::time::Duration;

use crate::error::ParseError;

/// .NET `bool.Parse`: `true` or `false`, any case, surrounding white space allowed.
pub(crate) fn dotnet_bool(key: &str, value: &str) -> Result<bool, ParseError> {
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if trimmed.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ParseError::invalid(key, value, "expected `true` or `false`"))
    }
}

/// .NET `int.Parse`: optional white space, optional sign, decimal digits, 32-bit range.
pub(crate) fn dotnet_int(key: &str, value: &str) -> Result<i32, ParseError> {
    let trimmed = value.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::invalid(key, value, "expected an integer"));
    }
    trimmed
        .parse::<i32>()
        .map_err(|_| ParseError::invalid(key, value, "integer out of range"))
}

/// A .NET integer that must lie in `min..=max`.
pub(crate) fn dotnet_int_in(key: &str, value: &str, min: i32, max: i32) -> Result<u32, ParseError> {
    let number = dotnet_int(key, value)?;
    if number < min || number > max {
        return Err(ParseError::invalid(
            key,
            value,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(number.unsigned_abs())
}

/// libpq integers (`parse_int_param`): optional leading blanks and sign, digits, trailing blanks.
pub(crate) fn libpq_int(key: &str, value: &str) -> Result<i64, ParseError> {
    let trimmed = value.trim_start().trim_end();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::invalid(key, value, "expected an integer"));
    }
    trimmed
        .parse::<i64>()
        .ok()
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| ParseError::invalid(key, value, "integer out of range"))
}

/// A TCP port, 1..=65535.
pub(crate) fn port(key: &str, value: &str, number: i64) -> Result<u16, ParseError> {
    u16::try_from(number)
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| ParseError::invalid(key, value, "a port must be between 1 and 65535"))
}

/// Whole seconds, where zero means "none".
pub(crate) fn secs_or_none(seconds: u32) -> Option<Duration> {
    (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)))
}

/// Whole seconds of a duration, rounded up so a non-zero duration never renders as zero.
pub(crate) fn whole_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Case-insensitive lookup of an enum value among `(spelling, value)` pairs.
pub(crate) fn enum_value<T: Copy>(
    key: &str,
    value: &str,
    table: &[(&str, T)],
    ignore_case: bool,
) -> Result<T, ParseError> {
    let trimmed = value.trim();
    table
        .iter()
        .find(|(name, _)| {
            if ignore_case {
                name.eq_ignore_ascii_case(trimmed)
            } else {
                *name == trimmed
            }
        })
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
            ParseError::invalid(key, value, format!("expected one of {}", names.join(", ")))
        })
}

/// Parses `value` as one of `all`, each spelled by `name` (e.g. [`SslMode::libpq_name`]), so a
/// parser uses the enum's own spelling table; the error lists the spellings in `all`'s order.
///
/// [`SslMode::libpq_name`]: crate::SslMode::libpq_name
pub(crate) fn named_value<T: Copy>(
    key: &str,
    value: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    ignore_case: bool,
) -> Result<T, ParseError> {
    let table: Vec<(&str, T)> = all.iter().map(|v| (name(*v), *v)).collect();
    enum_value(key, value, &table, ignore_case)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotnet_bool_rejects_yes_and_numbers() {
        assert!(dotnet_bool("Pooling", " TRUE ").unwrap());
        assert!(!dotnet_bool("Pooling", "false").unwrap());
        assert!(dotnet_bool("Pooling", "yes").is_err());
        assert!(dotnet_bool("Pooling", "1").is_err());
    }

    #[test]
    fn dotnet_int_accepts_sign_and_blanks_only() {
        assert_eq!(dotnet_int("Port", " +5432 ").unwrap(), 5432);
        assert_eq!(dotnet_int("Port", "-1").unwrap(), -1);
        let err = dotnet_int("Port", "hello").unwrap_err();
        assert_eq!(err.key(), Some("Port"));
        assert!(dotnet_int("Port", "99999999999").is_err());
        assert!(dotnet_int("Port", "5_432").is_err());
    }

    #[test]
    fn whole_secs_rounds_up() {
        assert_eq!(whole_secs(Duration::from_millis(1)), 1);
        assert_eq!(whole_secs(Duration::from_secs(2)), 2);
    }
}
