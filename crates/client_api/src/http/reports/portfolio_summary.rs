//! `GET /v1/reports/portfolio-summary`: live clients grouped by industry sector, HQ country, risk category,
//! size band or status, for the whole book or one group's subtree (`root`: a client, whose subtree is one
//! range of the path index). One aggregate query; no rows leave the database.
//!
//! `weight=ownership` adds figures weighted by effective ownership: each client counts with the product of the
//! ownership stakes along its parent links from the top of the scope (the `root`, or each group's ultimate
//! parent, which weighs 1) down to it, computed exactly in `numeric` by a recursive walk of the live subtree. A
//! parent link without a recorded stake counts as 100 % (the figures equal the unweighted ones until stakes are
//! recorded), and `links_without_stake` says how many links in scope rest on that assumption.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query};
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
    /// `none` (default) or `ownership`: also sum each client weighted by its effective ownership from the top
    /// of the scope (the product of the stakes along its path; a link without a stake counts as 100 %).
    pub weight: Option<String>,
}

/// Figures weighted by effective ownership, as decimal strings rounded to 6 decimals (half away from zero,
/// trailing zeros trimmed).
#[derive(Debug, Serialize, ToSchema)]
pub struct WeightedFigures {
    /// Sum of the clients' weights.
    #[schema(example = "2.55")]
    pub clients: String,
    /// Sum of headcount times weight.
    #[schema(example = "1530.5")]
    pub employees: String,
    /// Sum of the weights of the clients rated high or critical.
    #[schema(example = "0.5")]
    pub high_or_critical_risk: String,
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
    /// With `weight=ownership`: the same figures weighted by effective ownership.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<WeightedFigures>,
}

/// The summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioSummary {
    /// The grouping.
    pub group_by: String,
    /// The subtree root, if any.
    pub root: Option<Uuid>,
    /// The weighting: `none` or `ownership`.
    pub weight: String,
    /// Live clients in scope.
    pub total_clients: i64,
    /// With `weight=ownership`: the sum of all weights in scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_total_clients: Option<String>,
    /// With `weight=ownership`: the parent links in scope (below its top) without a recorded stake, each
    /// counted as 100 %.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links_without_stake: Option<i64>,
    /// Groups, largest first (by weighted clients with `weight=ownership`).
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
              (status = 422, description = "Unknown grouping or weighting", body = Problem, content_type = "application/problem+json")),
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
    let weighted = match p.weight.as_deref() {
        None | Some("none") => false,
        Some("ownership") => true,
        Some(_) => return Err(ApiError::invalid_parameter("weight", "must be none or ownership")),
    };
    let conn = app.db.read(token.or(Consistency::Any));
    let scope = match p.root {
        Some(root) => Some(crate::http::hierarchy::locate(&conn, root).await?.0),
        None => None,
    };
    let (groups, links_without_stake) = if weighted {
        weighted_groups(&conn, key, label, joins, p.root).await?
    } else {
        (plain_groups(&conn, key, label, joins, scope.as_deref()).await?, None)
    };
    drop(conn);
    let total_clients = groups.iter().map(|g| g.clients).sum();
    let summary = PortfolioSummary {
        group_by: p.group_by,
        root: p.root,
        weight: if weighted { "ownership" } else { "none" }.to_owned(),
        total_clients,
        weighted_total_clients: links_without_stake.as_ref().map(|(total, _)| total.clone()),
        links_without_stake: links_without_stake.map(|(_, links)| links),
        groups,
    };
    Ok(JsonResponse::ok(&summary)?.into_response())
}

