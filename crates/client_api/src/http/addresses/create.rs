//! `POST /v1/clients/{id}/addresses` (Idempotency-Key supported).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::Query as _;
use crate::domain::metadata::{ADDRESS_COLUMNS, Address, AddressFields};
use crate::error::{ApiError, Problem};
use crate::http::extract::{IdempotencyKey, JsonBody, PathId};
use crate::http::idempotency::Keyed;
use crate::http::respond::JsonResponse;

/// Add an address.
#[utoipa::path(post, path = "/v1/clients/{id}/addresses", tag = "metadata",
    params(("id" = Uuid, Path, description = "Client id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body(content = AddressFields, content_type = "application/json"),
    responses((status = 201, description = "Added", body = Address, headers(("Location" = String), ("ETag" = String), ("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Type taken or client deleted", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Validation failed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn create_address(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(f, raw): JsonBody<AddressFields>,
) -> Result<Response, ApiError> {
    let path = format!("/v1/clients/{id}/addresses");
    let keyed = Keyed {
        principal: &principal.subject,
        key: key.as_deref(),
        path: &path,
        body: &raw,
    };
    let sql = format!(
        "INSERT INTO client_api.client_address AS a (id, client_id, address_type, line1, line2, line3, city, region, \
         postal_code, country_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {ADDRESS_COLUMNS}"
    );
    let (f, sql, path) = (&f, sql.as_str(), path.as_str());
    keyed
        .write(&app.db, |tx| {
            Box::pin(async move {
                crate::http::clients::load(tx, id).await?;
                let row = tx
                    .query_one(
                        sql,
                        &[
                            &Uuid::now_v7(),
                            &id,
                            &f.address_type,
                            &f.line1,
                            &f.line2,
                            &f.line3,
                            &f.city,
                            &f.region,
                            &f.postal_code,
                            &f.country_code,
                        ],
                    )
                    .await?;
                let address = Address::from_row(&row).map_err(ApiError::internal)?;
                Ok(JsonResponse::new(StatusCode::CREATED, &address)?
                    .location(&format!("{path}/{}", address.id))
                    .etag(&crate::domain::etag::format(address.version)))
            })
        })
        .await
}
