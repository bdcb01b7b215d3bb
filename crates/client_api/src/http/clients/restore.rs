//! `POST /v1/clients/{id}/restore`: brings a soft-deleted client back (409 parent-deleted under a deleted
//! parent, 409 conflict when a live client took its LEI meanwhile). `If-Match` is optional here: restoring is
//! idempotent.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::{Committed, Query as _};
use crate::domain::{CLIENT_COLUMNS, Client, etag};
use crate::error::{ApiError, Problem};
use crate::http::extract::PathId;
use crate::http::respond::JsonResponse;

/// Restore a deleted client.
#[utoipa::path(post, path = "/v1/clients/{id}/restore", tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "Client id"),
           ("If-Match" = Option<String>, Header, description = "Optional ETag check")),
    responses(
        (status = 200, description = "Restored (or already live)", body = Client, headers(("ETag" = String), ("Pcc-Consistency-Token" = String))),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Parent deleted or identifiers taken", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"])))]
pub async fn restore_client(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = match headers.get(http::header::IF_MATCH) {
        Some(_) => etag::expected_version(&etag::require_if_match(&headers)?)?,
        None => None,
    };
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM client_api.restore_client($1, $2) AS c");
    let sql = sql.as_str();
    let Committed { value: client, token } = app
        .db
        .write(&principal.subject, |tx| {
            Box::pin(async move {
                let row = tx.query_one(sql, &[&id, &expected]).await?;
                Client::from_row(&row).map_err(ApiError::internal)
            })
        })
        .await?;
    tracing::info!(client.id = %id, "client restored");
    Ok(JsonResponse::ok(&client)?
        .etag(&client.etag())
        .token(token)
        .into_response())
}
