//! `service`: the client portfolio service under load at each portfolio size (`--sizes`, default 10k, 100k,
//! 1M), each figure against a baseline from the same run on the same databases:
//! - every hot path against its limit on this machine (see [`limits`]): a point read by id (target at least
//!   0.9 of its limit), a list page from the replica with a filter and with `q=` search (0.85), a subtree
//!   roll-up; the p99 of each at most 1.5x the p99 of its SQL under pgbench;
//! - `GET /v1/clients/{id}` throughput at 32 connections (wrk, random ids) against `pgbench -S -M prepared`
//!   at 32 connections on the same primary, for comparison (no target: PostgreSQL's own floor, not one
//!   an HTTP service can reach on the same two cores). Its p99 latency: target under 5 ms;
//! - a list page from the replica at 1,000,000 clients against the same page at 10,000: at most 1.5x;
//! - a portfolio roll-up of the largest group (a tenth of the book) against its bare SQL (pgbench, one
//!   client, on the replica): at most 2x;
//! - the service's peak RSS at each size (a fresh process per size): under 64 MiB;
//! - the portfolio load itself (crate::portfolio): seconds per step and cumulative.
//!
//! The book grows in place from one size to the next (the service is stopped while it loads), so the figures
//! of the growth table come from one database.

mod capture;
mod limits;
mod measure;
pub(super) mod setup;
mod tools;
mod writes;

use anyhow::{Context as _, bail};
use pg_launcher::NodeName;

use super::{Settings, release_binary};
use crate::portfolio::{self, Growth};
use crate::report::{Better, Metric, ScenarioResult, Target, size_text};
use measure::{LIST_CONNECTIONS, LIST_PAGE, POINT_CONNECTIONS, Tools};
use setup::{Service, World};
use tools::pgbench_init;

/// Random clients the point reads draw from (fewer for tiny books).
const POINT_READ_IDS: u64 = 20_000;

