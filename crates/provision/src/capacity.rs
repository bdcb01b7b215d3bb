//! `capacity`: database and top-table sizes, growth since the last snapshot, months until the
//! cluster's storage limit, and the connection budget per service with current usage.
//!
//! Snapshots are appended to a JSON-lines history file (`capacity_history` in the manifest),
//! one line per run: `{"taken_at": "...", "total_bytes": n, "databases": {"name": n}}`. Growth
//! is measured against the newest earlier snapshot at least an hour old; without one, the
//! projection uses the manifest's `monthly_growth` estimates.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use time::OffsetDateTime;

use crate::apply::AdminSession;
use crate::budget::{self, Budget};
use crate::error::ProvisionError;
use crate::manifest::{Environment, Manifest};
use crate::units::ByteSize;

/// One snapshot line of the history file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// When it was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub taken_at: OffsetDateTime,
    /// All databases together.
    pub total_bytes: u64,
    /// Each database.
    pub databases: BTreeMap<String, u64>,
}

/// One managed database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseCapacity {
    /// The service.
    pub service: String,
    /// The database.
    pub database: String,
    /// Its size now.
    pub size: ByteSize,
    /// The manifest's estimate.
    pub estimate: ByteSize,
    /// Growth since the previous snapshot, if there is one.
    pub growth_since_last: Option<i64>,
    /// The largest tables (name, total size with indexes and TOAST).
    pub top_tables: Vec<(String, ByteSize)>,
}

/// One role's open connections now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Usage {
    /// The role.
    pub role: String,
    /// Connections on the primary.
    pub connections: i64,
}

/// The capacity report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CapacityReport {
    /// The environment.
    pub environment: String,
    /// Managed databases.
    pub databases: Vec<DatabaseCapacity>,
    /// All databases of the cluster together (those in `unmeasured` not counted).
    pub total: ByteSize,
    /// Databases the admin may not size (no CONNECT privilege and no pg_read_all_stats): the total is a
    /// lower bound while this is not empty.
    pub unmeasured: Vec<String>,
    /// The storage limit from the manifest.
    pub storage_limit: Option<ByteSize>,
    /// The snapshot compared against.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_snapshot: Option<OffsetDateTime>,
    /// Bytes per 30 days, measured or estimated.
    pub monthly_growth: i64,
    /// Whether `monthly_growth` was measured (else from the manifest's estimates).
    pub growth_measured: bool,
    /// Months until the storage limit at that growth (`None` without a limit or without growth).
    pub months_until_limit: Option<f64>,
    /// Connection budgets (primary, and replica when used).
    pub budgets: Vec<Budget>,
    /// Current connections per role on the primary.
    pub usage: Vec<Usage>,
}

fn sql_err(statement: &str, source: tokio_postgres::Error) -> ProvisionError {
    ProvisionError::Sql {
        context: "capacity".to_owned(),
        statement: statement.to_owned(),
        source,
    }
}

/// Reads the history file (missing file: no history).
///
/// # Errors
/// [`ProvisionError::Io`] for an unreadable file; malformed lines are skipped with a warning.
pub fn read_history(path: &Path) -> Result<Vec<Snapshot>, ProvisionError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ProvisionError::Io {
                action: "read capacity history",
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str::<Snapshot>(line) {
            Ok(s) => out.push(s),
            Err(e) => {
                tracing::warn!(path = %path.display(), line = i + 1, error = %e, "skipping a malformed capacity snapshot")
            }
        }
    }
    Ok(out)
}

