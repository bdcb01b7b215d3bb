//! The write hot paths against their limits: a create (`POST /v1/clients` with an `Idempotency-Key`), a
//! patch with `If-Match`, and a move (a patch that changes `parent_id`). Each differs from a read in two ways
//! that the measurement has to respect:
//! - every request must be new: a fresh idempotency key, the ETag the client has now. wrk's Lua script does
//!   what a caller does: a new key per request, and the ETag of the previous response for that client
//!   ([`wrk_script`]). The ETags are read over HTTP before each run, so a run starts from the truth;
//! - its SQL is a transaction whose values change from one execution to the next (the new id, the key, the
//!   version the row is at). pgbench runs the captured transaction statement for statement
//!   ([`pgbench_script`]); the values that must vary become pgbench variables: a key from `\set`, the
//!   version from the service's own read of the row (`\gset`), and the ids from one expression added to the
//!   transaction's first statement (the `set_config` of the actor), so no statement and no round trip is
//!   added to what the service sends.
//!
//! The clients patched and moved are the benchmark's own, inserted once per database with ids a pgbench
//! expression can form (`b0000000-0000-7000-8000-` and a 12-digit number, [`bench_id`]). Each wrk thread
//! and each pgbench client works on its own share of them, in turn, so no two requests in flight touch the
//! same client: neither side waits for a row lock or meets a stale version the other would not.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};

use super::capture::Logged;
use super::limits::CONNECTIONS;

/// Clients patched (numbers 1..=PATCHED).
const PATCHED: u32 = 1024;
/// Clients moved (numbers MOVED_FROM + 1..=MOVED_FROM + MOVED).
const MOVED: u32 = 1024;
const MOVED_FROM: u32 = 10_000;
/// Parents the moved clients move between (numbers PARENTS_FROM + 1..=PARENTS_FROM + PARENTS): enough
/// that concurrent moves seldom lock the same tree, as in a real book.
const PARENTS: u32 = 512;
const PARENTS_FROM: u32 = 20_000;
/// The prefix of the benchmark's own client ids.
const ID_PREFIX: &str = "b0000000-0000-7000-8000-";
/// The same id formed in SQL from a pgbench variable.
fn id_sql(variable: &str) -> String {
    format!("('{ID_PREFIX}' || pg_catalog.lpad(:{variable}::text, 12, '0'))")
}

/// The id of the benchmark's client number `n`.
pub fn bench_id(n: u32) -> String {
    format!("{ID_PREFIX}{n:012}")
}

/// The body of every create.
pub const CREATE_BODY: &str =
    r#"{"display_name":"Bench Create","legal_name":"Bench Create Ltd","hq_country":"DE","employee_count":120}"#;

/// A write hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `POST /v1/clients` with an `Idempotency-Key`.
    Create,
    /// `PATCH /v1/clients/{id}` (`employee_count`) with `If-Match`.
    Patch,
    /// `PATCH /v1/clients/{id}` (`parent_id`) with `If-Match`.
    Move,
}

/// One request as sent.
pub struct Request {
    /// `POST` or `PATCH`.
    pub method: reqwest::Method,
    /// Path.
    pub path: String,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: String,
}

impl Write {
    /// The benchmark's clients this path writes (none for a create).
    fn clients(self) -> Vec<String> {
        match self {
            Write::Create => Vec::new(),
            Write::Patch => (1..=PATCHED).map(bench_id).collect(),
            Write::Move => (MOVED_FROM + 1..=MOVED_FROM + MOVED).map(bench_id).collect(),
        }
    }

