//! `GET /v1/reports/portfolio-summary`: live clients grouped by industry sector, HQ country, risk category,
//! size band or status, for the whole book or one group's subtree (`root`: a client, whose subtree is one
//! range of the path index). One aggregate query; no rows leave the database.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::error::{ApiError, Problem};
use crate::http::extract::{QueryParams, ReadToken};
use crate::http::respond::JsonResponse;

/// Grouping and scope.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// `industry_sector`, `country`, `risk`, `size_band` or `status`.
    pub group_by: String,
    /// Only this client and its descendants (default: the whole book).
    pub root: Option<Uuid>,
}

/// One group.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryGroup {
    /// The group's key (null: not set, e.g. clients without a risk assessment).
    pub key: Option<String>,
    /// A readable label for the key, where the reference data has one.
    pub label: Option<String>,
    /// Live clients.
    pub clients: i64,
    /// Sum of headcounts (clients without one count 0).
    pub employees: i64,
    /// Clients rated high or critical.
    pub high_or_critical_risk: i64,
}

/// The summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioSummary {
    /// The grouping.
    pub group_by: String,
    /// The subtree root, if any.
    pub root: Option<Uuid>,
    /// Live clients in scope.
    pub total_clients: i64,
    /// Groups, largest first.
    pub groups: Vec<SummaryGroup>,
}

/// (grouping, key expression, label expression, joins)
const GROUPINGS: &[(&str, &str, &str, &str)] = &[
    (
        "industry_sector",
        "i.sector_code",
        "s.title",
        "LEFT JOIN client_api.industry_code AS i ON i.scheme = c.industry_scheme AND i.code = c.industry_code \
      LEFT JOIN client_api.industry_code AS s ON s.scheme = i.scheme AND s.code = i.sector_code",
    ),
    (
        "country",
        "c.hq_country",
        "k.name",
        "LEFT JOIN client_api.country AS k ON k.alpha2 = c.hq_country",
    ),
    (
        "risk",
        "c.risk_category",
        "r.label",
        "LEFT JOIN client_api.risk_rating AS r ON r.rating = c.risk_category",
    ),
    (
        "size_band",
        "c.size_band",
        "b.label",
        "LEFT JOIN client_api.size_band AS b ON b.band = c.size_band",
    ),
    (
        "status",
        "c.status",
        "t.label",
        "LEFT JOIN client_api.client_status AS t ON t.status = c.status",
    ),
];

/// Portfolio summary.
#[utoipa::path(get, path = "/v1/reports/portfolio-summary", tag = "reports",
    params(SummaryParams),
    responses((status = 200, description = "Groups", body = PortfolioSummary),
              (status = 404, description = "No such root client", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Unknown grouping", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn portfolio_summary(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    QueryParams(p): QueryParams<SummaryParams>,
) -> Result<Response, ApiError> {
    let (_, key, label, joins) = GROUPINGS.iter().find(|(name, ..)| *name == p.group_by).ok_or_else(|| {
        ApiError::invalid_parameter(
            "group_by",
            "must be industry_sector, country, risk, size_band or status",
        )
    })?;
    let conn = app.db.read(token.or(Consistency::Any));
    let scope = match p.root {
        Some(root) => Some(crate::http::hierarchy::locate(&conn, root).await?.0),
        None => None,
    };
    let sql = format!(
        "SELECT {key} AS key, max({label}) AS label, count(*) AS clients, \
         COALESCE(sum(c.employee_count), 0)::bigint AS employees, \
         count(*) FILTER (WHERE c.risk_category IN ('high', 'critical')) AS high_or_critical \
         FROM client_api.client AS c {joins} WHERE c.deleted_at IS NULL \
         AND ($1::text IS NULL OR (c.path >= $1 AND c.path < $1 || '~')) \
         GROUP BY {key} ORDER BY clients DESC, key NULLS LAST"
    );
    let rows = conn.query(&sql, &[&scope]).await?;
    drop(conn);
    let groups: Vec<SummaryGroup> = rows
        .iter()
        .map(|r| SummaryGroup {
            key: r.get(0),
            label: r.get(1),
            clients: r.get(2),
            employees: r.get(3),
            high_or_critical_risk: r.get(4),
        })
        .collect();
    let total_clients = groups.iter().map(|g| g.clients).sum();
    let summary = PortfolioSummary {
        group_by: p.group_by,
        root: p.root,
        total_clients,
        groups,
    };
    Ok(JsonResponse::ok(&summary)?.into_response())
}
