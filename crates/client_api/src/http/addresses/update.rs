//! `PATCH /v1/clients/{id}/addresses/{address_id}`: merge patch, `If-Match` required.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::{Committed, Query as _};
use crate::domain::metadata::{ADDRESS_COLUMNS, Address, AddressFields};
use crate::domain::{etag, merge_patch};
use crate::error::{ApiError, Problem};
use crate::http::extract::{MergePatch, PathIds, parse_json};
use crate::http::respond::JsonResponse;

/// Change an address.
#[utoipa::path(patch, path = "/v1/clients/{id}/addresses/{address_id}", tag = "metadata",
    params(("id" = uuid::Uuid, Path, description = "Client id"), ("address_id" = uuid::Uuid, Path, description = "Address id"),
           ("If-Match" = String, Header, description = "The ETag you read")),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "Members of AddressFields to change"),
    responses((status = 200, description = "Changed", body = Address, headers(("ETag" = String), ("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such address", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn update_address(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathIds(client_id, address_id): PathIds,
    headers: HeaderMap,
    MergePatch(patch): MergePatch,
) -> Result<Response, ApiError> {
    let condition = etag::require_if_match(&headers)?;
    let patch = serde_json::Value::Object(patch);
    let sql = format!(
        "UPDATE client_api.client_address AS a SET address_type = $3, line1 = $4, line2 = $5, line3 = $6, city = $7, \
         region = $8, postal_code = $9, country_code = $10 WHERE a.id = $1 AND a.version = $2 RETURNING {ADDRESS_COLUMNS}"
    );
    let (condition, patch, sql) = (&condition, &patch, sql.as_str());
    let Committed { value: address, token } = app
        .db
        .write(&principal.subject, |tx| {
            Box::pin(async move {
                let current = super::load(tx, client_id, address_id).await?;
                condition.ensure(current.version, || {
                    format!("address {address_id} changed since you read it")
                })?;
                let mut document = current.writable();
                merge_patch::apply(&mut document, patch);
                let f: AddressFields = parse_json(&serde_json::to_vec(&document).map_err(ApiError::internal)?)?;
                let row = tx
                    .query_opt(
                        sql,
                        &[
                            &address_id,
                            &current.version,
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
                    .await?
                    .ok_or_else(|| tx.changed_concurrently(format!("address {address_id} changed concurrently")))?;
                Address::from_row(&row).map_err(ApiError::internal)
            })
        })
        .await?;
    Ok(JsonResponse::ok(&address)?
        .etag(&etag::format(address.version))
        .token(token)
        .into_response())
}
