//! `bulk`: the service's bulk import and export against PostgreSQL's own bulk paths, in the same run on the
//! same database:
//! - `POST /v1/imports/clients?mode=apply` of 100,000 CSV rows (a group root every 100 rows, children by
//!   `parent_key`), from the POST to the job's `succeeded`, against `COPY ... FROM STDIN` of the same rows
//!   (ids and parent ids precomputed) into the same table with its triggers on (the change history, the
//!   hierarchy rules): target at least 0.3x COPY's rows per second (every row of an import is validated and
//!   its references resolved by the service first);
//! - `GET /v1/exports/clients` of the whole book, read to the end, against `COPY (SELECT ...) TO STDOUT` of the
//!   same columns on the replica (no target), with the service's RSS sampled every 50 ms during the export:
//!   its growth over the RSS before the export must stay under 16 MiB at the smallest book (after the first
//!   run) and at the largest (after the last), so constant memory whatever the book.
//!
//! The runs alternate COPY and import (`--runs`, fresh rows each time, so the table grows as a real book
//! would); medians are reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::SinkExt as _;
use secrecy::ExposeSecret as _;

use super::service::setup::{self, Service};
use super::{Settings, median, release_binary};
use crate::report::{Better, Metric, ScenarioResult, Target};

/// Rows per import (the API's maximum).
const ROWS: usize = 100_000;

/// Columns of the COPY and of the file, in the same order (the file names the parent by key).
const COLUMNS: &str = "id, parent_id, display_name, legal_name, hq_country, website, registration_authority, \
                       registration_number, employee_count, status";

