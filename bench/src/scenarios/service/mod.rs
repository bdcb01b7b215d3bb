//! `service`: the client portfolio service under load, each figure against a baseline from the same run
//! on the same databases (issue 6):
//! - `GET /v1/clients/{id}` throughput at 32 connections (wrk, random ids) against `pgbench -S -M prepared`
//!   at 32 connections on the same primary; target at least 0.8x. Its p99 latency: target under 5 ms.
//! - a list page from the replica at 1,000,000 clients against the same page at 10,000: at most 1.5x.
//! - a portfolio roll-up over a 100,000-client subtree against its bare SQL (pgbench, one client, on the
//!   replica): at most 2x.
//! - the service's peak RSS under all of that: under 64 MiB.
//!
//! The portfolio is the demo generator's (multi-level groups, contacts, risk histories, addresses),
//! loaded with COPY in batches.

mod setup;
mod tools;

use std::time::Instant;

use anyhow::{Context as _, bail};
use pg_launcher::NodeName;

use super::{Settings, median, release_binary};
use crate::report::{Better, Metric, ScenarioResult, Target};
use setup::{Service, World};
use tools::{pgbench, pgbench_init, wrk};

const SMALL: u32 = 10_000;
const GIANT_GROUP: u32 = 100_000;
const LARGE_TOTAL: u64 = 1_000_000;
const BATCH: u32 = 100_000;
const LIST_PAGE: &str = "/v1/clients?limit=50&status=active&country=DE";

