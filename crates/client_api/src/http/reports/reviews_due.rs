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
use crate::domain::{cursor, format};
use crate::error::{ApiError, Problem, ProblemKind};
use crate::http::extract::{QueryParams, ReadToken};
use crate::http::respond::{Page, page};

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
    let limit = i64::from(p.limit.unwrap_or(100));
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_parameter("limit", "must be between 1 and 500"));
    }
    let due_by = match &p.due_by {
        Some(text) => Some(
            format::parse_date(text)
                .ok_or_else(|| ApiError::invalid_parameter("due_by", "must be a date such as 2026-12-31"))?,
        ),
        None => None,
    };
    let query_id = cursor::fingerprint(&["reviews-due", p.due_by.as_deref().unwrap_or("today")]);
    let after = match &p.cursor {
        Some(text) => {
            let key = cursor::decode(text, &query_id, 2)?;
            let bad = || ApiError::new(ProblemKind::InvalidCursor, "the cursor is not one this service issued");
            // "" stands for -infinity (never assessed).
            let due = match key[0].as_str().ok_or_else(bad)? {
                "" => None,
                text => Some(format::parse_date(text).ok_or_else(bad)?),
            };
            let last = key[1].as_str().and_then(|s| Uuid::try_parse(s).ok()).ok_or_else(bad)?;
            Some((due, last))
        }
        None => None,
    };
    let conn = app.db.read(token.or(Consistency::Any));
    let (due, last) = match after {
        Some((due, last)) => (due, Some(last)),
        None => (None, None),
    };
    let rows = conn
        .query(
            "SELECT c.id, c.display_name, c.owner, c.risk_category, c.risk_next_review_due FROM client_api.client AS c \
             WHERE c.deleted_at IS NULL \
             AND coalesce(c.risk_next_review_due, '-infinity'::date) <= COALESCE($1, CURRENT_DATE) \
             AND ($3::uuid IS NULL OR (coalesce(c.risk_next_review_due, '-infinity'::date), c.id) \
                  > (COALESCE($2, '-infinity'::date), $3)) \
             ORDER BY coalesce(c.risk_next_review_due, '-infinity'::date), c.id LIMIT $4",
            &[&due_by, &due, &last, &(limit + 1)],
        )
        .await?;
    drop(conn);
    let mut items: Vec<ReviewDue> = rows
        .iter()
        .map(|r| ReviewDue {
            client_id: r.get(0),
            display_name: r.get(1),
            owner: r.get(2),
            risk_category: r.get(3),
            risk_next_review_due: format::date_opt(r.get(4)),
        })
        .collect();
    let next_cursor = if items.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        items.pop();
        items.last().map(|r| {
            let due = r.risk_next_review_due.clone().unwrap_or_default();
            cursor::encode(&query_id, vec![due.into(), r.client_id.to_string().into()])
        })
    } else {
        None
    };
    Ok(page(&uri, &Page { items, next_cursor })?.into_response())
}
