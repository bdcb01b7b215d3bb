//! Password lookup in a `.pgpass` file, as libpq does it: lines
//! `hostname:port:database:username:password`, `*` matches anything, `\` escapes `:` and `\`,
//! first match wins, and a file readable by group or others is ignored (with a warning).

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::host::{Host, HostSpec};

/// The file to consult: the configured one, else `~/.pgpass`.
pub(crate) fn location(configured: Option<&Path>) -> Option<PathBuf> {
    configured
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pgpass")))
}

/// Looks up the password for one host; `None` when the file is absent, unsafe or has no match.
pub(crate) fn lookup(file: &Path, host: &HostSpec, database: &str, user: &str) -> Option<SecretString> {
    let metadata = std::fs::metadata(file).ok()?;
    if !metadata.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                passfile = %file.display(),
                "password file has group or world access; permissions should be u=rw (0600) or less; ignoring it"
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(file).ok()?;
    let host_names: Vec<String> = match &host.host {
        Host::Tcp(name) => vec![name.clone()],
        Host::Unix(dir) => vec!["localhost".to_owned(), dir.display().to_string()],
    };
    let port = host.port.to_string();
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(fields)
        .find(|f| {
            (f[0] == "*" || host_names.contains(&f[0]))
                && (f[1] == "*" || f[1] == port)
                && (f[2] == "*" || f[2] == database)
                && (f[3] == "*" || f[3] == user)
        })
        .map(|mut f| SecretString::from(std::mem::take(&mut f[4])))
}

/// Splits one line into its five fields; `None` for malformed lines.
fn fields(line: &str) -> Option<[String; 5]> {
    let mut out: Vec<String> = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if out.len() < 5 => out.push(String::new()),
            _ => out.last_mut()?.push(c),
        }
    }
    out.try_into().ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use secrecy::ExposeSecret;

    use super::*;

    fn file(contents: &str, mode: u32) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn first_matching_line_with_wildcards_and_escapes() {
        let f = file(
            "# comment\nother:5432:*:*:nope\ndb\\:1:*:app:u:p\\:w\\\\x\n*:*:*:*:fallback\n",
            0o600,
        );
        let host = HostSpec::tcp("db:1", 5432);
        assert_eq!(lookup(f.path(), &host, "app", "u").unwrap().expose_secret(), "p:w\\x");
        let host = HostSpec::tcp("else", 1);
        assert_eq!(lookup(f.path(), &host, "x", "y").unwrap().expose_secret(), "fallback");
    }

    #[test]
    fn unix_hosts_match_localhost() {
        let f = file("localhost:5433:*:*:sock\n", 0o600);
        let host = HostSpec::unix("/tmp", 5433);
        assert_eq!(lookup(f.path(), &host, "d", "u").unwrap().expose_secret(), "sock");
    }

    #[test]
    fn world_readable_file_is_ignored() {
        let f = file("*:*:*:*:secret\n", 0o644);
        assert!(lookup(f.path(), &HostSpec::tcp("h", 1), "d", "u").is_none());
    }
}
