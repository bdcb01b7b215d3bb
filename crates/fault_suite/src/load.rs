//! Load over real HTTP, two ways, recording every reply with its start time:
//! - **steady** (open loop): requests start at fixed rates per operation, whatever the service does
//!   meanwhile (a stalled request does not slow the others, as with real independent callers);
//! - **closed loop**: a number of workers, each sending its next request as soon as the last returned
//!   (as wrk does), choosing operations in the proportions of a [`Rates`] mix: the load follows what the
//!   service can do, so it is always at the service's capacity.
//!
//! Operations: a client by id (primary), a list page (replica), a create (optionally with an
//! `Idempotency-Key`), a merge patch of `owner` with `If-Match`, and a move (a merge patch of
//! `parent_id` with `If-Match`). Patches and moves are serialized per client (each client is changed
//! by one request at a time, with the version its last acknowledged write returned), so every
//! acknowledged write is an exact (id, version, value) triple the database must hold afterwards.
//! Moves never make a cycle: the first few seeded clients are anchors that only ever move to the top
//! of their own group, and every other client moves under an anchor or to the top.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngExt as _;
use serde::Serialize;

use crate::api::{Api, Reply};

/// What a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `GET /v1/clients/{id}` (primary).
    ReadById,
    /// `GET /v1/clients?limit=20&status=active` (replica).
    List,
    /// `POST /v1/clients`.
    Create,
    /// `PATCH /v1/clients/{id}` (`owner`).
    Patch,
    /// `PATCH /v1/clients/{id}` (`parent_id`): a move in the hierarchy.
    Move,
}

impl Op {
    /// Its name in reports (`read_by_id`, `list`, `create`, `patch`, `move`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadById => "read_by_id",
            Self::List => "list",
            Self::Create => "create",
            Self::Patch => "patch",
            Self::Move => "move",
        }
    }

    /// Reads.
    pub fn is_read(self) -> bool {
        matches!(self, Self::ReadById | Self::List)
    }
}

/// Requests per second per operation.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rates {
    /// Reads by id.
    pub read_by_id: f64,
    /// List pages.
    pub list: f64,
    /// Creates.
    pub create: f64,
    /// Patches.
    pub patch: f64,
    /// Moves.
    pub moves: f64,
}

impl Rates {
    /// A gentle mix (72 requests/s), for scenarios whose point is not the load.
    pub fn steady() -> Self {
        Self {
            read_by_id: 40.0,
            list: 12.0,
            create: 8.0,
            patch: 12.0,
            moves: 0.0,
        }
    }

    /// The rate the service is sized for on this machine, from a calibration: half the list throughput
    /// measured in lists, an eighth of it in reads by id, and 8 creates and 12 patches per second.
    pub fn production(list_capacity_per_s: f64) -> Self {
        Self {
            read_by_id: (list_capacity_per_s / 8.0).max(10.0),
            list: (list_capacity_per_s / 2.0).max(10.0),
            create: 8.0,
            patch: 12.0,
            moves: 0.0,
        }
    }

    /// Only lists (the replica-outage experiment).
    pub fn lists(per_s: f64) -> Self {
        Self {
            read_by_id: 0.0,
            list: per_s,
            create: 0.0,
            patch: 0.0,
            moves: 0.0,
        }
    }

    /// The sum of the rates.
    pub fn total(&self) -> f64 {
        self.read_by_id + self.list + self.create + self.patch + self.moves
    }

    /// Each operation with its rate.
    fn each(&self) -> [(Op, f64); 5] {
        [
            (Op::ReadById, self.read_by_id),
            (Op::List, self.list),
            (Op::Create, self.create),
            (Op::Patch, self.patch),
            (Op::Move, self.moves),
        ]
    }

    /// An operation drawn with these rates as weights.
    fn pick(&self, draw: f64) -> Op {
        let mut left = draw * self.total();
        for (op, weight) in self.each() {
            if left < weight {
                return op;
            }
            left -= weight;
        }
        Op::List
    }
}

