//! `PATCH /v1/contacts/{id}`: merge patch, `If-Match` required.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::{Committed, Query as _};
use crate::domain::contact::{CONTACT_COLUMNS, Contact, ContactFields};
use crate::domain::{etag, merge_patch};
use crate::error::{ApiError, Problem};
use crate::http::extract::{MergePatch, PathId, parse_json};
use crate::http::respond::JsonResponse;

/// Change a contact.
#[utoipa::path(patch, path = "/v1/contacts/{id}", tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id"), ("If-Match" = String, Header, description = "The ETag you read")),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "Members of ContactFields to change"),
    responses((status = 200, description = "Changed", body = Contact, headers(("ETag" = String), ("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn update_contact(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathId(id): PathId,
    headers: HeaderMap,
    MergePatch(patch): MergePatch,
) -> Result<Response, ApiError> {
    let condition = etag::require_if_match(&headers)?;
    let patch = serde_json::Value::Object(patch);
    let sql = format!(
        "UPDATE client_api.contact AS p SET given_name = $3, family_name = $4, email = $5, phone = $6, job_title = $7 \
         WHERE p.id = $1 AND p.version = $2 RETURNING {CONTACT_COLUMNS}"
    );
    let (condition, patch, sql) = (&condition, &patch, sql.as_str());
    let Committed { value: contact, token } = app
        .db
        .write(&principal.subject, |tx| {
            Box::pin(async move {
                let current = super::load_live(tx, id).await?;
                condition.ensure(current.version, || format!("contact {id} changed since you read it"))?;
                let mut document = current.writable();
                merge_patch::apply(&mut document, patch);
                let f: ContactFields = parse_json(&serde_json::to_vec(&document).map_err(ApiError::internal)?)?;
                let row = tx
                    .query_opt(
                        sql,
                        &[
                            &id,
                            &current.version,
                            &f.given_name,
                            &f.family_name,
                            &f.email,
                            &f.phone,
                            &f.job_title,
                        ],
                    )
                    .await?
                    .ok_or_else(|| tx.changed_concurrently(format!("contact {id} changed concurrently")))?;
                Contact::from_row(&row).map_err(ApiError::internal)
            })
        })
        .await?;
    Ok(JsonResponse::ok(&contact)?
        .etag(&etag::format(contact.version))
        .token(token)
        .into_response())
}