/// Runs the scenario.
pub fn run(settings: &Settings) -> anyhow::Result<ScenarioResult> {
    let binary = release_binary("pcc-client-api");
    if !binary.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p client_api` (bench/run does)",
            binary.display()
        );
    }
    let pgbench_program = pg_launcher::PgBinaries::locate()?.program("pgbench");
    let dir = tempfile::Builder::new().prefix("pcc-bench-service-").tempdir()?;
    // The servers run as the postgres OS user, which must reach the cluster directory below this one.
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(dir.path())?.permissions(), 0o755);
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut notes = Vec::new();

    eprintln!("    preparing the cluster, provisioning and migrating");
    let world = runtime.block_on(setup::prepare(dir.path()))?;
    let started = Instant::now();
    runtime.block_on(load(&world, 0, SMALL, false))?;
    runtime.block_on(world.replica_caught_up())?;
    notes.push(format!(
        "loaded {SMALL} clients with COPY in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    let service = Service::start(&binary, &world)?;
    let headers = vec![service.auth_header.clone()];
    eprintln!("    list page at {SMALL} clients");
    let mut small_page = Vec::new();
    for _ in 0..settings.runs {
        small_page.push(wrk(&format!("{}{LIST_PAGE}", service.base), 8, 5, None, &headers)?.mean_ms);
    }

    eprintln!("    loading to {LARGE_TOTAL} clients (one group of {GIANT_GROUP})");
    let started = Instant::now();
    runtime.block_on(load(&world, u64::from(SMALL), GIANT_GROUP, true))?;
    let mut next = u64::from(SMALL) + u64::from(GIANT_GROUP);
    while next < LARGE_TOTAL {
        let count = u32::try_from((LARGE_TOTAL - next).min(u64::from(BATCH)))?;
        runtime.block_on(load(&world, next, count, false))?;
        next += u64::from(count);
    }
    runtime.block_on(async {
        let admin = world.admin().await?;
        admin.batch_execute("VACUUM ANALYZE client_api.client").await?;
        world.replica_caught_up().await
    })?;
    notes.push(format!(
        "loaded to {LARGE_TOTAL} clients in {:.0} s",
        started.elapsed().as_secs_f64()
    ));

    eprintln!("    list page at {LARGE_TOTAL} clients");
    let mut large_page = Vec::new();
    for _ in 0..settings.runs {
        large_page.push(wrk(&format!("{}{LIST_PAGE}", service.base), 8, 5, None, &headers)?.mean_ms);
    }

    eprintln!("    GET /v1/clients/{{id}} against pgbench -S -M prepared, 32 connections");
    let primary_env = world.pg_env(NodeName::Primary)?;
    pgbench_init(&pgbench_program, &primary_env, 10)?;
    let script = runtime.block_on(id_script(&world, dir.path()))?;
    let (mut ours, mut theirs, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..settings.runs {
        theirs.push(
            pgbench(
                &pgbench_program,
                &primary_env,
                &["-n", "-S", "-M", "prepared", "-c", "32", "-j", "2", "-T", "10"],
            )?
            .tps,
        );
        let result = wrk(&format!("{}/", service.base), 32, 10, Some(&script), &headers)?;
        if result.errors > 0 {
            bail!(
                "{} failed requests during the point-read load; see the service log",
                result.errors
            );
        }
        ours.push(result.rps);
        p99.push(result.p99_ms);
    }

    eprintln!("    subtree roll-up against its bare SQL");
    let (root, path) = runtime.block_on(giant_root(&world))?;
    let rollup_sql = dir.path().join("rollup.sql");
    std::fs::write(&rollup_sql, rollup_statement(&path))?;
    let replica_env = world.pg_env(NodeName::Replica)?;
    let (mut rollup_ours, mut rollup_bare) = (Vec::new(), Vec::new());
    for _ in 0..settings.runs {
        let file = rollup_sql.display().to_string();
        rollup_bare.push(
            pgbench(
                &pgbench_program,
                &replica_env,
                &["-n", "-c", "1", "-T", "5", "-M", "prepared", "-f", &file],
            )?
            .mean_ms,
        );
        let url = format!(
            "{}/v1/reports/portfolio-summary?group_by=industry_sector&root={root}",
            service.base
        );
        rollup_ours.push(wrk(&url, 1, 5, None, &headers)?.mean_ms);
    }
    let (peak_rss, _) = service.rss_mib()?;
    drop(service);

    notes.push(format!(
        "{} runs, medians; 2-core machine; load tools on the same machine (wrk -t2, pgbench -j2); durable cluster (fsync on), TLS to PostgreSQL",
        settings.runs
    ));
    notes.push(format!(
        "list page: GET {LIST_PAGE} from the replica, wrk 8 connections, mean latency"
    ));
    notes.push("point read: wrk with a Lua script picking among 2,000 random client ids; pgbench scale 10".into());
    notes.push(format!(
        "roll-up: portfolio summary by industry sector of a {GIANT_GROUP}-client group (one connection each)"
    ));
    Ok(ScenarioResult {
        scenario: "service".into(),
        notes,
        metrics: vec![
            Metric {
                name: "GET /v1/clients/{id}, 32 connections".into(),
                unit: "req/s".into(),
                value: median(ours),
                baseline_label: Some("pgbench -S -M prepared -c 32".into()),
                baseline: Some(median(theirs)),
                better: Better::Higher,
                target: Some(Target::RatioAtLeast(0.8)),
            },
            Metric {
                name: "GET /v1/clients/{id} p99 latency, 32 connections".into(),
                unit: "ms".into(),
                value: median(p99),
                baseline_label: None,
                baseline: None,
                better: Better::Lower,
                target: Some(Target::AtMost(5.0)),
            },
            Metric {
                name: format!("list page at {LARGE_TOTAL} clients (replica)"),
                unit: "ms".into(),
                value: median(large_page),
                baseline_label: Some(format!("same page at {SMALL} clients")),
                baseline: Some(median(small_page)),
                better: Better::Lower,
                target: Some(Target::RatioAtMost(1.5)),
            },
            Metric {
                name: format!("portfolio roll-up of a {GIANT_GROUP}-client subtree"),
                unit: "ms".into(),
                value: median(rollup_ours),
                baseline_label: Some("its bare SQL (pgbench -c 1, replica)".into()),
                baseline: Some(median(rollup_bare)),
                better: Better::Lower,
                target: Some(Target::RatioAtMost(2.0)),
            },
            Metric {
                name: "service peak RSS under load".into(),
                unit: "MiB".into(),
                value: peak_rss,
                baseline_label: None,
                baseline: None,
                better: Better::Lower,
                target: Some(Target::AtMost(64.0)),
            },
        ],
    })
}

async fn load(world: &World, first_serial: u64, count: u32, one_group: bool) -> anyhow::Result<()> {
    let admin = world.admin().await?;
    let batch = client_api::embedded::demo::Batch {
        first_serial,
        count,
        seed: 42,
        one_group,
    };
    client_api::embedded::demo::load_batch(&admin, &batch)
        .await
        .context("loading demo clients")?;
    Ok(())
}

/// A wrk script requesting random clients among 2,000.
async fn id_script(world: &World, dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let admin = world.admin().await?;
    let rows = admin
        .query(
            "SELECT id::text FROM client_api.client TABLESAMPLE SYSTEM (1) WHERE deleted_at IS NULL LIMIT 2000",
            &[],
        )
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| format!("\"{}\"", r.get::<_, String>(0))).collect();
    // Requests are formatted once in `init` and cycled from a random start: formatting each request in Lua
    // would cost wrk more CPU than pgbench spends choosing a random key, on the same two cores.
    let script = format!(
        "ids = {{ {} }}\ninit = function(args)\n  requests = {{}}\n  for i, id in ipairs(ids) do\n    requests[i] = wrk.format(\"GET\", \"/v1/clients/\" .. id)\n  end\n  counter = math.random(#requests)\nend\nrequest = function()\n  counter = counter % #requests + 1\n  return requests[counter]\nend\n",
        ids.join(", ")
    );
    let path = dir.join("get-client.lua");
    std::fs::write(&path, script)?;
    Ok(path)
}

/// The root id and path of the largest group.
async fn giant_root(world: &World) -> anyhow::Result<(String, String)> {
    let admin = world.admin().await?;
    let row = admin
        .query_one(
            "SELECT r.id::text, r.path FROM client_api.client AS r \
             WHERE r.id = (SELECT root_id FROM client_api.client GROUP BY root_id ORDER BY count(*) DESC LIMIT 1)",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The statement the service runs for the roll-up (reports/portfolio_summary.rs), with the path inlined.
fn rollup_statement(path: &str) -> String {
    format!(
        "SELECT i.sector_code AS key, max(s.title) AS label, count(*) AS clients, \
         COALESCE(sum(c.employee_count), 0)::bigint AS employees, \
         count(*) FILTER (WHERE c.risk_category IN ('high', 'critical')) AS high_or_critical \
         FROM client_api.client AS c \
         LEFT JOIN client_api.industry_code AS i ON i.scheme = c.industry_scheme AND i.code = c.industry_code \
         LEFT JOIN client_api.industry_code AS s ON s.scheme = i.scheme AND s.code = i.sector_code \
         WHERE c.deleted_at IS NULL AND (c.path >= '{path}' AND c.path < '{path}' || '~') \
         GROUP BY i.sector_code ORDER BY clients DESC, key NULLS LAST;\n"
    )
}
