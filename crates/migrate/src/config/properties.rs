//! Java `.properties` syntax, used by legacy `flyway.conf` files and per-script `.sql.conf`
//! files: `key=value`, `key: value` or `key value`; `#`/`!` comments; a trailing backslash
//! continues a line; `\t`, `\n`, `\uXXXX` and `\<char>` escapes.

/// A syntax error with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PropertiesError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses properties into (key, value, line) triples, in file order.
///
/// # Errors
/// [`PropertiesError`] for a malformed `\u` escape.
pub fn parse(text: &str) -> Result<Vec<(String, String, usize)>, PropertiesError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let start = raw.trim_start();
        if start.is_empty() || start.starts_with('#') || start.starts_with('!') {
            continue;
        }
        let mut logical = String::from(start);
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        let key = unescape(key, index + 1)?;
        let value = unescape(value, index + 1)?;
        out.push((key, value, index + 1));
    }
    Ok(out)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

fn split_entry(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(bytes.len());
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(after) = rest.strip_prefix(['=', ':']) {
        rest = after.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str, line: usize) -> Result<String, PropertiesError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| PropertiesError {
                        line,
                        message: format!("malformed \\u escape \\u{hex}"),
                    })?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().into_iter().map(|(k, v, _)| (k, v)).collect()
    }

    #[test]
    fn the_three_separators_and_comments_work() {
        let got =
            pairs("# comment\n! also\nflyway.url=jdbc:postgresql://h/db\nflyway.user : alice\nflyway.table  t\n\n");
        assert_eq!(
            got,
            [
                ("flyway.url".into(), "jdbc:postgresql://h/db".into()),
                ("flyway.user".into(), "alice".into()),
                ("flyway.table".into(), "t".into()),
            ]
        );
    }

    #[test]
    fn a_trailing_backslash_continues_the_line() {
        assert_eq!(
            pairs("flyway.locations=filesystem:a,\\\n    filesystem:b"),
            [("flyway.locations".into(), "filesystem:a,filesystem:b".into())]
        );
    }

    #[test]
    fn escapes_are_decoded_and_values_keep_later_equals_signs() {
        assert_eq!(pairs("k=a\\tb\\u00e9=c\\\\"), [("k".into(), "a\tbé=c\\".into())]);
        assert_eq!(pairs("a\\=b=c"), [("a=b".into(), "c".into())]);
    }

    #[test]
    fn a_bad_unicode_escape_names_the_line() {
        assert_eq!(parse("a=1\nb=\\u12").unwrap_err().line, 2);
    }

    #[test]
    fn lines_are_reported() {
        assert_eq!(parse("\n\nk=v").unwrap()[0].2, 3);
    }
}
