//! `GET /v1/reference/industry-codes`: codes of a scheme (NAICS 2022 by default), filtered by code prefix,
//! level or title words, in code order with keyset pages.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::error::ApiError;
use crate::http::extract::QueryParams;
use crate::http::paging::{Limits, Paging};
use crate::http::respond::Page;
use crate::http::sql::like_escape;

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IndustryParams {
    /// Scheme (default `naics_2022`).
    pub scheme: Option<String>,
    /// Code prefix, e.g. `54`.
    pub prefix: Option<String>,
    /// Hierarchy level (NAICS: the number of digits, 2 for a sector .. 6 for a national industry).
    pub level: Option<i16>,
    /// Substring of the title.
    pub q: Option<String>,
    /// Page size, 1-1000 (default 200).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// An industry code.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndustryCode {
    /// Scheme.
    pub scheme: String,
    /// Code.
    pub code: String,
    /// Title.
    pub title: String,
    /// Level in the scheme's hierarchy.
    pub level: i16,
    /// Parent code.
    pub parent_code: Option<String>,
    /// Top-level sector.
    pub sector_code: String,
    /// No longer in force.
    pub withdrawn: bool,
}

/// Page sizes.
const LIMITS: Limits = Limits {
    default: 200,
    max: 1000,
};

/// Industry codes.
#[utoipa::path(get, path = "/v1/reference/industry-codes", tag = "reference",
    params(IndustryParams),
    responses((status = 200, description = "Codes in code order", body = Page<IndustryCode>)),
    security(("bearer" = ["clients:read"])))]
pub async fn list_industry_codes(
    State(app): State<AppState>,
    _reader: Reader,
    uri: http::Uri,
    QueryParams(p): QueryParams<IndustryParams>,
) -> Result<Response, ApiError> {
    let scheme = p.scheme.clone().unwrap_or_else(|| "naics_2022".to_owned());
    let filters = format!("{:?}", (&p.prefix, p.level, &p.q));
    let paging = Paging::new(
        LIMITS,
        p.limit,
        p.cursor.as_deref(),
        &["industry", &scheme, &filters],
        1,
    )?;
    let after = paging.after().map(|key| key.text(0)).transpose()?;
    let prefix = p.prefix.as_ref().map(|x| format!("{}%", like_escape(x)));
    let title = p.q.as_ref().map(|x| format!("%{}%", like_escape(x)));
    let conn = app.db.read(Consistency::Any);
    let rows = conn
        .query(
            "SELECT scheme, code, title, level, parent_code, sector_code, withdrawn FROM client_api.industry_code \
             WHERE scheme = $1 AND ($2::text IS NULL OR code LIKE $2) AND ($3::int2 IS NULL OR level = $3) \
             AND ($4::text IS NULL OR title ILIKE $4) AND ($5::text IS NULL OR code > $5) ORDER BY code LIMIT $6",
            &[&scheme, &prefix, &p.level, &title, &after, &paging.fetch()],
        )
        .await?;
    let items: Vec<IndustryCode> = rows
        .iter()
        .map(|r| IndustryCode {
            scheme: r.get(0),
            code: r.get(1),
            title: r.get(2),
            level: r.get(3),
            parent_code: r.get(4),
            sector_code: r.get(5),
            withdrawn: r.get(6),
        })
        .collect();
    Ok(paging
        .respond(&uri, items, |c| vec![c.code.clone().into()])?
        .into_response())
}
