//! Generates the repeatable reference-data migrations (`R__reference_*.sql`) from the CSV files in reference/.
//!
//! Each generated file is one idempotent statement per table: a `VALUES` list of the source rows, an upsert that
//! only touches rows whose values changed, and an update that marks rows missing from the source as withdrawn
//! (never deleted: clients, addresses and revenues may point at them). Output is deterministic (rows sorted by
//! key, no timestamps), so `tests/invariants/reference_files.rs` can require the committed files to equal a fresh
//! generation. Regenerate with `UPDATE_REFERENCE=1 cargo test -p schema_tests --test invariants reference_files` or
//! `cargo run -p schema_tests --bin generate-reference-sql`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The NAICS 2022 scheme's key in client_api.industry_scheme.
pub const NAICS_SCHEME: &str = "naics_2022";

/// One generated migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// File name inside migrations/client_api.
    pub file_name: &'static str,
    /// Its full text.
    pub sql: String,
}

/// Why a reference CSV cannot be turned into SQL.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The file could not be read.
    #[error("reading {file}: {source}")]
    Io {
        /// The CSV file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The CSV is malformed.
    #[error("{file}: {source}")]
    Csv {
        /// The CSV file.
        file: String,
        /// The parser's error (with its line).
        source: csv::Error,
    },
    /// A row breaks a rule of its standard.
    #[error("{file}, row {row}: {reason}")]
    Row {
        /// The CSV file.
        file: String,
        /// 1-based data row.
        row: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A SQL value in a generated `VALUES` row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Int(i64),
    Null,
}

impl Value {
    fn sql(&self) -> String {
        match self {
            Self::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Self::Int(i) => i.to_string(),
            Self::Null => "NULL".to_owned(),
        }
    }

    fn text_or_null(s: &str) -> Self {
        if s.is_empty() {
            Self::Null
        } else {
            Self::Text(s.to_owned())
        }
    }
}

/// What one generated upsert writes.
struct Upsert<'a> {
    table: &'a str,
    key: &'a [&'a str],
    columns: &'a [&'a str],
    /// Restricts "missing from the source" to one slice of the table (`scheme = 'naics_2022'`).
    scope: Option<(&'a str, &'a str)>,
    rows: Vec<Vec<Value>>,
}

impl Upsert<'_> {
    fn render(&self, out: &mut String) {
        let all: Vec<&str> = self.columns.to_vec();
        let non_key: Vec<&str> = all.iter().copied().filter(|c| !self.key.contains(c)).collect();
        let list = |prefix: &str, cols: &[&str]| {
            cols.iter()
                .map(|c| format!("{prefix}{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "WITH source ({}) AS (", all.join(", "));
        let _ = writeln!(out, "    VALUES");
        for (i, row) in self.rows.iter().enumerate() {
            let values: Vec<String> = row.iter().map(Value::sql).collect();
            let sep = if i + 1 == self.rows.len() { "" } else { "," };
            let _ = writeln!(out, "        ({}){sep}", values.join(", "));
        }
        let _ = writeln!(out, "), upserted AS (");
        let _ = writeln!(
            out,
            "    INSERT INTO {} AS t ({}, withdrawn)",
            self.table,
            all.join(", ")
        );
        let _ = writeln!(out, "    SELECT {}, false FROM source AS s", list("s.", &all));
        let _ = writeln!(out, "    ON CONFLICT ({}) DO UPDATE", self.key.join(", "));
        let sets: Vec<String> = non_key.iter().map(|c| format!("{c} = excluded.{c}")).collect();
        let _ = writeln!(out, "       SET {}, withdrawn = false", sets.join(", "));
        let _ = writeln!(
            out,
            "     WHERE ({}, t.withdrawn) IS DISTINCT FROM ({}, false)",
            list("t.", &non_key),
            list("excluded.", &non_key)
        );
        let _ = writeln!(out, "    RETURNING 1");
        let _ = writeln!(out, ")");
        let _ = writeln!(out, "UPDATE {} AS t SET withdrawn = true", self.table);
        let scope = self
            .scope
            .map(|(col, value)| format!("t.{col} = {} AND ", Value::Text(value.into()).sql()));
        let _ = writeln!(
            out,
            " WHERE {}NOT t.withdrawn AND ({}) NOT IN (SELECT {} FROM source AS s);",
            scope.unwrap_or_default(),
            list("t.", self.key),
            list("s.", self.key)
        );
    }
}

fn header(out: &mut String, source: &str, what: &str, rows: usize) {
    let _ = writeln!(
        out,
        "-- GENERATED FILE, do not edit: {what}, {rows} rows from reference/{source}."
    );
    let _ = writeln!(
        out,
        "-- Generator: crates/schema_tests/src/reference.rs. Regenerate after changing the CSV with"
    );
    let _ = writeln!(
        out,
        "--   UPDATE_REFERENCE=1 cargo test -p schema_tests --test reference_files"
    );
    let _ = writeln!(
        out,
        "-- Idempotent: inserts new codes, updates changed ones, marks codes absent from the source as"
    );
    let _ = writeln!(
        out,
        "-- withdrawn (never deletes them: existing rows may point at them)."
    );
}

fn read_rows(dir: &Path, file: &str) -> Result<Vec<BTreeMap<String, String>>, ReferenceError> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|source| ReferenceError::Io {
        file: file.to_owned(),
        source,
    })?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|source| ReferenceError::Csv {
            file: file.to_owned(),
            source,
        })?
        .clone();
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|source| ReferenceError::Csv {
            file: file.to_owned(),
            source,
        })?;
        let row: BTreeMap<String, String> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_owned(), v.trim().to_owned()))
            .collect();
        // Flyway replaces ${...} everywhere, even inside strings; control characters have no place in names.
        if let Some(bad) = row
            .values()
            .find(|v| v.contains("${") || v.chars().any(char::is_control))
        {
            return Err(ReferenceError::Row {
                file: file.to_owned(),
                row: index + 1,
                reason: format!("value {bad:?} contains `${{` or a control character"),
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

fn field<'a>(row: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    row.get(name).map_or("", String::as_str)
}

fn check(file: &str, row: usize, ok: bool, reason: impl FnOnce() -> String) -> Result<(), ReferenceError> {
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::Row {
            file: file.to_owned(),
            row,
            reason: reason(),
        })
    }
}

