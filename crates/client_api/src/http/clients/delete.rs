//! `DELETE /v1/clients/{id}`: soft delete, `If-Match` required; 409 has-children while live children exist.
//! Deleting a deleted client again is a no-op (204).

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::Query as _;
use crate::domain::etag;
use crate::error::{ApiError, Problem};
use crate::http::extract::PathId;
use crate::http::respond::no_content;

/// Delete a client (soft).
#[utoipa::path(delete, path = "/v1/clients/{id}", tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "Client id"),
           ("If-Match" = String, Header, description = "The ETag you read")),
    responses(
        (status = 204, description = "Deleted", headers(("Pcc-Consistency-Token" = String))),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Has live children", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"])))]
pub async fn delete_client(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let condition = etag::require_if_match(&headers)?;
    let condition = &condition;
    let written = app
        .db
        .write(&principal.subject, |tx| {
            Box::pin(async move {
                let current = super::load(tx, id).await?;
                condition.ensure(current.version, || {
                    format!("client {id} is at version {}, not the one in If-Match", current.version)
                })?;
                tx.query(
                    "SELECT 1 FROM client_api.soft_delete_client($1, $2)",
                    &[&id, &current.version],
                )
                .await
                .map_err(|e| tx.raced(e))
            })
        })
        .await?;
    tracing::info!(client.id = %id, "client deleted");
    Ok(no_content(written.token))
}
