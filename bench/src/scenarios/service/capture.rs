//! The service's exact SQL for a request, read from the server log: with `log_statement = 'all'` switched
//! on for the moment of one request, PostgreSQL logs every statement the service's role executes with its
//! bound parameters (`execute s3: SELECT ... WHERE c.id = $1` + `DETAIL:  parameters: $1 = '...'`). Each
//! parameter becomes a pgbench variable bound as a parameter again ([`Logged::for_pgbench`]), giving a
//! statement pgbench runs as the service does: the same text, the same plan, the same rows, one statement
//! per transaction.
//!
//! The log lines follow pg_launcher's `log_line_prefix` (`%m [%p] %q%u@%d `).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, bail};

/// A statement as logged: the backend, the role, the text and its parameters (`None` for NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pid: u32,
    user: String,
    text: String,
    params: Vec<Option<String>>,
}

impl Logged {
    /// A statement (for tests of what is built from captured ones).
    #[cfg(test)]
    pub fn new(pid: u32, user: &str, text: &str, params: Vec<Option<String>>) -> Self {
        Logged {
            pid,
            user: user.to_owned(),
            text: text.to_owned(),
            params,
        }
    }

    /// The statement's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value bound to parameter `n` (1-based); `None` for NULL or no such parameter.
    pub fn param(&self, n: usize) -> Option<&str> {
        self.params.get(n.checked_sub(1)?)?.as_deref()
    }

    /// [`Logged::for_pgbench`] with some parameters bound to pgbench variables of the script instead of
    /// their captured values: `(n, name)` binds `$n` to `:name` (which the script sets) and defines nothing.
    pub fn for_pgbench_with(&self, prefix: &str, overrides: &[(usize, &str)]) -> (String, Vec<String>) {
        let mut text = self.text.clone();
        let mut defines = Vec::new();
        // `$10` before `$1`, so that replacing `$1` cannot touch `$10`.
        for (i, value) in self.params.iter().enumerate().rev() {
            let placeholder = format!("${}", i + 1);
            if let Some((_, name)) = overrides.iter().find(|(n, _)| *n == i + 1) {
                text = text.replace(&placeholder, &format!(":{name}"));
                continue;
            }
            match value {
                Some(value) => {
                    let name = format!("{prefix}_{}", i + 1);
                    text = text.replace(&placeholder, &format!(":{name}"));
                    defines.push(format!("{name}={value}"));
                }
                None => text = text.replace(&placeholder, "NULL"),
            }
        }
        defines.reverse();
        (text, defines)
    }

    /// The statement for pgbench: each parameter becomes the pgbench variable `:{prefix}_{n}`, which
    /// `pgbench -M prepared` sends as a bind parameter, as the service does, so the server plans the same
    /// statement the same way (a literal would let the planner fold what a parameter keeps, such as
    /// `$1::text IS NULL OR ...`, and pick a plan the service never gets). A NULL parameter is written as
    /// `NULL` (pgbench cannot bind one). Returns the text and the `-D name=value` definitions.
    pub fn for_pgbench(&self, prefix: &str) -> (String, Vec<String>) {
        self.for_pgbench_with(prefix, &[])
    }
}

