//! Shared test plumbing: each test's own copy of the service database as production has it
//! (test_support::service_database: deploy/pcc.toml brought up by the platform library, the migrate engine
//! with its history table), sessions that act as the service's real login, fixtures and assertions on
//! SQLSTATEs, constraint names and the whole-hierarchy invariant.

use test_support::{ServiceDatabase, service_database};
use tokio_postgres::Client;
use tokio_postgres::error::DbError;
use uuid::Uuid;

/// The service whose schema these tests prove (its manifest entry and `migrations/client_api`).
pub const SERVICE: &str = "pcc-client-api";

/// One test's database.
pub struct Db {
    pub db: ServiceDatabase,
}

impl Db {
    /// A fresh copy of the provisioned, migrated service database.
    pub async fn new() -> Self {
        Self {
            db: service_database(SERVICE).await,
        }
    }

    /// A superuser session (for catalog queries and what only the owner may do).
    pub async fn admin(&self) -> Client {
        self.db.db().connect().await
    }

    /// A session as the service's login whose transactions act for `actor` (pcc.actor).
    pub async fn service(&self, actor: &str) -> Client {
        let client = self.db.connect_as_service().await;
        client
            .execute("SELECT pg_catalog.set_config('pcc.actor', $1, false)", &[&actor])
            .await
            .expect("acting as the service");
        client
    }

    /// A session as the owner role (superuser with `SET ROLE`, as migrations run).
    pub async fn owner(&self) -> Client {
        self.db.connect_as_owner().await
    }

    /// The owner role's name (from the manifest's naming convention).
    pub fn owner_role(&self) -> &str {
        self.db.names().owner.as_str()
    }
}

/// The server's message, SQLSTATE, detail and hint in one line.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => e.to_string(),
    }
}

/// The server error inside `result`, which must have failed with `code` (and, when given, `constraint`).
pub fn expect_error<T: std::fmt::Debug>(
    result: Result<T, tokio_postgres::Error>,
    code: &str,
    constraint: Option<&str>,
) -> DbError {
    let error = match result {
        Ok(value) => panic!("expected SQLSTATE {code}, but the statement succeeded: {value:?}"),
        Err(e) => e,
    };
    let db = error
        .as_db_error()
        .unwrap_or_else(|| panic!("expected SQLSTATE {code}, got {error}"))
        .clone();
    assert_eq!(db.code().code(), code, "unexpected error: {}", db.message());
    if let Some(name) = constraint {
        assert_eq!(db.constraint(), Some(name), "constraint of: {}", db.message());
    }
    db
}

/// The SQLSTATE of a failed statement, or `None` when it succeeded.
pub fn sqlstate<T>(result: &Result<T, tokio_postgres::Error>) -> Option<String> {
    result
        .as_ref()
        .err()
        .map(|e| e.code().map_or_else(|| e.to_string(), |c| c.code().to_owned()))
}

/// Inserts a client named `name` (legal name `<name> Ltd`) under `parent`; returns its id.
pub async fn new_client(client: &Client, name: &str, parent: Option<Uuid>) -> Uuid {
    client
        .query_one(
            "INSERT INTO client_api.client (display_name, legal_name, parent_id) VALUES ($1, $1 || ' Ltd', $2) \
             RETURNING id",
            &[&name, &parent],
        )
        .await
        .unwrap_or_else(|e| panic!("inserting client {name}: {}", describe(&e)))
        .get(0)
}

/// Moves `id` under `parent` through client_api.move_client.
pub async fn move_client(client: &Client, id: Uuid, parent: Option<Uuid>) -> Result<(), tokio_postgres::Error> {
    client
        .query("SELECT id FROM client_api.move_client($1, $2)", &[&id, &parent])
        .await
        .map(drop)
}

/// Asserts, for every client, that root_id, depth and path equal what its parent chain says, that the chain
/// is acyclic and that no live client sits under a deleted one. Independent of the triggers: recomputed here
/// from parent_id alone.
pub async fn assert_hierarchy_consistent(client: &Client) {
    let rows = client
        .query(
            "WITH RECURSIVE chain (id, root_id, depth, path, live_chain) AS (
                 SELECT id, id, 0, '/' || id::text || '/', deleted_at IS NULL
                   FROM client_api.client WHERE parent_id IS NULL
                 UNION ALL
                 SELECT c.id, chain.root_id, chain.depth + 1, chain.path || c.id::text || '/',
                        chain.live_chain AND c.deleted_at IS NULL
                   FROM client_api.client AS c JOIN chain ON c.parent_id = chain.id
             )
             SELECT c.id::text, c.path, chain.path, c.depth, chain.depth, c.root_id = chain.root_id,
                    c.deleted_at IS NULL AND NOT EXISTS (
                        SELECT 1 FROM client_api.client AS p
                         WHERE p.deleted_at IS NOT NULL AND c.path LIKE p.path || '%' AND p.id <> c.id)
                    OR c.deleted_at IS NOT NULL
               FROM client_api.client AS c LEFT JOIN chain ON chain.id = c.id",
            &[],
        )
        .await
        .expect("hierarchy query");
    for row in rows {
        let id: String = row.get(0);
        let expected: Option<String> = row.get(2);
        let Some(expected) = expected else {
            panic!("client {id} is not reachable from any root: its parent chain is a cycle");
        };
        assert_eq!(row.get::<_, String>(1), expected, "path of {id}");
        assert_eq!(i32::from(row.get::<_, i16>(3)), row.get::<_, i32>(4), "depth of {id}");
        assert!(row.get::<_, bool>(5), "root of {id}");
        assert!(row.get::<_, bool>(6), "live client {id} under a deleted ancestor");
    }
}

/// The process id of a session, to watch it wait.
pub async fn backend_pid(client: &Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}

/// Returns once session `pid` is blocked on a lock (polls pg_stat_activity; no time limit of its own, the test
/// harness's timeout applies).
pub async fn wait_until_blocked(observer: &Client, pid: i32) {
    loop {
        let waiting: bool = observer
            .query_one(
                "SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if waiting {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
