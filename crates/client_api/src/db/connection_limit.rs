//! Whether the pools fit the login. PostgreSQL refuses a role's connections past its `CONNECTION LIMIT`
//! (SQLSTATE 53300, counted on each server), so a pool larger than the limit fails exactly when the load it
//! was sized for arrives: the connections past the limit are refused and the requests waiting for them get
//! 503. The deployment sizes both from one manifest (`pccdb capacity` budgets it, the rendered Deployment
//! sets `PCC_DB_POOL_MAX`); a pool size set by hand can disagree, and the service says so once it can ask
//! the primary (a role's limit is a catalog attribute, the same on the replica).

use std::time::Duration;

use crate::db::{Consistency, Db, Query as _};
use crate::error::ApiError;

/// The warning for pools (setting name, size) larger than the login's limit, if any.
///
/// # Errors
/// The primary could not be asked.
pub async fn check(db: &Db, pools: &[(&'static str, usize)]) -> Result<Option<String>, ApiError> {
    let row = db
        .read(Consistency::Strong)
        .query_one(
            "SELECT current_user::text, r.rolconnlimit FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user",
            &[],
        )
        .await?;
    Ok(excess(&row.get::<_, String>(0), row.get(1), pools))
}

/// The warning when a pool exceeds `limit` (-1: no limit).
fn excess(login: &str, limit: i32, pools: &[(&'static str, usize)]) -> Option<String> {
    let limit_size = usize::try_from(limit).ok()?;
    let over: Vec<String> = pools
        .iter()
        .filter(|(_, size)| *size > limit_size)
        .map(|(name, size)| format!("{name} ({size})"))
        .collect();
    (!over.is_empty()).then(|| {
        format!(
            "{} exceed{} the CONNECTION LIMIT of the login {login} ({limit}): under load the connections past \
             {limit} are refused and their requests get 503; set the pool to at most {limit} or raise the limit \
             (pccdb apply sizes both from the manifest)",
            over.join(" and "),
            if over.len() == 1 { "s" } else { "" }
        )
    })
}

/// Checks in the background (the primary may not be up yet at start-up: asks again every 10 s until it
/// answers) and logs the warning once.
pub fn spawn(db: Db, pools: Vec<(&'static str, usize)>) {
    tokio::spawn(async move {
        loop {
            match check(&db, &pools).await {
                Ok(Some(warning)) => {
                    tracing::warn!("{warning}");
                    return;
                }
                Ok(None) => return,
                Err(_) => tokio::time::sleep(Duration::from_secs(10)).await,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_pool_over_the_limit_and_nothing_within_it() {
        let warning = excess(
            "client_api_user",
            10,
            &[("PCC_DB_POOL_MAX", 15), ("PCC_DB_REPLICA_POOL_MAX", 10)],
        )
        .expect("over");
        assert!(
            warning.starts_with("PCC_DB_POOL_MAX (15) exceeds the CONNECTION LIMIT of the login client_api_user (10)"),
            "{warning}"
        );
        assert!(!warning.contains("REPLICA"), "{warning}");
        let both = excess("u", 4, &[("A", 5), ("B", 6)]).expect("over");
        assert!(both.starts_with("A (5) and B (6) exceed the"), "{both}");
        assert_eq!(excess("u", 10, &[("A", 10)]), None);
        assert_eq!(excess("u", -1, &[("A", 1000)]), None, "-1 is no limit");
    }
}
