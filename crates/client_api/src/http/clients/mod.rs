//! `/v1/clients`: portfolio companies. One file per action; shared lookups here.

pub mod create;
pub mod delete;
pub mod filter;
pub mod get;
pub mod list;
pub mod restore;
pub mod update;

use uuid::Uuid;

use crate::db::Query;
use crate::domain::{CLIENT_COLUMNS, Client};
use crate::error::ApiError;

/// The URL of a client.
pub fn location(id: Uuid) -> String {
    format!("/v1/clients/{id}")
}

/// The client with `id`, deleted or not.
///
/// # Errors
/// 404 when no such client exists.
pub async fn load(conn: &impl Query, id: Uuid) -> Result<Client, ApiError> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {CLIENT_COLUMNS} FROM client_api.client AS c WHERE c.id = $1"));
    let sql: &str = &SQL;
    let row = conn
        .query_opt(sql, &[&id])
        .await?
        .ok_or_else(|| ApiError::not_found("client", id))?;
    Client::from_row(&row).map_err(ApiError::internal)
}

/// The live client with `id` (404 for a deleted one as well).
///
/// # Errors
/// 404 when it does not exist or is deleted.
pub async fn load_live(conn: &impl Query, id: Uuid) -> Result<Client, ApiError> {
    let client = load(conn, id).await?;
    if client.deleted_at.is_some() {
        return Err(ApiError::not_found("client", id));
    }
    Ok(client)
}

/// Fails with 404 unless a live client `id` exists (for sub-resources).
///
/// # Errors
/// 404.
pub async fn ensure_exists(conn: &impl Query, id: Uuid) -> Result<(), ApiError> {
    match conn
        .query_opt(
            "SELECT 1 FROM client_api.client WHERE id = $1 AND deleted_at IS NULL",
            &[&id],
        )
        .await?
    {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("client", id)),
    }
}
