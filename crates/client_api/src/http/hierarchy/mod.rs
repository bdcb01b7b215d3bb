//! Group structure reads, all from the replica (or a caught-up replica with a consistency token): children,
//! descendants (depth limit, cursor), ancestors (root first), a bounded tree, and the move history.
//!
//! They use the materialized path maintained by the schema: a subtree is the btree range
//! `path >= '<path>' AND path < '<path>~'` (C collation), and ancestors are the path's segments.

pub mod ancestors;
pub mod children;
pub mod descendants;
pub mod moves;
pub mod tree;

use uuid::Uuid;

use crate::db::{Query as _, ReadSession};
use crate::error::ApiError;

/// The path and depth of a live client.
///
/// # Errors
/// 404 when the client does not exist or is deleted.
pub async fn locate(conn: &ReadSession, id: Uuid) -> Result<(String, i16), ApiError> {
    let row = conn
        .query_opt(
            "SELECT path, depth FROM client_api.client WHERE id = $1 AND deleted_at IS NULL",
            &[&id],
        )
        .await?
        .ok_or_else(|| ApiError::not_found("client", id))?;
    Ok((row.get(0), row.get(1)))
}

/// The parameter `max_depth` (levels below the client, 1-15).
///
/// # Errors
/// 422 naming the parameter.
pub fn depth_limit(value: Option<i16>, default: i16) -> Result<i16, ApiError> {
    let depth = value.unwrap_or(default);
    if !(1..=15).contains(&depth) {
        return Err(ApiError::invalid_parameter("max_depth", "must be between 1 and 15"));
    }
    Ok(depth)
}
