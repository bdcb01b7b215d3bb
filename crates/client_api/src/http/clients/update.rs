//! `PATCH /v1/clients/{id}`: JSON Merge Patch (RFC 7396) with `If-Match` required (428 without, 412 when the
//! client changed since). A different `parent_id` moves the client with its whole subtree (the schema's
//! `move_client`, which serializes concurrent moves so no cycle can form); everything happens in one
//! transaction, so a refused move leaves no partial change. `ownership` is the parent's stake on the parent
//! link; a move without it leaves the new link without a stake.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::{Committed, Query as _};
use crate::domain::client::READ_ONLY_FIELDS;
use crate::domain::{CLIENT_COLUMNS, Client, ClientFields, etag, merge_patch};
use crate::error::{ApiError, FieldError, Problem, ProblemKind};
use crate::http::extract::{MergePatch, PathId, parse_json};
use crate::http::respond::JsonResponse;

/// Update a client (merge patch).
#[utoipa::path(patch, path = "/v1/clients/{id}", tag = "clients",
    request_body(content = Object, content_type = "application/merge-patch+json",
        description = "Members to change; null clears a member. Same fields as ClientFields."),
    params(("id" = uuid::Uuid, Path, description = "Client id"),
           ("If-Match" = String, Header, description = "The ETag you read")),
    responses(
        (status = 200, description = "Updated", body = Client, headers(("ETag" = String), ("Pcc-Consistency-Token" = String))),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cycle, too deep, deleted, status transition, conflict", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"])))]
pub async fn update_client(
    State(app): State<AppState>,
    Writer(principal): Writer,
    PathId(id): PathId,
    headers: HeaderMap,
    MergePatch(patch): MergePatch,
) -> Result<Response, ApiError> {
    let condition = etag::require_if_match(&headers)?;
    for key in patch.keys() {
        if READ_ONLY_FIELDS.contains(&key.as_str()) {
            let detail = format!("{key} is read-only: the service maintains it");
            return Err(ApiError::new(ProblemKind::MalformedBody, detail.clone())
                .with_error(FieldError::pointer(&format!("/{key}"), detail)));
        }
    }
    if patch.get("status").is_some_and(serde_json::Value::is_null) {
        return Err(ApiError::invalid_field("/status", "status cannot be cleared"));
    }
    let patch = serde_json::Value::Object(patch);
    let sql = format!(
        "UPDATE client_api.client AS c SET display_name = $3, legal_name = $4, lei = $5, \
         registration_authority = $6, registration_number = $7, incorporation_country = $8, hq_country = $9, \
         website = $10, status = COALESCE($11, c.status), owner = $12, industry_scheme = $13, industry_code = $14, \
         employee_count = $15, revenue_amount = $16::text::numeric, revenue_currency = $17, \
         revenue_fiscal_year = $18, ownership_percent = $19::text::numeric, ownership_effective_from = $20, \
         ownership_holder_id = CASE WHEN $19::text IS NOT NULL THEN c.parent_id END \
         WHERE c.id = $1 AND c.version = $2 RETURNING {CLIENT_COLUMNS}"
    );
    let (condition, patch, sql) = (&condition, &patch, sql.as_str());
    let Committed { value: client, token } = app
        .db
        .write(&principal.subject, |tx| {
            Box::pin(async move {
                let current = super::load(tx, id).await?;
                condition.ensure(current.version, || {
                    format!("client {id} is at version {}, not the one in If-Match", current.version)
                })?;
                if current.deleted_at.is_some() {
                    return Err(ApiError::new(
                        ProblemKind::Deleted,
                        format!("client {id} is deleted: restore it before changing it"),
                    ));
                }
                let mut document = current.writable();
                merge_patch::apply(&mut document, patch);
                // A stake belongs to one parent link: a move takes the new link's stake from the patch alone (not
                // merged with the old parent's), and without one the new link has none (the database clears a
                // stake left behind by a move the same way).
                if document["parent_id"] != serde_json::json!(current.parent_id) {
                    document["ownership"] = patch.get("ownership").cloned().unwrap_or(serde_json::Value::Null);
                }
                let bytes = serde_json::to_vec(&document).map_err(ApiError::internal)?;
                let fields: ClientFields = parse_json::<ClientFields>(&bytes)?.normalize()?;
                let (percent, effective_from) = fields.ownership_params();

                let mut version = current.version;
                if fields.parent_id != current.parent_id {
                    let row = tx
                        .query_one(
                            "SELECT m.version FROM client_api.move_client($1, $2, $3) AS m",
                            &[&id, &fields.parent_id, &version],
                        )
                        .await
                        .map_err(|e| tx.raced(e))?;
                    version = row.get(0);
                }
                let f = &fields;
                let row = tx
                    .query_opt(
                        sql,
                        &[
                            &id,
                            &version,
                            &f.display_name,
                            &f.legal_name,
                            &f.lei,
                            &f.registration_authority,
                            &f.registration_number,
                            &f.incorporation_country,
                            &f.hq_country,
                            &f.website,
                            &f.status,
                            &f.owner,
                            &f.industry_scheme,
                            &f.industry_code,
                            &f.employee_count,
                            &f.revenue_amount,
                            &f.revenue_currency,
                            &f.revenue_fiscal_year,
                            &percent,
                            &effective_from,
                        ],
                    )
                    .await?
                    .ok_or_else(|| tx.changed_concurrently(format!("client {id} changed concurrently")))?;
                Client::from_row(&row).map_err(ApiError::internal)
            })
        })
        .await?;
    tracing::info!(client.id = %id, client.version = client.version, "client updated");
    Ok(JsonResponse::ok(&client)?
        .etag(&client.etag())
        .token(token)
        .into_response())
}
