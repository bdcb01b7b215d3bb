//! `/v1/contacts`: people at client companies (CRUD with soft delete, erasure of personal data), and the clients a
//! contact is linked to.

pub mod clients;
pub mod create;
pub mod delete;
pub mod erase;
pub mod get;
pub mod list;
pub mod update;

use uuid::Uuid;

use crate::db::Query;
use crate::domain::contact::{CONTACT_COLUMNS, Contact};
use crate::error::ApiError;

/// The URL of a contact.
pub fn location(id: Uuid) -> String {
    format!("/v1/contacts/{id}")
}

/// The live contact `id`.
///
/// # Errors
/// 404 when it does not exist or is deleted.
pub async fn load_live(conn: &impl Query, id: Uuid) -> Result<Contact, ApiError> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM client_api.contact AS p WHERE p.id = $1 AND p.deleted_at IS NULL");
    let row = conn
        .query_opt(&sql, &[&id])
        .await?
        .ok_or_else(|| ApiError::not_found("contact", id))?;
    Contact::from_row(&row).map_err(ApiError::internal)
}
