//! `GET /v1/clients`: the book, filtered, sorted, in keyset pages (`cursor`, `Link: rel="next"`), read from
//! the replica (or with a `Pcc-Consistency-Token`, from a replica that has caught up with your write).
//!
//! Every filter is an equality or range on a column with a matching partial index over live rows (V3), and
//! the keyset predicate `(sort key, id) > (last key, last id)` walks that index, so page N costs what page 1
//! costs, at 10,000 clients as at 1,000,000.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::client_view::ClientView;
use crate::domain::format::timestamp;
use crate::domain::{CLIENT_COLUMNS, Client};
use crate::error::{ApiError, Problem};
use crate::http::extract::{QueryParams, ReadToken};
use crate::http::paging::{Limits, Paging};
use crate::http::respond::Page;
use crate::http::sql::Sql;

use super::filter::ClientFilter;

/// Filters, sort and paging of the client list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Status(es), comma-separated: prospect, onboarding, active, suspended, exited.
    pub status: Option<String>,
    /// Headquarters country (ISO 3166-1 alpha-2), comma-separated.
    pub country: Option<String>,
    /// Industry code prefix, e.g. `5415` (NAICS unless `industry_scheme` says otherwise).
    pub industry: Option<String>,
    /// Industry scheme for `industry` (default `naics_2022`).
    pub industry_scheme: Option<String>,
    /// Risk category(ies), comma-separated: low, medium, high, critical.
    pub risk: Option<String>,
    /// Size band(s), comma-separated: micro, small, medium, large.
    pub size_band: Option<String>,
    /// Direct children of this client.
    pub parent: Option<Uuid>,
    /// Members of this group (clients whose ultimate parent is this one, itself included).
    pub root: Option<Uuid>,
    /// Relationship manager.
    pub owner: Option<String>,
    /// Text search over names, LEI, registration number and website (words, or a substring of a name).
    pub q: Option<String>,
    /// Only clients changed at or after this RFC 3339 time.
    pub updated_since: Option<String>,
    /// `name` (default), `created_at` or `updated_at`; prefix `-` for descending.
    pub sort: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// Cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl ListParams {
    /// The filters (every parameter but sort and paging).
    fn filter(&self) -> ClientFilter {
        ClientFilter {
            status: self.status.clone(),
            country: self.country.clone(),
            industry: self.industry.clone(),
            industry_scheme: self.industry_scheme.clone(),
            risk: self.risk.clone(),
            size_band: self.size_band.clone(),
            parent: self.parent,
            root: self.root,
            owner: self.owner.clone(),
            q: self.q.clone(),
            updated_since: self.updated_since.clone(),
        }
    }
}

/// Page sizes.
const LIMITS: Limits = Limits { default: 50, max: 200 };

#[derive(Debug, Clone, Copy)]
enum SortKey {
    Name,
    Created,
    Updated,
}

/// List clients.
#[utoipa::path(get, path = "/v1/clients", tag = "clients",
    params(ListParams, ("Pcc-Consistency-Token" = Option<String>, Header, description = "Read your own writes")),
    responses(
        (status = 200, description = "A page of clients", body = Page<Client>,
         headers(("Link" = String, description = "`<...>; rel=\"next\"` when there are more"))),
        (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"])))]
pub async fn list_clients(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    QueryParams(p): QueryParams<ListParams>,
) -> Result<Response, ApiError> {
    let sort_text = p.sort.as_deref().unwrap_or("name");
    let (descending, key_name) = match sort_text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sort_text),
    };
    let (key, column) = match key_name {
        "name" => (SortKey::Name, "c.display_name"),
        "created_at" => (SortKey::Created, "c.created_at"),
        "updated_at" => (SortKey::Updated, "c.updated_at"),
        _ => {
            return Err(ApiError::invalid_parameter(
                "sort",
                "must be name, created_at or updated_at, optionally with a leading -",
            ));
        }
    };

    let mut sql = Sql::new(format!(
        "SELECT {CLIENT_COLUMNS} FROM client_api.client AS c WHERE c.deleted_at IS NULL"
    ));
    p.filter().push(&mut sql)?;

    let filters = format!(
        "{:?}",
        (
            &p.status,
            &p.country,
            &p.industry,
            &p.industry_scheme,
            &p.risk,
            &p.size_band
        )
    );
    let scope = format!("{:?}", (&p.parent, &p.root, &p.owner, &p.q, &p.updated_since));
    let paging = Paging::new(
        LIMITS,
        p.limit,
        p.cursor.as_deref(),
        &["clients", &filters, &scope, sort_text],
        2,
    )?;
    let op = if descending { "<" } else { ">" };
    if let Some(after) = paging.after() {
        let id_at = sql.bind(after.uuid(1)?);
        let key_at = match key {
            SortKey::Name => sql.bind(after.text(0)?.to_owned()),
            SortKey::Created | SortKey::Updated => sql.bind(after.timestamp(0)?),
        };
        sql.push(&format!(" AND ({column}, c.id) {op} ({key_at}, {id_at})"));
    }
    let direction = if descending { "DESC" } else { "ASC" };
    let limit_at = sql.bind(paging.fetch());
    sql.push(&format!(
        " ORDER BY {column} {direction}, c.id {direction} LIMIT {limit_at}"
    ));

    let conn = app.db.read(token.or(Consistency::Any));
    let rows = conn.query(&sql.text, &sql.params()).await?;
    // Borrowed from the rows and serialized from them (the JSON of `Client`, without a copy of each value).
    let items = rows
        .iter()
        .map(ClientView::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let response = paging.respond(&uri, items, |last| {
        let key_value = match key {
            SortKey::Name => last.display_name.to_owned(),
            SortKey::Created => timestamp(last.created_at.0),
            SortKey::Updated => timestamp(last.updated_at.0),
        };
        vec![key_value.into(), last.id.to_string().into()]
    })?;
    Ok(response.into_response())
}
