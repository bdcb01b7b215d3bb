//! `/v1/clients/{id}/contacts`: a client's contacts, each link with a role and a validity period; linking,
//! changing the period (e.g. ending a role) and unlinking. At most one primary contact per client per day,
//! and no overlapping periods for the same person and role (exclusion constraints, V7).

pub mod create;
pub mod delete;
pub mod list;
pub mod update;

use uuid::Uuid;

use crate::db::Query;
use crate::domain::contact::{ContactLink, LINK_COLUMNS};
use crate::error::ApiError;

/// The link `link_id` of client `client_id`.
///
/// # Errors
/// 404.
pub async fn load(conn: &impl Query, client_id: Uuid, link_id: Uuid) -> Result<ContactLink, ApiError> {
    let sql = format!("SELECT {LINK_COLUMNS} FROM client_api.client_contact AS l WHERE l.id = $1 AND l.client_id = $2");
    let row = conn
        .query_opt(&sql, &[&link_id, &client_id])
        .await?
        .ok_or_else(|| ApiError::not_found("contact link", link_id))?;
    ContactLink::from_row(&row).map_err(ApiError::internal)
}

/// Parses an optional date field.
///
/// # Errors
/// 422 pointing at the field.
pub fn date_field(value: Option<&str>, pointer: &str) -> Result<Option<time::Date>, ApiError> {
    value
        .map(|text| {
            crate::domain::format::parse_date(text)
                .ok_or_else(|| ApiError::invalid_field(pointer, "must be a date such as 2026-01-31"))
        })
        .transpose()
}
