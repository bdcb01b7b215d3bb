//! `DELETE /v1/contacts/{id}`: soft delete, `If-Match` required. The contact's current links end today
//! (their history stays); a deleted contact cannot be linked again.

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::domain::etag;
use crate::error::{ApiError, Problem};
use crate::http::extract::PathId;
use crate::http::respond::no_content;

/// Delete a contact (soft).
#[utoipa::path(delete, path = "/v1/contacts/{id}", tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id"), ("If-Match" = String, Header, description = "The ETag you read")),
    responses((status = 204, description = "Deleted", headers(("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn delete_contact(
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
                let current = super::load_live(tx, id).await?;
                condition.ensure(current.version, || format!("contact {id} changed since you read it"))?;
                // End current links first (those of live clients: links of a deleted client are frozen with it),
                // since the links trigger refuses changes once the contact is deleted. Links that start in the
                // future are removed (they never took effect).
                tx.execute(
                    "WITH ended AS (UPDATE client_api.client_contact SET valid_to = CURRENT_DATE \
                         WHERE contact_id = $1 AND valid_from < CURRENT_DATE AND (valid_to IS NULL OR valid_to > CURRENT_DATE) \
                         AND client_id IN (SELECT id FROM client_api.client WHERE deleted_at IS NULL) RETURNING 1) \
                         DELETE FROM client_api.client_contact WHERE contact_id = $1 AND valid_from >= CURRENT_DATE",
                    &[&id],
                )
                .await?;
                let deleted = tx
                    .execute(
                        "UPDATE client_api.contact SET deleted_at = now() WHERE id = $1 AND version = $2",
                        &[&id, &current.version],
                    )
                    .await?;
                if deleted == 0 {
                    return Err(tx.changed_concurrently(format!("contact {id} changed concurrently")));
                }
                Ok(())
            })
        })
        .await?;
    Ok(no_content(written.token))
}
