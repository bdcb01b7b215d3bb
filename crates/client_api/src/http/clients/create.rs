//! `POST /v1/clients`: creates a client (201 + Location + ETag + consistency token). With `Idempotency-Key`,
//! a retry returns the first response instead of creating a second client.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::Query as _;
use crate::domain::{CLIENT_COLUMNS, Client, ClientFields};
use crate::error::{ApiError, Problem};
use crate::http::extract::{IdempotencyKey, JsonBody};
use crate::http::idempotency::{self, Keyed};
use crate::http::respond::JsonResponse;

/// Create a client.
#[utoipa::path(post, path = "/v1/clients", tag = "clients",
    request_body(content = ClientFields, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body return the first response")),
    responses(
        (status = 201, description = "Created", body = Client,
         headers(("Location" = String), ("ETag" = String), ("Pcc-Consistency-Token" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflict (LEI taken, parent deleted, cycle)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Validation failed or key reused", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"])))]
pub async fn create_client(
    State(app): State<AppState>,
    Writer(principal): Writer,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(fields, raw): JsonBody<ClientFields>,
) -> Result<Response, ApiError> {
    let fields = fields.normalize()?;
    let keyed = Keyed {
        principal: &principal.subject,
        key: key.as_deref(),
        path: "/v1/clients",
        body: &raw,
    };
    let sql = format!(
        "INSERT INTO client_api.client AS c (id, display_name, legal_name, lei, registration_authority, \
         registration_number, incorporation_country, hq_country, website, status, owner, parent_id, \
         industry_scheme, industry_code, employee_count, revenue_amount, revenue_currency, revenue_fiscal_year, \
         ownership_percent, ownership_effective_from, ownership_holder_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10, 'prospect'), $11, $12, $13, $14, $15, \
         $16::text::numeric, $17, $18, $19::text::numeric, $20, CASE WHEN $19::text IS NOT NULL THEN $12::uuid END) \
         RETURNING {CLIENT_COLUMNS}"
    );
    let (percent, effective_from) = fields.ownership_params();
    let (f, sql) = (&fields, sql.as_str());
    let answer = keyed
        .write(&app.db, |tx| {
            Box::pin(async move {
                let row = tx
                    .query_one(
                        sql,
                        &[
                            &Uuid::now_v7(),
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
                            &f.parent_id,
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
                    .await?;
                let client = Client::from_row(&row).map_err(ApiError::internal)?;
                Ok(JsonResponse::new(StatusCode::CREATED, &client)?
                    .location(&super::location(client.id))
                    .etag(&client.etag()))
            })
        })
        .await?;
    // Logged once committed (an attempt that is run again would log twice).
    if let Some(location) = idempotency::created(&answer) {
        tracing::info!(client.location = location, "client created");
    }
    Ok(answer)
}
