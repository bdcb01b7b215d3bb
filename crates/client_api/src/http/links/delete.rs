//! `DELETE /v1/clients/{id}/contacts/{link_id}`: unlinks (removes the link and its history). To keep the
//! history, end the link instead (PATCH `valid_to`). `If-Match` is optional: unlinking is idempotent.

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::domain::etag;
use crate::error::{ApiError, Problem, ProblemKind};
use crate::http::extract::PathIds;
use crate::http::respond::no_content;

/// Unlink a contact.
#[utoipa::path(delete, path = "/v1/clients/{id}/contacts/{link_id}", tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Client id"), ("link_id" = uuid::Uuid, Path, description = "Link id"),
           ("If-Match" = Option<String>, Header, description = "Optional ETag check")),
    responses((status = 204, description = "Unlinked", headers(("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such link", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn unlink_contact(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathIds(client_id, link_id): PathIds,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let condition = match headers.get(http::header::IF_MATCH) {
        Some(_) => Some(etag::require_if_match(&headers)?),
        None => None,
    };
    let condition = condition.as_ref();
    let written = app
        .db
        .write(&principal.subject, |tx| {
            Box::pin(async move {
                let current = super::load(tx, client_id, link_id).await?;
                if condition.is_some_and(|c| !c.matches(current.version)) {
                    return Err(ApiError::new(
                        ProblemKind::PreconditionFailed,
                        format!("link {link_id} changed since you read it"),
                    ));
                }
                tx.execute("DELETE FROM client_api.client_contact WHERE id = $1", &[&link_id])
                    .await
            })
        })
        .await?;
    Ok(no_content(written.token))
}
