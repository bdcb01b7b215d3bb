//! The ADO.NET connection-string grammar (`DbConnectionOptions.GetKeyValuePair`, non-ODBC
//! rules) as a character state machine, so quoting, `==` in keys and error positions match .NET.
//!
//! Rules reproduced: pairs separated by `;`, blanks and empty pairs skipped; a key runs to the
//! first single `=` (`==` is a literal `=`), trailing blanks trimmed, compared case-insensitively;
//! a value is `"..."` (`""` escapes), `'...'` (`''` escapes) or unquoted up to `;` with
//! outer blanks trimmed; `key=` yields no value (reset). A key that never meets `=`
//! (e.g. `Pooling:false`), an unbalanced quote, an unquoted value ending in a quote, or text
//! after a closing quote is a format error. Note that, as in .NET, a `;` inside a key is part
//! of the key: only a value ends at `;`.

use crate::error::ParseError;
use crate::modes::Syntax;

/// One `key=value` pair as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    /// The key with `==` unescaped and trailing blanks trimmed (case preserved for messages).
    pub key: String,
    /// The value; `None` for `key=` (which resets the key to its default).
    pub value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NothingYet,
    Key,
    KeyEqual,
    KeyEnd,
    UnquotedValue,
    DoubleQuoteValue,
    DoubleQuoteValueQuote,
    SingleQuoteValue,
    SingleQuoteValueQuote,
    QuotedValueEnd,
    NullTermination,
}

fn format_error(position: usize, reason: &'static str) -> ParseError {
    ParseError::Format {
        syntax: Syntax::Npgsql,
        position,
        reason,
    }
}

/// Splits a connection string into pairs, in order (duplicates kept: the caller lets the
/// last one win).
pub(crate) fn pairs(text: &str) -> Result<Vec<Pair>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut position = 0;
    while position < chars.len() {
        let (next, pair) = one_pair(&chars, position)?;
        if let Some(pair) = pair {
            out.push(pair);
        }
        position = next;
    }
    Ok(out)
}

/// Parses one pair starting at `start`; returns the position after it (and its `;`).
fn one_pair(chars: &[char], start: usize) -> Result<(usize, Option<Pair>), ParseError> {
    let mut state = State::NothingYet;
    let mut buffer = String::new();
    let mut key: Option<String> = None;
    let mut value: Option<String> = None;
    let mut pair_start = start;
    let mut position = start;
    while position < chars.len() {
        let current = chars[position];
        position += 1;
        match state {
            State::NothingYet => {
                if current == ';' || current.is_whitespace() {
                    continue;
                }
                if current == '\0' {
                    state = State::NullTermination;
                    continue;
                }
                if current.is_control() {
                    return Err(format_error(position - 1, "control character"));
                }
                pair_start = position - 1;
                if current != '=' {
                    state = State::Key;
                } else {
                    state = State::KeyEqual;
                    continue;
                }
            }
            State::Key => {
                if current == '=' {
                    state = State::KeyEqual;
                    continue;
                }
                if !current.is_whitespace() && current.is_control() {
                    return Err(format_error(pair_start, "control character in key"));
                }
            }
            State::KeyEqual => {
                if current == '=' {
                    // `==` is a literal `=` inside the key.
                    state = State::Key;
                    buffer.push(current);
                    continue;
                }
                key = Some(key_name(&buffer, pair_start)?);
                buffer.clear();
                state = State::KeyEnd;
                match key_end(current, &mut state, pair_start)? {
                    Step::Exit => break,
                    Step::Continue => continue,
                    Step::Append => {}
                }
            }
            State::KeyEnd => match key_end(current, &mut state, pair_start)? {
                Step::Exit => break,
                Step::Continue => continue,
                Step::Append => {}
            },
            State::UnquotedValue => {
                if !current.is_whitespace() && (current.is_control() || current == ';') {
                    break;
                }
            }
            State::DoubleQuoteValue | State::SingleQuoteValue => {
                let quote = if state == State::DoubleQuoteValue { '"' } else { '\'' };
                if current == quote {
                    state = if quote == '"' {
                        State::DoubleQuoteValueQuote
                    } else {
                        State::SingleQuoteValueQuote
                    };
                    continue;
                }
                if current == '\0' {
                    return Err(format_error(pair_start, "unbalanced quote"));
                }
            }
            State::DoubleQuoteValueQuote | State::SingleQuoteValueQuote => {
                let quote = if state == State::DoubleQuoteValueQuote {
                    '"'
                } else {
                    '\''
                };
                if current == quote {
                    // A doubled quote is a literal quote; stay inside the value.
                    state = if quote == '"' {
                        State::DoubleQuoteValue
                    } else {
                        State::SingleQuoteValue
                    };
                } else {
                    value = Some(std::mem::take(&mut buffer));
                    state = State::QuotedValueEnd;
                    if quoted_value_end(current, &mut state, pair_start)? {
                        break;
                    }
                    continue;
                }
            }
            State::QuotedValueEnd => {
                if quoted_value_end(current, &mut state, pair_start)? {
                    break;
                }
                continue;
            }
            State::NullTermination => {
                if current == '\0' || current.is_whitespace() {
                    continue;
                }
                return Err(format_error(position - 1, "text after a NUL character"));
            }
        }
        buffer.push(current);
    }

    // End of the pair (by `;`, control character or end of text).
    match state {
        State::Key => return Err(format_error(pair_start, "keyword without `=` and value")),
        State::DoubleQuoteValue | State::SingleQuoteValue => {
            return Err(format_error(pair_start, "unbalanced quote"));
        }
        State::KeyEqual => key = Some(key_name(&buffer, pair_start)?),
        State::UnquotedValue => {
            let trimmed = buffer.trim_end();
            if trimmed.ends_with(['"', '\'']) {
                return Err(format_error(pair_start, "an unquoted value must not end with a quote"));
            }
            value = Some(trimmed.to_owned());
        }
        State::DoubleQuoteValueQuote | State::SingleQuoteValueQuote => {
            value = Some(std::mem::take(&mut buffer));
        }
        State::QuotedValueEnd | State::NothingYet | State::KeyEnd | State::NullTermination => {}
    }
    Ok((position, key.map(|key| Pair { key, value })))
}

