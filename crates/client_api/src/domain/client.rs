//! The client (portfolio company) as the API shows it, and the fields a client of the API may write.
//!
//! Derived columns (root_id, depth, size_band, risk_*, version, audit, deleted_*) are read-only: the database
//! maintains them (V3/V4), and a request that tries to write one is told so.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

/// The select list producing a [`Client`] from `client_api.client AS c`.
pub const CLIENT_COLUMNS: &str = "c.id, c.display_name, c.legal_name, c.lei, c.registration_authority, \
    c.registration_number, c.incorporation_country, c.hq_country, c.website, c.status, c.owner, c.parent_id, \
    c.root_id, c.depth, c.industry_scheme, c.industry_code, c.employee_count, c.size_band, \
    c.revenue_amount::text AS revenue_amount, c.revenue_currency, c.revenue_fiscal_year, c.risk_category, \
    c.risk_assessed_at, c.risk_next_review_due, c.version, c.created_at, c.created_by, c.updated_at, \
    c.updated_by, c.deleted_at, c.deleted_by, c.ownership_percent::text AS ownership_percent, \
    c.ownership_effective_from";

/// A portfolio company.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Client {
    /// Identifier (UUIDv7, assigned by the service).
    pub id: Uuid,
    /// Name used in lists and reports.
    pub display_name: String,
    /// Registered legal name.
    pub legal_name: String,
    /// ISO 17442 Legal Entity Identifier.
    pub lei: Option<String>,
    /// GLEIF registration authority code (RA000585).
    pub registration_authority: Option<String>,
    /// Number at the registration authority.
    pub registration_number: Option<String>,
    /// ISO 3166-1 alpha-2 country of incorporation.
    pub incorporation_country: Option<String>,
    /// ISO 3166-1 alpha-2 country of the headquarters.
    pub hq_country: Option<String>,
    /// Web site (http or https URL).
    pub website: Option<String>,
    /// Lifecycle status.
    #[schema(example = "active")]
    pub status: String,
    /// Relationship manager (a principal name).
    pub owner: Option<String>,
    /// Parent company; null for the top of a group.
    pub parent_id: Option<Uuid>,
    /// Ultimate parent (the client itself for a top-level company). Read-only.
    pub root_id: Uuid,
    /// Levels below the ultimate parent (0 at the top). Read-only.
    pub depth: i16,
    /// Industry classification scheme, e.g. `naics_2022`.
    pub industry_scheme: Option<String>,
    /// Industry code within the scheme.
    pub industry_code: Option<String>,
    /// Headcount.
    pub employee_count: Option<i32>,
    /// Size band derived from the headcount. Read-only.
    pub size_band: Option<String>,
    /// Annual revenue as a decimal string.
    #[schema(example = "1250000.00")]
    pub revenue_amount: Option<String>,
    /// ISO 4217 currency of the revenue.
    pub revenue_currency: Option<String>,
    /// Fiscal year of the revenue figure.
    pub revenue_fiscal_year: Option<i16>,
    /// Current risk category (from the latest assessment). Read-only.
    pub risk_category: Option<String>,
    /// When the latest risk assessment was made. Read-only.
    #[schema(format = DateTime)]
    pub risk_assessed_at: Option<String>,
    /// When the next risk review is due. Read-only.
    #[schema(format = Date)]
    pub risk_next_review_due: Option<String>,
    /// Version for optimistic concurrency; the ETag is `"<version>"`. Read-only.
    pub version: i64,
    /// Creation time. Read-only.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Who created it. Read-only.
    pub created_by: String,
    /// Last change. Read-only.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Who changed it last. Read-only.
    pub updated_by: String,
    /// When it was soft-deleted; null while live. Read-only.
    #[schema(format = DateTime)]
    pub deleted_at: Option<String>,
    /// Who deleted it. Read-only.
    pub deleted_by: Option<String>,
    /// The parent's ownership stake in this client; null when the parent link has no recorded stake (and for
    /// the top of a group).
    pub ownership: Option<Ownership>,
}

/// The parent's ownership stake in a client, on the client's parent link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ownership {
    /// The parent's share in percent as a decimal string: more than 0, at most 100, up to 4 decimals.
    #[schema(example = "51.5")]
    pub percent: String,
    /// Since when the parent holds it (ISO 8601 date, not in the future).
    #[schema(format = Date, example = "2024-07-01")]
    pub effective_from: String,
}

impl Ownership {
    /// Checks the decimal string and the date (what the database cannot report well); the range rules are the
    /// database's (`client_ownership_*`).
    ///
    /// # Errors
    /// Validation errors pointing into `/ownership`.
    pub fn parse(&self) -> Result<time::Date, crate::error::ApiError> {
        if !is_percent(&self.percent) {
            return Err(crate::error::ApiError::invalid_field(
                "/ownership/percent",
                "must be a decimal string such as \"51.5\" (up to 3 digits, optional . and up to 4 decimals)",
            ));
        }
        super::format::parse_date(&self.effective_from).ok_or_else(|| {
            crate::error::ApiError::invalid_field("/ownership/effective_from", "must be a date such as 2024-07-01")
        })
    }
}

