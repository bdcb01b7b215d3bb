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

/// Splits a URI whose scheme prefix has been checked.
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

    // The authority ends at the first `/` or `?` (an IPv6 literal never contains either).
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostlist) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
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
        if let Some(pass) = pass {
            let pass = decode(pass, "invalid percent-encoding in the password", prefix_len)?;
            password = Some(SecretString::from(pass));
        }
    }
    let host_offset = prefix_len + userinfo.map_or(0, |u| u.len() + 1);
    let (hosts, ports) = split_hosts(hostlist, host_offset)?;
    // Like libpq, an option is set only when the URI gives it, so PGHOST/PGPORT still apply.
    if hosts.iter().any(|h| !h.is_empty()) {
        params.push(("host".to_owned(), hosts.join(",")));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        params.push(("port".to_owned(), ports.join(",")));
    }

    let (path, query) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    let dbname = path.strip_prefix('/').unwrap_or(path);
    if !dbname.is_empty() {
        params.push((
            "dbname".to_owned(),
            decode(dbname, "invalid percent-encoding in the database name", host_offset)?,
        ));
    }
    if let Some(query) = query {
        for item in query.split('&').filter(|item| !item.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format_error(prefix_len, "a query parameter without `=`"));
            };
            let key = decode(key, "invalid percent-encoding in a parameter name", prefix_len)?;
            let value = decode(value, "invalid percent-encoding in a parameter value", prefix_len)?;
            params.push((key, value));
        }
    }
    Ok(UriParts { params, password })
}

/// Splits `host[:port],host[:port]` into parallel host and port lists (empty = default).
fn split_hosts(list: &str, offset: usize) -> Result<(Vec<String>, Vec<String>), ParseError> {
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    if list.is_empty() {
        return Ok((hosts, ports));
    }
    for entry in list.split(',') {
        let (host, port) = if let Some(inner) = entry.strip_prefix('[') {
            let close = inner
                .find(']')
                .ok_or_else(|| format_error(offset, "missing `]` in an IPv6 host address"))?;
            let after = &inner[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(port) => port,
                None if after.is_empty() => "",
                None => return Err(format_error(offset, "unexpected text after an IPv6 host address")),
            };
            (inner[..close].to_owned(), port)
        } else {
            match entry.rfind(':') {
                Some(colon) => (
                    decode(&entry[..colon], "invalid percent-encoding in a host", offset)?,
                    &entry[colon + 1..],
                ),
                None => (decode(entry, "invalid percent-encoding in a host", offset)?, ""),
            }
        };
        hosts.push(host);
        ports.push(port.to_owned());
    }
    Ok((hosts, ports))
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
