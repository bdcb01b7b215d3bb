//! Scenario 5: the service's password is rotated with `pccdb rotate --wait` under load, through to
//! the retirement of the old login after its grace period. Guarantees: no request fails, and the
//! service moves to the new login within the grace period (it reads the credential's `current`
//! alias and refreshes it periodically), so the retired login has no sessions left.

use std::collections::BTreeMap;
use std::time::Duration;

use fault_suite::load::{self, Load, Rates};
use fault_suite::platform::{DATABASE, SERVICE};
use fault_suite::{PlatformOptions, Report};
use pg_launcher::NodeName;
use tokio_postgres::Client;

use crate::common::{Rig, calibrate, describe_failures, finish, secs};

/// The service's sessions per login on one server.
async fn sessions_by_login(session: &Client) -> BTreeMap<String, i64> {
    session
        .query(
            "SELECT usename::text, count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 GROUP BY 1",
            &[&DATABASE, &SERVICE],
        )
        .await
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn s5_password_rotation_under_load() {
    let mut report = Report::new("s5_rotation", "password rotation (pccdb rotate --wait) under load");
    // Short lifetimes so the scenario takes seconds; production: 30 min lifetime, 65 min grace.
    let options = PlatformOptions {
        max_lifetime: "1s",
        rotation_grace: "4s",
        credentials_refresh: "500ms",
        ..PlatformOptions::default()
    };
    let rig = Rig::start(options, &[("PCC_DB_CREDENTIALS_REFRESH_MS", "500".to_owned())]).await;
    report.measured("setup_s", rig.setup_times());
    report.measured("pool_max_lifetime_s", 1);
    report.measured("rotation_grace_s", 4);
    report.measured("credential_refresh_s", 0.5);
    let clients = load::seed(&rig.api, 30).await;
    rig.replica_serving().await;
    let primary = rig.platform.superuser(NodeName::Primary, "postgres").await;
    let replica = rig.platform.superuser(NodeName::Replica, "postgres").await;
    let before = sessions_by_login(&primary).await;
    let old_login = before
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| panic!("the service has no sessions on the primary"));
    report.measured("sessions_before", &before);

    let capacity = calibrate(&rig, &mut report).await;
    let rates = Rates::production(capacity.list_per_s);
    report.measured("load_rates_per_s", rates);
    let load = Load::start(rig.api.clone(), &clients, rates);
    // A closed loop of 8 callers beside the steady rate.
    let closed_clients = load::seed(&rig.api, 20).await;
    let closed = Load::closed_loop(rig.api.clone(), &closed_clients, 8, Rates::steady());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rotate_at = load.now();
    let rotation = rig.platform.pccdb(&["rotate", "--service", SERVICE, "--wait"], None);
    tokio::pin!(rotation);
    // Watch the service's logins while the rotation runs. Sessions are read before the alias, so
    // a new-login session seen while the alias still names the old version is proof of a login
    // taken from a credential that was not yet `current` (its password may not work yet).
    let alias = rig.platform.credentials_file().join("aliases").join("current");
    let alias_before = std::fs::read_to_string(&alias).unwrap_or_default();
    let mut first_new_login_at = None;
    let mut premature = None;
    let run = loop {
        tokio::select! {
            run = &mut rotation => break run,
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                let now = sessions_by_login(&primary).await;
                let new_login = now.keys().any(|login| *login != old_login);
                if new_login && first_new_login_at.is_none() {
                    first_new_login_at = Some(load.now() - rotate_at);
                }
                if new_login && premature.is_none() && std::fs::read_to_string(&alias).unwrap_or_default() == alias_before {
                    premature = Some(now);
                }
            }
        }
    };
    let retired_at = load.now();
    let run = run.expect_success("pccdb rotate");
    report.injected(format!(
        "`pccdb rotate --service {SERVICE} --wait` at t={:.2}s: {}",
        rotate_at.as_secs_f64(),
        run.stdout.lines().map(str::trim).collect::<Vec<_>>().join(" | ")
    ));
    let at_retirement = (sessions_by_login(&primary).await, sessions_by_login(&replica).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let samples = load.stop().await;
    let closed = closed.stop().await;
    let after = (sessions_by_login(&primary).await, sessions_by_login(&replica).await);

    report.measured("requests", fault_suite::report::summarize(&samples));
    report.measured("rotation_s", secs(retired_at - rotate_at));
    report.measured("first_session_of_new_login_after_s", first_new_login_at.map(secs));
    report.measured("sessions_at_retirement_primary", &at_retirement.0);
    report.measured("sessions_at_retirement_replica", &at_retirement.1);
    report.measured("sessions_after_primary", &after.0);
    report.measured("sessions_after_replica", &after.1);

    let failed: Vec<_> = samples.iter().filter(|s| !s.reply.ok()).collect();
    let closed_failed: Vec<_> = closed.iter().filter(|s| !s.reply.ok()).collect();
    report.measured(
        "closed_loop",
        serde_json::json!({
            "workers": 8,
            "requests": fault_suite::report::summarize(&closed),
            "failed": closed_failed.len(),
        }),
    );
    report.measured("steady_failed", failed.len());
    report.check(
        "zero failed requests at the steady rate",
        failed.is_empty(),
        describe_failures(failed.into_iter()),
    );
    report.check(
        "zero failed requests in the closed loop",
        closed_failed.is_empty(),
        describe_failures(closed_failed.into_iter()),
    );
    report.check(
        "the service logs in only with the credential the alias `current` names",
        premature.is_none() && !alias_before.is_empty(),
        premature.map_or_else(
            || format!("alias {} moved before any session of the new login", alias.display()),
            |s| {
                format!(
                    "sessions {s:?} while the alias still named version {}",
                    alias_before.trim()
                )
            },
        ),
    );
    let old_left = |m: &BTreeMap<String, i64>| m.get(&old_login).copied().unwrap_or(0);
    report.check(
        "the service moved to the new login within the grace period",
        first_new_login_at.is_some() && old_left(&at_retirement.0) + old_left(&at_retirement.1) == 0,
        format!(
            "old login {old_login}: {} sessions on the primary, {} on the replica when it was retired",
            old_left(&at_retirement.0),
            old_left(&at_retirement.1)
        ),
    );
    report.check(
        "the service keeps serving on the new login",
        old_left(&after.0) + old_left(&after.1) == 0 && after.0.values().sum::<i64>() > 0,
        format!("after: primary {:?}, replica {:?}", after.0, after.1),
    );
    finish(&report);
}
