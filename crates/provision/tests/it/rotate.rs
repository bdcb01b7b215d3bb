//! Credential rotation on the real cluster: zero failed queries under continuous pool load,
//! convergence after a crash between any two steps, healing a broken credential.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Harness, Opts, login, sqlstate, superuser};
use provision::rotate::{Mode, Outcome, RotationTarget, Rotator, Step, decide, targets};
use secrets::{CachedCredential, SecretName, VersionRef, VersionState};

const LOCK_WAIT: Duration = Duration::from_secs(120);

async fn provisioned(opts: Opts) -> Harness {
    let h = Harness::new(opts).await;
    provision::apply::apply(&h.manifest, &h.env, LOCK_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let session = h.session().await;
    provision::rotate::converge(&session, &h.manifest, h.env(), LOCK_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    h
}

fn service_target(h: &Harness) -> RotationTarget {
    targets(&h.manifest, h.env())
        .into_iter()
        .find(|t| t.is_service)
        .unwrap()
}

/// Creates the load tests' `ticks` table in the first deployment's schema, as its owner (through
/// the migrator's login, as a migration would); returns the schema.
async fn create_ticks(h: &Harness, t: &RotationTarget) -> String {
    let d = h.deployment(0);
    let schema = d.names.schema.to_string();
    let migrator = h
        .credential(&format!("{}-{}-db", h.migrator.replace('_', "-"), h.env))
        .await;
    login(&t.database, &migrator)
        .await
        .unwrap()
        .batch_execute(&format!(
            "SET ROLE {}; CREATE TABLE {schema}.ticks (id bigint GENERATED ALWAYS AS IDENTITY)",
            d.names.owner
        ))
        .await
        .unwrap();
    schema
}

/// The invariants of a settled rotation target.
async fn assert_settled(h: &Harness, t: &RotationTarget) {
    let store = h.store();
    let current = h.credential(t.secret.as_str()).await;
    login(&t.database, &current)
        .await
        .unwrap_or_else(|e| panic!("current credential of {} does not log in: {e}", t.secret));
    let su = superuser("postgres").await;
    for l in &t.logins {
        let row = su
            .query_one(
                "SELECT rolcanlogin, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
                &[l],
            )
            .await
            .unwrap();
        let (can, comment): (bool, Option<String>) = (row.get(0), row.get(1));
        assert_eq!(
            can,
            *l == current.username,
            "LOGIN of {l} (current is {})",
            current.username
        );
        assert_eq!(comment, None, "{l} still carries a retirement mark");
    }
    let aliases = store.aliases(&t.secret).await.unwrap();
    let current_version = aliases.values().next().copied().unwrap();
    let enabled: Vec<_> = store
        .list_versions(&t.secret)
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.state == VersionState::Enabled)
        .map(|v| v.version)
        .collect();
    assert_eq!(enabled, [current_version], "only the current version stays enabled");
}

#[tokio::test]
async fn a_crash_between_any_two_steps_then_a_rerun_converges() {
    let h = provisioned(Opts {
        max_lifetime: "1ms",
        // Longer than lifetime 1ms + credentials refresh 100ms (the fixture's) + no secret sync.
        grace: "150ms",
        ..Opts::default()
    })
    .await;
    let t = service_target(&h);
    assert_settled(&h, &t).await;
    let store = h.store();
    let mut users = Vec::new();
    // A full rotation is 7 steps; crash after 0..=7 of them, each time from a settled state.
    for crash_after in 0..=7 {
        let session = h.session().await;
        let rotator = Rotator::new(&session, store.clone(), t.clone());
        let mut done = Vec::new();
        let mut promoted = false;
        while done.len() < crash_after {
            let obs = rotator.observe().await.unwrap();
            let step = decide(&obs, &t.policy(), Mode::Now, promoted);
            match step {
                Step::Done => break,
                Step::Wait { .. } => tokio::time::sleep(Duration::from_millis(5)).await,
                step => {
                    rotator.execute(&step).await.unwrap();
                    promoted |= matches!(step, Step::Promote { .. });
                    done.push(step);
                }
            }
        }
        assert_eq!(done.len(), crash_after, "a rotation has 7 steps: {done:?}");
        drop(rotator);
        drop(session);
        // The "crash": a new process, a new session, the finishing run.
        let session = h.session().await;
        let report = Rotator::new(&session, store.clone(), t.clone())
            .run(Mode::Converge, true, LOCK_WAIT)
            .await
            .unwrap_or_else(|e| panic!("after {crash_after} steps: {e}"));
        assert_eq!(report.outcome, Outcome::Done);
        assert_settled(&h, &t).await;
        users.push(h.credential(t.secret.as_str()).await.username);
    }
    // Crashing before the alias moved (0-3 steps) leaves the old user current only when
    // nothing was started; from step 1 on, the rerun finishes the rotation.
    assert_eq!(users[0], t.logins[0], "crash after 0 steps: nothing rotated");
    assert!(
        users.windows(2).skip(1).all(|w| w[0] != w[1]),
        "each started rotation was finished: {users:?}"
    );
}

#[tokio::test]
async fn rotation_under_continuous_pool_load_fails_no_query() {
    let h = provisioned(Opts {
        max_lifetime: "300ms",
        grace: "2s",
        ..Opts::default()
    })
    .await;
    let t = service_target(&h);
    let schema = create_ticks(&h, &t).await;

    let secret = SecretName::parse(t.secret.as_str()).unwrap();
    let source = Arc::new(
        CachedCredential::new(h.store(), secret, VersionRef::current()).with_max_age(Duration::from_millis(100)),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, reauth) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut workers = Vec::new();
    for w in 0..4u64 {
        let (source, stop, ok, failed, reauth) =
            (source.clone(), stop.clone(), ok.clone(), failed.clone(), reauth.clone());
        let (db, schema) = (t.database.clone(), schema.clone());
        workers.push(tokio::spawn(async move {
            let mut last_user = String::new();
            while !stop.load(Ordering::SeqCst) {
                // Connect the way the connection layer does: current credential, and after a
                // rejected password (28P01) one re-read of the secret and one retry.
                let current = source.current().await.expect("credential");
                let client = match login(&db, &current.credential).await {
                    Ok(c) => c,
                    Err(e) if sqlstate(&e) == "28P01" || sqlstate(&e) == "28000" => {
                        reauth.fetch_add(1, Ordering::SeqCst);
                        let again = source.reload_after(current.generation).await.expect("reload");
                        login(&db, &again.current.credential)
                            .await
                            .expect("login after re-reading the secret")
                    }
                    Err(e) => panic!("connect failed: {e}"),
                };
                last_user = current.credential.username.clone();
                // Each connection lives ~300 ms (the pool's max_lifetime), staggered per worker.
                let until = tokio::time::Instant::now() + Duration::from_millis(250 + 25 * w);
                while tokio::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    match client
                        .query_one(&format!("INSERT INTO {schema}.ticks DEFAULT VALUES RETURNING id"), &[])
                        .await
                    {
                        Ok(_) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(e) => {
                            eprintln!("query failed: {e}");
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                }
            }
            last_user
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ok.load(Ordering::SeqCst);
    let session = h.session().await;
    let report = Rotator::new(&session, h.store(), t.clone())
        .run(Mode::Now, true, LOCK_WAIT)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Done);
    assert_eq!(report.steps.len(), 7, "{:?}", report.steps);
    let during = ok.load(Ordering::SeqCst) - before;
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::SeqCst);
    let mut last_users = Vec::new();
    for w in workers {
        last_users.push(w.await.unwrap());
    }
    assert_eq!(failed.load(Ordering::SeqCst), 0, "queries failed during the rotation");
    assert!(during > 0, "no query ran during the rotation");
    let new_user = report.current_user.unwrap();
    assert_eq!(new_user, t.logins[1]);
    assert!(
        last_users.iter().all(|u| *u == new_user),
        "every worker ended on the new login: {last_users:?}"
    );
    eprintln!(
        "{} queries ok, {} during the rotation, {} re-authentications",
        ok.load(Ordering::SeqCst),
        during,
        reauth.load(Ordering::SeqCst)
    );
    assert_settled(&h, &t).await;
}

#[tokio::test]
async fn a_broken_current_credential_is_healed_and_the_grace_period_is_reported() {
    let h = provisioned(Opts::default()).await;
    let t = service_target(&h);
    let current = h.credential(t.secret.as_str()).await;
    // Someone changes the password behind the platform's back.
    superuser("postgres")
        .await
        .batch_execute(&format!("ALTER ROLE {} PASSWORD NULL", current.username))
        .await
        .unwrap();
    let session = h.session().await;
    let report = Rotator::new(&session, h.store(), t.clone())
        .run(Mode::Converge, false, LOCK_WAIT)
        .await
        .unwrap();
    // A new credential for the other login; the old one waits out its 65 minutes of grace.
    assert!(
        matches!(report.outcome, Outcome::Waiting { ref user, .. } if *user == current.username),
        "{report:?}"
    );
    let healed = h.credential(t.secret.as_str()).await;
    assert_ne!(healed.username, current.username);
    login(&t.database, &healed).await.unwrap();
    // Running again changes nothing until the grace period is over.
    let again = Rotator::new(&session, h.store(), t.clone())
        .run(Mode::Now, false, LOCK_WAIT)
        .await
        .unwrap();
    assert!(again.steps.is_empty(), "{:?}", again.steps);
}

#[tokio::test]
async fn the_migrator_rotates_in_place() {
    let h = provisioned(Opts::default()).await;
    let t = targets(&h.manifest, h.env())
        .into_iter()
        .find(|t| t.label == h.migrator)
        .unwrap();
    let before = h.credential(t.secret.as_str()).await;
    let session = h.session().await;
    let report = Rotator::new(&session, h.store(), t.clone())
        .run(Mode::Now, false, LOCK_WAIT)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Done);
    let after = h.credential(t.secret.as_str()).await;
    assert_eq!(after.username, before.username);
    assert!(
        login(&t.database, &before).await.is_err(),
        "the old password must stop working"
    );
    login(&t.database, &after).await.unwrap();
    assert_settled(&h, &t).await;
}

#[tokio::test]
async fn rotation_under_load_through_the_router_fails_no_write_or_replica_read() {
    use db_router::{Consistency, Router, RouterConfig};
    let h = provisioned(Opts {
        max_lifetime: "500ms",
        grace: "3s",
        ..Opts::default()
    })
    .await;
    let t = service_target(&h);
    let schema = create_ticks(&h, &t).await;

    // The service's own wiring: specs from the manifest, credentials from the secret's
    // `current` alias, re-read in the background and after any rejected password.
    let rt = provision::resolve::runtime_connections(&h.manifest, &h.env, &h.services[0])
        .await
        .unwrap();
    let secret = SecretName::parse(t.secret.as_str()).unwrap();
    let source = Arc::new(
        CachedCredential::load(h.store(), secret, VersionRef::current())
            .await
            .unwrap(),
    );
    let _refresher = source.spawn_refresher(Duration::from_millis(200));
    let config = RouterConfig::new(rt.primary.clone(), rt.replica.clone()).with_credentials(source.clone());
    let router = Arc::new(Router::start(&config).unwrap());
    router.ready(Duration::from_secs(30)).await.unwrap();
    // The replica replays the CREATE TABLE shortly after the primary commits it.
    let probe = format!("SELECT count(*) FROM {schema}.ticks");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while router.read(Consistency::Any).query(&probe, &[]).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica never replayed the table"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (router, stop, ok, failed, schema) =
            (router.clone(), stop.clone(), ok.clone(), failed.clone(), schema.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let write = router
                    .write()
                    .execute(&format!("INSERT INTO {schema}.ticks DEFAULT VALUES"), &[])
                    .await;
                let read = router
                    .read(Consistency::Any)
                    .query(&format!("SELECT count(*) FROM {schema}.ticks"), &[])
                    .await;
                for r in [write.map(drop), read.map(drop)] {
                    match r {
                        Ok(()) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(e) => {
                            eprintln!("query failed: {e}");
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let session = h.session().await;
    let report = Rotator::new(&session, h.store(), t.clone())
        .run(Mode::Now, true, LOCK_WAIT)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Done);
    assert_eq!(report.steps.len(), 7, "{:?}", report.steps);
    // Keep the load on past the old login's disabling, across further connection replacements.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "statements failed during the rotation"
    );
    assert!(ok.load(Ordering::SeqCst) > 0);
    eprintln!("{} statements ok through the router", ok.load(Ordering::SeqCst));
    assert_settled(&h, &t).await;
}

#[tokio::test]
async fn rotations_in_secret_manager_destroy_disabled_versions_beyond_the_retention() {
    use secrets::gcp::fake::FakeSecretManager;
    const PROJECT: &str = "pcc-retention";
    let fake = FakeSecretManager::start().await;
    let h = Harness::new(Opts {
        max_lifetime: "1ms",
        // Longer than lifetime 1ms + credentials refresh 100ms (the fixture's) + no secret sync.
        grace: "150ms",
        // Keep one disabled version, destroy older ones at once.
        rotation_extra: ", keep_disabled = 1, destroy_disabled_after_days = 0",
        secrets: Some(format!(
            r#"{{ backend = "gcp", project = "{PROJECT}", api_base = "{}", metadata_base = "{}" }}"#,
            fake.api_base(),
            fake.metadata_base()
        )),
        ..Opts::default()
    })
    .await;
    // Terraform's part: the secrets exist before apply writes the first credentials.
    for t in targets(&h.manifest, h.env()) {
        fake.create_secret(PROJECT, t.secret.as_str());
    }
    provision::apply::apply(&h.manifest, &h.env, LOCK_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let session = h.session().await;
    provision::rotate::converge(&session, &h.manifest, h.env(), LOCK_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let t = service_target(&h);
    let mut destroyed_in = Vec::new();
    for round in 1..=4 {
        let report = Rotator::new(&session, h.store(), t.clone())
            .run(Mode::Now, true, LOCK_WAIT)
            .await
            .unwrap_or_else(|e| panic!("rotation {round}: {e}"));
        assert_eq!(report.outcome, Outcome::Done);
        destroyed_in.push(report.steps.iter().any(|s| matches!(s, Step::DestroyVersions { .. })));
        assert_settled(&h, &t).await;
        // Secret Manager holds: every version but the current one and the newest disabled one destroyed, payload wiped.
        let versions = fake.payloads(PROJECT, t.secret.as_str());
        let states: Vec<&str> = versions.iter().map(|(_, s, _)| s.as_str()).collect();
        let mut expected = vec!["DESTROYED"; round - 1];
        expected.extend(["DISABLED", "ENABLED"]);
        assert_eq!(states, expected, "after rotation {round}");
        for (n, state, payload) in &versions {
            assert_eq!(state == "DESTROYED", payload.is_empty(), "version {n} ({state})");
        }
    }
    // The first rotation had nothing beyond the retention; each later one destroyed one version.
    assert_eq!(destroyed_in, [false, true, true, true]);
}
