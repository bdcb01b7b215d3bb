//! Contacts (people at client companies) and their links to clients.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use super::format::{date, date_opt, timestamp, timestamp_opt};

/// Select list for [`Contact`] from `client_api.contact AS p`.
pub const CONTACT_COLUMNS: &str = "p.id, p.given_name, p.family_name, p.email, p.phone, p.job_title, p.version, \
    p.created_at, p.created_by, p.updated_at, p.updated_by, p.deleted_at, p.erased_at, p.erased_by, \
    p.erasure_reason";

/// A person at one or more client companies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    /// Identifier.
    pub id: Uuid,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Version (ETag).
    pub version: i64,
    /// Creation time.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Creator.
    pub created_by: String,
    /// Last change.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Last changed by.
    pub updated_by: String,
    /// Soft-deletion time.
    #[schema(format = DateTime)]
    pub deleted_at: Option<String>,
    /// When the personal data was erased (`POST /v1/contacts/{id}/erase`); null while it is held. An erased
    /// contact's names, e-mail, phone and job title are gone for good: `family_name` is `[erased]`, the
    /// others null.
    #[schema(format = DateTime)]
    pub erased_at: Option<String>,
    /// Who erased it.
    pub erased_by: Option<String>,
    /// Why it was erased.
    pub erasure_reason: Option<String>,
}

impl Contact {
    /// Maps a row selected with [`CONTACT_COLUMNS`].
    ///
    /// # Errors
    /// Unexpected column types.
    pub fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            given_name: row.try_get("given_name")?,
            family_name: row.try_get("family_name")?,
            email: row.try_get("email")?,
            phone: row.try_get("phone")?,
            job_title: row.try_get("job_title")?,
            version: row.try_get("version")?,
            created_at: timestamp(row.try_get("created_at")?),
            created_by: row.try_get("created_by")?,
            updated_at: timestamp(row.try_get("updated_at")?),
            updated_by: row.try_get("updated_by")?,
            deleted_at: timestamp_opt(row.try_get("deleted_at")?),
            erased_at: timestamp_opt(row.try_get("erased_at")?),
            erased_by: row.try_get("erased_by")?,
            erasure_reason: row.try_get("erasure_reason")?,
        })
    }

    /// The writable fields as a merge-patch target.
    pub fn writable(&self) -> serde_json::Value {
        serde_json::json!({
            "given_name": self.given_name, "family_name": self.family_name, "email": self.email,
            "phone": self.phone, "job_title": self.job_title,
        })
    }
}

/// Writable fields of a contact.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactFields {
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name (required).
    pub family_name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// E.164 phone number (`+4930123456`).
    #[serde(default)]
    pub phone: Option<String>,
    /// Job title.
    #[serde(default)]
    pub job_title: Option<String>,
}

/// Body of an erasure request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// Why the personal data is erased (e.g. the data subject's request and its reference): required, 1-500
    /// characters, without surrounding whitespace or control characters. Kept with the erased contact.
    #[serde(default)]
    #[schema(example = "data subject request DSR-2026-0141 (GDPR art. 17)")]
    pub reason: Option<String>,
}

/// Select list for [`ContactLink`] from `client_api.client_contact AS l`.
pub const LINK_COLUMNS: &str = "l.id, l.client_id, l.contact_id, l.role, l.valid_from, l.valid_to, l.version, \
    (l.valid_from <= CURRENT_DATE AND (l.valid_to IS NULL OR l.valid_to > CURRENT_DATE)) AS current";

/// A contact's role at a client over a validity period `[valid_from, valid_to)`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactLink {
    /// Link identifier.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The contact.
    pub contact_id: Uuid,
    /// Role (primary, finance, legal, board_member, executive, operations, other).
    pub role: String,
    /// First day of validity.
    #[schema(format = Date)]
    pub valid_from: String,
    /// First day no longer valid; null while open-ended.
    #[schema(format = Date)]
    pub valid_to: Option<String>,
    /// Whether today is within the validity period.
    pub current: bool,
    /// Version (ETag).
    pub version: i64,
    /// The contact (in a client's contact list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// The client's display name (in a contact's client list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_display_name: Option<String>,
}

impl ContactLink {
    /// Maps a row selected with [`LINK_COLUMNS`].
    ///
    /// # Errors
    /// Unexpected column types.
    pub fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            contact_id: row.try_get("contact_id")?,
            role: row.try_get("role")?,
            valid_from: date(row.try_get("valid_from")?),
            valid_to: date_opt(row.try_get("valid_to")?),
            current: row.try_get("current")?,
            version: row.try_get("version")?,
            contact: None,
            client_display_name: None,
        })
    }
}

/// Body of a link request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkFields {
    /// The contact to link.
    pub contact_id: Uuid,
    /// Role at the client.
    pub role: String,
    /// First day (default today).
    #[serde(default)]
    #[schema(format = Date)]
    pub valid_from: Option<String>,
    /// First day no longer valid (default open-ended).
    #[serde(default)]
    #[schema(format = Date)]
    pub valid_to: Option<String>,
}

/// Body of a link change: the validity period (e.g. ending a role).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkValidity {
    /// First day.
    #[schema(format = Date)]
    pub valid_from: String,
    /// First day no longer valid; null for open-ended.
    #[serde(default)]
    #[schema(format = Date)]
    pub valid_to: Option<String>,
}
