//! Reading an import file (CSV with a header row, or JSON lines) into typed [`Row`]s. What is wrong with the
//! file as a whole (not UTF-8, no header, an unknown or repeated column, a required column missing, no rows,
//! too many rows) is the request's error (400 / 413) and nothing starts; what is wrong with one line (a value of
//! the wrong type, a line that is not a JSON object, a CSV line with the wrong number of fields) is a
//! [`LineProblem`] of the report, and the line takes no further part.

use std::collections::HashSet;

use uuid::Uuid;

use super::row::{Fields, Format, LineProblem, MAX_ROWS, REQUIRED_COLUMNS, Row, is_column};
use crate::domain::client::{is_decimal, is_percent};
use crate::domain::format::parse_date;
use crate::error::{ApiError, ProblemKind};

/// The rows of a file, and the problems of the lines that could not be read.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The rows that were read, in file order.
    pub rows: Vec<Row>,
    /// The lines that could not be read.
    pub problems: Vec<LineProblem>,
}

impl Parsed {
    /// Rows in the file (read or not).
    pub fn total(&self) -> usize {
        self.rows.len() + self.problems.iter().map(|p| p.line).collect::<HashSet<_>>().len()
    }
}

/// Reads `body` in `format`.
///
/// # Errors
/// 400 malformed-body for a file that cannot be read as a whole; 413 for more than [`MAX_ROWS`] rows.
pub fn parse(format: Format, body: &[u8]) -> Result<Parsed, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        malformed(format!(
            "the file is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    // A spreadsheet's byte order mark is not part of the first column's name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = match format {
        Format::Csv => parse_csv(text)?,
        Format::Ndjson => parse_ndjson(text)?,
    };
    if parsed.rows.is_empty() && parsed.problems.is_empty() {
        return Err(malformed("the file has no rows"));
    }
    Ok(parsed)
}

fn malformed(detail: impl Into<String>) -> ApiError {
    ApiError::new(ProblemKind::MalformedBody, detail)
}

fn too_many() -> ApiError {
    ApiError::new(
        ProblemKind::PayloadTooLarge,
        format!("the file has more than {MAX_ROWS} rows; split it"),
    )
}

fn parse_csv(text: &str) -> Result<Parsed, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| malformed(format!("the header row cannot be read: {e}")))?
        .clone();
    let columns: Vec<String> = header.iter().map(str::to_owned).collect();
    check_columns(&columns)?;
    let mut parsed = Parsed::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(malformed(format!("the file is not valid CSV: {e}"))),
        }
        let line = record
            .position()
            .map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
        if parsed.rows.len() + parsed.problems.len() >= MAX_ROWS {
            return Err(too_many());
        }
        if record.len() != columns.len() {
            parsed.problems.push(LineProblem::new(
                line,
                None,
                ProblemKind::MalformedBody,
                format!("has {} fields; the header has {}", record.len(), columns.len()),
            ));
            continue;
        }
        let values = columns
            .iter()
            .zip(record.iter())
            .map(|(c, v)| (c.as_str(), (!v.is_empty()).then(|| Value::Text(v.to_owned()))));
        push_row(&mut parsed, line, values);
    }
    Ok(parsed)
}

fn parse_ndjson(text: &str) -> Result<Parsed, ApiError> {
    let mut parsed = Parsed::default();
    for (at, text_line) in text.lines().enumerate() {
        let line = u32::try_from(at + 1).unwrap_or(u32::MAX);
        if text_line.trim().is_empty() {
            continue;
        }
        if parsed.rows.len() + parsed.problems.len() >= MAX_ROWS {
            return Err(too_many());
        }
        let object = match serde_json::from_str::<serde_json::Value>(text_line) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => {
                parsed.problems.push(LineProblem::new(
                    line,
                    None,
                    ProblemKind::MalformedBody,
                    "is not a JSON object",
                ));
                continue;
            }
            Err(e) => {
                parsed.problems.push(LineProblem::new(
                    line,
                    None,
                    ProblemKind::MalformedBody,
                    format!("is not valid JSON: {e}"),
                ));
                continue;
            }
        };
        if let Some(unknown) = object.keys().find(|k| !is_column(k)) {
            parsed.problems.push(LineProblem::new(
                line,
                Some(unknown),
                ProblemKind::MalformedBody,
                format!("{unknown} is not a column of a client import"),
            ));
            continue;
        }
        if let Some(missing) = REQUIRED_COLUMNS.iter().find(|c| !object.contains_key(**c)) {
            parsed.problems.push(LineProblem::new(
                line,
                Some(missing),
                ProblemKind::Validation,
                "is required",
            ));
            continue;
        }
        let values = object.iter().map(|(k, v)| {
            let value = match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(Value::Text(s.clone())),
                serde_json::Value::Number(n) => Some(Value::Number(n.clone())),
                other => Some(Value::Other(other.to_string())),
            };
            (k.as_str(), value)
        });
        push_row(&mut parsed, line, values);
    }
    Ok(parsed)
}