/// An acknowledged (2xx) write.
#[derive(Debug, Clone, Serialize)]
pub struct Acked {
    /// The client.
    pub id: String,
    /// The version the response reported.
    pub version: i64,
    /// The `owner` it set (patches).
    pub owner: Option<String>,
    /// The parent it set (moves; `None` inside for a move to the top).
    pub parent: Option<Option<String>>,
}

/// One request.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The operation.
    pub op: Op,
    /// When it started, from the load's start.
    pub at: Duration,
    /// The reply.
    pub reply: Reply,
    /// For a 2xx write: what the service acknowledged.
    pub acked: Option<Acked>,
    /// For a patch: the version it would create (also recorded when it failed).
    pub attempted_version: Option<i64>,
    /// The client a read by id or a patch addressed.
    pub target: Option<String>,
}

impl Sample {
    /// When it ended, from the load's start.
    pub fn end(&self) -> Duration {
        self.at + self.reply.latency
    }
}

struct Shared {
    api: Api,
    start: Instant,
    running: AtomicBool,
    samples: Mutex<Vec<Sample>>,
    known: Mutex<Vec<String>>,
    idle: Mutex<VecDeque<(String, i64)>>,
    unsure: Mutex<VecDeque<String>>,
    counter: AtomicU64,
    /// Clients that only ever move to the top of their group; every other client moves under one.
    anchors: Vec<String>,
    options: LoadOptions,
}

/// How a load sends and records its requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Every create carries an `Idempotency-Key` (as careful callers send them; the service keeps each
    /// key until its time to live has passed).
    pub keyed_creates: bool,
    /// Samples of successful requests keep no response body (a long run at production rates would
    /// otherwise hold every list page it read); what the load itself needs from a body (ids, versions)
    /// is taken before, and failures keep theirs (the problem document).
    pub drop_bodies: bool,
}

/// Seeded clients that serve as anchors for moves.
const ANCHORS: usize = 5;

/// A running load.
pub struct Load {
    shared: Arc<Shared>,
    tickers: Vec<tokio::task::JoinHandle<()>>,
    requests: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

/// How a load drives the service (for reports).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Drive {
    /// Open loop at fixed rates per second.
    Steady(Rates),
    /// This many workers, each sending its next request when the last returned, in the proportions of
    /// the mix.
    ClosedLoop {
        /// Concurrent workers.
        workers: usize,
        /// Operation weights.
        mix: Rates,
    },
}

impl std::fmt::Debug for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Load").finish_non_exhaustive()
    }
}

fn version_of(reply: &Reply) -> Option<i64> {
    reply.body.get("version").and_then(serde_json::Value::as_i64)
}

/// Creates `n` clients to read and patch; returns (id, version) pairs.
///
/// # Panics
/// When a create fails (the service must be healthy before a fault is injected).
pub async fn seed(api: &Api, n: usize) -> Vec<(String, i64)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let reply = api.create_client(&format!("Seed {i} {}", uuid::Uuid::now_v7())).await;
        assert_eq!(reply.status, 201, "seeding client {i}: {:?}", reply.body);
        let id = reply.body["id"].as_str().unwrap_or_default().to_owned();
        out.push((id, version_of(&reply).unwrap_or(1)));
    }
    out
}

impl Load {
    /// Starts `drive` on `api`, reading and patching `clients` (and the ones it creates).
    pub fn drive(api: Api, clients: &[(String, i64)], drive: Drive) -> Self {
        match drive {
            Drive::Steady(rates) => Self::start(api, clients, rates),
            Drive::ClosedLoop { workers, mix } => Self::closed_loop(api, clients, workers, mix),
        }
    }

    fn shared(api: Api, clients: &[(String, i64)]) -> Arc<Shared> {
        Self::shared_with(api, clients, LoadOptions::default())
    }

