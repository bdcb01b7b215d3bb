//! A realistic demo portfolio, generated deterministically from a seed ([`generate`]) and loaded with COPY:
//! used by the embedded default (a few thousand clients, [`load`]) and by the benchmark (a million, in
//! batches, with its own index handling: bench/src/portfolio).
//!
//! The load runs as a superuser with `session_replication_role = replica`, which skips the schema's triggers
//! (and foreign-key triggers) for speed. That is safe only because the generator computes every column the
//! triggers would derive (root, path, depth, current risk) and uses only reference codes in force, and because
//! [`verify`] then proves it in the same transaction: every hierarchy and risk column equal to what the
//! triggers compute, every foreign key satisfied, nothing under a deleted row. Check, unique and exclusion
//! constraints apply during the load as always.

mod generate;
mod verify;
mod words;

use bytes::Bytes;
use futures_util::SinkExt as _;
use time::OffsetDateTime;
use tokio_postgres::Client;

pub use generate::{Rows, generate};
pub use verify::{LOADED_TABLES, verify};

/// What was loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoReport {
    /// Clients.
    pub clients: i64,
    /// Contacts (each linked to one client).
    pub contacts: i64,
    /// Risk assessments.
    pub assessments: i64,
}

/// Why a demo load failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The server refused a statement.
    #[error("database error while loading the demo portfolio: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// The loaded rows disagree with what the skipped triggers would have written.
    #[error("the loaded portfolio is inconsistent: {check} fails for {rows} rows (the load was rolled back)")]
    Inconsistent {
        /// Which check failed.
        check: String,
        /// How many rows fail it.
        rows: i64,
    },
}

/// One batch of a larger load (the benchmark loads a million clients in batches).
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    /// Serial of the first client: serials make LEIs, registrations and names unique across batches.
    pub first_serial: u64,
    /// Clients in this batch.
    pub count: u32,
    /// Random seed.
    pub seed: u64,
    /// Put the whole batch into one group (a large subtree for roll-up measurements).
    pub one_group: bool,
}

/// The COPY statements, in the order of [`Rows::tables`].
pub const COPY_STATEMENTS: [&str; 5] = [
    "COPY client_api.client (id, display_name, legal_name, lei, registration_authority, registration_number, \
     incorporation_country, hq_country, website, status, owner, parent_id, root_id, path, depth, industry_scheme, \
     industry_code, employee_count, revenue_amount, revenue_currency, revenue_fiscal_year, risk_category, \
     risk_assessed_at, risk_next_review_due, version, created_at, created_by, updated_at, updated_by) FROM STDIN",
    "COPY client_api.risk_assessment (id, client_id, rating, rationale, assessed_at, assessed_by, \
     next_review_due, recorded_at, recorded_by) FROM STDIN",
    "COPY client_api.contact (id, given_name, family_name, email, phone, job_title, created_by, updated_by) FROM STDIN",
    "COPY client_api.client_contact (id, client_id, contact_id, role, valid_from, created_by, updated_by) FROM STDIN",
    "COPY client_api.client_address (id, client_id, address_type, line1, city, postal_code, country_code, \
     created_by, updated_by) FROM STDIN",
];

/// The six-digit NAICS 2022 codes in force, which the generator draws from.
///
/// # Errors
/// The server's error.
pub async fn industry_codes(client: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT code FROM client_api.industry_code \
             WHERE scheme = 'naics_2022' AND level = 6 AND NOT withdrawn ORDER BY code",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

async fn copy(client: &Client, statement: &str, data: String) -> Result<(), tokio_postgres::Error> {
    const CHUNK: usize = 1 << 20;
    let sink = client.copy_in(statement).await?;
    futures_util::pin_mut!(sink);
    // Slices of one buffer: no copy of the text on its way to the socket.
    let bytes = Bytes::from(data);
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + CHUNK).min(bytes.len());
        sink.send(bytes.slice(start..end)).await?;
        start = end;
    }
    sink.finish().await?;
    Ok(())
}

/// COPYs one generated batch, table by table. The caller runs it inside a transaction with
/// `session_replication_role = replica` and calls [`verify`] before committing.
///
/// # Errors
/// The server's error.
pub async fn copy_rows(client: &Client, rows: Rows) -> Result<(), tokio_postgres::Error> {
    for (statement, text) in COPY_STATEMENTS.iter().zip(rows.into_tables()) {
        if !text.is_empty() {
            copy(client, statement, text).await?;
        }
    }
    Ok(())
}

/// Loads `count` clients (with contacts, assessments and addresses) in one transaction.
///
/// # Errors
/// The server's error, or a failed consistency check (nothing is loaded then).
pub async fn load(client: &Client, count: u32, seed: u64) -> Result<DemoReport, DemoError> {
    load_batch(
        client,
        &Batch {
            first_serial: 0,
            count,
            seed,
            one_group: false,
        },
    )
    .await
}

/// Loads one batch in one transaction, verified before it commits.
///
/// # Errors
/// The server's error, or a failed consistency check (nothing of this batch is loaded then).
pub async fn load_batch(client: &Client, batch: &Batch) -> Result<DemoReport, DemoError> {
    let codes = industry_codes(client).await?;
    let rows = generate(batch, &codes, OffsetDateTime::now_utc());
    let report = rows.report;
    client
        .batch_execute("BEGIN; SET LOCAL session_replication_role = replica")
        .await?;
    let loaded = async {
        copy_rows(client, rows).await?;
        verify(client).await
    }
    .await;
    match loaded {
        Ok(()) => {
            client.batch_execute("COMMIT").await?;
            let tables = LOADED_TABLES.join(", ");
            client.batch_execute(&format!("ANALYZE {tables}")).await?;
            Ok(report)
        }
        Err(error) => {
            // The session may be unusable; the transaction dies with it either way.
            let _ = client.batch_execute("ROLLBACK").await;
            Err(error)
        }
    }
}