/// Runs the scenario.
pub fn run(settings: &Settings) -> anyhow::Result<ScenarioResult> {
    let binary = release_binary(settings, "pcc-client-api");
    if !binary.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p client_api`",
            binary.display()
        );
    }
    let rows = if settings.smoke { 2_000 } else { ROWS };
    let dir = tempfile::Builder::new()
        .prefix("pcc-bench-bulk-")
        .disable_cleanup(settings.keep)
        .tempdir()?;
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    eprintln!("    preparing the cluster, provisioning and migrating");
    let world = runtime.block_on(setup::prepare(dir.path(), settings.keep))?;
    world.tune_for_bulk_load()?;
    let service = Service::start(&binary, &world)?;
    let http = fault_suite::api::http_client();

    let mut copy_rates = Vec::new();
    let mut import_rates = Vec::new();
    // The export at the smallest book (after the first run) and at the largest (after the last): its memory
    // must not follow the book's size.
    let mut exports = Vec::new();
    let runs = settings.runs.max(1);
    for run in 0..runs {
        let copy_batch = 2 * run;
        let import_batch = 2 * run + 1;
        eprintln!("    run {}: COPY of {rows} rows", run + 1);
        let copy_s = runtime.block_on(copy_rows(&world, copy_batch, rows))?;
        eprintln!("    run {}: import of {rows} rows through the service", run + 1);
        let import_s = runtime.block_on(import_rows(&http, &service, import_batch, rows))?;
        #[allow(clippy::cast_precision_loss)]
        let n = rows as f64;
        copy_rates.push(n / copy_s);
        import_rates.push(n / import_s);
        if run == 0 || run + 1 == runs {
            eprintln!("    run {}: export of the whole book, RSS sampled", run + 1);
            exports.push(runtime.block_on(sampled_export(&http, &world, &service))?);
        }
    }
    drop(service);

    let mut metrics = vec![
        Metric::plain(
            format!("import of {rows} CSV rows (POST to job succeeded)"),
            "rows/s",
            median(import_rates),
            Better::Higher,
        )
        .against("COPY FROM STDIN of the same rows, triggers on", median(copy_rates))
        .target(Target::RatioAtLeast(0.3)),
    ];
    for export in &exports {
        #[allow(clippy::cast_precision_loss)]
        let (rate, copy_rate) = (
            export.rows as f64 / export.seconds,
            export.rows as f64 / export.copy_out_seconds,
        );
        metrics.push(
            Metric::plain(
                format!(
                    "export of the whole book ({} clients, {:.0} MiB CSV)",
                    export.rows, export.mib
                ),
                "rows/s",
                rate,
                Better::Higher,
            )
            .against(
                "psql: COPY (SELECT the same columns) TO STDOUT on the replica",
                copy_rate,
            ),
        );
        metrics.push(
            Metric::plain(
                format!(
                    "service RSS growth during the export of {} clients (peak sampled every 50 ms, over the RSS before; {:.1} MiB before)",
                    export.rows, export.rss_before
                ),
                "MiB",
                export.rss_growth,
                Better::Lower,
            )
            .target(Target::Below(16.0)),
        );
    }
    Ok(ScenarioResult {
        scenario: "bulk".into(),
        notes: vec![
            format!(
                "{} runs alternating COPY and import, {rows} fresh rows each (a group root every 100 rows); the \
                 table grows by 2 x {rows} per run; medians",
                settings.runs.max(1)
            ),
            "import: release service, one HTTP POST of the CSV, then GET /v1/imports/{id} every 50 ms until the \
             job ends; COPY: superuser session, one transaction, pcc.actor set, triggers on"
                .into(),
            "export: GET /v1/exports/clients read to the end by the client, after the first run and after the last \
             (the smallest and the largest book); COPY TO STDOUT of the same columns on the replica right after; \
             RSS of the service process from /proc/<pid>/status"
                .into(),
        ],
        metrics,
        seconds: 0.0,
        load_average: None,
    })
}

/// One export measured: rows, seconds, CSV size, the same COPY's seconds, and the service's RSS.
struct ExportRun {
    rows: u64,
    seconds: f64,
    mib: f64,
    copy_out_seconds: f64,
    rss_before: f64,
    rss_growth: f64,
}

/// Exports the whole book with the service's RSS sampled every 50 ms, then COPYs the same columns out.
async fn sampled_export(http: &reqwest::Client, world: &setup::World, service: &Service) -> anyhow::Result<ExportRun> {
    world.replica_caught_up().await?;
    let (_, rss_before) = service.rss_mib()?;
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        let pid_status = service.status_path();
        std::thread::spawn(move || {
            let mut peak = 0.0f64;
            while sampling.load(Ordering::Relaxed) {
                if let Some(rss) = read_rss(&pid_status) {
                    peak = peak.max(rss);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    let exported = export(http, service).await;
    sampling.store(false, Ordering::Relaxed);
    let rss_peak = sampler
        .join()
        .map_err(|_| anyhow::anyhow!("the RSS sampler panicked"))?;
    let (rows, seconds, mib) = exported?;
    let copy_out_seconds = tokio::task::block_in_place(|| copy_out(world))?;
    Ok(ExportRun {
        rows,
        seconds,
        mib,
        copy_out_seconds,
        rss_before,
        rss_growth: (rss_peak - rss_before).max(0.0),
    })
}

/// A fresh id of batch `batch`, row `i` (UUIDv7-shaped: version 7, variant 10, increasing).
fn id(batch: usize, i: usize) -> String {
    let n = (batch as u64) << 32 | i as u64;
    format!(
        "01900000-0000-7000-8{:03x}-{:012x}",
        (n >> 48) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

/// One row's values after the id columns (the same for the COPY and the import).
fn fields(batch: usize, i: usize) -> String {
    format!(
        "Company {batch}-{i:06},Company {batch}-{i:06} Holdings International Limited,NL,\
         https://company-{batch}-{i:06}.example.com/about,RA000463,REG-{batch}-{i:08},{},active",
        i % 5000
    )
}

async fn copy_rows(world: &setup::World, batch: usize, rows: usize) -> anyhow::Result<f64> {
    let mut text = String::with_capacity(rows * 200);
    for i in 0..rows {
        let parent = if i % 100 == 0 {
            String::new()
        } else {
            id(batch, i - i % 100)
        };
        text.push_str(&format!("{},{parent},{}\n", id(batch, i), fields(batch, i)));
    }
    let mut admin = world.admin().await?;
    let started = Instant::now();
    let tx = admin.transaction().await?;
    tx.batch_execute("SELECT pg_catalog.set_config('pcc.actor', 'bench', true)")
        .await?;
    let sink = tx
        .copy_in(&format!(
            "COPY client_api.client ({COLUMNS}) FROM STDIN WITH (FORMAT csv)"
        ))
        .await?;
    let mut sink = std::pin::pin!(sink);
    sink.send(bytes::Bytes::from(text)).await?;
    let copied = sink.as_mut().finish().await?;
    tx.commit().await?;
    let seconds = started.elapsed().as_secs_f64();
    if copied != rows as u64 {
        bail!("COPY wrote {copied} rows, not {rows}");
    }
    Ok(seconds)
}

async fn import_rows(http: &reqwest::Client, service: &Service, batch: usize, rows: usize) -> anyhow::Result<f64> {
    let mut text = String::with_capacity(rows * 200);
    text.push_str("id,parent_key,display_name,legal_name,hq_country,website,registration_authority,registration_number,employee_count,status,key\n");
    for i in 0..rows {
        let parent = if i % 100 == 0 {
            String::new()
        } else {
            format!("k{}", i - i % 100)
        };
        text.push_str(&format!("{},{parent},{},k{i}\n", id(batch, i), fields(batch, i)));
    }
    let token = service.token.expose_secret().to_owned();
    let started = Instant::now();
    let accepted = http
        .post(format!("{}/v1/imports/clients?mode=apply", service.base))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(text)
        .send()
        .await?;
    if accepted.status().as_u16() != 202 {
        bail!(
            "the import was refused: {} {}",
            accepted.status(),
            accepted.text().await?
        );
    }
    let location = accepted.headers()["location"].to_str()?.to_owned();
    let consistency = accepted.headers()["pcc-consistency-token"].to_str()?.to_owned();
    loop {
        let job: serde_json::Value = http
            .get(format!("{}{location}", service.base))
            .bearer_auth(&token)
            .header("pcc-consistency-token", &consistency)
            .send()
            .await?
            .json()
            .await?;
        match job["state"].as_str() {
            Some("succeeded") => return Ok(started.elapsed().as_secs_f64()),
            Some("failed") => bail!("the import failed: {job}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Reads the whole export; (rows, seconds, MiB).
async fn export(http: &reqwest::Client, service: &Service) -> anyhow::Result<(u64, f64, f64)> {
    let started = Instant::now();
    let mut response = http
        .get(format!("{}/v1/exports/clients", service.base))
        .bearer_auth(service.token.expose_secret())
        .send()
        .await?;
    if response.status().as_u16() != 200 {
        bail!("the export was refused: {}", response.status());
    }
    let (mut lines, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = response.chunk().await? {
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
    }
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / 1_048_576.0;
    Ok((lines.saturating_sub(1), started.elapsed().as_secs_f64(), mib))
}

/// `COPY ... TO STDOUT` of the export's columns through psql on the replica; seconds.
fn copy_out(world: &setup::World) -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = world
        .cluster
        .query(
            pg_launcher::NodeName::Replica,
            &world.database,
            "COPY (SELECT c.id, c.parent_id, c.display_name, c.legal_name, c.lei, c.registration_authority, \
             c.registration_number, c.incorporation_country, c.hq_country, c.website, c.status, c.owner, \
             c.industry_scheme, c.industry_code, c.employee_count, c.revenue_amount, c.revenue_currency, \
             c.revenue_fiscal_year FROM client_api.client AS c WHERE c.deleted_at IS NULL ORDER BY c.id) \
             TO STDOUT WITH (FORMAT csv, HEADER)",
        )
        .context("COPY TO STDOUT on the replica")?;
    let seconds = started.elapsed().as_secs_f64();
    drop(out);
    Ok(seconds)
}

/// VmRSS in MiB from a /proc status file.
fn read_rss(path: &std::path::Path) -> Option<f64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