fn is_code(s: &str, len: usize, pred: fn(&char) -> bool) -> bool {
    s.chars().count() == len && s.chars().all(|c| pred(&c))
}

/// R__reference_countries.sql from iso3166-1.csv (alpha2, alpha3, numeric, name, official_name).
///
/// # Errors
/// [`ReferenceError`] for an unreadable file or a malformed row.
pub fn countries(dir: &Path) -> Result<Generated, ReferenceError> {
    const FILE: &str = "iso3166-1.csv";
    let mut rows = Vec::new();
    for (i, row) in read_rows(dir, FILE)?.iter().enumerate() {
        let (a2, a3, num, name) = (
            field(row, "alpha2"),
            field(row, "alpha3"),
            field(row, "numeric"),
            field(row, "name"),
        );
        check(FILE, i + 1, is_code(a2, 2, char::is_ascii_uppercase), || {
            format!("alpha2 {a2:?} is not 2 letters")
        })?;
        check(FILE, i + 1, is_code(a3, 3, char::is_ascii_uppercase), || {
            format!("alpha3 {a3:?} is not 3 letters")
        })?;
        check(FILE, i + 1, is_code(num, 3, char::is_ascii_digit), || {
            format!("numeric {num:?} is not 3 digits")
        })?;
        check(FILE, i + 1, !name.is_empty(), || "name is empty".to_owned())?;
        rows.push(vec![
            Value::Text(a2.into()),
            Value::Text(a3.into()),
            Value::Text(num.into()),
            Value::Text(name.into()),
            Value::text_or_null(field(row, "official_name")),
        ]);
    }
    rows.sort_by(|a, b| a[0].sql().cmp(&b[0].sql()));
    let mut sql = String::new();
    header(&mut sql, FILE, "ISO 3166-1 countries", rows.len());
    Upsert {
        table: "client_api.country",
        key: &["alpha2"],
        columns: &["alpha2", "alpha3", "numeric_code", "name", "official_name"],
        scope: None,
        rows,
    }
    .render(&mut sql);
    Ok(Generated {
        file_name: "R__reference_countries.sql",
        sql,
    })
}

/// R__reference_currencies.sql from iso4217.csv (code, numeric, minor_units, name).
///
/// # Errors
/// [`ReferenceError`] for an unreadable file or a malformed row.
pub fn currencies(dir: &Path) -> Result<Generated, ReferenceError> {
    const FILE: &str = "iso4217.csv";
    let mut rows = Vec::new();
    for (i, row) in read_rows(dir, FILE)?.iter().enumerate() {
        let (code, num, minor, name) = (
            field(row, "code"),
            field(row, "numeric"),
            field(row, "minor_units"),
            field(row, "name"),
        );
        check(FILE, i + 1, is_code(code, 3, char::is_ascii_uppercase), || {
            format!("code {code:?} is not 3 letters")
        })?;
        check(FILE, i + 1, is_code(num, 3, char::is_ascii_digit), || {
            format!("numeric {num:?} is not 3 digits")
        })?;
        let minor = if minor.is_empty() {
            Value::Null
        } else {
            match minor.parse::<i64>() {
                Ok(m) if (0..=4).contains(&m) => Value::Int(m),
                _ => {
                    return Err(ReferenceError::Row {
                        file: FILE.into(),
                        row: i + 1,
                        reason: format!("minor_units {minor:?} is not 0..4 or empty"),
                    });
                }
            }
        };
        check(FILE, i + 1, !name.is_empty(), || "name is empty".to_owned())?;
        rows.push(vec![
            Value::Text(code.into()),
            Value::Text(num.into()),
            minor,
            Value::Text(name.into()),
        ]);
    }
    rows.sort_by(|a, b| a[0].sql().cmp(&b[0].sql()));
    let mut sql = String::new();
    header(&mut sql, FILE, "ISO 4217 currencies", rows.len());
    Upsert {
        table: "client_api.currency",
        key: &["code"],
        columns: &["code", "numeric_code", "minor_units", "name"],
        scope: None,
        rows,
    }
    .render(&mut sql);
    Ok(Generated {
        file_name: "R__reference_currencies.sql",
        sql,
    })
}