/// The unweighted groups: one aggregate over the scope's path range (or the whole book).
async fn plain_groups(
    conn: &impl Query,
    key: &str,
    label: &str,
    joins: &str,
    scope: Option<&str>,
) -> Result<Vec<SummaryGroup>, ApiError> {
    let sql = format!(
        "SELECT {key} AS key, max({label}) AS label, count(*) AS clients, \
         COALESCE(sum(c.employee_count), 0)::bigint AS employees, \
         count(*) FILTER (WHERE c.risk_category IN ('high', 'critical')) AS high_or_critical \
         FROM client_api.client AS c {joins} WHERE c.deleted_at IS NULL \
         AND ($1::text IS NULL OR (c.path >= $1 AND c.path < $1 || '~')) \
         GROUP BY {key} ORDER BY clients DESC, key NULLS LAST"
    );
    let rows = conn.query(&sql, &[&scope]).await?;
    Ok(rows
        .iter()
        .map(|r| SummaryGroup {
            key: r.get(0),
            label: r.get(1),
            clients: r.get(2),
            employees: r.get(3),
            high_or_critical_risk: r.get(4),
            weighted: None,
        })
        .collect())
}

/// The weighted groups, and (sum of weights, links without a stake) of the scope. The walk starts at the
/// scope's top (the root, or every live ultimate parent) with weight 1 and multiplies, link by link, the
/// child's stake (`ownership_percent / 100`, 1 when none is recorded): exact numeric products (at most 16
/// levels of 4-decimal percentages), rounded only in the output. A live client's ancestors are all live (the
/// schema's rule), so walking live rows reaches every live client in scope.
async fn weighted_groups(
    conn: &impl Query,
    key: &str,
    label: &str,
    joins: &str,
    root: Option<Uuid>,
) -> Result<(Vec<SummaryGroup>, Option<(String, i64)>), ApiError> {
    // Output only: 6 decimals, half away from zero, trailing zeros trimmed.
    let rounded = |e: &str| format!("pg_catalog.trim_scale(pg_catalog.round({e}, 6))::text");
    let (w_clients, w_employees, w_high, w_total) = (
        rounded("w_clients"),
        rounded("w_employees"),
        rounded("w_high"),
        rounded("sum(w_clients) OVER ()"),
    );
    let sql = format!(
        "WITH RECURSIVE walk (id, weight, unstaked) AS ( \
             SELECT t.id, 1::numeric, false FROM client_api.client AS t \
              WHERE t.deleted_at IS NULL AND (CASE WHEN $1::uuid IS NULL THEN t.parent_id IS NULL ELSE t.id = $1 END) \
             UNION ALL \
             SELECT d.id, walk.weight * COALESCE(pg_catalog.trim_scale(d.ownership_percent / 100), 1), d.ownership_percent IS NULL \
               FROM walk JOIN client_api.client AS d ON d.parent_id = walk.id AND d.deleted_at IS NULL \
         ), \
         grouped AS ( \
             SELECT {key} AS key, max({label}) AS label, count(*) AS clients, \
                    COALESCE(sum(c.employee_count), 0)::bigint AS employees, \
                    count(*) FILTER (WHERE c.risk_category IN ('high', 'critical')) AS high_or_critical, \
                    sum(walk.weight) AS w_clients, \
                    COALESCE(sum(c.employee_count * walk.weight), 0) AS w_employees, \
                    COALESCE(sum(walk.weight) FILTER (WHERE c.risk_category IN ('high', 'critical')), 0) AS w_high, \
                    count(*) FILTER (WHERE walk.unstaked) AS unstaked \
               FROM walk JOIN client_api.client AS c ON c.id = walk.id {joins} \
              GROUP BY {key} \
         ) \
         SELECT key, label, clients, employees, high_or_critical, \
                {w_clients}, {w_employees}, {w_high}, {w_total}, (sum(unstaked) OVER ())::bigint \
           FROM grouped ORDER BY w_clients DESC, clients DESC, key NULLS LAST"
    );
    let rows = conn.query(&sql, &[&root]).await?;
    let totals = rows.first().map(|r| (r.get::<_, String>(8), r.get::<_, i64>(9)));
    let groups = rows
        .iter()
        .map(|r| SummaryGroup {
            key: r.get(0),
            label: r.get(1),
            clients: r.get(2),
            employees: r.get(3),
            high_or_critical_risk: r.get(4),
            weighted: Some(WeightedFigures {
                clients: r.get(5),
                employees: r.get(6),
                high_or_critical_risk: r.get(7),
            }),
        })
        .collect();
    Ok((groups, Some(totals.unwrap_or_else(|| ("0".to_owned(), 0)))))
}