/// A header must name known columns, each once, and the required ones.
fn check_columns(columns: &[String]) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    for column in columns {
        if !is_column(column) {
            return Err(malformed(format!(
                "column {column:?} of the header is not a column of a client import (see docs/API.md)"
            )));
        }
        if !seen.insert(column.as_str()) {
            return Err(malformed(format!("column {column:?} appears twice in the header")));
        }
    }
    if let Some(missing) = REQUIRED_COLUMNS.iter().find(|c| !seen.contains(**c)) {
        return Err(malformed(format!(
            "the header has no {missing} column, which is required"
        )));
    }
    Ok(())
}

/// One value as the file gave it.
enum Value {
    Text(String),
    Number(serde_json::Number),
    Other(String),
}

impl Value {
    fn text(self) -> Result<String, String> {
        match self {
            Self::Text(s) => Ok(s),
            Self::Number(n) => Err(format!("must be a string, not the number {n}")),
            Self::Other(v) => Err(format!("must be a string, not {v}")),
        }
    }

    fn integer<T: TryFrom<i64>>(self) -> Result<T, String> {
        let n = match self {
            Self::Text(s) => s.parse::<i64>().ok(),
            Self::Number(n) => n.as_i64(),
            Self::Other(_) => None,
        };
        n.and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| "must be a whole number in range".to_owned())
    }

    fn uuid(self) -> Result<Uuid, String> {
        let text = self.text()?;
        Uuid::try_parse(&text).map_err(|_| format!("{text:?} is not a UUID"))
    }
}

/// Types one line's values into a row, or reports each value that is wrong.
fn push_row<'a>(parsed: &mut Parsed, line: u32, values: impl Iterator<Item = (&'a str, Option<Value>)>) {
    let mut row = Row { line, ..Row::default() };
    let mut problems = Vec::new();
    // Columns with a value, right or wrong (a wrong one is reported once, as wrong, not also as missing).
    let mut given = HashSet::new();
    for (column, value) in values {
        let Some(value) = value else { continue };
        given.insert(column);
        if let Err(detail) = set(&mut row, column, value) {
            problems.push(LineProblem::new(line, Some(column), ProblemKind::Validation, detail));
        }
    }
    let references = [
        row.parent_key.is_some(),
        row.parent_lei.is_some(),
        row.parent_id.is_some(),
    ];
    if references.into_iter().filter(|set| *set).count() > 1 {
        problems.push(LineProblem::new(
            line,
            row.reference_column(),
            ProblemKind::Validation,
            "names the parent more than once: use one of parent_key, parent_lei and parent_id",
        ));
    }
    match (
        given.contains("ownership_percent"),
        given.contains("ownership_effective_from"),
    ) {
        (true, false) => problems.push(LineProblem::new(
            line,
            Some("ownership_effective_from"),
            ProblemKind::Validation,
            "is required with ownership_percent (since when the parent holds the stake)",
        )),
        (false, true) => problems.push(LineProblem::new(
            line,
            Some("ownership_percent"),
            ProblemKind::Validation,
            "is required with ownership_effective_from",
        )),
        // A parent column given (even one that failed to parse) is a parent named.
        (true, true) if !given.iter().any(|c| c.starts_with("parent_")) => {
            problems.push(LineProblem::new(
                line,
                Some("ownership_percent"),
                ProblemKind::Validation,
                "is a stake of the parent: the row names no parent (parent_key, parent_lei or parent_id)",
            ));
        }
        _ => {}
    }
    if row.fields.industry_code.is_some() && row.fields.industry_scheme.is_none() {
        row.fields.industry_scheme = Some("naics_2022".to_owned());
    }
    if problems.is_empty() {
        parsed.rows.push(row);
    } else {
        parsed.problems.extend(problems);
    }
}

