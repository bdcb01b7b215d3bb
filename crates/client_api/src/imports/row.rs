//! The columns of an import file and one parsed row. The columns are the writable fields of a client, by their
//! API names, and five of the import's own: `id` (the new client's id, a UUIDv7; assigned when absent), `key`
//! (the row's name within the file), and the parent as `parent_key` (the key of another row), `parent_lei` (the
//! LEI of another row, or else of a live client) or `parent_id` (the id of another row, or else of an existing
//! client). An export (`GET /v1/exports/clients`) writes `id`, `parent_id` and the fields, so an export imports
//! again as it is, ids included, and exports again byte for byte. The parent's ownership stake travels as two
//! flat columns, `ownership_percent` and `ownership_effective_from` (both or neither, and only with a parent):
//! the stake belongs to the parent link the row names.

use serde::Serialize;
use uuid::Uuid;

use crate::error::ProblemKind;

/// The most rows a file may have (413 beyond).
pub const MAX_ROWS: usize = 100_000;

/// The largest body accepted (413 beyond): 100,000 rows of about 600 bytes.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The media types and their formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/csv` (RFC 4180, a header row of column names).
    Csv,
    /// `application/x-ndjson` (one JSON object per line).
    Ndjson,
}

impl Format {
    /// The media types, in the order of [`Format::from_media_type`].
    pub const MEDIA_TYPES: [&'static str; 2] = ["text/csv", "application/x-ndjson"];

    /// The format of a media type.
    pub fn from_media_type(media: &str) -> Option<Self> {
        match media {
            "text/csv" => Some(Self::Csv),
            "application/x-ndjson" => Some(Self::Ndjson),
            _ => None,
        }
    }

    /// The name stored with the job.
    pub fn label(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }
}

/// The client fields of the file, in the order of an export.
pub const FIELD_COLUMNS: [&str; 18] = [
    "display_name",
    "legal_name",
    "lei",
    "registration_authority",
    "registration_number",
    "incorporation_country",
    "hq_country",
    "website",
    "status",
    "owner",
    "industry_scheme",
    "industry_code",
    "employee_count",
    "revenue_amount",
    "revenue_currency",
    "revenue_fiscal_year",
    "ownership_percent",
    "ownership_effective_from",
];

/// The import's own columns.
pub const REFERENCE_COLUMNS: [&str; 5] = ["id", "key", "parent_key", "parent_lei", "parent_id"];

/// The columns an export writes (all accepted by an import): `id`, `parent_id`, then the fields.
pub fn export_columns() -> impl Iterator<Item = &'static str> {
    ["id", "parent_id"].into_iter().chain(FIELD_COLUMNS)
}

/// Whether `name` is a column an import accepts.
pub fn is_column(name: &str) -> bool {
    REFERENCE_COLUMNS.contains(&name) || FIELD_COLUMNS.contains(&name)
}

/// The columns every file must have.
pub const REQUIRED_COLUMNS: [&str; 2] = ["display_name", "legal_name"];

/// One row of the file, typed.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Line of the file where the row starts (1 is the first line; in CSV, the header).
    pub line: u32,
    /// The client's id, when the file gives it.
    pub id: Option<Uuid>,
    /// The row's name within the file.
    pub key: Option<String>,
    /// The parent: the key of another row.
    pub parent_key: Option<String>,
    /// The parent: the LEI of another row, or else of a live client.
    pub parent_lei: Option<String>,
    /// The parent: the id of another row, or else of an existing client.
    pub parent_id: Option<Uuid>,
    /// The client's fields.
    pub fields: Fields,
}

/// The writable fields of a client, as [`crate::domain::ClientFields`] has them (the stake flattened into two),
/// every one optional (a missing required one is the database's to refuse, as for `POST /v1/clients`).
#[derive(Debug, Clone, Default, Serialize)]
#[allow(missing_docs)] // The fields of `ClientFields`, documented there.
pub struct Fields {
    pub display_name: Option<String>,
    pub legal_name: Option<String>,
    pub lei: Option<String>,
    pub registration_authority: Option<String>,
    pub registration_number: Option<String>,
    pub incorporation_country: Option<String>,
    pub hq_country: Option<String>,
    pub website: Option<String>,
    pub status: Option<String>,
    pub owner: Option<String>,
    pub industry_scheme: Option<String>,
    pub industry_code: Option<String>,
    pub employee_count: Option<i32>,
    pub revenue_amount: Option<String>,
    pub revenue_currency: Option<String>,
    pub revenue_fiscal_year: Option<i16>,
    /// The parent's stake (`Ownership::percent`), decimal text.
    pub ownership_percent: Option<String>,
    /// Since when the parent holds it (`Ownership::effective_from`), `YYYY-MM-DD`.
    pub ownership_effective_from: Option<String>,
}

impl Row {
    /// The column this row names its parent in, if it names one.
    pub fn reference_column(&self) -> Option<&'static str> {
        if self.parent_key.is_some() {
            Some("parent_key")
        } else if self.parent_lei.is_some() {
            Some("parent_lei")
        } else if self.parent_id.is_some() {
            Some("parent_id")
        } else {
            None
        }
    }
}

/// A problem of one line: where (line, column), what kind (the API's problem type), and what exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// The line of the file.
    pub line: u32,
    /// The column; `None` when the whole line is at fault.
    pub column: Option<String>,
    /// The kind (its type URI is what the report shows).
    pub kind: ProblemKind,
    /// What exactly.
    pub detail: String,
}

impl LineProblem {
    /// A problem of `column` on `line`.
    pub fn new(line: u32, column: Option<&str>, kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            line,
            column: column.map(str::to_owned),
            kind,
            detail: detail.into(),
        }
    }
}
