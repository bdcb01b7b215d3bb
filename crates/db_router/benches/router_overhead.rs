//! Router overhead per query, against bare tokio-postgres in the same run (target: under 5 %).
//!
//! How to run (starts its own primary + streaming replica with pg_launcher; needs the
//! PostgreSQL binaries the tests use):
//!
//! ```text
//! cargo bench -p db_router --bench router_overhead --profile bench-fast
//! BENCH_SECONDS=5 BENCH_ROUNDS=7 BENCH_CONCURRENCY=32 cargo bench -p db_router --bench router_overhead --profile bench-fast
//! ```
//!
//! `BENCH_NO_TIMEOUT=1` turns off the statement timeout (and with it the client-side timer each
//! query arms), to see what that safety costs; `BENCH_THREADS` sets the runtime's worker threads.
//!
//! Workload: `BENCH_CONCURRENCY` tasks each run a prepared point read
//! (`SELECT v FROM bench WHERE id = $1`, 10,000 rows) in a loop on the replica, for
//! `BENCH_SECONDS` per variant per round. Variants alternate within each round (order rotated)
//! and each round yields paired ratios, whose median is reported: on a 2-core machine running
//! both the servers and the client, throughput drifts a lot between rounds, much less between
//! neighbouring slices. Two measures per variant:
//! - throughput (queries/s), which includes the servers' share of the same two cores;
//! - client CPU per query (this process's user+system time from /proc/self/stat divided by the
//!   queries), which is exactly what the router adds on the client side.
//!
//! - `bare-shared`: the baseline. Two tokio-postgres clients to the replica (same TLS), statement
//!   prepared once per client, tasks pipelining on them round robin. This is the router's own
//!   read mechanism without the router.
//! - `router-any`: `router.read(Consistency::Any).query(..)` with two shared sessions: routing
//!   decision, statement cache lookup, client-side timeout, piggy-backed replay probes, metrics.
//! - `bare-pool`: for reference, the usual design: a deadpool-postgres pool checked out per query
//!   with `prepare_cached`.
//!
//! Printed: per round and variant the throughput and client CPU per query; then the medians of
//! the paired ratios: `throughput overhead = 1 - router-any / bare-shared` (the number the target
//! applies to) and the client CPU overhead `router-any / bare-shared - 1`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use conninfo::{ConnSpec, SslMode};
use db_router::{Consistency, Router, RouterConfig};
use pg_launcher::{ClusterOptions, NodeName};
use rand::RngExt as _;
use secrecy::ExposeSecret;

const ROWS: i32 = 10_000;
const SQL: &str = "SELECT v FROM bench WHERE id = $1";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    BareShared,
    RouterAny,
    BarePool,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::BareShared => "bare-shared",
            Variant::RouterAny => "router-any",
            Variant::BarePool => "bare-pool",
        }
    }
}

struct Setup {
    router: Router,
    shared: Vec<tokio_postgres::Client>,
    statements: Vec<tokio_postgres::Statement>,
    pool: deadpool_postgres::Pool,
}

fn spec(cluster: &pg_launcher::Cluster, node: NodeName) -> ConnSpec {
    let endpoint = cluster.endpoint(node).expect("endpoint");
    ConnSpec::for_host(&endpoint.host, endpoint.port)
        .with_user(&endpoint.user)
        .with_password(endpoint.password.clone())
        .with_database("postgres")
        .with_ssl_mode(SslMode::VerifyFull)
        .with_root_cert(cluster.ca_cert_path())
}

