//! Splits a PostgreSQL script into single statements, with the same token rules as the server's
//! lexer (`scan.l`) and the same statement boundaries as psql (`psqlscan.l`).
//!
//! Token rules: `--` and nested `/* */` comments; `'...'` strings with `''` (standard conforming,
//! the default since 9.1); `E'...'` strings where `\` escapes; `"..."` identifiers with `""`;
//! dollar quotes `$tag$...$tag$` (a `$` inside an identifier, or `$1`, starts none); numbers.
//! Boundaries: a `;` ends a statement outside parentheses and outside the body of
//! `CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END` (psql's heuristic, kept
//! byte-compatible so a script splits here exactly as `psql -f` splits it).
//! `COPY ... FROM STDIN;` takes the following lines up to `\.` as its data. A backslash outside
//! quotes is a psql meta-command, which no server understands: it is an error with its line.

/// One statement of a script, ready to be sent on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The text from its first token up to (not including) the terminating `;`.
    pub text: String,
    /// 1-based line of the first token in the script.
    pub line: usize,
    /// The first words outside quotes, upper-cased, with their parenthesis depth (for classifying).
    pub words: Vec<Word>,
    /// The inline data of `COPY ... FROM STDIN`, sent through the COPY protocol.
    pub copy_data: Option<String>,
}

/// A keyword or identifier outside quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Upper-cased text.
    pub text: String,
    /// Parenthesis depth where it appeared (0 = top level).
    pub depth: u32,
}

impl Statement {
    /// The script line of a 1-based character position inside [`Statement::text`] (as in a server
    /// error's `position`).
    pub fn line_of_position(&self, position: usize) -> usize {
        let before = self.text.chars().take(position.saturating_sub(1));
        self.line + before.filter(|c| *c == '\n').count()
    }

    /// The words at the top level (outside parentheses).
    pub fn top_words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().filter(|w| w.depth == 0).map(|w| w.text.as_str())
    }
}

/// Why a script cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A psql meta-command (`\c`, `\i`, `\set`, ...).
    #[error("line {line}: psql meta-command {command} is not SQL")]
    MetaCommand {
        /// 1-based line.
        line: usize,
        /// The command as written (`\c`).
        command: String,
    },
    /// A quote, dollar quote or comment that never ends.
    #[error("line {line}: unterminated {what}")]
    Unterminated {
        /// 1-based line where it starts.
        line: usize,
        /// What is unterminated.
        what: String,
    },
    /// Text after `COPY ... FROM STDIN;` on the same line (the data starts on the next line).
    #[error("line {line}: text after COPY ... FROM STDIN; on the same line; put the data on the following lines")]
    TextAfterCopy {
        /// 1-based line.
        line: usize,
    },
}

const MAX_WORDS: usize = 48;

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

fn is_tag_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

struct Splitter<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
    line: usize,
    out: Vec<Statement>,
    start: Option<(usize, usize)>,
    words: Vec<Word>,
    paren: u32,
    /// psql's `begin_depth`: BEGIN ... END nesting inside CREATE FUNCTION/PROCEDURE.
    begin: u32,
    /// psql's `identifier_count` and `identifiers[4]`.
    ident_count: usize,
    idents: [u8; 4],
}

/// Splits `src` into statements.
///
/// # Errors
/// [`SplitError`] for psql meta-commands, unterminated quotes/comments, and text after a COPY
/// FROM STDIN terminator on the same line.
pub fn split(src: &str) -> Result<Vec<Statement>, SplitError> {
    let mut s = Splitter {
        src,
        b: src.as_bytes(),
        i: 0,
        line: 1,
        out: Vec::new(),
        start: None,
        words: Vec::new(),
        paren: 0,
        begin: 0,
        ident_count: 0,
        idents: [0; 4],
    };
    s.run()?;
    Ok(s.out)
}

