//! `GET /v1/exports/clients?<the list's filters>`: the live clients as CSV, streamed from one REPEATABLE READ
//! snapshot on the replica (a `Pcc-Consistency-Token` makes it read-your-writes), in id order by keyset
//! batches of [`BATCH`] rows, each written to the body as it is read: memory stays the same whatever the
//! book's size, and the response starts before the last row is read. The columns are those an import accepts
//! (`id`, `parent_id`, then the client's writable fields), so an export imports again as it is.
//!
//! The first batch is read before the response starts, so a bad filter or an unavailable database is a
//! problem document; a failure later can only cut the body short (the connection is closed without the final
//! chunk, which a client sees as an incomplete response, never as a complete file).

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use db_router::ReadTx;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::Consistency;
use crate::error::{ApiError, Problem, from_router_error};
use crate::http::clients::filter::ClientFilter;
use crate::http::extract::{QueryParams, ReadToken};
use crate::http::sql::Sql;
use crate::imports::row::export_columns;

/// Rows per batch (one statement each).
pub const BATCH: i64 = 2000;

/// The columns read, in the order of [`export_columns`].
const SELECT: &str = "SELECT c.id, c.parent_id, c.display_name, c.legal_name, c.lei, c.registration_authority, \
    c.registration_number, c.incorporation_country, c.hq_country, c.website, c.status, c.owner, c.industry_scheme, \
    c.industry_code, c.employee_count::text, c.revenue_amount::text, c.revenue_currency, \
    c.revenue_fiscal_year::text, c.ownership_percent::text, \
    pg_catalog.to_char(c.ownership_effective_from, 'YYYY-MM-DD') FROM client_api.client AS c WHERE c.deleted_at IS NULL";

/// Export clients as CSV.
#[utoipa::path(get, path = "/v1/exports/clients", tag = "exports",
    params(ClientFilter, ("Pcc-Consistency-Token" = Option<String>, Header, description = "Read your own writes")),
    responses(
        (status = 200, description = "The clients as CSV (a header row, then one row per client, by id)",
         body = String, content_type = "text/csv"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"])))]
pub async fn export_clients(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    QueryParams(filter): QueryParams<ClientFilter>,
) -> Result<Response, ApiError> {
    let mut sql = Sql::new(SELECT);
    filter.push(&mut sql)?;
    let after_at = sql.params().len() + 1;
    sql.push(&format!(
        " AND c.id > ${after_at} ORDER BY c.id LIMIT {BATCH} /* pcc export clients */"
    ));
    let tx = app.db.snapshot(token.or(Consistency::Any)).await?;
    let mut export = Export {
        tx,
        sql,
        after: Uuid::nil(),
        done: false,
    };
    let first = export.next_batch().await?;
    let mut head = csv_line(export_columns());
    head.extend_from_slice(&first);
    let rest = futures_util::stream::unfold(export, |mut export| async move {
        if export.done {
            export.end().await;
            return None;
        }
        match export.next_batch().await {
            Ok(chunk) => Some((Ok::<Bytes, ApiError>(Bytes::from(chunk)), export)),
            Err(error) => {
                tracing::warn!(%error, "export cut short");
                Some((Err(error), Export::finished(export)))
            }
        }
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<Bytes, ApiError>(Bytes::from(head)) }),
        rest,
    );
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"clients.csv\""),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// An export under way: its snapshot, its query, and the last id written.
struct Export {
    tx: ReadTx,
    sql: Sql,
    after: Uuid,
    done: bool,
}

impl Export {
    /// The next batch as CSV lines (empty at the end, which it marks).
    async fn next_batch(&mut self) -> Result<Vec<u8>, ApiError> {
        let mut params = self.sql.params();
        params.push(&self.after);
        let rows = self
            .tx
            .query(&self.sql.text, &params)
            .await
            .map_err(|e| from_router_error(&e))?;
        drop(params);
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) < BATCH {
            self.done = true;
        }
        let mut out = Vec::with_capacity(rows.len() * 160);
        for row in &rows {
            out.extend_from_slice(&csv_line(values(row)?.iter().map(|v| v.as_deref().unwrap_or(""))));
        }
        if let Some(last) = rows.last() {
            self.after = last.get(0);
        }
        Ok(out)
    }

    /// Ends the snapshot.
    async fn end(self) {
        if let Err(error) = self.tx.commit().await {
            tracing::debug!(%error, "ending an export's snapshot");
        }
    }

    /// After a failure: the stream ends next.
    fn finished(mut self) -> Self {
        self.done = true;
        self
    }
}

/// A row's values as text, in the order of [`export_columns`].
fn values(row: &Row) -> Result<Vec<Option<String>>, ApiError> {
    let id: Uuid = row.try_get(0).map_err(ApiError::internal)?;
    let parent: Option<Uuid> = row.try_get(1).map_err(ApiError::internal)?;
    let mut out = vec![Some(id.to_string()), parent.map(|p| p.to_string())];
    for at in 2..row.len() {
        out.push(row.try_get::<_, Option<String>>(at).map_err(ApiError::internal)?);
    }
    Ok(out)
}

/// One CSV line (RFC 4180: quoted when needed, CRLF-free `\n` endings, as the import reads).
fn csv_line<'a>(fields: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(fields);
    writer.into_inner().unwrap_or_default()
}
