//! `POST /v1/contacts` (Idempotency-Key supported).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::Query as _;
use crate::domain::contact::{CONTACT_COLUMNS, Contact, ContactFields};
use crate::domain::etag;
use crate::error::{ApiError, Problem};
use crate::http::extract::{IdempotencyKey, JsonBody};
use crate::http::idempotency::Keyed;
use crate::http::respond::JsonResponse;

/// Create a contact.
#[utoipa::path(post, path = "/v1/contacts", tag = "contacts",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body(content = ContactFields, content_type = "application/json"),
    responses((status = 201, description = "Created", body = Contact, headers(("Location" = String), ("ETag" = String), ("Pcc-Consistency-Token" = String))),
              (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Validation failed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn create_contact(
    State(app): State<AppState>,
    Writer(principal): Writer,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(f, raw): JsonBody<ContactFields>,
) -> Result<Response, ApiError> {
    let keyed = Keyed {
        principal: &principal.subject,
        key: key.as_deref(),
        path: "/v1/contacts",
        body: &raw,
    };
    let sql = format!(
        "INSERT INTO client_api.contact AS p (id, given_name, family_name, email, phone, job_title) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {CONTACT_COLUMNS}"
    );
    let (f, sql) = (&f, sql.as_str());
    keyed
        .write(&app.db, |tx| {
            Box::pin(async move {
                let row = tx
                    .query_one(
                        sql,
                        &[
                            &Uuid::now_v7(),
                            &f.given_name,
                            &f.family_name,
                            &f.email,
                            &f.phone,
                            &f.job_title,
                        ],
                    )
                    .await?;
                let contact = Contact::from_row(&row).map_err(ApiError::internal)?;
                Ok(JsonResponse::new(StatusCode::CREATED, &contact)?
                    .location(&super::location(contact.id))
                    .etag(&etag::format(contact.version)))
            })
        })
        .await
}
