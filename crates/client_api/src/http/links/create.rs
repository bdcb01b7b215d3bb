//! `POST /v1/clients/{id}/contacts`: links a contact with a role and validity (Idempotency-Key supported).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::Query as _;
use crate::domain::contact::{ContactLink, LINK_COLUMNS, LinkFields};
use crate::domain::etag;
use crate::error::{ApiError, Problem};
use crate::http::extract::{IdempotencyKey, JsonBody, PathId};
use crate::http::idempotency::Keyed;
use crate::http::respond::JsonResponse;

/// Link a contact to a client.
#[utoipa::path(post, path = "/v1/clients/{id}/contacts", tag = "contacts",
    params(("id" = Uuid, Path, description = "Client id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body(content = LinkFields, content_type = "application/json"),
    responses((status = 201, description = "Linked", body = ContactLink, headers(("Location" = String), ("ETag" = String), ("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Overlapping primary or role, or deleted", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Validation failed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn link_contact(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(f, raw): JsonBody<LinkFields>,
) -> Result<Response, ApiError> {
    let valid_from = super::date_field(f.valid_from.as_deref(), "/valid_from")?;
    let valid_to = super::date_field(f.valid_to.as_deref(), "/valid_to")?;
    let path = format!("/v1/clients/{id}/contacts");
    let keyed = Keyed {
        principal: &principal.subject,
        key: key.as_deref(),
        path: &path,
        body: &raw,
    };
    let sql = format!(
        "INSERT INTO client_api.client_contact AS l (id, client_id, contact_id, role, valid_from, valid_to) \
         VALUES ($1, $2, $3, $4, COALESCE($5, CURRENT_DATE), $6) RETURNING {LINK_COLUMNS}"
    );
    let (f, sql, path) = (&f, sql.as_str(), path.as_str());
    keyed
        .write(&app.db, |tx| {
            Box::pin(async move {
                crate::http::clients::load(tx, id).await?;
                let row = tx
                    .query_one(
                        sql,
                        &[&Uuid::now_v7(), &id, &f.contact_id, &f.role, &valid_from, &valid_to],
                    )
                    .await?;
                let link = ContactLink::from_row(&row).map_err(ApiError::internal)?;
                Ok(JsonResponse::new(StatusCode::CREATED, &link)?
                    .location(&format!("{path}/{}", link.id))
                    .etag(&etag::format(link.version)))
            })
        })
        .await
}
