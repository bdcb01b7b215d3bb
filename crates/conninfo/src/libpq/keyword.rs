//! The libpq keyword/value grammar (`conninfo_parse` in fe-connect.c):
//! `key = value` pairs separated by blanks; a value is either single-quoted (`\'` and `\\`
//! escapes) or runs to the next blank (a backslash escapes any character, so `a\ b` is one
//! value, a trailing one is dropped). As in libpq, blanks after `=` are skipped, so
//! `host= port=1` gives host `port=1`. Blanks are C's `isspace`: space, tab, line feed, vertical
//! tab, form feed, carriage return; other Unicode spaces are part of a value, as in libpq.

use crate::error::ParseError;
use crate::modes::Syntax;

fn format_error(position: usize, reason: &'static str) -> ParseError {
    ParseError::Format {
        syntax: Syntax::LibpqKeyword,
        position,
        reason,
    }
}

/// C's `isspace` in the "C" locale, which libpq uses to separate pairs.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Splits a keyword/value string into `(key, value, position)` triples in order.
pub(crate) fn pairs(text: &str) -> Result<Vec<(String, String, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && is_blank(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(out);
        }
        let start = i;
        let mut key = String::new();
        while i < chars.len() && !is_blank(chars[i]) && chars[i] != '=' {
            key.push(chars[i]);
            i += 1;
        }
        while i < chars.len() && is_blank(chars[i]) {
            i += 1;
        }
        if i >= chars.len() || chars[i] != '=' {
            return Err(format_error(start, "missing `=` after a keyword"));
        }
        i += 1;
        while i < chars.len() && is_blank(chars[i]) {
            i += 1;
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '\'' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format_error(start, "unterminated quoted string")),
                    Some('\\') => {
                        if let Some(&next) = chars.get(i + 1) {
                            value.push(next);
                            i += 2;
                        } else {
                            return Err(format_error(start, "unterminated quoted string"));
                        }
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !is_blank(chars[i]) {
                if chars[i] == '\\' {
                    // An escaped character is taken as it is; a backslash at the very end is dropped.
                    if let Some(&next) = chars.get(i + 1) {
                        value.push(next);
                    }
                    i += 2;
                    continue;
                }
                value.push(chars[i]);
                i += 1;
            }
        }
        out.push((key, value, start));
    }
}

/// Quotes a value for the keyword/value syntax when needed.
#[cfg(test)]
pub(crate) fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| is_blank(c) || c == '\'' || c == '\\') {
        return value.to_owned();
    }
    let mut out = String::from("'");
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        pairs(text).unwrap().into_iter().map(|(k, v, _)| (k, v)).collect()
    }

    #[test]
    fn blanks_around_equals_and_quotes() {
        assert_eq!(
            kv("host = db  port=5432 password='a b\\'c' dbname=x\\ y"),
            vec![
                ("host".into(), "db".into()),
                ("port".into(), "5432".into()),
                ("password".into(), "a b'c".into()),
                ("dbname".into(), "x y".into()),
            ]
        );
    }

    #[test]
    fn blank_after_equals_is_skipped_like_libpq() {
        assert_eq!(kv("host= port=1"), vec![("host".into(), "port=1".into())]);
        assert_eq!(kv("host=''"), vec![("host".into(), String::new())]);
    }

    #[test]
    fn errors() {
        assert!(pairs("host").is_err());
        assert!(pairs("host localhost").is_err());
        assert!(pairs("password='abc").is_err());
    }

    #[test]
    fn quote_round_trips() {
        for value in ["plain", "", "a b", "it's", "back\\slash", " lead"] {
            let text = format!("k={}", quote(value));
            assert_eq!(kv(&text), vec![("k".into(), value.into())], "{text}");
        }
    }
}
