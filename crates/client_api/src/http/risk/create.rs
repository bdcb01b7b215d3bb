//! `POST /v1/clients/{id}/risk-assessments`: records an assessment (Idempotency-Key supported).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Writer;
use crate::db::Query as _;
use crate::domain::format;
use crate::domain::metadata::{RISK_COLUMNS, RiskAssessment, RiskAssessmentFields};
use crate::error::{ApiError, Problem};
use crate::http::extract::{IdempotencyKey, JsonBody, PathId};
use crate::http::idempotency::{self, Keyed};
use crate::http::respond::JsonResponse;

/// Record a risk assessment.
#[utoipa::path(post, path = "/v1/clients/{id}/risk-assessments", tag = "metadata",
    params(("id" = Uuid, Path, description = "Client id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body(content = RiskAssessmentFields, content_type = "application/json"),
    responses((status = 201, description = "Recorded", body = RiskAssessment, headers(("Location" = String), ("Pcc-Consistency-Token" = String))),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Client deleted", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Validation failed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:write"])))]
pub async fn create_risk_assessment(
    State(app): State<AppState>,
    crate::auth::Writer(principal): Writer,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(fields, raw): JsonBody<RiskAssessmentFields>,
) -> Result<Response, ApiError> {
    let assessed_at = match &fields.assessed_at {
        Some(text) => Some(format::parse_timestamp(text).ok_or_else(|| {
            ApiError::invalid_field("/assessed_at", "must be an RFC 3339 time such as 2026-01-31T09:00:00Z")
        })?),
        None => None,
    };
    let next_review_due = match &fields.next_review_due {
        Some(text) => Some(
            format::parse_date(text)
                .ok_or_else(|| ApiError::invalid_field("/next_review_due", "must be a date such as 2027-01-31"))?,
        ),
        None => None,
    };
    let path = format!("/v1/clients/{id}/risk-assessments");
    let keyed = Keyed {
        principal: &principal.subject,
        key: key.as_deref(),
        path: &path,
        body: &raw,
    };
    let sql = format!(
        "INSERT INTO client_api.risk_assessment AS a (id, client_id, rating, rationale, assessed_at, assessed_by, \
         next_review_due) VALUES ($1, $2, $3, $4, COALESCE($5, now()), COALESCE($6, client_api.current_actor()), $7) \
         RETURNING {RISK_COLUMNS}"
    );
    let (fields, sql, path) = (&fields, sql.as_str(), path.as_str());
    let answer = keyed
        .write(&app.db, |tx| {
            Box::pin(async move {
                crate::http::clients::load(tx, id).await?;
                let row = tx
                    .query_one(
                        sql,
                        &[
                            &Uuid::now_v7(),
                            &id,
                            &fields.rating,
                            &fields.rationale,
                            &assessed_at,
                            &fields.assessed_by,
                            &next_review_due,
                        ],
                    )
                    .await?;
                let assessment = RiskAssessment::from_row(&row).map_err(ApiError::internal)?;
                Ok(JsonResponse::new(StatusCode::CREATED, &assessment)?.location(path))
            })
        })
        .await?;
    if idempotency::created(&answer).is_some() {
        tracing::info!(client.id = %id, "risk assessment recorded");
    }
    Ok(answer)
}