enum Step {
    Exit,
    Continue,
    Append,
}

/// The `KeyEnd` state: blanks before the value, then the value's opening.
fn key_end(current: char, state: &mut State, pair_start: usize) -> Result<Step, ParseError> {
    if current.is_whitespace() {
        return Ok(Step::Continue);
    }
    if current == '\'' {
        *state = State::SingleQuoteValue;
        return Ok(Step::Continue);
    }
    if current == '"' {
        *state = State::DoubleQuoteValue;
        return Ok(Step::Continue);
    }
    if current == ';' || current == '\0' {
        return Ok(Step::Exit);
    }
    if current.is_control() {
        return Err(format_error(pair_start, "control character in value"));
    }
    *state = State::UnquotedValue;
    Ok(Step::Append)
}

/// The `QuotedValueEnd` state: only blanks may follow a closing quote before `;`.
/// Returns true when the pair ends here.
fn quoted_value_end(current: char, state: &mut State, pair_start: usize) -> Result<bool, ParseError> {
    if current.is_whitespace() {
        return Ok(false);
    }
    if current == ';' {
        return Ok(true);
    }
    if current == '\0' {
        *state = State::NullTermination;
        return Ok(false);
    }
    Err(format_error(pair_start, "text after a closing quote"))
}

/// A key with trailing blanks trimmed; an empty key is a format error.
fn key_name(buffer: &str, pair_start: usize) -> Result<String, ParseError> {
    let trimmed = buffer.trim_end();
    if trimmed.is_empty() {
        return Err(format_error(pair_start, "empty keyword"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, Option<String>)> {
        pairs(text).unwrap().into_iter().map(|p| (p.key, p.value)).collect()
    }

    fn one(key: &str, value: Option<&str>) -> Vec<(String, Option<String>)> {
        vec![(key.to_owned(), value.map(str::to_owned))]
    }

    #[test]
    fn plain_pairs_blanks_and_empty_pairs() {
        assert_eq!(
            kv(" ;; Host = db ; Port=5432;;"),
            vec![
                ("Host".to_owned(), Some("db".to_owned())),
                ("Port".to_owned(), Some("5432".to_owned()))
            ]
        );
    }

    #[test]
    fn unquoted_value_keeps_inner_equals_and_blanks() {
        assert_eq!(kv("Keyword=a=b=c"), one("Keyword", Some("a=b=c")));
        assert_eq!(
            kv("Application Name= my  app ;"),
            one("Application Name", Some("my  app"))
        );
    }

    #[test]
    fn double_equals_is_literal_in_key() {
        assert_eq!(kv("a==b=c"), one("a=b", Some("c")));
        assert_eq!(kv("a====b=c"), one("a==b", Some("c")));
    }

    #[test]
    fn quoted_values_keep_separators_and_blanks() {
        assert_eq!(kv("Password=\"a;b=c \""), one("Password", Some("a;b=c ")));
        assert_eq!(kv("Password='it''s'"), one("Password", Some("it's")));
        assert_eq!(kv("Password=\"say \"\"hi\"\"\""), one("Password", Some("say \"hi\"")));
        assert_eq!(kv("Password=\"\";Host=x").len(), 2);
        assert_eq!(kv("Password=\"\"")[0].1.as_deref(), Some(""));
    }

    #[test]
    fn empty_value_resets() {
        assert_eq!(kv("Host="), one("Host", None));
        assert_eq!(kv("Host=;Port=1")[0], ("Host".to_owned(), None));
        assert_eq!(kv("Host=   ;")[0], ("Host".to_owned(), None));
    }

    #[test]
    fn format_errors() {
        for bad in [
            "Pooling:false",
            "Server=127.0.0.1;User Id=npgsql_tests;Pooling:false",
            "Password=\"abc",
            "Password='abc",
            "Password=\"abc\"x",
            "Password=abc\"",
            "=value",
            "  =value",
        ] {
            let err = pairs(bad).unwrap_err();
            assert!(matches!(err, ParseError::Format { .. }), "{bad}: {err:?}");
        }
    }

    #[test]
    fn semicolon_inside_a_key_is_part_of_the_key() {
        // As in .NET: `Pooling:false;Port=1` is one key named `Pooling:false;Port`.
        assert_eq!(kv("Pooling:false;Port=1"), one("Pooling:false;Port", Some("1")));
    }

    #[test]
    fn format_error_does_not_echo_values() {
        let err = pairs("Password=\"s3cret").unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
    }
}
