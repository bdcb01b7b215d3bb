//! `PATCH /v1/clients/{id}/contacts/{link_id}`: changes a link's validity period (e.g. `{"valid_to":
//! "2026-12-31"}` ends a role), `If-Match` required. Role and contact are fixed: unlink and link anew.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::{Committed, Query as _};
use crate::domain::contact::{ContactLink, LINK_COLUMNS, LinkValidity};
use crate::domain::{etag, merge_patch};
use crate::error::{ApiError, Problem};
use crate::http::extract::{MergePatch, PathIds, parse_json};
use crate::http::respond::JsonResponse;

/// Change a link's validity.
#[utoipa::path(patch, path = "/v1/clients/{id}/contacts/{link_id}", tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Client id"), ("link_id" = uuid::Uuid, Path, description = "Link id"),
           ("If-Match" = String, Header, description = "The ETag you read")),
    request_body(content = LinkValidity, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = ContactLink, headers(("ETag" = String), ("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such link", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Overlap", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn update_link(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathIds(client_id, link_id): PathIds,
    headers: HeaderMap,
    MergePatch(patch): MergePatch,
) -> Result<Response, ApiError> {
    let condition = etag::require_if_match(&headers)?;
    let patch = serde_json::Value::Object(patch);
    let sql = format!(
        "UPDATE client_api.client_contact AS l SET valid_from = $3, valid_to = $4 \
         WHERE l.id = $1 AND l.version = $2 RETURNING {LINK_COLUMNS}"
    );
    let (condition, patch, sql) = (&condition, &patch, sql.as_str());
    let Committed { value: link, token } = app
        .db
        .write(&principal.subject, |tx| {
            Box::pin(async move {
                let current = super::load(tx, client_id, link_id).await?;
                condition.ensure(current.version, || format!("link {link_id} changed since you read it"))?;
                let mut document =
                    serde_json::json!({ "valid_from": current.valid_from, "valid_to": current.valid_to });
                merge_patch::apply(&mut document, patch);
                let f: LinkValidity = parse_json(&serde_json::to_vec(&document).map_err(ApiError::internal)?)?;
                let valid_from = super::date_field(Some(&f.valid_from), "/valid_from")?;
                let valid_to = super::date_field(f.valid_to.as_deref(), "/valid_to")?;
                let row = tx
                    .query_opt(sql, &[&link_id, &current.version, &valid_from, &valid_to])
                    .await?
                    .ok_or_else(|| tx.changed_concurrently(format!("link {link_id} changed concurrently")))?;
                ContactLink::from_row(&row).map_err(ApiError::internal)
            })
        })
        .await?;
    Ok(JsonResponse::ok(&link)?
        .etag(&etag::format(link.version))
        .token(token)
        .into_response())
}
