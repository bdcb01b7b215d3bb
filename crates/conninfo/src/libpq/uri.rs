//! The libpq connection URI (`conninfo_uri_parse_options`):
//! `postgres[ql]://[user[:password]@][host][:port][,host[:port]...][/dbname][?key=value&...]`.
//!
//! Every component is percent-decoded; a host may be a bracketed IPv6 literal or a
//! percent-encoded socket directory (`%2Fvar%2Frun%2Fpostgresql`). The URI is turned into the
//! same `(key, value)` parameters as the keyword syntax, so one table applies both.

use percent_encoding::percent_decode_str;
use secrecy::SecretString;

use crate::error::ParseError;
use crate::modes::Syntax;

/// The URI split into libpq parameters; the password travels separately as a secret.
pub(crate) struct UriParts {
    pub params: Vec<(String, String)>,
    pub password: Option<SecretString>,
}

fn format_error(position: usize, reason: &'static str) -> ParseError {
    ParseError::Format {
        syntax: Syntax::LibpqUri,
        position,
        reason,
    }
}

/// Decodes `%XX` escapes of one component; `what` names the component in errors
/// (the value itself is not echoed: it may be a password).
pub(crate) fn decode(text: &str, what: &'static str, position: usize) -> Result<String, ParseError> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit();
            if !ok {
                return Err(format_error(position, what));
            }
        }
    }
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format_error(position, what))
}

/// Splits a URI whose scheme prefix has been checked, the way `conninfo_uri_parse_options` does:
/// the user info ends at the first `@` before any `/` (even one after a `?`); hosts end at `:`,
/// `/`, `?` or `,`, ports at `/`, `?` or `,`; the host and port lists are percent-decoded as a
/// whole (so `%2C` separates hosts, and an IPv6 zone `%25eth0` becomes `%eth0`).
pub(crate) fn split(uri: &str) -> Result<UriParts, ParseError> {
    let prefix_len = if uri.starts_with("postgresql://") {
        "postgresql://".len()
    } else if uri.starts_with("postgres://") {
        "postgres://".len()
    } else {
        return Err(format_error(0, "a URI starts with postgresql:// or postgres://"));
    };
    let rest = &uri[prefix_len..];
    let mut params = Vec::new();
    let mut password = None;

    let credentials_end = rest.find(['@', '/']).filter(|i| rest.as_bytes()[*i] == b'@');
    let (userinfo, netloc) = match credentials_end {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    if let Some(userinfo) = userinfo {
        let (user, pass) = match userinfo.find(':') {
            Some(colon) => (&userinfo[..colon], Some(&userinfo[colon + 1..])),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            params.push((
                "user".to_owned(),
                decode(user, "invalid percent-encoding in the user name", prefix_len)?,
            ));
        }
        if let Some(pass) = pass.filter(|p| !p.is_empty()) {
            let pass = decode(pass, "invalid percent-encoding in the password", prefix_len)?;
            password = Some(SecretString::from(pass));
        }
    }
    let offset = prefix_len + userinfo.map_or(0, |u| u.len() + 1);
    let (hosts, ports, tail) = split_hosts(netloc, offset)?;
    // Like libpq, a list is set only when the URI writes something (so PGHOST/PGPORT still apply).
    if !hosts.is_empty() {
        params.push((
            "host".to_owned(),
            decode(&hosts, "invalid percent-encoding in a host", offset)?,
        ));
    }
    if !ports.is_empty() {
        params.push((
            "port".to_owned(),
            decode(&ports, "invalid percent-encoding in a port", offset)?,
        ));
    }

    let (path, query) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    let dbname = path.strip_prefix('/').unwrap_or(path);
    if !dbname.is_empty() {
        params.push((
            "dbname".to_owned(),
            decode(dbname, "invalid percent-encoding in the database name", offset)?,
        ));
    }
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        // `a=b&` is fine (the loop ends at the end), an empty parameter anywhere else is not.
        let query = query.strip_suffix('&').unwrap_or(query);
        for item in query.split('&') {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format_error(prefix_len, "a query parameter without `=`"));
            };
            if value.contains('=') {
                return Err(format_error(prefix_len, "a query parameter with a second `=`"));
            }
            let key = decode(key, "invalid percent-encoding in a parameter name", prefix_len)?;
            let value = decode(value, "invalid percent-encoding in a parameter value", prefix_len)?;
            params.push((key, value));
        }
    }
    Ok(UriParts { params, password })
}

/// Splits the host list into libpq's raw host and port lists (comma-joined, not yet decoded)
/// and the rest of the URI (from the `/` or `?` that ended the list).
fn split_hosts(netloc: &str, offset: usize) -> Result<(String, String, &str), ParseError> {
    let mut hosts = String::new();
    let mut ports = String::new();
    let mut rest = netloc;
    loop {
        let after_host = if let Some(inner) = rest.strip_prefix('[') {
            let close = inner
                .find(']')
                .ok_or_else(|| format_error(offset, "missing `]` in an IPv6 host address"))?;
            if close == 0 {
                return Err(format_error(offset, "an IPv6 host address may not be empty"));
            }
            hosts.push_str(&inner[..close]);
            let after = &inner[close + 1..];
            if !(after.is_empty() || after.starts_with([':', '/', '?', ','])) {
                return Err(format_error(offset, "unexpected text after an IPv6 host address"));
            }
            after
        } else {
            let end = rest.find([':', '/', '?', ',']).unwrap_or(rest.len());
            hosts.push_str(&rest[..end]);
            &rest[end..]
        };
        rest = after_host;
        if let Some(port) = rest.strip_prefix(':') {
            let end = port.find(['/', '?', ',']).unwrap_or(port.len());
            ports.push_str(&port[..end]);
            rest = &port[end..];
        }
        match rest.strip_prefix(',') {
            Some(next) => {
                hosts.push(',');
                ports.push(',');
                rest = next;
            }
            None => return Ok((hosts, ports, rest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn params(uri: &str) -> Vec<(String, String)> {
        split(uri).unwrap().params
    }

    #[test]
    fn full_uri_with_multiple_hosts() {
        let parts =
            split("postgresql://u%40x:p%3Aw@h1:5433,[::1]:5434,h3/db%20name?sslmode=require&application_name=a%26b")
                .unwrap();
        assert_eq!(parts.password.unwrap().expose_secret(), "p:w");
        assert_eq!(
            parts.params,
            vec![
                ("user".into(), "u@x".into()),
                ("host".into(), "h1,::1,h3".into()),
                ("port".into(), "5433,5434,".into()),
                ("dbname".into(), "db name".into()),
                ("sslmode".into(), "require".into()),
                ("application_name".into(), "a&b".into()),
            ]
        );
    }

    #[test]
    fn socket_directory_and_empty_authority() {
        assert_eq!(
            params("postgresql://%2Fvar%2Frun%2Fpostgresql/db"),
            vec![
                ("host".into(), "/var/run/postgresql".into()),
                ("dbname".into(), "db".into())
            ]
        );
        assert_eq!(
            params("postgres:///db?host=/tmp"),
            vec![("dbname".into(), "db".into()), ("host".into(), "/tmp".into())]
        );
        assert!(params("postgresql://").is_empty());
    }

    #[test]
    fn bad_escape_does_not_echo_the_password() {
        let err = split("postgresql://u:s3cret%zz@h/db").err().unwrap();
        assert!(!err.to_string().contains("s3cret"));
    }
}
