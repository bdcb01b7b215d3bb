//! `POST /v1/contacts/{id}/erase`: erasure of a contact's personal data (GDPR art. 17), `If-Match` required,
//! `Idempotency-Key` supported. The schema's `erase_contact` does the work in the request's transaction: the
//! personal fields become the marker / null, the contact keeps its id and links, records who erased it and why,
//! and its change history and stored responses are scrubbed. Erasing an erased contact answers it as it is
//! (200, whatever `If-Match` says: a retry of a lost response gets the same answer). Deleted contacts can be
//! erased too (their data is held all the same).

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::Query as _;
use crate::domain::contact::{CONTACT_COLUMNS, Contact, ErasureRequest};
use crate::domain::etag;
use crate::error::{ApiError, Problem};
use crate::http::extract::{IdempotencyKey, JsonBody, PathId};
use crate::http::idempotency::Keyed;
use crate::http::respond::JsonResponse;

/// Erase a contact's personal data.
#[utoipa::path(post, path = "/v1/contacts/{id}/erase", tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id (a deleted contact can be erased too)"),
           ("If-Match" = String, Header, description = "The ETag you read, or * (for a deleted contact, which GET no longer answers); not checked once the contact is erased"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body(content = ErasureRequest, content_type = "application/json"),
    responses((status = 200, description = "Erased (or already erased): the contact as it is now", body = Contact,
               headers(("ETag" = String), ("Pcc-Consistency-Token" = String))),
              (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Reason missing or invalid, or key reused", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn erase_contact(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathId(id): PathId,
    headers: HeaderMap,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body, raw): JsonBody<ErasureRequest>,
) -> Result<Response, ApiError> {
    let condition = etag::require_if_match(&headers)?;
    let path = format!("/v1/contacts/{id}/erase");
    let keyed = Keyed {
        principal: &principal.subject,
        key: key.as_deref(),
        path: &path,
        body: &raw,
    };
    let erase = format!("SELECT {CONTACT_COLUMNS} FROM client_api.erase_contact($1, $2, $3) AS p");
    let (condition, reason, erase) = (&condition, &body.reason, erase.as_str());
    let answer = keyed
        .write(&app.db, |tx| {
            Box::pin(async move {
                // The row lock orders this against concurrent edits, so the version read is the one erased.
                let current = tx
                    .query_opt(
                        "SELECT p.version, p.erased_at IS NOT NULL FROM client_api.contact AS p \
                         WHERE p.id = $1 FOR UPDATE",
                        &[&id],
                    )
                    .await?
                    .ok_or_else(|| ApiError::not_found("contact", id))?;
                let (version, erased): (i64, bool) = (current.get(0), current.get(1));
                if !erased {
                    condition.ensure(version, || format!("contact {id} changed since you read it"))?;
                }
                let row = tx
                    .query_opt(erase, &[&id, reason, &version])
                    .await?
                    .ok_or_else(|| ApiError::not_found("contact", id))?;
                let contact = Contact::from_row(&row).map_err(ApiError::internal)?;
                Ok(JsonResponse::new(StatusCode::OK, &contact)?.etag(&etag::format(contact.version)))
            })
        })
        .await?;
    tracing::info!(contact.id = %id, "contact erasure answered");
    Ok(answer)
}