/// R__reference_naics_2022.sql from naics-2022.csv (code, title, level, parent_code), with each code's sector
/// (its top-level ancestor) resolved here.
///
/// # Errors
/// [`ReferenceError`] for an unreadable file, a malformed row, a dangling parent or a level that does not
/// follow its parent's.
pub fn naics(dir: &Path) -> Result<Generated, ReferenceError> {
    const FILE: &str = "naics-2022.csv";
    let source = read_rows(dir, FILE)?;
    let mut by_code: BTreeMap<&str, (usize, &BTreeMap<String, String>)> = BTreeMap::new();
    for (i, row) in source.iter().enumerate() {
        let code = field(row, "code");
        let well_formed = !code.is_empty() && code.chars().all(|c| c.is_ascii_digit() || c == '-');
        check(FILE, i + 1, well_formed, || {
            format!("code {code:?} is not digits (or a range like 31-33)")
        })?;
        check(FILE, i + 1, by_code.insert(code, (i + 1, row)).is_none(), || {
            format!("code {code} appears twice")
        })?;
    }
    let mut rows = Vec::new();
    for (code, (line, row)) in &by_code {
        let level: i64 = field(row, "level").parse().map_err(|_| ReferenceError::Row {
            file: FILE.into(),
            row: *line,
            reason: format!("level {:?} is not a number", field(row, "level")),
        })?;
        let parent = field(row, "parent_code");
        // Walk to the top; NAICS chains are at most 5 long, so a much longer one is a cycle.
        let mut sector = *code;
        let mut hops = 0;
        loop {
            let current = by_code.get(sector).map(|(_, r)| *r).unwrap_or(row);
            let up = field(current, "parent_code");
            if up.is_empty() {
                break;
            }
            let (_, up_row) = by_code.get(up).ok_or_else(|| ReferenceError::Row {
                file: FILE.into(),
                row: *line,
                reason: format!("parent {up} of {sector} is not in the file"),
            })?;
            let (own_level, up_level) = (field(current, "level"), field(up_row, "level"));
            let follows = matches!((own_level.parse::<i64>(), up_level.parse::<i64>()), (Ok(a), Ok(b)) if a == b + 1);
            check(FILE, *line, follows, || {
                format!("{sector} is at level {own_level} but its parent {up} is at level {up_level}")
            })?;
            sector = up;
            hops += 1;
            check(FILE, *line, hops <= 10, || {
                format!("the parents of {code} form a cycle")
            })?;
        }
        check(FILE, *line, !field(row, "title").is_empty(), || {
            "title is empty".to_owned()
        })?;
        rows.push(vec![
            Value::Text(NAICS_SCHEME.into()),
            Value::Text((*code).into()),
            Value::Text(field(row, "title").into()),
            Value::Int(level),
            Value::text_or_null(parent),
            Value::Text(sector.into()),
        ]);
    }
    let mut sql = String::new();
    header(&mut sql, FILE, "NAICS 2022 industry codes", rows.len());
    let _ = writeln!(
        sql,
        "INSERT INTO client_api.industry_scheme AS t (scheme, name, source)"
    );
    let _ = writeln!(
        sql,
        "VALUES ('{NAICS_SCHEME}', 'NAICS 2022', 'North American Industry Classification System, 2022 edition \
         (U.S. Census Bureau)')"
    );
    let _ = writeln!(
        sql,
        "ON CONFLICT (scheme) DO UPDATE SET name = excluded.name, source = excluded.source"
    );
    let _ = writeln!(
        sql,
        " WHERE (t.name, t.source) IS DISTINCT FROM (excluded.name, excluded.source);"
    );
    let _ = writeln!(sql);
    Upsert {
        table: "client_api.industry_code",
        key: &["scheme", "code"],
        columns: &["scheme", "code", "title", "level", "parent_code", "sector_code"],
        scope: Some(("scheme", NAICS_SCHEME)),
        rows,
    }
    .render(&mut sql);
    Ok(Generated {
        file_name: "R__reference_naics_2022.sql",
        sql,
    })
}

/// Every generated migration, from the CSVs in `dir`.
///
/// # Errors
/// The first [`ReferenceError`].
pub fn generate_all(dir: &Path) -> Result<Vec<Generated>, ReferenceError> {
    Ok(vec![countries(dir)?, currencies(dir)?, naics(dir)?])
}
