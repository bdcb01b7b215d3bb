//! `capacity` on the real cluster: sizes and top tables of the service databases, the
//! connection budget and current use, snapshots appended to the history, and growth measured
//! against an older snapshot to project the months left before the storage limit.

use crate::common;

use std::time::Duration;

use common::{Harness, Opts};
use provision::capacity::{Snapshot, capacity, read_history};

#[tokio::test]
async fn sizes_budget_history_growth_and_projection() {
    let h = Harness::new(Opts {
        extra: "monthly_growth = \"10MB\"",
        env_extra: "storage_limit = \"10GB\"",
        ..Opts::default()
    })
    .await;
    provision::apply::provision(&h.manifest, &h.env, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let d = h.deployment(0);
    let su = h.server.superuser(d.names.database.as_str()).await;
    su.batch_execute(&format!(
        "SET ROLE {owner}; CREATE TABLE {s}.big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g",
        owner = d.names.owner,
        s = d.names.schema
    ))
    .await
    .unwrap();

    // A database on the same cluster that the (non-superuser) admin was never granted: capacity lists it as
    // unmeasured instead of failing (pg_database_size needs CONNECT), as on a cluster shared with other teams.
    let foreign = test_support::unique_name("foreign");
    su.batch_execute("RESET ROLE").await.unwrap();
    su.batch_execute(&format!("CREATE DATABASE {foreign}")).await.unwrap();
    su.batch_execute(&format!("REVOKE CONNECT ON DATABASE {foreign} FROM PUBLIC"))
        .await
        .unwrap();

    let first = capacity(&h.manifest, &h.env, true).await.unwrap();
    assert!(
        first.unmeasured.contains(&foreign),
        "unmeasured: {:?}",
        first.unmeasured
    );
    su.batch_execute(&format!("DROP DATABASE {foreign}")).await.unwrap();
    assert_eq!(first.databases.len(), 1);
    let db = &first.databases[0];
    assert_eq!(db.database, d.names.database.as_str());
    assert_eq!(db.top_tables[0].0, format!("{}.big", d.names.schema));
    assert!(
        db.top_tables[0].1.0 > 4_000_000,
        "20000 rows of 200 bytes: {:?}",
        db.top_tables
    );
    assert!(!first.growth_measured);
    assert_eq!(first.monthly_growth, 10 << 20, "no history: the manifest's estimate");
    let limit = 10u64 << 30;
    let expected = (limit - first.total.0) as f64 / f64::from(10u32 << 20);
    assert!((first.months_until_limit.unwrap() - expected).abs() < 1e-6);
    assert!(first.budgets[0].fits() && first.budgets[0].lines[0].connections == 10);
    assert!(first.usage.iter().any(|u| u.connections > 0));
    let path = &h.env().capacity_history;
    assert_eq!(read_history(path).unwrap().len(), 1);

    // An older snapshot, 10 MB smaller, ten days ago: growth is measured against it (the
    // snapshot just taken is too recent to compare with).
    let ten_days_ago = (time::OffsetDateTime::now_utc() - time::Duration::days(10))
        .replace_nanosecond(0)
        .unwrap();
    let old = Snapshot {
        taken_at: ten_days_ago,
        total_bytes: first.total.0 - (10 << 20),
        databases: Default::default(),
    };
    let mut lines = std::fs::read_to_string(path).unwrap();
    lines.insert_str(0, &format!("{}\nnot json\n", serde_json::to_string(&old).unwrap()));
    std::fs::write(path, lines).unwrap();
    let second = capacity(&h.manifest, &h.env, false).await.unwrap();
    assert!(second.growth_measured);
    assert_eq!(second.previous_snapshot, Some(ten_days_ago));
    // Growth is the change since that snapshot scaled to 30 days (the cluster is shared, so
    // compare with the total this run measured, not with a fixed figure).
    let per_month = (second.total.0 as f64 - old.total_bytes as f64) * 3.0;
    assert!(
        (second.monthly_growth as f64 - per_month).abs() <= per_month.abs() * 0.01 + 1.0,
        "{} vs {per_month}",
        second.monthly_growth
    );
    assert_eq!(
        read_history(path).unwrap().len(),
        2,
        "the malformed line is skipped, --no-record appended nothing"
    );
}