impl Client {
    /// Maps a row whose first columns are [`CLIENT_COLUMNS`], in that order.
    ///
    /// # Errors
    /// A column of an unexpected type (a schema drift: reported as 500).
    pub fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        // One mapping of the columns: the borrowed view's, copied.
        Ok(super::client_view::ClientView::from_row(row)?.to_client())
    }

    /// The strong ETag of this version.
    pub fn etag(&self) -> String {
        super::etag::format(self.version)
    }

    /// The writable fields as a JSON object (the document a merge patch applies to).
    pub fn writable(&self) -> serde_json::Value {
        serde_json::json!({
            "display_name": self.display_name,
            "legal_name": self.legal_name,
            "lei": self.lei,
            "registration_authority": self.registration_authority,
            "registration_number": self.registration_number,
            "incorporation_country": self.incorporation_country,
            "hq_country": self.hq_country,
            "website": self.website,
            "status": self.status,
            "owner": self.owner,
            "parent_id": self.parent_id,
            "industry_scheme": self.industry_scheme,
            "industry_code": self.industry_code,
            "employee_count": self.employee_count,
            "revenue_amount": self.revenue_amount,
            "revenue_currency": self.revenue_currency,
            "revenue_fiscal_year": self.revenue_fiscal_year,
            "ownership": self.ownership,
        })
    }
}

/// Fields that only the database writes; a request naming one is refused with this list.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "id",
    "root_id",
    "depth",
    "size_band",
    "risk_category",
    "risk_assessed_at",
    "risk_next_review_due",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "deleted_at",
    "deleted_by",
];

/// The writable fields of a client: the body of `POST /v1/clients`, and the document a PATCH produces.
#[derive(Debug, Clone, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientFields {
    /// Name used in lists and reports (1-200 characters).
    pub display_name: String,
    /// Registered legal name (1-500 characters).
    pub legal_name: String,
    /// ISO 17442 LEI (checked with its MOD 97-10 check digits).
    #[serde(default)]
    pub lei: Option<String>,
    /// GLEIF registration authority code; together with `registration_number`.
    #[serde(default)]
    pub registration_authority: Option<String>,
    /// Number at the registration authority.
    #[serde(default)]
    pub registration_number: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub incorporation_country: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub hq_country: Option<String>,
    /// http(s) URL.
    #[serde(default)]
    pub website: Option<String>,
    /// Lifecycle status; `prospect` when omitted on create.
    #[serde(default)]
    pub status: Option<String>,
    /// Relationship manager.
    #[serde(default)]
    pub owner: Option<String>,
    /// Parent company; setting a different value on PATCH moves the client with its subtree.
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    /// Industry scheme; `naics_2022` when a code is given without one.
    #[serde(default)]
    pub industry_scheme: Option<String>,
    /// Industry code within the scheme.
    #[serde(default)]
    pub industry_code: Option<String>,
    /// Headcount (0 to 10,000,000).
    #[serde(default)]
    pub employee_count: Option<i32>,
    /// Annual revenue as a decimal string (at most 4 decimals, and no more than the currency has).
    #[serde(default)]
    #[schema(example = "1250000.00")]
    pub revenue_amount: Option<String>,
    /// ISO 4217 currency; together with `revenue_amount`.
    #[serde(default)]
    pub revenue_currency: Option<String>,
    /// Fiscal year of the revenue (1900-2200).
    #[serde(default)]
    pub revenue_fiscal_year: Option<i16>,
    /// The parent's ownership stake in this client (needs a `parent_id`); null: not recorded. A PATCH that
    /// changes `parent_id` without giving `ownership` leaves the new parent link without a stake.
    #[serde(default)]
    pub ownership: Option<Ownership>,
}

impl ClientFields {
    /// The stake's percent (decimal text) and effective date, as SQL parameters (both `None` without a stake).
    /// Call after [`ClientFields::normalize`], which checked both.
    pub fn ownership_params(&self) -> (Option<&str>, Option<time::Date>) {
        match &self.ownership {
            Some(o) => (Some(o.percent.as_str()), o.parse().ok()),
            None => (None, None),
        }
    }

    /// Checks what the database cannot report well (a decimal string), and fills defaults.
    ///
    /// # Errors
    /// Validation errors with JSON pointers.
    pub fn normalize(mut self) -> Result<Self, crate::error::ApiError> {
        if let Some(amount) = &self.revenue_amount
            && !is_decimal(amount)
        {
            return Err(crate::error::ApiError::invalid_field(
                "/revenue_amount",
                "must be a decimal string such as \"1250000.50\" (digits, optional . and up to 4 decimals)",
            ));
        }
        if let Some(ownership) = &self.ownership {
            ownership.parse()?;
        }
        if self.industry_code.is_some() && self.industry_scheme.is_none() {
            self.industry_scheme = Some("naics_2022".to_owned());
        }
        Ok(self)
    }
}

/// 1-3 integer digits, optionally `.` and 1-4 decimals (the range 0 < p <= 100 is the database's rule).
pub fn is_percent(text: &str) -> bool {
    let whole = text.split_once('.').map_or(text, |(w, _)| w);
    whole.len() <= 3 && is_decimal(text)
}

/// Whether `text` is a revenue amount as the API writes it: digits, optionally `.` and 1-4 decimals.
pub fn is_decimal(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    (1..=18).contains(&whole.len())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && (fraction.is_empty() && !text.ends_with('.') || (1..=4).contains(&fraction.len()))
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::{is_decimal, is_percent};

    #[test]
    fn percents_are_short_decimals() {
        for ok in ["100", "51.5", "0.0001", "0"] {
            assert!(is_percent(ok), "{ok}");
        }
        for bad in ["1000", "51.55555", "", "5e1", "-1"] {
            assert!(!is_percent(bad), "{bad}");
        }
    }

    #[test]
    fn decimals_are_digits_with_up_to_four_places() {
        for ok in ["0", "12", "1250000.5", "1.2345"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in [
            "",
            ".5",
            "1.",
            "1.23456",
            "-1",
            "1e5",
            "1,5",
            " 1",
            "1234567890123456789",
        ] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }
}
