//! `DELETE /v1/clients/{id}/addresses/{address_id}`: removes an address, `If-Match` required.

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::domain::etag;
use crate::error::{ApiError, Problem};
use crate::http::extract::PathIds;
use crate::http::respond::no_content;

/// Remove an address.
#[utoipa::path(delete, path = "/v1/clients/{id}/addresses/{address_id}", tag = "metadata",
    params(("id" = uuid::Uuid, Path, description = "Client id"), ("address_id" = uuid::Uuid, Path, description = "Address id"),
           ("If-Match" = String, Header, description = "The ETag you read")),
    responses((status = 204, description = "Removed", headers(("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such address", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Client deleted", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn delete_address(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathIds(client_id, address_id): PathIds,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let condition = etag::require_if_match(&headers)?;
    let condition = &condition;
    let written = app
        .db
        .write(&principal.subject, |tx| {
            Box::pin(async move {
                let current = super::load(tx, client_id, address_id).await?;
                condition.ensure(current.version, || {
                    format!("address {address_id} changed since you read it")
                })?;
                let deleted = tx
                    .execute(
                        "DELETE FROM client_api.client_address WHERE id = $1 AND version = $2",
                        &[&address_id, &current.version],
                    )
                    .await?;
                if deleted == 0 {
                    return Err(tx.changed_concurrently(format!("address {address_id} changed concurrently")));
                }
                Ok(())
            })
        })
        .await?;
    Ok(no_content(written.token))
}