impl Splitter<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.b.get(self.i + ahead).copied().unwrap_or(0)
    }

    fn count_lines(&mut self, from: usize, to: usize) {
        self.line += self.b[from..to].iter().filter(|b| **b == b'\n').count();
    }

    fn run(&mut self) -> Result<(), SplitError> {
        while self.i < self.b.len() {
            let c = self.b[self.i];
            match c {
                b'\n' => {
                    self.line += 1;
                    self.i += 1;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.i += 1,
                b'-' if self.peek(1) == b'-' => {
                    while self.i < self.b.len() && self.b[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'/' if self.peek(1) == b'*' => self.block_comment()?,
                b';' if self.paren == 0 && self.begin == 0 => {
                    let end = self.i;
                    self.i += 1;
                    self.finish(end)?;
                }
                _ => {
                    if self.start.is_none() {
                        self.start = Some((self.i, self.line));
                    }
                    self.token(c)?;
                }
            }
        }
        self.finish(self.b.len())
    }

    fn token(&mut self, c: u8) -> Result<(), SplitError> {
        match c {
            b'\'' => self.quoted(b'\'', false, "quoted string"),
            b'"' => self.quoted(b'"', false, "quoted identifier"),
            b'$' => self.dollar(),
            b'(' => {
                self.paren += 1;
                self.i += 1;
                Ok(())
            }
            b')' => {
                self.paren = self.paren.saturating_sub(1);
                self.i += 1;
                Ok(())
            }
            b'\\' => {
                let from = self.i;
                let mut end = from + 1;
                while end < self.b.len() && !self.b[end].is_ascii_whitespace() && end - from < 32 {
                    end += 1;
                }
                let command = String::from_utf8_lossy(&self.b[from..end]).into_owned();
                Err(SplitError::MetaCommand {
                    line: self.line,
                    command,
                })
            }
            b'0'..=b'9' => {
                self.number();
                Ok(())
            }
            b'.' if self.peek(1).is_ascii_digit() => {
                self.number();
                Ok(())
            }
            c if is_ident_start(c) => self.word(),
            _ => {
                self.i += 1;
                Ok(())
            }
        }
    }

    fn block_comment(&mut self) -> Result<(), SplitError> {
        let (open, line) = (self.i, self.line);
        let mut depth = 0u32;
        while self.i < self.b.len() {
            if self.b[self.i] == b'/' && self.peek(1) == b'*' {
                depth += 1;
                self.i += 2;
            } else if self.b[self.i] == b'*' && self.peek(1) == b'/' {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    self.count_lines(open, self.i);
                    return Ok(());
                }
            } else {
                self.i += 1;
            }
        }
        Err(SplitError::Unterminated {
            line,
            what: "block comment".into(),
        })
    }

    /// A `'...'` string, `E'...'` string (`escapes`) or `"..."` identifier.
    fn quoted(&mut self, quote: u8, escapes: bool, what: &str) -> Result<(), SplitError> {
        let (open, line) = (self.i, self.line);
        let mut j = self.i + 1;
        while j < self.b.len() {
            let c = self.b[j];
            if (escapes && c == b'\\') || (c == quote && self.b.get(j + 1) == Some(&quote)) {
                j += 2;
            } else if c == quote {
                self.i = j + 1;
                self.count_lines(open, self.i);
                return Ok(());
            } else {
                j += 1;
            }
        }
        Err(SplitError::Unterminated {
            line,
            what: what.into(),
        })
    }

    fn dollar(&mut self) -> Result<(), SplitError> {
        let open = self.i;
        let mut j = self.i + 1;
        if self.peek(1) == b'$' || is_ident_start(self.peek(1)) {
            while j < self.b.len() && is_tag_cont(self.b[j]) {
                j += 1;
            }
            if self.b.get(j) == Some(&b'$') {
                let delimiter = &self.src[open..=j];
                let body = j + 1;
                let Some(len) = self.src[body..].find(delimiter) else {
                    return Err(SplitError::Unterminated {
                        line: self.line,
                        what: format!("dollar-quoted string {delimiter}"),
                    });
                };
                self.i = body + len + delimiter.len();
                self.count_lines(open, self.i);
                return Ok(());
            }
            // `$abc` without a closing `$` is no tag: the `$` is an operator character.
            self.i += 1;
            return Ok(());
        }
        // A positional parameter `$1`, or a lone `$`.
        self.i += 1;
        while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        Ok(())
    }

    fn number(&mut self) {
        let digits = |s: &mut Self| {
            while s.i < s.b.len() && s.b[s.i].is_ascii_digit() {
                s.i += 1;
            }
        };
        digits(self);
        if self.peek(0) == b'.' && self.peek(1) != b'.' {
            self.i += 1;
            digits(self);
        }
        let exponent_digit = match self.peek(1) {
            b'+' | b'-' => self.peek(2).is_ascii_digit(),
            d => d.is_ascii_digit(),
        };
        if matches!(self.peek(0), b'e' | b'E') && exponent_digit {
            self.i += 2;
            digits(self);
        }
    }

    fn word(&mut self) -> Result<(), SplitError> {
        let from = self.i;
        while self.i < self.b.len() && is_ident_cont(self.b[self.i]) {
            self.i += 1;
        }
        let word = &self.src[from..self.i];
        if word.eq_ignore_ascii_case("e") && self.peek(0) == b'\'' {
            return self.quoted(b'\'', true, "quoted string");
        }
        self.track_begin_atomic(word);
        if self.words.len() < MAX_WORDS {
            self.words.push(Word {
                text: word.to_ascii_uppercase(),
                depth: self.paren,
            });
        }
        Ok(())
    }

    /// psql's heuristic for `CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END`.
    fn track_begin_atomic(&mut self, word: &str) {
        if self.ident_count == 0 {
            self.idents = [0; 4];
        }
        let lower = word.to_ascii_lowercase();
        if matches!(lower.as_str(), "create" | "function" | "procedure" | "or" | "replace") && self.ident_count < 4 {
            self.idents[self.ident_count] = lower.as_bytes()[0];
        }
        self.ident_count += 1;
        let id = self.idents;
        let routine = id[0] == b'c'
            && (id[1] == b'f' || id[1] == b'p' || (id[1] == b'o' && id[2] == b'r' && (id[3] == b'f' || id[3] == b'p')));
        if routine && self.paren == 0 {
            match lower.as_str() {
                "begin" => self.begin += 1,
                "case" if self.begin >= 1 => self.begin += 1,
                "end" if self.begin > 0 => self.begin -= 1,
                _ => {}
            }
        }
    }

    fn finish(&mut self, end: usize) -> Result<(), SplitError> {
        self.paren = 0;
        self.begin = 0;
        self.ident_count = 0;
        let words = std::mem::take(&mut self.words);
        let Some((start, line)) = self.start.take() else {
            return Ok(());
        };
        let text = self.src[start..end].trim_end().to_owned();
        let is_copy_in = words.first().is_some_and(|w| w.text == "COPY")
            && words
                .windows(2)
                .any(|p| p[0].depth == 0 && p[0].text == "FROM" && p[1].text == "STDIN");
        let copy_data = if is_copy_in && end < self.b.len() {
            Some(self.copy_data()?)
        } else {
            None
        };
        self.out.push(Statement {
            text,
            line,
            words,
            copy_data,
        });
        Ok(())
    }

    /// Reads the data lines after `COPY ... FROM STDIN;` up to a `\.` line (or the end).
    fn copy_data(&mut self) -> Result<String, SplitError> {
        let rest_of_line = self.src[self.i..].split('\n').next().unwrap_or("");
        let tail = rest_of_line.trim();
        if !(tail.is_empty() || tail.starts_with("--")) {
            return Err(SplitError::TextAfterCopy { line: self.line });
        }
        self.i = (self.i + rest_of_line.len() + 1).min(self.b.len());
        self.line += 1;
        let data_start = self.i;
        while self.i < self.b.len() {
            let line_end = self.src[self.i..].find('\n').map_or(self.b.len(), |n| self.i + n);
            if self.src[self.i..line_end].trim() == "\\." {
                let data = self.src[data_start..self.i].to_owned();
                self.i = (line_end + 1).min(self.b.len());
                self.line += 1;
                return Ok(data);
            }
            self.i = (line_end + 1).min(self.b.len());
            self.line += 1;
        }
        Ok(self.src[data_start..].to_owned())
    }
}
