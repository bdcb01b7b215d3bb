//! The benchmark's portfolio loader: grows the book by N clients (with hierarchy, contacts, risk histories
//! and addresses) in one transaction, fast enough that a million clients load in well under two minutes on
//! two cores.
//!
//! How (the pg_restore recipe, applied to a live schema):
//! 1. one transaction with `session_replication_role = replica`, so the schema's row triggers (hierarchy,
//!    current risk, audit stamps, the `PC007` checks, the foreign-key triggers) do not fire per row: the
//!    demo generator (client_api::embedded::demo) computes every column they would derive;
//! 2. secondary indexes and exclusion constraints set aside ([`indexes`]) and rebuilt after the COPY, from
//!    sorted input, re-checking uniqueness and exclusion over the whole table;
//! 3. the rows generated on a separate thread while PostgreSQL ingests the previous batch, so both cores work;
//! 4. before COMMIT, `demo::verify` proves the skipped triggers would have changed nothing: hierarchy and
//!    risk columns equal what the triggers compute, every foreign key holds, nothing written under a deleted
//!    row. Any failure rolls the whole step back, indexes included;
//! 5. after COMMIT, `VACUUM (ANALYZE)`: statistics for the planner, and hint bits and the visibility map
//!    set once, instead of by the first readers under measurement.

pub mod indexes;

use std::time::Instant;

use anyhow::Context as _;
use client_api::embedded::demo::{self, Batch, DemoReport, LOADED_TABLES, Rows};
use time::OffsetDateTime;
use tokio_postgres::Client;

/// Clients per generated batch: large enough to amortise a COPY, small enough to keep both cores busy.
const BATCH: u64 = 25_000;

/// One growth step.
#[derive(Debug, Clone, Copy)]
pub struct Growth {
    /// Serial of the first new client (the number already loaded: serials keep names and LEIs unique).
    pub first_serial: u64,
    /// New clients.
    pub count: u64,
    /// Of which this many go into one large group (a subtree for roll-up measurements), 0 for none.
    pub giant_group: u64,
    /// Random seed.
    pub seed: u64,
}

/// What a step loaded and where the time went.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadReport {
    /// New clients.
    pub clients: i64,
    /// New contacts (one link each).
    pub contacts: i64,
    /// New risk assessments.
    pub assessments: i64,
    /// MiB of COPY text sent.
    pub copy_mib: f64,
    /// Seconds from BEGIN to the last COPY (generation overlaps it).
    pub copy_s: f64,
    /// Seconds rebuilding the set-aside indexes and constraints.
    pub index_s: f64,
    /// Seconds verifying what the skipped triggers would have written.
    pub verify_s: f64,
    /// Seconds for COMMIT.
    pub commit_s: f64,
    /// Seconds for VACUUM (ANALYZE).
    pub vacuum_s: f64,
    /// Total seconds.
    pub total_s: f64,
    /// The slowest index builds, (name, seconds).
    pub slowest_indexes: Vec<(String, f64)>,
}

fn batches(growth: &Growth) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut serial = growth.first_serial;
    let end = growth.first_serial + growth.count;
    let giant = growth.giant_group.min(growth.count);
    if giant > 0 {
        out.push(Batch {
            first_serial: serial,
            count: u32::try_from(giant).unwrap_or(u32::MAX),
            seed: growth.seed,
            one_group: true,
        });
        serial += giant;
    }
    while serial < end {
        let count = (end - serial).min(BATCH);
        out.push(Batch {
            first_serial: serial,
            count: u32::try_from(count).unwrap_or(u32::MAX),
            seed: growth.seed,
            one_group: false,
        });
        serial += count;
    }
    out
}

/// Grows the book by one step (see the module documentation).
///
/// # Errors
/// Any statement's failure, including a failed consistency check; the step is rolled back then.
pub async fn grow(admin: &Client, growth: &Growth) -> anyhow::Result<LoadReport> {
    let started = Instant::now();
    let codes = demo::industry_codes(admin).await?;
    let now = OffsetDateTime::now_utc();
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Rows>(2);
    let plan = batches(growth);
    let producer = std::thread::Builder::new()
        .name("portfolio-generator".into())
        .spawn(move || {
            for batch in plan {
                if sender.blocking_send(demo::generate(&batch, &codes, now)).is_err() {
                    break; // the loader stopped: nothing more to do
                }
            }
        })
        .context("starting the generator thread")?;

    let mut report = LoadReport::default();
    admin
        .batch_execute("BEGIN; SET LOCAL session_replication_role = replica; SET LOCAL maintenance_work_mem = '512MB'")
        .await?;
    let steps = async {
        let set_aside = indexes::plan(admin, &LOADED_TABLES).await?;
        indexes::drop_all(admin, &set_aside).await?;
        let mut loaded = DemoReport::default();
        let mut bytes = 0usize;
        while let Some(rows) = receiver.recv().await {
            loaded.clients += rows.report.clients;
            loaded.contacts += rows.report.contacts;
            loaded.assessments += rows.report.assessments;
            bytes += rows.len();
            demo::copy_rows(admin, rows).await?;
        }
        report.clients = loaded.clients;
        report.contacts = loaded.contacts;
        report.assessments = loaded.assessments;
        #[allow(clippy::cast_precision_loss)]
        let mib = bytes as f64 / 1_048_576.0;
        report.copy_mib = mib;
        report.copy_s = started.elapsed().as_secs_f64();

        let step = Instant::now();
        let mut times = indexes::rebuild_all(admin, &set_aside).await?;
        report.index_s = step.elapsed().as_secs_f64();
        times.sort_by(|a, b| b.1.total_cmp(&a.1));
        times.truncate(5);
        report.slowest_indexes = times;

        let step = Instant::now();
        demo::verify(admin).await?;
        report.verify_s = step.elapsed().as_secs_f64();
        anyhow::Ok(())
    }
    .await;
    drop(receiver);
    let _ = producer.join();
    if let Err(error) = steps {
        let _ = admin.batch_execute("ROLLBACK").await;
        return Err(error.context("loading the portfolio (rolled back)"));
    }
    let expected = i64::try_from(growth.count)?;
    if report.clients != expected {
        let _ = admin.batch_execute("ROLLBACK").await;
        anyhow::bail!(
            "the generator produced {} clients instead of {expected} (rolled back)",
            report.clients
        );
    }
    let step = Instant::now();
    admin.batch_execute("COMMIT").await?;
    report.commit_s = step.elapsed().as_secs_f64();

    let step = Instant::now();
    admin
        .batch_execute(&format!("VACUUM (ANALYZE) {}", LOADED_TABLES.join(", ")))
        .await?;
    report.vacuum_s = step.elapsed().as_secs_f64();
    report.total_s = started.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_cut_into_batches_with_the_giant_group_first() {
        let plan = batches(&Growth {
            first_serial: 10_000,
            count: 90_000,
            giant_group: 9_000,
            seed: 1,
        });
        assert!(plan[0].one_group);
        assert_eq!((plan[0].first_serial, plan[0].count), (10_000, 9_000));
        assert!(plan[1..].iter().all(|b| !b.one_group && u64::from(b.count) <= BATCH));
        let total: u64 = plan.iter().map(|b| u64::from(b.count)).sum();
        assert_eq!(total, 90_000);
        let last = plan.last().unwrap();
        assert_eq!(last.first_serial + u64::from(last.count), 100_000);
        assert_eq!(
            batches(&Growth {
                first_serial: 0,
                count: 0,
                giant_group: 5,
                seed: 1
            })
            .len(),
            0
        );
    }
}
