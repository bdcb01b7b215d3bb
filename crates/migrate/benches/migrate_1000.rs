//! Benchmark: 1,000 small migrations applied by the engine vs by psql, and `info` over the
//! resulting 1,000-row history.
//!
//! How to run (needs the PostgreSQL 15 binaries; starts its own throwaway server, no replica):
//!
//! ```text
//! cargo bench -p migrate --bench migrate_1000
//! BENCH_ROUNDS=9 BENCH_DURABLE=1 cargo bench -p migrate --bench migrate_1000   # fsync on
//! ```
//!
//! What it does: generates 1,000 files `V0001__table_0001.sql` ... (each: CREATE TABLE with a
//! primary key, a 2-row INSERT, CREATE INDEX: three statements). Each round it creates two empty
//! databases and, alternating which goes first, (a) runs one `psql` session over TCP+TLS executing
//! every file in its own transaction (`BEGIN; \i file; COMMIT;`), and (b) connects with the same
//! TLS setting and runs `migrate::migrate` (resolving, checksumming and parsing all files, taking
//! the lock, creating the history table, one transaction per migration with its history row).
//! It prints each time, the medians, and the ratio engine/psql (target: at most 1.3). Then it
//! times `migrate::info` over the 1,000-row history on a warm connection and including connect
//! (target: under 100 ms). Machines are noisy: compare the ratio, not the absolute times.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use migrate::{Config, ConfigLayer, ConfigSources};
use pg_launcher::{Cluster, ClusterOptions, Endpoint, NodeName};
use secrecy::ExposeSecret;

const MIGRATIONS: usize = 1000;

fn migration(i: usize) -> String {
    format!(
        "CREATE TABLE table_{i:04} (\n    id bigint PRIMARY KEY,\n    name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n\
         INSERT INTO table_{i:04} (id, name) VALUES (1, 'first'), (2, 'second');\n\
         CREATE INDEX table_{i:04}_name_idx ON table_{i:04} (name);\n"
    )
}

fn generate(dir: &Path) -> std::io::Result<()> {
    let mut driver = String::new();
    for i in 1..=MIGRATIONS {
        let name = format!("V{i:04}__table_{i:04}.sql");
        std::fs::write(dir.join("sql").join(&name), migration(i))?;
        driver.push_str(&format!(
            "BEGIN;\n\\i {}\nCOMMIT;\n",
            dir.join("sql").join(&name).display()
        ));
    }
    std::fs::write(dir.join("psql_driver.sql"), driver)
}

fn run_psql(psql: &Path, endpoint: &Endpoint, db: &str, driver: &Path) -> Duration {
    let started = Instant::now();
    let output = Command::new(psql)
        .arg(format!(
            "host={} port={} user={} dbname={db} sslmode=require",
            endpoint.host, endpoint.port, endpoint.user
        ))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(driver)
        .env("PGPASSWORD", endpoint.password.expose_secret())
        .output()
        .expect("run psql");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

fn spec(endpoint: &Endpoint, db: &str) -> conninfo::ConnSpec {
    conninfo::ConnSpec::for_host(&endpoint.host, endpoint.port)
        .with_user(&endpoint.user)
        .with_password(endpoint.password.clone())
        .with_database(db)
        .with_ssl_mode(conninfo::SslMode::Require)
        .with_command_timeout(None)
}

fn config(dir: &Path) -> Config {
    let mut cli = ConfigLayer::new();
    cli.set(
        "locations",
        &format!("filesystem:{}", dir.join("sql").display()),
        "bench",
    )
    .expect("locations");
    Config::resolve(&ConfigSources {
        cli,
        ..ConfigSources::default()
    })
    .expect("config")
}

async fn run_engine(endpoint: &Endpoint, db: &str, config: &Config) -> Duration {
    let started = Instant::now();
    let (client, _) = conninfo::connect(&spec(endpoint, db)).await.expect("connect");
    let report = migrate::migrate(&client, config, &()).await.expect("migrate");
    let took = started.elapsed();
    assert_eq!(report.migrations_executed, MIGRATIONS);
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and must stay quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("migrate_1000: run with `cargo bench -p migrate --bench migrate_1000`; skipped under cargo test");
        return;
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let durable = std::env::var("BENCH_DURABLE").is_ok_and(|v| v == "1");
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(work.path().join("sql")).expect("mkdir");
    generate(work.path()).expect("generate migrations");
    let options = ClusterOptions {
        replica: false,
        durable,
        ..ClusterOptions::ephemeral()
    };
    let (cluster, _) = Cluster::up(&work.path().join("cluster"), &options).expect("start PostgreSQL");
    let endpoint = cluster.primary();
    let psql = cluster.binaries().program("psql");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = config(work.path());
    println!(
        "migrate_1000: {MIGRATIONS} migrations x 3 statements, {rounds} rounds, fsync {}",
        if durable { "on" } else { "off" }
    );

    let (mut psql_times, mut engine_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = (format!("bench_psql_{round}"), format!("bench_engine_{round}"));
        for db in [&a, &b] {
            cluster
                .query(NodeName::Primary, "postgres", &format!("CREATE DATABASE {db}"))
                .expect("create database");
        }
        let mut run_p = || psql_times.push(run_psql(&psql, &endpoint, &a, &work.path().join("psql_driver.sql")));
        if round % 2 == 0 {
            run_p();
            engine_times.push(runtime.block_on(run_engine(&endpoint, &b, &config)));
        } else {
            engine_times.push(runtime.block_on(run_engine(&endpoint, &b, &config)));
            run_p();
        }
        println!(
            "  round {}: psql {}  engine {}",
            round + 1,
            ms(*psql_times.last().unwrap()),
            ms(*engine_times.last().unwrap())
        );
    }
    let (pmin, emin) = (*psql_times.iter().min().unwrap(), *engine_times.iter().min().unwrap());
    let (p, e) = (median(psql_times), median(engine_times));
    let ratio = e.as_secs_f64() / p.as_secs_f64();
    println!(
        "best:   psql {}  engine {}  ratio {:.2}",
        ms(pmin),
        ms(emin),
        emin.as_secs_f64() / pmin.as_secs_f64()
    );
    println!(
        "median: psql {}  engine {}  ratio engine/psql {ratio:.2} (target <= 1.30) {}",
        ms(p),
        ms(e),
        if ratio <= 1.3 { "OK" } else { "MISSED" }
    );

    let db = format!("bench_engine_{}", rounds - 1);
    let (warm, cold) = runtime.block_on(async {
        let (client, _) = conninfo::connect(&spec(&endpoint, &db)).await.expect("connect");
        let mut warm = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let report = migrate::info(&client, &config).await.expect("info");
            warm.push(started.elapsed());
            assert_eq!(report.migrations.len(), MIGRATIONS);
        }
        let mut cold = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let (client, _) = conninfo::connect(&spec(&endpoint, &db)).await.expect("connect");
            migrate::info(&client, &config).await.expect("info");
            cold.push(started.elapsed());
        }
        (median(warm), median(cold))
    });
    println!(
        "info over {MIGRATIONS} rows: {} on a warm connection, {} including connect (target < 100 ms) {}",
        ms(warm),
        ms(cold),
        if cold < Duration::from_millis(100) {
            "OK"
        } else {
            "MISSED"
        }
    );
    drop(cluster);
}
