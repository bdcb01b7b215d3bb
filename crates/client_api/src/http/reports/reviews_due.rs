//! `GET /v1/reports/risk-reviews-due`: live clients whose next risk review is due on or before a date
//! (default today), never-assessed clients first, in keyset pages over the review-due index.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::format;
use crate::error::{ApiError, Problem};
use crate::http::extract::{QueryParams, ReadToken};
use crate::http::paging::{Limits, Paging};
use crate::http::respond::Page;

/// Horizon and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewsDueParams {
    /// Reviews due on or before this date (default today).
    #[param(format = Date)]
    pub due_by: Option<String>,
    /// Page size, 1-500 (default 100).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// A client with a review due.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDue {
    /// Client id.
    pub client_id: Uuid,
    /// Display name.
    pub display_name: String,
    /// Relationship manager.
    pub owner: Option<String>,
    /// Current category (null: never assessed).
    pub risk_category: Option<String>,
    /// Due date (null: never assessed).
    #[schema(format = Date)]
    pub risk_next_review_due: Option<String>,
}

/// Page sizes.
const LIMITS: Limits = Limits { default: 100, max: 500 };

/// Risk reviews due.
#[utoipa::path(get, path = "/v1/reports/risk-reviews-due", tag = "reports",
    params(ReviewsDueParams),
    responses((status = 200, description = "Clients due, most overdue first", body = Page<ReviewDue>),
              (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid date", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn reviews_due(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    QueryParams(p): QueryParams<ReviewsDueParams>,
) -> Result<Response, ApiError> {
    let due_by = match &p.due_by {
        Some(text) => Some(
            format::parse_date(text)
                .ok_or_else(|| ApiError::invalid_parameter("due_by", "must be a date such as 2026-12-31"))?,
        ),
        None => None,
    };
    let paging = Paging::new(
        LIMITS,
        p.limit,
        p.cursor.as_deref(),
        &["reviews-due", p.due_by.as_deref().unwrap_or("today")],
        2,
    )?;
    let (due, last) = match paging.after() {
        // "" stands for -infinity (never assessed).
        Some(key) => {
            let due = match key.text(0)? {
                "" => None,
                _ => Some(key.date(0)?),
            };
            (due, Some(key.uuid(1)?))
        }
        None => (None, None),
    };
    let conn = app.db.read(token.or(Consistency::Any));
    let rows = conn
        .query(
            "SELECT c.id, c.display_name, c.owner, c.risk_category, c.risk_next_review_due FROM client_api.client AS c \
             WHERE c.deleted_at IS NULL \
             AND coalesce(c.risk_next_review_due, '-infinity'::date) <= COALESCE($1, CURRENT_DATE) \
             AND ($3::uuid IS NULL OR (coalesce(c.risk_next_review_due, '-infinity'::date), c.id) \
                  > (COALESCE($2, '-infinity'::date), $3)) \
             ORDER BY coalesce(c.risk_next_review_due, '-infinity'::date), c.id LIMIT $4",
            &[&due_by, &due, &last, &paging.fetch()],
        )
        .await?;
    let items: Vec<ReviewDue> = rows
        .iter()
        .map(|r| ReviewDue {
            client_id: r.get(0),
            display_name: r.get(1),
            owner: r.get(2),
            risk_category: r.get(3),
            risk_next_review_due: format::date_opt(r.get(4)),
        })
        .collect();
    let response = paging.respond(&uri, items, |r| {
        vec![
            r.risk_next_review_due.clone().unwrap_or_default().into(),
            r.client_id.to_string().into(),
        ]
    })?;
    Ok(response.into_response())
}
