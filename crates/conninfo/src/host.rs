//! One endpoint of a connection: a TCP host name or address, or a Unix socket directory, plus
//! a port; and the Npgsql rule for splitting `host:port` entries of a host list.
//!
//! Hosts are stored normalized: IPv6 brackets are stripped (`[::1]` and `::1` are the same
//! endpoint) and put back when rendering, so every syntax produces the same [`HostSpec`].

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The PostgreSQL default port.
pub const DEFAULT_PORT: u16 = 5432;

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name or an IP address literal (IPv6 without brackets).
    Tcp(String),
    /// A directory holding the server's socket file `.s.PGSQL.<port>`.
    Unix(PathBuf),
}

impl Host {
    /// Classifies a host as written: a leading `/` means a socket directory (both Npgsql and
    /// libpq), `[...]` is a bracketed IPv6 literal whose brackets are dropped.
    pub fn parse(text: &str) -> Host {
        if text.starts_with('/') {
            return Host::Unix(PathBuf::from(text));
        }
        match text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            Some(inner) => Host::Tcp(inner.to_owned()),
            None => Host::Tcp(text.to_owned()),
        }
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Tcp(name) => name.parse().ok(),
            Host::Unix(_) => None,
        }
    }

    /// The socket directory, for a Unix host.
    pub fn socket_dir(&self) -> Option<&Path> {
        match self {
            Host::Unix(dir) => Some(dir),
            Host::Tcp(_) => None,
        }
    }

    /// The host in URI/host-list form: IPv6 literals in brackets, paths as they are.
    pub fn bracketed(&self) -> String {
        match self {
            Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
            Host::Tcp(name) => name.clone(),
            Host::Unix(dir) => dir.display().to_string(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Tcp(name) => f.write_str(name),
            Host::Unix(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// A host and the port to use on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostSpec {
    /// Where the server listens.
    pub host: Host,
    /// The TCP port, or the number in the socket file name for Unix hosts.
    pub port: u16,
}

impl HostSpec {
    /// A TCP endpoint (brackets around an IPv6 literal are accepted and dropped).
    pub fn tcp(host: &str, port: u16) -> Self {
        let host = match Host::parse(host) {
            Host::Unix(path) => Host::Tcp(path.display().to_string()),
            tcp => tcp,
        };
        HostSpec { host, port }
    }

    /// A Unix socket directory endpoint.
    pub fn unix(dir: impl Into<PathBuf>, port: u16) -> Self {
        HostSpec {
            host: Host::Unix(dir.into()),
            port,
        }
    }

    /// The socket file path for a Unix host (`<dir>/.s.PGSQL.<port>`).
    pub fn socket_path(&self) -> Option<PathBuf> {
        self.host
            .socket_dir()
            .map(|dir| dir.join(format!(".s.PGSQL.{}", self.port)))
    }

    /// A serializable view for explanations.
    pub fn explain(&self) -> HostView {
        match &self.host {
            Host::Tcp(name) => HostView {
                kind: "tcp",
                host: name.clone(),
                port: self.port,
                socket: None,
            },
            Host::Unix(dir) => HostView {
                kind: "unix",
                host: dir.display().to_string(),
                port: self.port,
                socket: self.socket_path().map(|p| p.display().to_string()),
            },
        }
    }
}

impl fmt::Display for HostSpec {
    /// `host:port`, with IPv6 literals bracketed (`[::1]:5432`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host.bracketed(), self.port)
    }
}

/// A host as `pccdb conninfo` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostView {
    /// `tcp` or `unix`.
    pub kind: &'static str,
    /// The host name, address or socket directory.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The socket file, for Unix hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
}

/// Splits one Npgsql host-list entry into host text and optional port text, with Npgsql's rule:
/// the last `:` separates a port unless the entry is an unbracketed IPv6 literal (`::1` stays a
/// host, `[::1]:5432` and `[::1]` split as expected).
pub(crate) fn split_host_port(entry: &str) -> (&str, Option<&str>) {
    let Some(sep) = entry.rfind(':') else {
        return (entry, None);
    };
    let other_colon = entry[..sep].rfind(':');
    let ipv6_end = entry.rfind(']');
    let is_port = match (other_colon, ipv6_end) {
        (None, _) => true,
        (Some(other), Some(end)) => sep > end && other < end,
        (Some(_), None) => false,
    };
    if is_port {
        (&entry[..sep], Some(&entry[sep + 1..]))
    } else {
        (entry, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_npgsql_for_ipv6_and_names() {
        assert_eq!(split_host_port("127.0.0.1"), ("127.0.0.1", None));
        assert_eq!(split_host_port("127.0.0.1:5433"), ("127.0.0.1", Some("5433")));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("[::1]"), ("[::1]", None));
        assert_eq!(split_host_port("[::1]:6000"), ("[::1]", Some("6000")));
        assert_eq!(split_host_port("fe80::1:2"), ("fe80::1:2", None));
        assert_eq!(split_host_port("host:"), ("host", Some("")));
    }

    #[test]
    fn host_display_brackets_ipv6_only() {
        assert_eq!(HostSpec::tcp("[::1]", 5432).to_string(), "[::1]:5432");
        assert_eq!(HostSpec::tcp("::1", 5432).to_string(), "[::1]:5432");
        assert_eq!(HostSpec::tcp("db.example", 1).to_string(), "db.example:1");
        let unix = HostSpec::unix("/run/pg", 5433);
        assert_eq!(unix.socket_path().unwrap(), Path::new("/run/pg/.s.PGSQL.5433"));
    }
}