/// The byte length of `log` now (where the next capture starts).
pub fn offset(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// The statements `user` executed since `offset` whose text contains `mentions`.
///
/// # Errors
/// The log cannot be read, or a parameter list cannot be parsed.
pub fn statements_since(log: &Path, offset: u64, user: &str, mentions: &str) -> anyhow::Result<Vec<Logged>> {
    let bytes = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    Ok(parse(&text)?
        .into_iter()
        .filter(|s| s.user == user && s.text.contains(mentions))
        .collect())
}

/// Every statement of the transaction that ran the first statement of `user` since `offset` containing
/// `marker`: all that its backend executed since `offset` (BEGIN to COMMIT and what followed it).
///
/// # Errors
/// The log cannot be read, or no such statement was logged.
pub fn transaction_since(log: &Path, offset: u64, user: &str, marker: &str) -> anyhow::Result<Vec<Logged>> {
    let all = statements_since(log, offset, user, "")?;
    let Some(pid) = all.iter().find(|s| s.text.contains(marker)).map(|s| s.pid) else {
        bail!("no statement of {user} containing `{marker}` in {}", log.display());
    };
    Ok(all.into_iter().filter(|s| s.pid == pid).collect())
}

/// `(pid, user, level, message)` of a line that starts an entry.
fn entry_head(line: &str) -> Option<(u32, &str, &str, &str)> {
    // "2026-12-07 16:50:01.123 UTC [1234] user@db LOG:  message"
    let open = line.find(" [")?;
    let close = open + line[open..].find("] ")?;
    let pid = line[open + 2..close].parse().ok()?;
    let rest = &line[close + 2..];
    let (who, rest) = rest.split_once(' ')?;
    let user = who.split_once('@').map_or("", |(u, _)| u);
    let (level, message) = rest.split_once(":  ")?;
    Some((pid, user, level, message))
}

/// Statements and their parameters from a stretch of server log.
fn parse(text: &str) -> anyhow::Result<Vec<Logged>> {
    let mut entries: Vec<(u32, String, String, String)> = Vec::new();
    for line in text.lines() {
        match entry_head(line) {
            Some((pid, user, level, message)) => {
                entries.push((pid, user.to_owned(), level.to_owned(), message.to_owned()));
            }
            // A continuation line of a multi-line statement.
            None => {
                if let Some(last) = entries.last_mut() {
                    last.3.push('\n');
                    last.3.push_str(line);
                }
            }
        }
    }
    let mut out: Vec<Logged> = Vec::new();
    // The latest statement of each backend, waiting for its DETAIL line.
    let mut open: HashMap<u32, usize> = HashMap::new();
    for (pid, user, level, message) in entries {
        if level == "LOG" {
            let text = message.strip_prefix("statement: ").or_else(|| {
                message
                    .strip_prefix("execute ")
                    .and_then(|m| m.split_once(": ").map(|(_, t)| t))
            });
            if let Some(text) = text {
                open.insert(pid, out.len());
                out.push(Logged {
                    pid,
                    user,
                    text: text.to_owned(),
                    params: Vec::new(),
                });
            }
        } else if level == "DETAIL"
            && let Some(list) = message.strip_prefix("parameters: ")
            && let Some(&at) = open.get(&pid)
        {
            out[at].params = parameters(list).with_context(|| format!("parameters of pid {pid}: {list}"))?;
        }
    }
    Ok(out)
}

/// `$1 = 'a''b', $2 = NULL` -> `[Some("a'b"), None]`.
fn parameters(list: &str) -> anyhow::Result<Vec<Option<String>>> {
    let mut values = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let expected = format!("${} = ", values.len() + 1);
        let Some(after) = rest.strip_prefix(&expected) else {
            bail!("expected `{expected}` at `{rest}`");
        };
        if let Some(after_null) = after.strip_prefix("NULL") {
            values.push(None);
            rest = after_null;
        } else {
            let Some(body) = after.strip_prefix('\'') else {
                bail!("expected a quoted value at `{after}`");
            };
            let mut value = String::new();
            let mut chars = body.char_indices().peekable();
            let end = loop {
                let Some((i, c)) = chars.next() else {
                    bail!("unterminated value at `{after}`");
                };
                if c == '\'' {
                    if chars.peek().is_some_and(|(_, next)| *next == '\'') {
                        chars.next();
                        value.push('\'');
                    } else {
                        break i + 1;
                    }
                } else {
                    value.push(c);
                }
            };
            values.push(Some(value));
            rest = &body[end..];
        }
        rest = rest.strip_prefix(", ").unwrap_or(rest).trim_start();
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2026-12-07 16:50:01.123 UTC [41] client_api_user@db LOG:  execute s3: SELECT c.id FROM client_api.client AS c WHERE c.id = $1 AND c.name = $2 LIMIT $10
2026-12-07 16:50:01.123 UTC [41] client_api_user@db DETAIL:  parameters: $1 = '0190', $2 = 'O''Brien, Ltd', $3 = NULL, $4 = '4', $5 = '5', $6 = '6', $7 = '7', $8 = '8', $9 = '9', $10 = '51'
2026-12-07 16:50:01.124 UTC [42] postgres@db LOG:  statement: SELECT 1 FROM client_api.client
2026-12-07 16:50:01.125 UTC [43] client_api_user@db LOG:  statement: SELECT x
\tFROM client_api.client
2026-12-07 16:50:01.126 UTC [44] client_api_user@db LOG:  execute s1: SELECT pg_catalog.pg_last_wal_replay_lsn()
";

    #[test]
    fn binds_the_parameters_of_the_role_and_keeps_multi_line_statements() {
        let path = std::env::temp_dir().join(format!("pcc-capture-{}.log", std::process::id()));
        std::fs::write(&path, LOG).expect("write");
        let statements = statements_since(&path, 0, "client_api_user", "client_api.client").expect("parse");
        std::fs::remove_file(&path).ok();
        assert_eq!(statements.len(), 2, "{statements:?}");
        let (text, defines) = statements[0].for_pgbench("q");
        assert_eq!(
            text,
            "SELECT c.id FROM client_api.client AS c WHERE c.id = :q_1 AND c.name = :q_2 LIMIT :q_10"
        );
        assert_eq!(defines[0], "q_1=0190");
        assert_eq!(defines[1], "q_2=O'Brien, Ltd");
        assert_eq!(
            defines.len(),
            9,
            "NULL is written into the text, not defined: {defines:?}"
        );
        assert_eq!(defines[8], "q_10=51");
        assert_eq!(
            statements[1].for_pgbench("r"),
            ("SELECT x\n\tFROM client_api.client".to_owned(), vec![])
        );
    }

    #[test]
    fn refuses_a_parameter_list_it_cannot_read() {
        assert!(parameters("$1 = 'unterminated").is_err());
        assert!(parameters("$2 = '1'").is_err());
        assert_eq!(
            parameters("$1 = NULL, $2 = ''").expect("ok"),
            [None, Some(String::new())]
        );
    }
}
