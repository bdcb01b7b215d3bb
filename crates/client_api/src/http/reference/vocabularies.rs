//! `GET /v1/reference/{vocabulary}`: the schema's small vocabularies, each a list of `{value, label}`;
//! client statuses also list the statuses each one may change to.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Reader;
use crate::error::{ApiError, Problem, ProblemKind};
use crate::http::respond::Page;

use super::whole_list;

/// One entry of a vocabulary.
#[derive(Debug, Serialize, ToSchema)]
pub struct Term {
    /// The value used in the API.
    pub value: String,
    /// Readable label.
    pub label: String,
    /// For client statuses: the statuses it may change to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<String>>,
}

/// (path segment, query)
const VOCABULARIES: &[(&str, &str)] = &[
    (
        "client-statuses",
        "SELECT s.status, s.label, COALESCE((SELECT array_agg(t.to_status ORDER BY t.to_status) FROM client_api.client_status_transition AS t \
      WHERE t.from_status = s.status), '{}') FROM client_api.client_status AS s ORDER BY s.sort_order",
    ),
    (
        "risk-ratings",
        "SELECT rating, label, NULL::text[] FROM client_api.risk_rating ORDER BY severity",
    ),
    (
        "size-bands",
        "SELECT band, label, NULL::text[] FROM client_api.size_band ORDER BY sort_order",
    ),
    (
        "contact-roles",
        "SELECT role, label, NULL::text[] FROM client_api.contact_role ORDER BY sort_order",
    ),
    (
        "address-types",
        "SELECT address_type, label, NULL::text[] FROM client_api.address_type ORDER BY sort_order",
    ),
    (
        "industry-schemes",
        "SELECT scheme, name, NULL::text[] FROM client_api.industry_scheme ORDER BY scheme",
    ),
];

/// A vocabulary.
#[utoipa::path(get, path = "/v1/reference/{vocabulary}", tag = "reference",
    params(("vocabulary" = String, Path, description = "client-statuses, risk-ratings, size-bands, contact-roles, address-types or industry-schemes")),
    responses((status = 200, description = "The terms", body = Page<Term>),
              (status = 404, description = "No such vocabulary", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn get_vocabulary(
    State(app): State<AppState>,
    _reader: Reader,
    Path(vocabulary): Path<String>,
) -> Result<Response, ApiError> {
    let (_, sql) = VOCABULARIES
        .iter()
        .find(|(name, _)| *name == vocabulary)
        .ok_or_else(|| ApiError::new(ProblemKind::NotFound, "no such reference vocabulary"))?;
    whole_list(&app, sql, |r| Term {
        value: r.get(0),
        label: r.get(1),
        transitions: r.get(2),
    })
    .await
}