    fn shared_with(api: Api, clients: &[(String, i64)], options: LoadOptions) -> Arc<Shared> {
        Arc::new(Shared {
            api,
            start: Instant::now(),
            running: AtomicBool::new(true),
            samples: Mutex::new(Vec::new()),
            known: Mutex::new(clients.iter().map(|(id, _)| id.clone()).collect()),
            idle: Mutex::new(clients.iter().cloned().collect()),
            unsure: Mutex::new(VecDeque::new()),
            counter: AtomicU64::new(0),
            anchors: clients.iter().take(ANCHORS).map(|(id, _)| id.clone()).collect(),
            options,
        })
    }

    /// Closed loop: `workers` callers, each sending its next request as soon as the last returned.
    pub fn closed_loop(api: Api, clients: &[(String, i64)], workers: usize, mix: Rates) -> Self {
        let shared = Self::shared(api, clients);
        let tickers = (0..workers)
            .map(|_| {
                let shared = shared.clone();
                tokio::spawn(async move {
                    while shared.running.load(Ordering::SeqCst) {
                        let op = mix.pick(rand::rng().random_range(0.0..1.0));
                        // A patch with no client free to patch becomes a list read (never a busy loop).
                        if !one(&shared, op).await {
                            one(&shared, Op::List).await;
                        }
                    }
                })
            })
            .collect();
        Self {
            shared,
            tickers,
            requests: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Starts load on `api` at `rates` (open loop), reading and patching `clients` (and the ones it
    /// creates).
    pub fn start(api: Api, clients: &[(String, i64)], rates: Rates) -> Self {
        Self::start_with(api, clients, rates, LoadOptions::default())
    }

    /// [`Load::start`] with `options`.
    pub fn start_with(api: Api, clients: &[(String, i64)], rates: Rates, options: LoadOptions) -> Self {
        let shared = Self::shared_with(api, clients, options);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let tickers = rates
            .each()
            .into_iter()
            .filter(|(_, rate)| *rate > 0.0)
            .map(|(op, rate)| {
                let (shared, requests) = (shared.clone(), requests.clone());
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    while shared.running.load(Ordering::SeqCst) {
                        tick.tick().await;
                        if !shared.running.load(Ordering::SeqCst) {
                            break;
                        }
                        let shared = shared.clone();
                        let handle = tokio::spawn(async move {
                            one(&shared, op).await;
                        });
                        let mut list = requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        list.retain(|h: &tokio::task::JoinHandle<()>| !h.is_finished());
                        list.push(handle);
                    }
                })
            })
            .collect();
        Self {
            shared,
            tickers,
            requests,
        }
    }

    /// Time since the load started (the clock of every sample's `at`).
    pub fn now(&self) -> Duration {
        self.shared.start.elapsed()
    }

    /// Samples so far.
    pub fn snapshot(&self) -> Vec<Sample> {
        self.shared
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Takes the samples recorded so far (a long run drains them periodically, so that it holds
    /// only what it has not summarized yet); [`Load::stop`] returns only what was not drained.
    pub fn drain(&self) -> Vec<Sample> {
        std::mem::take(&mut *lock(&self.shared.samples))
    }

    /// Stops starting requests, waits for those in flight (each ends within the hang limit), and
    /// returns every sample in start order.
    pub async fn stop(mut self) -> Vec<Sample> {
        self.shared.running.store(false, Ordering::SeqCst);
        for ticker in std::mem::take(&mut self.tickers) {
            let _ = ticker.await;
        }
        let pending: Vec<_> =
            std::mem::take(&mut *self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for request in pending {
            let _ = request.await;
        }
        let mut samples = self.snapshot();
        samples.sort_by_key(|s| s.at);
        samples
    }
}

/// Sends one request of `op` and records it; false when there was nothing to do (no client to patch).
async fn one(shared: &Shared, op: Op) -> bool {
    let at = shared.start.elapsed();
    let api = &shared.api;
    let mut target = None;
    let (reply, acked, attempted_version) = match op {
        Op::ReadById => {
            // Clients whose last patch had an unknown outcome are re-read first, to learn their
            // version and patch them again.
            let unsure = lock(&shared.unsure).pop_front();
            let id = unsure.clone().or_else(|| {
                let known = lock(&shared.known);
                (!known.is_empty()).then(|| known[rand::rng().random_range(0..known.len())].clone())
            });
            let Some(id) = id else { return false };
            let reply = api.get(&format!("/v1/clients/{id}"), None).await;
            target = Some(id.clone());
            if unsure.is_some() {
                match version_of(&reply) {
                    Some(version) if reply.ok() => lock(&shared.idle).push_back((id, version)),
                    _ => lock(&shared.unsure).push_back(id),
                }
            }
            (reply, None, None)
        }
        Op::List => (api.get("/v1/clients?limit=20&status=active", None).await, None, None),
        Op::Create => {
            let n = shared.counter.fetch_add(1, Ordering::SeqCst);
            let name = format!("Load {n} {}", uuid::Uuid::now_v7());
            let reply = if shared.options.keyed_creates {
                api.create_client_keyed(&name, &uuid::Uuid::new_v4().to_string()).await
            } else {
                api.create_client(&name).await
            };
            let acked = match (reply.ok(), reply.body["id"].as_str(), version_of(&reply)) {
                (true, Some(id), Some(version)) => {
                    lock(&shared.known).push(id.to_owned());
                    lock(&shared.idle).push_back((id.to_owned(), version));
                    Some(Acked {
                        id: id.to_owned(),
                        version,
                        owner: None,
                        parent: None,
                    })
                }
                _ => None,
            };
            (reply, acked, None)
        }
        Op::Patch => {
            let Some((id, version)) = lock(&shared.idle).pop_front() else {
                return false;
            };
            let owner = format!("owner-{}", shared.counter.fetch_add(1, Ordering::SeqCst));
            let reply = api.set_owner(&id, version, &owner).await;
            target = Some(id.clone());
            let acked = settle(shared, id, &reply, Some(owner), None);
            (reply, acked, Some(version + 1))
        }
        Op::Move => {
            let Some((id, version)) = lock(&shared.idle).pop_front() else {
                return false;
            };
            // Anchors only move to the top; others under a random anchor, or to the top one time in four.
            let parent =
                if shared.anchors.contains(&id) || shared.anchors.is_empty() || rand::rng().random_range(0..4) == 0 {
                    None
                } else {
                    Some(shared.anchors[rand::rng().random_range(0..shared.anchors.len())].clone())
                };
            let reply = api.set_parent(&id, version, parent.as_deref()).await;
            target = Some(id.clone());
            let acked = settle(shared, id, &reply, None, Some(parent));
            (reply, acked, Some(version + 1))
        }
    };
    let mut reply = reply;
    if shared.options.drop_bodies && reply.ok() {
        reply.body = serde_json::Value::Null;
    }
    lock(&shared.samples).push(Sample {
        op,
        at,
        reply,
        acked,
        attempted_version,
        target,
    });
    true
}

/// After a patch or a move of `id`: an acknowledged change puts the client back with its new version;
/// anything else leaves its version unknown (committed or not: a lost response tells nothing), so it is
/// re-read before it is changed again.
fn settle(
    shared: &Shared,
    id: String,
    reply: &Reply,
    owner: Option<String>,
    parent: Option<Option<String>>,
) -> Option<Acked> {
    match (reply.ok(), version_of(reply)) {
        (true, Some(new)) => {
            lock(&shared.idle).push_back((id.clone(), new));
            Some(Acked {
                id,
                version: new,
                owner,
                parent,
            })
        }
        _ => {
            lock(&shared.unsure).push_back(id);
            None
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
