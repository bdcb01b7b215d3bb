//! Client metadata with its own history or rows: risk assessments and addresses.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use super::format::{date, timestamp};

/// Select list for [`RiskAssessment`] from `client_api.risk_assessment AS a`.
pub const RISK_COLUMNS: &str = "a.id, a.client_id, a.rating, a.rationale, a.assessed_at, a.assessed_by, a.next_review_due, a.recorded_at, a.recorded_by";

/// One risk assessment (append-only history; the latest sets the client's current risk).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskAssessment {
    /// Identifier.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// low, medium, high or critical.
    pub rating: String,
    /// Why.
    pub rationale: String,
    /// When it was assessed.
    #[schema(format = DateTime)]
    pub assessed_at: String,
    /// Who assessed.
    pub assessed_by: String,
    /// Next review date.
    #[schema(format = Date)]
    pub next_review_due: String,
    /// When it was recorded.
    #[schema(format = DateTime)]
    pub recorded_at: String,
    /// Who recorded it.
    pub recorded_by: String,
}

impl RiskAssessment {
    /// Maps a row selected with [`RISK_COLUMNS`].
    ///
    /// # Errors
    /// Unexpected column types.
    pub fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            rating: row.try_get("rating")?,
            rationale: row.try_get("rationale")?,
            assessed_at: timestamp(row.try_get("assessed_at")?),
            assessed_by: row.try_get("assessed_by")?,
            next_review_due: date(row.try_get("next_review_due")?),
            recorded_at: timestamp(row.try_get("recorded_at")?),
            recorded_by: row.try_get("recorded_by")?,
        })
    }
}

/// Body of a new risk assessment.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskAssessmentFields {
    /// low, medium, high or critical.
    pub rating: String,
    /// Why (1-10000 characters).
    pub rationale: String,
    /// When it was assessed (default now; never in the future).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub assessed_at: Option<String>,
    /// Who assessed (default the caller).
    #[serde(default)]
    pub assessed_by: Option<String>,
    /// Next review (default by rating: 24, 12, 6 or 3 months).
    #[serde(default)]
    #[schema(format = Date)]
    pub next_review_due: Option<String>,
}

/// Select list for [`Address`] from `client_api.client_address AS a`.
pub const ADDRESS_COLUMNS: &str = "a.id, a.client_id, a.address_type, a.line1, a.line2, a.line3, a.city, a.region, \
    a.postal_code, a.country_code, a.version, a.updated_at";

/// A postal address of a client.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Address {
    /// Identifier.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// registered, headquarters, billing, mailing, operating or other.
    pub address_type: String,
    /// First line.
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// Third line.
    pub line3: Option<String>,
    /// City.
    pub city: String,
    /// Region or state.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    /// Version (ETag).
    pub version: i64,
    /// Last change.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Address {
    /// Maps a row selected with [`ADDRESS_COLUMNS`].
    ///
    /// # Errors
    /// Unexpected column types.
    pub fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            address_type: row.try_get("address_type")?,
            line1: row.try_get("line1")?,
            line2: row.try_get("line2")?,
            line3: row.try_get("line3")?,
            city: row.try_get("city")?,
            region: row.try_get("region")?,
            postal_code: row.try_get("postal_code")?,
            country_code: row.try_get("country_code")?,
            version: row.try_get("version")?,
            updated_at: timestamp(row.try_get("updated_at")?),
        })
    }

    /// The writable fields as a merge-patch target.
    pub fn writable(&self) -> serde_json::Value {
        serde_json::json!({
            "address_type": self.address_type, "line1": self.line1, "line2": self.line2, "line3": self.line3,
            "city": self.city, "region": self.region, "postal_code": self.postal_code,
            "country_code": self.country_code,
        })
    }
}

/// Writable fields of an address.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressFields {
    /// Address type.
    pub address_type: String,
    /// First line.
    pub line1: String,
    /// Second line.
    #[serde(default)]
    pub line2: Option<String>,
    /// Third line.
    #[serde(default)]
    pub line3: Option<String>,
    /// City.
    pub city: String,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
}