fn set(row: &mut Row, column: &str, value: Value) -> Result<(), String> {
    let f: &mut Fields = &mut row.fields;
    match column {
        "id" => row.id = Some(value.uuid()?),
        "key" => row.key = Some(value.text()?),
        "parent_key" => row.parent_key = Some(value.text()?),
        "parent_lei" => row.parent_lei = Some(value.text()?),
        "parent_id" => row.parent_id = Some(value.uuid()?),
        "employee_count" => f.employee_count = Some(value.integer()?),
        "revenue_fiscal_year" => f.revenue_fiscal_year = Some(value.integer()?),
        "revenue_amount" => {
            let amount = value.text()?;
            if !is_decimal(&amount) {
                return Err(
                    "must be a decimal such as 1250000.50 (digits, optional . and up to 4 decimals)".to_owned(),
                );
            }
            f.revenue_amount = Some(amount);
        }
        "ownership_percent" => {
            let percent = value.text()?;
            if !is_percent(&percent) {
                return Err(
                    "must be a percentage such as 51.5 (up to 3 digits, optional . and up to 4 decimals)".to_owned(),
                );
            }
            f.ownership_percent = Some(percent);
        }
        "ownership_effective_from" => {
            let date = value.text()?;
            if parse_date(&date).is_none() {
                return Err(format!("{date:?} is not a date such as 2024-07-01"));
            }
            f.ownership_effective_from = Some(date);
        }
        text_column => {
            let slot = match text_column {
                "display_name" => &mut f.display_name,
                "legal_name" => &mut f.legal_name,
                "lei" => &mut f.lei,
                "registration_authority" => &mut f.registration_authority,
                "registration_number" => &mut f.registration_number,
                "incorporation_country" => &mut f.incorporation_country,
                "hq_country" => &mut f.hq_country,
                "website" => &mut f.website,
                "status" => &mut f.status,
                "owner" => &mut f.owner,
                "industry_scheme" => &mut f.industry_scheme,
                "industry_code" => &mut f.industry_code,
                "revenue_currency" => &mut f.revenue_currency,
                // `is_column` admitted only these.
                other => return Err(format!("{other} is not a column of a client import")),
            };
            *slot = Some(value.text()?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_typed_and_bad_lines_reported_by_line_and_column() {
        let file = "display_name,legal_name,employee_count,key,parent_key\n\
                    A,A Ltd,12,a,\n\
                    B,B Ltd,many,b,a\n\
                    C,C Ltd\n\
                    \"D, quoted\",D Ltd,,d,a\n";
        let parsed = parse(Format::Csv, file.as_bytes()).unwrap();
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[0].line, 2);
        assert_eq!(parsed.rows[0].fields.employee_count, Some(12));
        assert_eq!(parsed.rows[1].fields.display_name.as_deref(), Some("D, quoted"));
        assert_eq!(parsed.rows[1].parent_key.as_deref(), Some("a"));
        assert_eq!(parsed.problems.len(), 2);
        assert_eq!(
            (parsed.problems[0].line, parsed.problems[0].column.as_deref()),
            (3, Some("employee_count"))
        );
        assert_eq!(
            (parsed.problems[1].line, parsed.problems[1].column.as_deref()),
            (4, None)
        );
        assert_eq!(parsed.total(), 4);
    }

    #[test]
    fn a_file_that_cannot_be_read_as_a_whole_is_refused() {
        for bad in [
            "",
            "display_name,colour\nA,red\n",
            "display_name,display_name,legal_name\n",
            "legal_name\nA Ltd\n",
            "display_name,legal_name\n",
        ] {
            let e = parse(Format::Csv, bad.as_bytes()).unwrap_err();
            assert_eq!(e.kind, ProblemKind::MalformedBody, "{bad:?}: {e}");
        }
        assert_eq!(
            parse(Format::Csv, b"display_name,legal_name\n\xff,x\n")
                .unwrap_err()
                .kind,
            ProblemKind::MalformedBody
        );
    }

    #[test]
    fn json_lines_report_unknown_fields_and_wrong_types() {
        let file = "{\"display_name\":\"A\",\"legal_name\":\"A Ltd\",\"employee_count\":5}\n\
                    \n\
                    {\"display_name\":\"B\",\"legal_name\":\"B Ltd\",\"colour\":\"red\"}\n\
                    [1]\n\
                    {\"display_name\":7,\"legal_name\":\"C Ltd\"}\n";
        let parsed = parse(Format::Ndjson, file.as_bytes()).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].fields.employee_count, Some(5));
        let at: Vec<_> = parsed.problems.iter().map(|p| (p.line, p.column.as_deref())).collect();
        assert_eq!(at, vec![(3, Some("colour")), (4, None), (5, Some("display_name"))]);
    }
}