fn append(path: &Path, snapshot: &Snapshot) -> Result<(), ProvisionError> {
    let fail = |source| ProvisionError::Io {
        action: "append to capacity history",
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(fail)?;
    let line = serde_json::to_string(snapshot).expect("snapshots serialize");
    writeln!(file, "{line}").map_err(fail)
}

/// Measures capacity of `env`; appends a snapshot to the history when `record`.
///
/// # Errors
/// Connection, SQL and history file errors.
pub async fn capacity(manifest: &Manifest, env_name: &str, record: bool) -> Result<CapacityReport, ProvisionError> {
    let env = manifest.environment(env_name)?;
    let session = AdminSession::open(env).await?;
    let now = OffsetDateTime::now_utc();
    // pg_database_size needs CONNECT on the database (or pg_read_all_stats): on a cluster shared with
    // databases the admin was never granted, those are listed as unmeasured instead of failing the report.
    let sql = "SELECT datname::text,
                      CASE WHEN pg_catalog.has_database_privilege(oid, 'CONNECT')
                             OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
                           THEN pg_catalog.pg_database_size(oid) END
                 FROM pg_catalog.pg_database WHERE datallowconn ORDER BY 1";
    let mut sizes = BTreeMap::new();
    let mut unmeasured = Vec::new();
    for r in session.client.query(sql, &[]).await.map_err(|e| sql_err(sql, e))? {
        match r.get::<_, Option<i64>>(1) {
            Some(size) => {
                sizes.insert(r.get::<_, String>(0), u64::try_from(size).unwrap_or(0));
            }
            None => unmeasured.push(r.get::<_, String>(0)),
        }
    }
    let total: u64 = sizes.values().sum();
    let history = read_history(&env.capacity_history)?;
    let previous = history
        .iter()
        .rev()
        .find(|s| now - s.taken_at >= time::Duration::hours(1));
    let databases = managed(&session, manifest, env, &sizes, previous).await?;
    let (monthly_growth, growth_measured) = match previous {
        Some(p) => {
            let days = (now - p.taken_at).as_seconds_f64() / 86_400.0;
            let delta = i128::from(total) - i128::from(p.total_bytes);
            (
                i64::try_from((delta as f64 / days * 30.0) as i128).unwrap_or(i64::MAX),
                true,
            )
        }
        None => (
            manifest
                .deployments(env)
                .iter()
                .map(|d| i64::try_from(d.sizing.monthly_growth.0).unwrap_or(0))
                .sum(),
            false,
        ),
    };
    let months_until_limit = env
        .storage_limit
        .and_then(|limit| (monthly_growth > 0).then(|| (limit.0.saturating_sub(total)) as f64 / monthly_growth as f64));
    let max = match env.max_connections {
        crate::manifest::MaxConnections::Fixed(n) => n,
        crate::manifest::MaxConnections::FromServer => {
            let r = session
                .client
                .query_one("SELECT current_setting('max_connections')::int", &[])
                .await
                .map_err(|e| sql_err("SHOW max_connections", e))?;
            u32::try_from(r.get::<_, i32>(0)).unwrap_or(0)
        }
    };
    let budgets = [
        Some(budget::primary(manifest, env, max)),
        budget::replica(manifest, env, max),
    ]
    .into_iter()
    .flatten()
    .collect();
    let sql =
        "SELECT coalesce(usename::text, '(background)'), count(*) FROM pg_stat_activity GROUP BY 1 ORDER BY 2 DESC";
    let usage = session
        .client
        .query(sql, &[])
        .await
        .map_err(|e| sql_err(sql, e))?
        .iter()
        .map(|r| Usage {
            role: r.get(0),
            connections: r.get(1),
        })
        .collect();
    if record {
        append(
            &env.capacity_history,
            &Snapshot {
                taken_at: now,
                total_bytes: total,
                databases: sizes,
            },
        )?;
    }
    Ok(CapacityReport {
        environment: env.name.to_string(),
        databases,
        total: ByteSize(total),
        unmeasured,
        storage_limit: env.storage_limit,
        previous_snapshot: previous.map(|p| p.taken_at),
        monthly_growth,
        growth_measured,
        months_until_limit,
        budgets,
        usage,
    })
}

async fn managed(
    session: &AdminSession,
    manifest: &Manifest,
    env: &Environment,
    sizes: &BTreeMap<String, u64>,
    previous: Option<&Snapshot>,
) -> Result<Vec<DatabaseCapacity>, ProvisionError> {
    let mut out = Vec::new();
    for d in manifest.deployments(env) {
        let name = d.names.database.to_string();
        let Some(size) = sizes.get(&name).copied() else {
            continue;
        };
        let client = session.connect_to(&name).await?;
        let sql = "SELECT format('%I.%I', n.nspname, c.relname), pg_total_relation_size(c.oid) FROM pg_class c \
                   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm') \
                   AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 2 DESC LIMIT 5";
        let top_tables = client
            .query(sql, &[])
            .await
            .map_err(|e| sql_err(sql, e))?
            .iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    ByteSize(u64::try_from(r.get::<_, i64>(1)).unwrap_or(0)),
                )
            })
            .collect();
        let growth_since_last = previous
            .and_then(|p| p.databases.get(&name))
            .map(|before| i64::try_from(i128::from(size) - i128::from(*before)).unwrap_or(0));
        out.push(DatabaseCapacity {
            service: d.service.name.to_string(),
            database: name,
            size: ByteSize(size),
            estimate: d.sizing.size_estimate,
            growth_since_last,
            top_tables,
        });
    }
    Ok(out)
}
