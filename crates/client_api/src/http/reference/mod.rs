//! `/v1/reference`: the reference data the schema ships (ISO 3166-1 countries, ISO 4217 currencies, NAICS
//! 2022 industry codes) and its small vocabularies (statuses with transitions, risk ratings, size bands,
//! contact roles, address types). Read from the replica; it changes only with migrations.

pub mod countries;
pub mod currencies;
pub mod industry_codes;
pub mod vocabularies;

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio_postgres::Row;

use crate::app::AppState;
use crate::db::{Consistency, Query as _};
use crate::error::ApiError;
use crate::http::respond::single_page;

/// A whole reference list in one page: read from the replica at any staleness (it changes only with
/// migrations), so caches may keep the answer for an hour.
async fn whole_list<T: Serialize>(app: &AppState, sql: &str, item: impl Fn(&Row) -> T) -> Result<Response, ApiError> {
    let conn = app.db.read(Consistency::Any);
    let rows = conn.query(sql, &[]).await?;
    let items: Vec<T> = rows.iter().map(item).collect();
    Ok(single_page(items)?
        .header("cache-control", "public, max-age=3600")
        .into_response())
}
