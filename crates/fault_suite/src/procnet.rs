//! Which of our child processes owns a TCP connection: PostgreSQL reports a session's client port
//! (`pg_stat_activity.client_port`); Linux lists each socket's local port and inode in
//! `/proc/net/tcp` and each process's sockets as `socket:[inode]` links under `/proc/<pid>/fd`.
//! This is how the suite kills exactly the migration run that holds the lock.

use std::collections::HashSet;

/// Inodes of the IPv4/IPv6 TCP sockets whose local port is `port`.
fn inodes_with_local_port(port: u16) -> HashSet<String> {
    let mut out = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok());
            if local_port == Some(port) {
                out.insert((*inode).to_owned());
            }
        }
    }
    out
}

/// The process among `candidates` that has a TCP socket bound locally to `port`.
pub fn pid_with_local_port(candidates: &[u32], port: u16) -> Option<u32> {
    let inodes = inodes_with_local_port(port);
    if inodes.is_empty() {
        return None;
    }
    candidates.iter().copied().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|entries| {
            entries.flatten().any(|entry| {
                std::fs::read_link(entry.path()).is_ok_and(|target| {
                    let target = target.to_string_lossy();
                    target
                        .strip_prefix("socket:[")
                        .and_then(|rest| rest.strip_suffix(']'))
                        .is_some_and(|inode| inodes.contains(inode))
                })
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_by_the_port_of_its_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let port = stream.local_addr().unwrap().port();
        let me = std::process::id();
        assert_eq!(pid_with_local_port(&[1, me], port), Some(me));
        assert_eq!(pid_with_local_port(&[1], port), None);
    }
}