    /// The statement that marks the path's transaction in the server log.
    pub fn marker(self) -> &'static str {
        match self {
            Write::Create => "INSERT INTO client_api.client",
            Write::Patch | Write::Move => "UPDATE client_api.client AS c SET",
        }
    }

    /// The parent the captured move goes to: the last of the parents, unless the client is there already.
    fn move_target(current_parent: Option<&str>) -> String {
        let last = bench_id(PARENTS_FROM + PARENTS);
        if current_parent == Some(last.as_str()) {
            bench_id(PARENTS_FROM + 1)
        } else {
            last
        }
    }

    /// The first client this path writes (the one whose request is captured), if any.
    pub fn sample_client(self) -> Option<String> {
        self.clients().into_iter().next()
    }

    /// The request captured for pgbench: the first client's, with `etag` and `parent` what it has now.
    pub fn sample(self, etag: Option<&str>, parent: Option<&str>) -> Request {
        let first = self.sample_client().unwrap_or_default();
        let patch = |body: String| Request {
            method: reqwest::Method::PATCH,
            path: format!("/v1/clients/{first}"),
            headers: vec![
                ("content-type", "application/merge-patch+json".to_owned()),
                ("if-match", etag.unwrap_or_default().to_owned()),
            ],
            body,
        };
        match self {
            Write::Create => Request {
                method: reqwest::Method::POST,
                path: "/v1/clients".into(),
                headers: vec![
                    ("content-type", "application/json".into()),
                    (
                        "idempotency-key",
                        format!(
                            "bench-capture-{}-{}",
                            std::process::id(),
                            std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map_or(0, |d| d.as_nanos())
                        ),
                    ),
                ],
                body: CREATE_BODY.into(),
            },
            Write::Patch => patch(format!(r#"{{"employee_count":{SAMPLE_EMPLOYEES}}}"#)),
            Write::Move => patch(format!(r#"{{"parent_id":"{}"}}"#, Write::move_target(parent))),
        }
    }
}

/// The `employee_count` of the captured patch (found again among the captured parameters).
const SAMPLE_EMPLOYEES: i32 = 4242;

/// Inserts the benchmark's own clients unless they exist: the parents, the clients moved between them
/// (each under a parent, so that every move is a move) and the clients patched. Run as the superuser, with
/// the schema's triggers (so the hierarchy columns and audit stamps are what the service would write).
///
/// # Errors
/// The inserts failing.
pub async fn set_up(admin: &tokio_postgres::Client) -> anyhow::Result<()> {
    let insert = |numbers: std::ops::RangeInclusive<u32>, parent: Option<(u32, u32)>| {
        let parent = parent.map_or_else(
            || "NULL::uuid".to_owned(),
            |(from, count)| format!("('{ID_PREFIX}' || lpad(({from} + 1 + n % ({count} - 1))::text, 12, '0'))::uuid"),
        );
        format!(
            "INSERT INTO client_api.client (id, display_name, legal_name, status, hq_country, employee_count, parent_id) \
             SELECT ('{ID_PREFIX}' || lpad(n::text, 12, '0'))::uuid, 'Bench Writer ' || n, 'Bench Writer ' || n || ' Ltd', \
             'prospect', 'DE', 100, {parent} FROM generate_series({}, {}) AS n ON CONFLICT (id) DO NOTHING",
            numbers.start(),
            numbers.end()
        )
    };
    admin
        .batch_execute(&insert(PARENTS_FROM + 1..=PARENTS_FROM + PARENTS, None))
        .await
        .context("inserting the benchmark's parents")?;
    // Under parents 1..PARENTS-1: the last parent is the first captured move's target.
    admin
        .batch_execute(&insert(
            MOVED_FROM + 1..=MOVED_FROM + MOVED,
            Some((PARENTS_FROM, PARENTS)),
        ))
        .await
        .context("inserting the benchmark's moved clients")?;
    admin
        .batch_execute(&insert(1..=PATCHED, None))
        .await
        .context("inserting the benchmark's patched clients")?;
    Ok(())
}

/// Quotes `text` as a Lua string.
fn lua(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The wrk script of a write path. `etags` are the clients' current ETags (same order as their ids), `nonce`
/// makes this run's idempotency keys unique.
pub fn wrk_script(write: Write, etags: &[String], nonce: &str) -> String {
    let ids = write.clients();
    let mut s = String::new();
    // Threads are numbered in setup (main state) and each takes its share of the clients in init.
    s.push_str(
        "local started = 0\nlocal threads = {}\nfunction setup(thread)\n  thread:set(\"tid\", started)\n  \
         started = started + 1\n  table.insert(threads, thread)\nend\n",
    );
    // The first refused request of each thread is printed at the end (the bench shows it): a failure
    // is a finding, and its problem document says what it was.
    s.push_str(
        "failure = nil\nfunction note(status, body)\n  if status > 299 and not failure then failure = status .. \" \" .. body end\nend\n\
         function done(summary, latency, requests)\n  for _, t in ipairs(threads) do\n    local f = t:get(\"failure\")\n    \
         if f then print(\"first failure: \" .. string.gsub(f, \"\\n\", \" \")) end\n  end\nend\n",
    );
    match write {
        Write::Create => {
            let _ = writeln!(s, "body = {}\nnonce = {}\ncount = 0", lua(CREATE_BODY), lua(nonce));
            s.push_str(
                "function request()\n  count = count + 1\n  wrk.headers[\"Content-Type\"] = \"application/json\"\n  \
                 wrk.headers[\"Idempotency-Key\"] = nonce .. \"-\" .. tid .. \"-\" .. count\n  \
                 return wrk.format(\"POST\", \"/v1/clients\", nil, body)\nend\n",
            );
            s.push_str("function response(status, headers, body)\n  note(status, body)\nend\n");
        }
        Write::Patch | Write::Move => {
            let list: Vec<String> = ids.iter().map(|id| lua(id)).collect();
            let _ = writeln!(s, "ids = {{ {} }}", list.join(", "));
            let tags: Vec<String> = ids
                .iter()
                .zip(etags)
                .map(|(id, tag)| format!("[{}] = {}", lua(id), lua(tag)))
                .collect();
            let _ = writeln!(s, "etags = {{ {} }}", tags.join(", "));
            if write == Write::Move {
                let parents: Vec<String> = (PARENTS_FROM + 1..=PARENTS_FROM + PARENTS)
                    .map(|n| lua(&bench_id(n)))
                    .collect();
                let _ = writeln!(s, "parents = {{ {} }}", parents.join(", "));
            }
            s.push_str(
                "function init(args)\n  mine = {}\n  local share = #ids / 2\n  \
                 for i = 1, share do mine[i] = ids[(tid % 2) * share + i] end\n  at = 0\nend\n",
            );
            let body = if write == Write::Patch {
                "'{\"employee_count\":' .. math.random(1, 1000000) .. '}'"
            } else {
                "'{\"parent_id\":\"' .. parents[math.random(#parents)] .. '\"}'"
            };
            let _ = write!(
                s,
                "function request()\n  at = at % #mine + 1\n  local id = mine[at]\n  \
                 wrk.headers[\"Content-Type\"] = \"application/merge-patch+json\"\n  \
                 wrk.headers[\"If-Match\"] = etags[id]\n  \
                 return wrk.format(\"PATCH\", \"/v1/clients/\" .. id, nil, {body})\nend\n"
            );
            // The next request for a client sends the ETag of this response (the body names the client).
            s.push_str(
                "function response(status, headers, body)\n  local id = string.match(body, '\"id\":\"([%x%-]+)\"')\n  \
                 local tag = headers[\"etag\"] or headers[\"ETag\"]\n  if id and tag then etags[id] = tag end\n  \
                 note(status, body)\nend\n",
            );
        }
    }
    s
}

/// The requests that read the current ETags of the path's clients (before each run).
pub fn etag_paths(write: Write) -> Vec<String> {
    write.clients().iter().map(|id| format!("/v1/clients/{id}")).collect()
}

/// A captured parameter that pgbench sets itself.
struct Vary {
    /// Text the statement contains.
    statement: &'static str,
    /// The parameter (1-based).
    param: usize,
    /// The pgbench variable bound instead.
    variable: &'static str,
    /// What the service bound there for the captured request (checked, so that a change to the service's
    /// SQL cannot silently bind the variable to another parameter); `None`: not known in advance.
    captured: Option<String>,
}

/// How one write path's transaction becomes a pgbench script.
struct Shape {
    /// `\set` lines first.
    preamble: Vec<String>,
    /// Columns added to the transaction's first statement (with `\gset`).
    mint: Vec<String>,
    vary: Vec<Vary>,
    /// (text the statement contains, `\gset` prefix): results read into variables.
    gsets: Vec<(&'static str, &'static str)>,
    /// `-D` initial values.
    defines: Vec<String>,
}

/// The statement that reads the client before a patch (the service's `load`).
const LOAD: &str = "FROM client_api.client AS c WHERE c.id = $1";
const UPDATE: &str = "UPDATE client_api.client AS c SET";
const MOVE: &str = "client_api.move_client(";

impl Shape {
    fn of(write: Write, sample_id: &str, version: Option<i64>, parent: Option<&str>) -> Self {
        let version = version.map(|v| v.to_string());
        let vary = |statement, param, variable, captured: Option<&String>| Vary {
            statement,
            param,
            variable,
            captured: captured.cloned(),
        };
        let id = Some(sample_id.to_owned());
        // Each pgbench client takes its own share of the clients, in turn (k counts its transactions).
        let share = |from: u32, count: u32| {
            let per = count / CONNECTIONS;
            vec![
                format!("\\set n {from} + :client_id * {per} + :k % {per} + 1"),
                "\\set k :k + 1".to_owned(),
            ]
        };
        match write {
            Write::Create => Shape {
                preamble: vec!["\\set key random(1, 9000000000000000000)".into()],
                // A time-ordered id like the service's UUIDv7 (random ids would scatter the primary key).
                mint: vec![
                    // Milliseconds since the epoch, the version 7, then the random bits (and variant) of a v4.
                    "(pg_catalog.lpad(pg_catalog.to_hex((extract(epoch FROM pg_catalog.clock_timestamp()) * 1000)::int8), 12, '0') \
                     || '-7' || pg_catalog.substr(pg_catalog.gen_random_uuid()::text, 16))::uuid AS nid"
                        .into(),
                ],
                vary: vec![
                    vary("client_api.idempotency_begin(", 2, "key", None),
                    vary("INSERT INTO client_api.client", 1, "nid", None),
                    vary("client_api.idempotency_complete(", 2, "key", None),
                ],
                gsets: Vec::new(),
                defines: Vec::new(),
            },
            Write::Patch => Shape {
                preamble: [share(0, PATCHED), vec!["\\set ec random(1, 1000000)".into()]].concat(),
                mint: vec![format!("{} AS cid", id_sql("n"))],
                vary: vec![
                    vary(LOAD, 1, "cid", id.as_ref()),
                    vary(UPDATE, 1, "cid", id.as_ref()),
                    vary(UPDATE, 2, "cur_version", version.as_ref()),
                    vary(UPDATE, 15, "ec", Some(&SAMPLE_EMPLOYEES.to_string())),
                ],
                gsets: vec![(LOAD, "cur_")],
                defines: vec!["k=0".into()],
            },
            Write::Move => Shape {
                preamble: [
                    share(MOVED_FROM, MOVED),
                    vec![format!("\\set pn {PARENTS_FROM} + random(1, {PARENTS})")],
                ]
                .concat(),
                mint: vec![format!("{} AS cid", id_sql("n")), format!("{} AS pid", id_sql("pn"))],
                vary: vec![
                    vary(LOAD, 1, "cid", id.as_ref()),
                    vary(MOVE, 1, "cid", id.as_ref()),
                    vary(MOVE, 2, "pid", Some(&Write::move_target(parent))),
                    vary(MOVE, 3, "cur_version", version.as_ref()),
                    vary(UPDATE, 1, "cid", id.as_ref()),
                    vary(UPDATE, 2, "mv_version", None),
                ],
                gsets: vec![(LOAD, "cur_"), (MOVE, "mv_")],
                defines: vec!["k=0".into()],
            },
        }
    }
}

/// The pgbench script of a write path from its captured transaction (`BEGIN` ... `COMMIT` and the position
/// query pipelined after it, as the service sends them), with its `-D` definitions. `sample_id`, `version`
/// and `parent` are the captured request's client, the version its If-Match named and the parent it had.
///
/// # Errors
/// The transaction does not have the expected shape (the service's SQL changed: the shape must follow).
pub fn pgbench_script(
    write: Write,
    statements: &[Logged],
    sample_id: &str,
    version: Option<i64>,
    parent: Option<&str>,
) -> anyhow::Result<(String, Vec<String>)> {
    let shape = Shape::of(write, sample_id, version, parent);
    let mut used = vec![false; shape.vary.len()];
    let mut text = String::new();
    let mut defines = shape.defines.clone();
    for line in &shape.preamble {
        text.push_str(line);
        text.push('\n');
    }
    let Some(commit) = statements.iter().position(|s| s.text() == "COMMIT") else {
        bail!("the captured {write:?} transaction has no COMMIT: {statements:?}");
    };
    if statements.first().map(Logged::text) != Some("BEGIN") {
        bail!("the captured {write:?} transaction does not start with BEGIN: {statements:?}");
    }
    let mut first = true;
    for (k, statement) in statements.iter().enumerate() {
        if k == commit {
            text.push_str("\\startpipeline\n");
        }
        let mut overrides = Vec::new();
        for (v, vary) in shape.vary.iter().enumerate() {
            if statement.text().contains(vary.statement) {
                if let Some(expected) = &vary.captured {
                    let bound = statement.param(vary.param);
                    if bound != Some(expected.as_str()) {
                        bail!(
                            "{write:?}: parameter ${} of `{}` is {bound:?}, expected {expected}: the service's SQL changed",
                            vary.param,
                            vary.statement
                        );
                    }
                }
                overrides.push((vary.param, vary.variable));
                used[v] = true;
            }
        }
        let (mut sql, names) = statement.for_pgbench_with(&format!("w{k}"), &overrides);
        defines.extend(names);
        let is_first = first && statement.text() != "BEGIN";
        if is_first {
            first = false;
        }
        let gset = shape.gsets.iter().find(|(marker, _)| statement.text().contains(marker));
        if is_first && !shape.mint.is_empty() {
            if !statement.text().contains("set_config('pcc.actor'") {
                bail!("{write:?}: the transaction's first statement is not the actor's set_config: {sql}");
            }
            let _ = writeln!(sql, ", {} \\gset", shape.mint.join(", "));
        } else if let Some((_, prefix)) = gset {
            let _ = writeln!(sql, " \\gset {prefix}");
        } else {
            sql.push_str(";\n");
        }
        text.push_str(&sql);
    }
    text.push_str("\\endpipeline\n");
    if let Some(v) = used.iter().position(|u| !u) {
        bail!(
            "{write:?}: no captured statement contains `{}`: the service's SQL changed",
            shape.vary[v].statement
        );
    }
    Ok((text, defines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_ids_are_uuids_and_the_sql_forms_the_same_text() {
        let id = bench_id(10_001);
        assert_eq!(id, "b0000000-0000-7000-8000-000000010001");
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{id}");
        assert_eq!(
            id_sql("n"),
            "('b0000000-0000-7000-8000-' || pg_catalog.lpad(:n::text, 12, '0'))"
        );
    }

    #[test]
    fn each_wrk_thread_takes_half_of_the_clients_and_follows_their_etags() {
        let ids = Write::Patch.clients();
        let tags: Vec<String> = ids.iter().map(|_| "\"1\"".to_owned()).collect();
        let script = wrk_script(Write::Patch, &tags, "n");
        assert!(
            script.contains("[\"b0000000-0000-7000-8000-000000000001\"] = \"\\\"1\\\"\""),
            "{script}"
        );
        assert!(script.contains("etags[id] = tag"), "{script}");
        assert!(script.contains("(tid % 2) * share"), "{script}");
        let create = wrk_script(Write::Create, &[], "run-7");
        assert!(create.contains("nonce = \"run-7\""), "{create}");
        assert!(create.contains("Idempotency-Key"), "{create}");
    }

    fn logged(text: &str, params: &[&str]) -> Logged {
        Logged::new(7, "svc", text, params.iter().map(|p| Some((*p).to_owned())).collect())
    }

    #[test]
    fn a_patch_transaction_binds_the_version_it_read_and_pipelines_the_commit() {
        let id = bench_id(1);
        let mut update_params: Vec<&str> = vec![&id, "3"];
        update_params.extend(std::iter::repeat_n("x", 12));
        update_params.push("4242");
        update_params.extend(["y"; 5]);
        let tx = vec![
            logged("BEGIN", &[]),
            logged(
                "SELECT pg_catalog.set_config('pcc.actor', $1, true), pg_catalog.set_config('pcc.request_id', $2, true)",
                &["bench", "r1"],
            ),
            logged(
                "SELECT c.id, c.version FROM client_api.client AS c WHERE c.id = $1",
                &[&id],
            ),
            logged(
                "UPDATE client_api.client AS c SET employee_count = $15 WHERE c.id = $1 AND c.version = $2",
                &update_params,
            ),
            logged("COMMIT", &[]),
            logged("SELECT pg_catalog.pg_current_wal_insert_lsn()", &[]),
        ];
        let (text, defines) = pgbench_script(Write::Patch, &tx, &id, Some(3), None).expect("shape");
        assert!(text.contains("AS cid \\gset\n"), "{text}");
        assert!(text.contains("WHERE c.id = :cid \\gset cur_\n"), "{text}");
        assert!(
            text.contains("employee_count = :ec WHERE c.id = :cid AND c.version = :cur_version;"),
            "{text}"
        );
        assert!(
            text.contains("\\startpipeline\nCOMMIT;\nSELECT pg_catalog.pg_current_wal_insert_lsn();\n\\endpipeline\n"),
            "{text}"
        );
        assert!(defines.contains(&"k=0".to_owned()), "{defines:?}");
        assert!(
            defines.iter().all(|d| !d.contains(&id)),
            "the id is formed by pgbench: {defines:?}"
        );
        // A service that binds something else where the version was expected is refused.
        let mut wrong = tx.clone();
        wrong[3] = logged(
            "UPDATE client_api.client AS c SET employee_count = $15 WHERE c.id = $1 AND c.version = $2",
            &[&id, "9"],
        );
        assert!(pgbench_script(Write::Patch, &wrong, &id, Some(3), None).is_err());
        assert!(
            pgbench_script(Write::Patch, &tx[1..], &id, Some(3), None).is_err(),
            "no BEGIN"
        );
    }
}