/// Runs the scenario.
pub fn run(settings: &Settings) -> anyhow::Result<ScenarioResult> {
    let binary = release_binary(settings, "pcc-client-api");
    let floor_binary = release_binary(settings, "pcc-http-floor");
    if !floor_binary.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p pcc_bench` (bench/run does)",
            floor_binary.display()
        );
    }
    if !binary.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p client_api` (bench/run does)",
            binary.display()
        );
    }
    let mut sizes = settings.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.is_empty() || sizes[0] < 100 {
        bail!("--sizes must name portfolio sizes of at least 100 clients");
    }
    let dir = tempfile::Builder::new()
        .prefix("pcc-bench-service-")
        .disable_cleanup(settings.keep)
        .tempdir()?;
    // The servers run as the postgres OS user, which must reach the cluster directory below this one.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    eprintln!("    preparing the cluster, provisioning and migrating (the embedded default's steps)");
    let world = runtime.block_on(setup::prepare(dir.path(), settings.keep))?;
    world.tune_for_bulk_load()?;
    let primary_env = world.pg_env(NodeName::Primary)?;
    let pgbench_program = pg_launcher::PgBinaries::locate()?.program("pgbench");
    // pgbench_accounts at scale 10 has 1,000,000 rows; the smoke run makes do with 100,000.
    let scale = if settings.smoke { 1 } else { 10 };
    pgbench_init(&pgbench_program, &primary_env, scale)?;

    let mut notes = vec![
        format!(
            "sizes {}; {} runs per measurement (medians), {} s each; the service restarted for each size",
            sizes.iter().map(|s| size_text(*s)).collect::<Vec<_>>().join(", "),
            settings.runs,
            settings.seconds
        ),
        "everything on this machine: PostgreSQL primary + streaming replica (durable: fsync on, TLS), the \
         service, wrk (2 threads) and pgbench (-j 2)"
            .into(),
        format!(
            "point reads: wrk, {POINT_CONNECTIONS} connections, GET /v1/clients/{{id}} over up to {POINT_READ_IDS} \
             random clients (primary: Strong reads); baseline pgbench -S -M prepared -c {POINT_CONNECTIONS} \
             -j 2 on pgbench_accounts (scale {scale}) in the same database, alternating with wrk; pgbench \
             percentiles from its per-transaction log (20 % sample)"
        ),
        format!("list page: GET {LIST_PAGE} from the replica, wrk {LIST_CONNECTIONS} connections"),
        "roll-up: GET /v1/reports/portfolio-summary?group_by=industry_sector&root=<largest group> (one \
         connection) against the same SELECT with the path inlined, pgbench -c 1 on the replica"
            .into(),
        "load: crate::portfolio (COPY with derived columns precomputed and verified in the same transaction, \
         secondary indexes rebuilt, VACUUM ANALYZE); each size grows the previous book"
            .into(),
    ];
    let mut metrics = Vec::new();
    let mut loaded = 0u64;
    let mut cumulative_load = 0.0;
    let mut list_p50 = Vec::new();
    for size in sizes {
        eprintln!("    growing the portfolio to {} clients", size_text(size));
        let growth = Growth {
            first_serial: loaded,
            count: size - loaded,
            giant_group: size / 10,
            seed: 42,
        };
        let report = runtime.block_on(async {
            let admin = world.admin().await?;
            let report = portfolio::grow(&admin, &growth).await?;
            world.replica_caught_up().await?;
            anyhow::Ok(report)
        })?;
        loaded = size;
        cumulative_load += report.total_s;
        eprintln!(
            "    loaded {} clients, {} contacts, {} assessments ({:.0} MiB COPY text) in {:.1} s: copy {:.1} s, \
             indexes {:.1} s, verify {:.1} s, vacuum {:.1} s",
            report.clients,
            report.contacts,
            report.assessments,
            report.copy_mib,
            report.total_s,
            report.copy_s,
            report.index_s,
            report.verify_s,
            report.vacuum_s
        );
        notes.push(format!(
            "load to {}: +{} clients, +{} contacts, +{} risk assessments, {:.0} MiB of COPY text in {:.1} s \
             (COPY {:.1} s, index rebuild {:.1} s, verification {:.1} s, commit {:.1} s, VACUUM ANALYZE {:.1} s); \
             slowest index builds: {}",
            size_text(size),
            report.clients,
            report.contacts,
            report.assessments,
            report.copy_mib,
            report.total_s,
            report.copy_s,
            report.index_s,
            report.verify_s,
            report.commit_s,
            report.vacuum_s,
            report
                .slowest_indexes
                .iter()
                .map(|(name, s)| format!("{name} {s:.1} s"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        #[allow(clippy::cast_precision_loss)]
        let rate = report.clients as f64 / report.total_s;
        metrics.push(Metric::plain("load step: clients per second", "clients/s", rate, Better::Higher).at(size));
        metrics.push(
            Metric::plain(
                "cumulative load time to reach this size",
                "s",
                cumulative_load,
                Better::Lower,
            )
            .at(size),
        );

        let (ids, root, path, term) = runtime.block_on(sample(&world, size.min(POINT_READ_IDS)))?;
        let point_paths: Vec<String> = ids.iter().map(|id| format!("/v1/clients/{id}")).collect();
        let point_script = limits::cycle_script(&point_paths);
        let rollup_path = format!("/v1/reports/portfolio-summary?group_by=industry_sector&root={root}");
        // The transactions the service runs at once: its primary pool less the shared read sessions.
        let shared: u32 = std::env::var("PCC_DB_SHARED_SESSIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        let write_connections = std::env::var("PCC_DB_POOL_MAX")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(world.runtime.primary.pool.max_size)
            .saturating_sub(shared)
            .max(1);
        let hot_paths = [
            limits::HotPath {
                name: "GET /v1/clients/{id}".into(),
                requests: limits::Requests::Get(point_paths.iter().take(limits::POINT_IDS).cloned().collect()),
                node: NodeName::Primary,
                target: Some(0.9),
                pool_clients: None,
            },
            limits::HotPath {
                name: format!("GET {LIST_PAGE}"),
                requests: limits::Requests::Get(vec![LIST_PAGE.into()]),
                node: NodeName::Replica,
                target: Some(0.85),
                pool_clients: None,
            },
            limits::HotPath {
                name: format!("GET /v1/clients?limit=50&q={term}"),
                requests: limits::Requests::Get(vec![format!("/v1/clients?limit=50&q={term}")]),
                node: NodeName::Replica,
                target: Some(0.85),
                pool_clients: None,
            },
            limits::HotPath {
                name: "GET /v1/reports/portfolio-summary (largest group)".into(),
                requests: limits::Requests::Get(vec![rollup_path]),
                node: NodeName::Replica,
                target: None,
                pool_clients: None,
            },
            limits::HotPath {
                name: "POST /v1/clients (Idempotency-Key)".into(),
                requests: limits::Requests::Write(writes::Write::Create),
                node: NodeName::Primary,
                target: Some(0.8),
                pool_clients: Some(write_connections),
            },
            limits::HotPath {
                name: "PATCH /v1/clients/{id} (If-Match)".into(),
                requests: limits::Requests::Write(writes::Write::Patch),
                node: NodeName::Primary,
                target: Some(0.8),
                pool_clients: Some(write_connections),
            },
            limits::HotPath {
                name: "PATCH /v1/clients/{id} moving it to another parent (If-Match)".into(),
                requests: limits::Requests::Write(writes::Write::Move),
                node: NodeName::Primary,
                target: None,
                pool_clients: Some(write_connections),
            },
        ];

        let service = Service::start(&binary, &world)?;
        let tools = Tools {
            pgbench: pgbench_program.clone(),
            primary_env: primary_env.clone(),
            replica_env: world.pg_env(NodeName::Replica)?,
            dir: scratch.clone(),
            seconds: settings.seconds,
            runs: settings.runs,
            token: service.token.clone(),
            base: service.base.clone(),
        };
        // Reads first: the creates add clients (tens of thousands at 10 s per run), which the read figures
        // of this size must not include.
        let (read_paths, write_paths) = hot_paths.split_at(4);
        eprintln!("    {}: read hot paths against their limits", size_text(size));
        let limits = limits::measure(&world, &tools, &floor_binary, read_paths, &runtime)?;
        for (hot, result) in read_paths.iter().zip(&limits) {
            metrics.extend(limit_metrics(hot, result, size));
        }
        eprintln!("    {}: point reads against pgbench -S", size_text(size));
        let points = tools.point_reads(&point_script)?;
        eprintln!("    {}: list page", size_text(size));
        let list = tools.list_page()?;
        eprintln!("    {}: roll-up against its bare SQL", size_text(size));
        let (rollup_ours, rollup_bare) = tools.rollup(&root, &path)?;
        eprintln!("    {}: write hot paths against their limits", size_text(size));
        let limits = limits::measure(&world, &tools, &floor_binary, write_paths, &runtime)?;
        for (hot, result) in write_paths.iter().zip(&limits) {
            metrics.extend(limit_metrics(hot, result, size));
        }
        let created = runtime.block_on(async {
            let admin = world.admin().await?;
            let row = admin
                .query_one(
                    "SELECT count(*) FROM client_api.client WHERE display_name = 'Bench Create'",
                    &[],
                )
                .await?;
            anyhow::Ok(row.get::<_, i64>(0))
        })?;
        notes.push(format!(
            "{}: the write paths ran after every read figure of this size; their creates added {created} clients \
             (counted from the start), which the next size's book includes",
            size_text(size)
        ));
        let (peak_rss, rss) = service.rss_mib()?;
        drop(service);

        let point = format!("GET /v1/clients/{{id}}, {POINT_CONNECTIONS} connections");
        let select_only = format!("pgbench -S -M prepared -c {POINT_CONNECTIONS}");
        metrics.extend([
            Metric::plain(
                format!("{point}: throughput"),
                "req/s",
                points.service.rps,
                Better::Higher,
            )
            .against(&select_only, points.select_only.tps)
            .at(size),
            Metric::plain(
                format!("{point}: p50 latency"),
                "ms",
                points.service.p50_ms,
                Better::Lower,
            )
            .against(&select_only, points.select_only.p50_ms)
            .at(size),
            Metric::plain(
                format!("{point}: p99 latency"),
                "ms",
                points.service.p99_ms,
                Better::Lower,
            )
            .against(&select_only, points.select_only.p99_ms)
            .target(Target::Below(5.0))
            .at(size),
            Metric::plain(
                format!("list page (replica), {LIST_CONNECTIONS} connections: throughput"),
                "req/s",
                list.rps,
                Better::Higher,
            )
            .at(size),
            Metric::plain(
                format!("list page (replica), {LIST_CONNECTIONS} connections: p50 latency"),
                "ms",
                list.p50_ms,
                Better::Lower,
            )
            .at(size),
            Metric::plain(
                format!("list page (replica), {LIST_CONNECTIONS} connections: p99 latency"),
                "ms",
                list.p99_ms,
                Better::Lower,
            )
            .at(size),
            Metric::plain(
                "roll-up of the largest group (a tenth of the book), mean",
                "ms",
                rollup_ours,
                Better::Lower,
            )
            .against("its bare SQL, pgbench -c 1 on the replica", rollup_bare)
            .target(Target::RatioAtMost(2.0))
            .at(size),
            Metric::plain(
                "service peak RSS (VmHWM) after all of the above",
                "MiB",
                peak_rss,
                Better::Lower,
            )
            .target(Target::Below(64.0))
            .at(size),
            Metric::plain("service RSS at the end", "MiB", rss, Better::Lower).at(size),
        ]);
        list_p50.push((size, list.p50_ms));
    }

    // The target compares the list page at 1,000,000 clients with the same page at 10,000.
    let at = |n: u64| list_p50.iter().find(|(s, _)| *s == n).map(|(_, v)| *v);
    if let (Some(small), Some(large)) = (at(10_000), at(1_000_000)) {
        metrics.push(
            Metric::plain(
                "list page p50 at 1M clients vs the same page at 10k",
                "ms",
                large,
                Better::Lower,
            )
            .against("same page at 10k clients", small)
            .target(Target::RatioAtMost(1.5)),
        );
    } else {
        notes.push(
            "the list-page target compares 1M with 10k clients: run with --sizes 10k,1m (the default) to judge it"
                .into(),
        );
    }
    drop(world);
    Ok(ScenarioResult {
        scenario: "service".into(),
        notes,
        metrics,
        seconds: 0.0,
        load_average: None,
    })
}

/// Draws the point-read ids and finds the largest group and a search term.
/// Returns (ids, root id, root path, a word of a client's name for `q=`).
async fn sample(world: &World, count: u64) -> anyhow::Result<(Vec<String>, String, String, String)> {
    let admin = world.admin().await?;
    // The clients the write paths patch and move (kept from one size to the next).
    writes::set_up(&admin).await?;
    let count = i64::try_from(count)?;
    let ids: Vec<String> = admin
        .query(
            "SELECT id::text FROM client_api.client WHERE deleted_at IS NULL ORDER BY random() LIMIT $1",
            &[&count],
        )
        .await
        .context("sampling client ids")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let root = admin
        .query_one(
            "SELECT r.id::text, r.path FROM client_api.client AS r \
             WHERE r.id = (SELECT root_id FROM client_api.client GROUP BY root_id ORDER BY count(*) DESC LIMIT 1)",
            &[],
        )
        .await?;
    // The longest word of a client's name: a search that finds a page of clients, not the whole book.
    let name: String = admin
        .query_one(
            "SELECT display_name FROM client_api.client WHERE deleted_at IS NULL ORDER BY id LIMIT 1",
            &[],
        )
        .await?
        .get(0);
    let term = name
        .split(|c: char| !c.is_alphanumeric())
        .max_by_key(|w| w.len())
        .unwrap_or("a")
        .to_lowercase();
    world.replica_caught_up().await?;
    Ok((ids, root.get(0), root.get(1), term))
}

/// The figures of one hot path against its limit.
fn limit_metrics(hot: &limits::HotPath, result: &limits::LimitResult, size: u64) -> Vec<Metric> {
    let limit = result.limit();
    let mut throughput = Metric::plain(
        format!(
            "{}, {} connections: throughput against its limit",
            hot.name,
            limits::CONNECTIONS
        ),
        "req/s",
        result.service.rps,
        Better::Higher,
    )
    .against(
        format!(
            "limit 1/(1/R_http + 1/R_sql): HTTP floor {:.0} req/s, its SQL in pgbench {:.0} tps",
            result.floor.rps, result.sql.tps
        ),
        limit,
    )
    .at(size);
    if let Some(share) = hot.target {
        throughput = throughput.target(Target::RatioAtLeast(share));
    }
    let mut out = vec![throughput];
    if let Some((clients, at_pool)) = &result.sql_at_pool {
        out.push(
            Metric::plain(
                format!(
                    "{}, {} connections: throughput against its SQL at the pool's concurrency",
                    hot.name,
                    limits::CONNECTIONS
                ),
                "req/s",
                result.service.rps,
                Better::Higher,
            )
            .against(
                format!("its SQL in pgbench -c {clients} (the transactions the pool runs at once)"),
                at_pool.tps,
            )
            .at(size),
        );
    }
    out.extend([
        Metric::plain(
            format!("{}, {} connections: p99 latency", hot.name, limits::CONNECTIONS),
            "ms",
            result.service.p99_ms,
            Better::Lower,
        )
        .against("p99 of its SQL in pgbench", result.sql.p99_ms)
        .target(Target::RatioAtMost(1.5))
        .at(size),
        Metric::plain(
            format!(
                "{}: failed requests (non-2xx or socket errors) over the service's runs",
                hot.name
            ),
            "requests",
            f64::from(u32::try_from(result.service.errors).unwrap_or(u32::MAX)),
            Better::Lower,
        )
        .target(Target::AtMost(0.0))
        .at(size),
        Metric::plain(
            format!("{}: HTTP floor p99", hot.name),
            "ms",
            result.floor.p99_ms,
            Better::Lower,
        )
        .at(size),
    ]);
    out
}
