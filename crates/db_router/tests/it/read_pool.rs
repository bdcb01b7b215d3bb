//! A load-balanced read pool (AlloyDB: one IP in front of several nodes, each replaying WAL on its own),
//! built for real: two streaming replicas of one primary with different `recovery_min_apply_delay`, behind a
//! least-connections TCP proxy on 127.0.0.1 written here. Each router session is a TCP connection the proxy
//! pins to one node, so the replay position a session reports says nothing about another session.
//!
//! Under load (writers that read their own write with its token, untokened list readers, bounded-staleness
//! readers), over 20 routers (20 runs, each with fresh sessions):
//! - no token read misses its own write;
//! - token reads neither wait out their bound nor fall back to the primary while one node is current;
//! - a bounded-staleness read is never served by the node that is too far behind (judged by the data: the
//!   age of a heartbeat row the primary updates every 20 ms, read in the same statement).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use db_router::{Consistency, Router, RouterStats, Target};
use pg_launcher::{ClusterOptions, NodeName};
use tokio::net::{TcpListener, TcpStream};

/// The delay of the slow node; the other node applies WAL at once.
const SLOW: Duration = Duration::from_millis(1500);
/// The bound of the bounded-staleness reads: the fast node meets it, the slow one never does.
const BOUND: Duration = Duration::from_millis(500);
const RUNS: usize = 20;
const WRITERS: usize = 8;
const ROUNDS: usize = 12;

/// A least-connections TCP proxy (ties go round robin), like the load balancer of a read pool: every
/// accepted connection is piped, for its whole life, to the backend with the fewest open connections.
struct Proxy {
    port: u16,
    opened: Arc<[AtomicUsize; 2]>,
}

