//! Writing planned rows inside the import's one transaction: parents named by an LEI outside the file are
//! looked up, then each level goes to `client_api.import_client_rows` (V14) in batches, which inserts them with
//! every rule of the client table and answers the rows that broke one (SQLSTATE, constraint, column); those
//! become [`LineProblem`]s exactly as `POST /v1/clients` would have described them. A row whose parent was
//! refused is not tried (it is reported instead), so one bad parent gives one problem per row, not a cascade
//! of foreign-key errors.

use std::collections::{HashMap, HashSet};

use futures_util::future::BoxFuture;
use serde_json::json;
use uuid::Uuid;

use super::plan::{Parent, Plan, Planned};
use super::row::LineProblem;
use crate::db::{Query as _, WriteSession};
use crate::error::{ApiError, FieldError, ProblemKind, ServerError, from_sqlstate};

/// Rows per statement. Each batch is one subtransaction (plus two per bisection step when a row fails), and a
/// transaction with more than 64 of them overflows PostgreSQL's per-backend cache of subtransactions, after which
/// visibility checks on the server (other sessions' too) consult pg_subtrans: measured, a 100,000-row import in
/// batches of 1,000 went from 0.5 s to 9 s per batch past that point. 2,000 rows make 50 subtransactions for the
/// largest file, with room for the bisection of a bad row, and one statement stays well inside the statement
/// timeout (4,000-row batches did not, on a loaded 2-core machine, after an aborted import left its dead rows).
pub const BATCH: usize = 2000;

/// What writing the rows found.
#[derive(Debug, Default)]
pub struct Written {
    /// Rows inserted (in this transaction; it may still roll back).
    pub inserted: usize,
    /// Rows refused, and why.
    pub problems: Vec<LineProblem>,
}

/// Writes `plan` on `tx`, calling `progress` with the number of rows handled after each batch.
///
/// # Errors
/// What ends the transaction (the database unavailable, a serialization failure): never a row's fault.
pub async fn write(
    tx: &WriteSession<'_>,
    plan: &Plan,
    progress: &(dyn Fn(usize) -> BoxFuture<'static, ()> + Send + Sync),
) -> Result<Written, ApiError> {
    let mut written = Written::default();
    // The hierarchy's commit-time check (V4, deferred) runs after each batch instead: at COMMIT it would run for
    // every row of the file in one statement, which for 100,000 rows outlasts the statement timeout; after each
    // batch its cost is spread like the rows', and a row it refuses is reported on its line like any other.
    tx.execute(
        "SET CONSTRAINTS client_api.client_hierarchy_consistent_on_insert IMMEDIATE",
        &[],
    )
    .await?;
    let leis = resolve_leis(tx, plan).await?;
    let mut refused: HashSet<Uuid> = HashSet::new();
    let mut handled = 0usize;
    for level in &plan.levels {
        for batch in level.chunks(BATCH) {
            let mut rows = Vec::with_capacity(batch.len());
            let mut lines: HashMap<u32, Uuid> = HashMap::with_capacity(batch.len());
            for planned in batch {
                let parent_id = match &planned.parent {
                    Parent::None => None,
                    Parent::Id(id) if refused.contains(id) => {
                        written.problems.push(LineProblem::new(
                            planned.line,
                            planned.reference,
                            ProblemKind::Validation,
                            format!(
                                "its parent (line {}) cannot be imported",
                                planned.parent_line.unwrap_or(0)
                            ),
                        ));
                        refused.insert(planned.id);
                        continue;
                    }
                    Parent::Id(id) => Some(*id),
                    Parent::Lei(lei) => match leis.get(lei) {
                        Some(id) => Some(*id),
                        None => {
                            written.problems.push(LineProblem::new(
                                planned.line,
                                Some("parent_lei"),
                                ProblemKind::NotFound,
                                format!("no row of the file and no live client has LEI {lei}"),
                            ));
                            refused.insert(planned.id);
                            continue;
                        }
                    },
                };
                lines.insert(planned.line, planned.id);
                rows.push(row_json(planned, parent_id));
            }
            let failed = tx
                .query(
                    "SELECT failed_line, failed_sqlstate, failed_constraint, failed_column, failed_message \
                     FROM client_api.import_client_rows($1::jsonb)",
                    &[&serde_json::Value::Array(rows)],
                )
                .await?;
            written.inserted += lines.len() - failed.len();
            for row in &failed {
                let line: i32 = row.get(0);
                let line = u32::try_from(line).unwrap_or(0);
                if let Some(id) = lines.get(&line) {
                    refused.insert(*id);
                }
                let code: String = row.get(1);
                let constraint: Option<String> = row.get(2);
                let column: Option<String> = row.get(3);
                let message: String = row.get(4);
                let error = from_sqlstate(&ServerError {
                    code: &code,
                    constraint: constraint.as_deref(),
                    column: column.as_deref(),
                    message: &message,
                    detail: None,
                });
                written.problems.push(problem_of(line, &error));
            }
            handled += batch.len();
            progress(handled).await;
        }
    }
    Ok(written)
}

/// A row as `client_api.client_import_row` (V14, the stake V16) reads it.
fn row_json(planned: &Planned, parent_id: Option<Uuid>) -> serde_json::Value {
    let f = &planned.fields;
    json!({
        "line": planned.line,
        "id": planned.id,
        "parent_id": parent_id,
        "display_name": f.display_name,
        "legal_name": f.legal_name,
        "lei": f.lei,
        "registration_authority": f.registration_authority,
        "registration_number": f.registration_number,
        "incorporation_country": f.incorporation_country,
        "hq_country": f.hq_country,
        "website": f.website,
        "status": f.status,
        "owner": f.owner,
        "industry_scheme": f.industry_scheme,
        "industry_code": f.industry_code,
        "employee_count": f.employee_count,
        "revenue_amount": f.revenue_amount,
        "revenue_currency": f.revenue_currency,
        "revenue_fiscal_year": f.revenue_fiscal_year,
        "ownership_percent": f.ownership_percent,
        "ownership_effective_from": f.ownership_effective_from,
    })
}

/// The ids of the live clients with the LEIs that rows name as parents outside the file.
async fn resolve_leis(tx: &WriteSession<'_>, plan: &Plan) -> Result<HashMap<String, Uuid>, ApiError> {
    let wanted: Vec<String> = plan
        .levels
        .iter()
        .flatten()
        .filter_map(|p| match &p.parent {
            Parent::Lei(lei) => Some(lei.clone()),
            _ => None,
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx
        .query(
            "SELECT c.lei, c.id FROM client_api.client AS c WHERE c.lei = ANY($1) AND c.deleted_at IS NULL",
            &[&wanted],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A line's problem from the error the database gave for it: the column from its pointer, the kind, the text.
pub fn problem_of(line: u32, error: &ApiError) -> LineProblem {
    let first: Option<&FieldError> = error.errors.first();
    let column = first
        .and_then(|e| e.pointer.as_deref())
        .map(column_of_pointer)
        .filter(|c| !c.is_empty());
    let detail = first.map_or(error.detail.as_str(), |e| e.detail.as_str());
    LineProblem::new(line, column.as_deref(), error.kind, detail)
}

/// The file's column for a JSON pointer of the API's body: the same name, but the stake (`/ownership/percent`,
/// `/ownership/effective_from`, `/ownership` for the stake as a whole) is flat in a file.
fn column_of_pointer(pointer: &str) -> String {
    match pointer.trim_start_matches('/') {
        "ownership" => "ownership_percent".to_owned(),
        other => other.replace('/', "_"),
    }
}