async fn setup(cluster: &pg_launcher::Cluster, concurrency: usize) -> Setup {
    let primary = spec(cluster, NodeName::Primary);
    let replica = spec(cluster, NodeName::Replica);
    let mut config = RouterConfig::new(primary, Some(replica.clone()));
    config.primary.pool.max_size = u32::try_from(concurrency).unwrap_or(100) + 4;
    if let Some(replica) = config.replica.as_mut() {
        replica.pool.max_size = u32::try_from(concurrency).unwrap_or(100) + 4;
    }
    if std::env::var_os("BENCH_NO_TIMEOUT").is_some() {
        // Measures what the client-side statement timer costs (not a production setting).
        config.statement_timeout = None;
        config.primary.command_timeout = None;
    }
    let router = Router::start(&config).expect("router");
    router.ready(Duration::from_secs(60)).await.expect("router ready");
    let token = router
        .write()
        .execute(
            "CREATE TABLE IF NOT EXISTS bench AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g",
            &[],
        )
        .await
        .expect("create")
        .token;
    router
        .write()
        .execute("CREATE UNIQUE INDEX IF NOT EXISTS bench_id ON bench (id)", &[])
        .await
        .expect("index");
    // Wait until the replica serves the table.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, route) = router
            .read(Consistency::ReadYourWrites(token))
            .query_routed("SELECT count(*) FROM bench", &[])
            .await
            .expect("probe read");
        if route.target == db_router::Target::Replica {
            break;
        }
        assert!(Instant::now() < deadline, "replica never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut shared = Vec::new();
    let mut statements = Vec::new();
    for _ in 0..config.shared_connections {
        let (client, _) = conninfo::connect(&replica).await.expect("bare connect");
        statements.push(client.prepare(SQL).await.expect("prepare"));
        shared.push(client);
    }

    let endpoint = cluster.endpoint(NodeName::Replica).expect("endpoint");
    let mut pg = tokio_postgres::Config::new();
    pg.host(&endpoint.host)
        .port(endpoint.port)
        .user(&endpoint.user)
        .password(endpoint.password.expose_secret())
        .dbname("postgres")
        .ssl_mode(tokio_postgres::config::SslMode::Require);
    let manager = deadpool_postgres::Manager::from_config(
        pg,
        conninfo::tls_connector(&replica).expect("tls"),
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(concurrency)
        .build()
        .expect("pool");
    Setup {
        router,
        shared,
        statements,
        pool,
    }
}

async fn one(setup: &Setup, variant: Variant, i: usize, id: i32) {
    match variant {
        Variant::BareShared => {
            let slot = i % setup.shared.len();
            let rows = setup.shared[slot]
                .query(&setup.statements[slot], &[&id])
                .await
                .expect("bare query");
            assert_eq!(rows.len(), 1);
        }
        Variant::RouterAny => {
            let rows = setup
                .router
                .read(Consistency::Any)
                .query(SQL, &[&id])
                .await
                .expect("router query");
            assert_eq!(rows.len(), 1);
        }
        Variant::BarePool => {
            let client = setup.pool.get().await.expect("checkout");
            let statement = client.prepare_cached(SQL).await.expect("prepare");
            let rows = client.query(&statement, &[&id]).await.expect("pool query");
            assert_eq!(rows.len(), 1);
        }
    }
}

/// This process's user + system CPU time (Linux `/proc/self/stat`, in clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// One measured slice.
#[derive(Clone, Copy)]
struct Sample {
    qps: f64,
    cpu_us_per_query: f64,
}

/// Runs `variant` with `concurrency` tasks for `seconds`.
async fn run(setup: &Arc<Setup>, variant: Variant, concurrency: usize, seconds: u64) -> Sample {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let (setup, stop, done) = (setup.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = task;
                while !stop.load(Ordering::Relaxed) {
                    let id = rand::rng().random_range(1..=ROWS);
                    one(&setup, variant, i, id).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    // Warm-up second not counted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_count = done.load(Ordering::Relaxed);
    let started = Instant::now();
    let cpu_started = cpu_time();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let count = done.load(Ordering::Relaxed) - start_count;
    let cpu = cpu_time().saturating_sub(cpu_started);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("task");
    }
    #[allow(clippy::cast_precision_loss)]
    let count = count as f64;
    Sample {
        qps: count / elapsed,
        cpu_us_per_query: cpu.as_secs_f64() * 1e6 / count.max(1.0),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let seconds = env("BENCH_SECONDS", 2);
    let rounds = usize::try_from(env("BENCH_ROUNDS", 9)).unwrap_or(9).max(1);
    let concurrency = usize::try_from(env("BENCH_CONCURRENCY", 32)).unwrap_or(32).max(1);
    let threads = usize::try_from(env("BENCH_THREADS", 2)).unwrap_or(2).max(1);
    eprintln!("starting a primary + replica cluster...");
    let cluster = test_support::dedicated_cluster(ClusterOptions::ephemeral());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let setup = Arc::new(setup(&cluster, concurrency).await);
        let variants = [Variant::BareShared, Variant::RouterAny, Variant::BarePool];
        let mut results: Vec<Vec<Sample>> = vec![Vec::new(); variants.len()];
        println!(
            "router_overhead: point read on the replica, {concurrency} tasks, {threads} runtime threads, {seconds} s x {rounds} rounds"
        );
        for round in 1..=rounds {
            // Rotate the order each round so no variant always runs first.
            for offset in 0..variants.len() {
                let index = (round + offset) % variants.len();
                let sample = run(&setup, variants[index], concurrency, seconds).await;
                println!(
                    "round {round:>2} {:<12} {:>9.0} queries/s {:>6.1} us client CPU/query",
                    variants[index].name(),
                    sample.qps,
                    sample.cpu_us_per_query
                );
                results[index].push(sample);
            }
        }
        println!();
        for (variant, samples) in variants.iter().zip(&results) {
            let mut qps: Vec<f64> = samples.iter().map(|s| s.qps).collect();
            let mut cpu: Vec<f64> = samples.iter().map(|s| s.cpu_us_per_query).collect();
            println!(
                "median {:<12} {:>9.0} queries/s {:>6.1} us client CPU/query",
                variant.name(),
                median(&mut qps),
                median(&mut cpu)
            );
        }
        let paired = |a: usize, b: usize, f: fn(&Sample) -> f64| {
            let mut ratios: Vec<f64> = results[a].iter().zip(&results[b]).map(|(x, y)| f(x) / f(y)).collect();
            median(&mut ratios)
        };
        let throughput = paired(1, 0, |s| s.qps);
        let cpu = paired(1, 0, |s| s.cpu_us_per_query);
        println!(
            "router-any / bare-shared: throughput {throughput:.3} (overhead {:.1} %, target < 5 %), client CPU per query {cpu:.3} ({:+.1} %)",
            (1.0 - throughput) * 100.0,
            (cpu - 1.0) * 100.0
        );
        println!("router-any / bare-pool:   throughput {:.3}", paired(1, 2, |s| s.qps));
        let stats = setup.router.stats();
        println!(
            "router stats: {} replica reads, {} primary reads, {} fallbacks",
            stats.reads_replica, stats.reads_primary, stats.fallbacks
        );
    });
    drop(cluster);
}