impl Proxy {
    async fn start(backends: [u16; 2]) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let active: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let opened: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let (active_, opened_) = (Arc::clone(&active), Arc::clone(&opened));
        tokio::spawn(async move {
            let mut turn = 0usize;
            while let Ok((mut client, _)) = listener.accept().await {
                let (a, b) = (active_[0].load(Ordering::SeqCst), active_[1].load(Ordering::SeqCst));
                let pick = match a.cmp(&b) {
                    std::cmp::Ordering::Less => 0,
                    std::cmp::Ordering::Greater => 1,
                    std::cmp::Ordering::Equal => {
                        turn += 1;
                        turn % 2
                    }
                };
                active_[pick].fetch_add(1, Ordering::SeqCst);
                opened_[pick].fetch_add(1, Ordering::SeqCst);
                let active = active_.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(("127.0.0.1", backends[pick])).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                    active[pick].fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Proxy { port, opened }
    }
}

/// What one run saw.
#[derive(Debug, Default)]
struct Seen {
    token_reads: usize,
    stale: Vec<String>,
    bounded_on_replica: usize,
    bounded_elsewhere: usize,
    too_old: Vec<String>,
    list_reads: usize,
    list_failures: Vec<String>,
    stats: RouterStats,
}

async fn run(router: &Router) -> Seen {
    let mut seen = Seen::default();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Untokened list readers: load on the replica sessions.
    let listers: Vec<_> = (0..4)
        .map(|_| {
            let (router, done) = (router.clone(), done.clone());
            tokio::spawn(async move {
                let (mut n, mut failed) = (0, Vec::new());
                while !done.load(Ordering::SeqCst) {
                    match router
                        .read(Consistency::Any)
                        .query("SELECT id, n FROM notes ORDER BY id DESC LIMIT 20", &[])
                        .await
                    {
                        Ok(_) => n += 1,
                        Err(e) => failed.push(e.to_string()),
                    }
                    // Paced: load, not a busy loop that starves the writers on a small machine.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                (n, failed)
            })
        })
        .collect();
    // Bounded-staleness readers: the data age is measured in the very statement that reads.
    let bounded: Vec<_> = (0..2)
        .map(|_| {
            let (router, done) = (router.clone(), done.clone());
            tokio::spawn(async move {
                let (mut on_replica, mut elsewhere, mut too_old) = (0, 0, Vec::new());
                while !done.load(Ordering::SeqCst) {
                    match router
                        .read(Consistency::BoundedStaleness(BOUND))
                        .query_routed(
                            "SELECT (extract(epoch FROM clock_timestamp() - at) * 1000)::float8 FROM beat WHERE id = 1",
                            &[],
                        )
                        .await
                    {
                        Ok((rows, route)) if route.target == Target::Replica => {
                            on_replica += 1;
                            let age_ms: f64 = rows[0].get(0);
                            // The heartbeat row is rewritten every 20 ms; allow that, plus scheduling noise.
                            if age_ms > (BOUND.as_secs_f64() * 1000.0) + 100.0 {
                                too_old.push(format!("{age_ms:.0} ms old via {route:?}"));
                            }
                        }
                        // On the primary, or refused: either way not served by a node that is too far behind.
                        Ok(_) | Err(_) => elsewhere += 1,
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (on_replica, elsewhere, too_old)
            })
        })
        .collect();
    // Writers: write, then read the write back with its token.
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let router = router.clone();
            tokio::spawn(async move {
                let mut stale = Vec::new();
                for round in 0..ROUNDS {
                    let n = i32::try_from(w * 1000 + round).unwrap();
                    let created = router
                        .write()
                        .query_one("INSERT INTO notes (n) VALUES ($1) RETURNING id", &[&n])
                        .await
                        .unwrap();
                    let id: i64 = created.value.get(0);
                    let (rows, route) = router
                        .read(Consistency::ReadYourWrites(created.token))
                        .query_routed("SELECT n FROM notes WHERE id = $1", &[&id])
                        .await
                        .unwrap();
                    if rows.is_empty() {
                        stale.push(format!("note {id} not found via {route:?}"));
                    }
                }
                stale
            })
        })
        .collect();
    for writer in writers {
        seen.stale.extend(writer.await.unwrap());
        seen.token_reads += ROUNDS;
    }
    done.store(true, Ordering::SeqCst);
    for lister in listers {
        let (n, failed) = lister.await.unwrap();
        seen.list_reads += n;
        seen.list_failures.extend(failed);
    }
    for reader in bounded {
        let (on_replica, elsewhere, too_old) = reader.await.unwrap();
        seen.bounded_on_replica += on_replica;
        seen.bounded_elsewhere += elsewhere;
        seen.too_old.extend(too_old);
    }
    seen.stats = router.stats();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reads_through_a_load_balanced_read_pool_are_never_stale() {
    let cluster = Arc::new(test_support::dedicated_cluster(ClusterOptions {
        second_replica: Some(SLOW),
        ..ClusterOptions::ephemeral()
    }));
    let primary = common::node_spec(&cluster, NodeName::Primary, "postgres");
    let setup = Router::start(&common::config(primary.clone(), None)).unwrap();
    setup.ready(Duration::from_secs(30)).await.unwrap();
    for statement in [
        "CREATE TABLE notes (id bigserial PRIMARY KEY, n int NOT NULL)",
        "CREATE TABLE beat (id int PRIMARY KEY, at timestamptz NOT NULL)",
        "INSERT INTO beat VALUES (1, clock_timestamp())",
    ] {
        setup.write().execute(statement, &[]).await.unwrap();
    }
    // The primary's clock, written every 20 ms: a replica's copy of the row is as old as its data.
    let beating = {
        let setup = setup.clone();
        tokio::spawn(async move {
            loop {
                let _ = setup
                    .write()
                    .execute("UPDATE beat SET at = clock_timestamp() WHERE id = 1", &[])
                    .await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Both nodes have the tables (the slow one after its delay).
    for node in [NodeName::Replica, NodeName::Replica2] {
        let spec = common::node_spec(&cluster, node, "postgres");
        let (client, _) = conninfo::connect(&spec).await.unwrap();
        common::eventually("the node replays the tables", Duration::from_secs(30), || async {
            client.query_one("SELECT count(*) FROM beat", &[]).await.ok().map(drop)
        })
        .await;
    }
    let backends = [NodeName::Replica, NodeName::Replica2].map(|node| cluster.endpoint(node).unwrap().port);
    let proxy = Proxy::start(backends).await;
    // The read pool's one address, named as such (`Read Pool=true`).
    let pool = common::node_spec(&cluster, NodeName::Replica, "postgres")
        .with_hosts(vec![conninfo::HostSpec::tcp("127.0.0.1", proxy.port)])
        .with_read_pool(true);

    let mut total = Seen::default();
    let (mut token_waits, mut token_fallbacks, mut fallbacks) = (0, 0, 0);
    let started = Instant::now();
    for run_no in 0..RUNS {
        let router = Router::start(&common::config(primary.clone(), Some(pool.clone()))).unwrap();
        router.ready(Duration::from_secs(30)).await.unwrap();
        common::replica_up(&router).await;
        // Let the heartbeat probe every session once.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let seen = tokio::time::timeout(Duration::from_secs(120), run(&router))
            .await
            .expect("a run hung");
        println!(
            "run {run_no}: {} stale of {}, {} too old, stats {:?}",
            seen.stale.len(),
            seen.token_reads,
            seen.too_old.len(),
            seen.stats
        );
        token_waits += seen.stats.token_waits;
        total.list_failures.extend(seen.list_failures);
        token_fallbacks += seen.stats.fallbacks_by_reason[2];
        fallbacks += seen.stats.fallbacks;
        total.token_reads += seen.token_reads;
        total.stale.extend(seen.stale);
        total.too_old.extend(seen.too_old);
        total.bounded_on_replica += seen.bounded_on_replica;
        total.bounded_elsewhere += seen.bounded_elsewhere;
        total.list_reads += seen.list_reads;
    }
    beating.abort();
    let opened = [0, 1].map(|i| proxy.opened[i].load(Ordering::SeqCst));
    println!(
        "read pool: {RUNS} runs in {:.1}s; {} token reads, {} stale; {token_waits} token waits, {token_fallbacks} \
         token fallbacks ({fallbacks} fallbacks in all); {} bounded-staleness reads on a replica, {} elsewhere, {} \
         too old; {} list reads; proxy connections per node {opened:?}",
        started.elapsed().as_secs_f64(),
        total.token_reads,
        total.stale.len(),
        total.bounded_on_replica,
        total.bounded_elsewhere,
        total.too_old.len(),
        total.list_reads,
    );
    assert!(
        opened[0] > 0 && opened[1] > 0,
        "the proxy spread sessions over both nodes: {opened:?}"
    );
    assert!(
        total.stale.is_empty(),
        "{} of {} token reads missed their own write: {:?}",
        total.stale.len(),
        total.token_reads,
        &total.stale[..total.stale.len().min(5)]
    );
    assert!(
        total.too_old.is_empty(),
        "{} bounded-staleness reads were served older than {BOUND:?}: {:?}",
        total.too_old.len(),
        &total.too_old[..total.too_old.len().min(5)]
    );
    assert!(
        total.bounded_on_replica > 0,
        "the fast node serves bounded-staleness reads"
    );
    assert!(
        total.list_failures.is_empty(),
        "{} list reads failed: {:?}",
        total.list_failures.len(),
        &total.list_failures[..total.list_failures.len().min(5)]
    );
    // One node is current: token reads do not run out their wait and go to the primary.
    assert!(
        token_fallbacks * 100 <= u64::try_from(total.token_reads).unwrap(),
        "{token_fallbacks} of {} token reads fell back to the primary after waiting",
        total.token_reads
    );
}
