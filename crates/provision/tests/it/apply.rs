//! plan / apply / check on the real test cluster: from empty, idempotence, drift, the role
//! model's guarantees as seen by the service's own login, and a non-superuser admin.

use crate::common;

use std::time::Duration;

use common::{Admin, Harness, Opts, login, sqlstate, superuser};
use provision::apply::{apply, plan};
use provision::check::{Severity, check};

const LOCK_WAIT: Duration = Duration::from_secs(120);

async fn apply_all(h: &Harness) -> provision::apply::ApplyReport {
    let report = apply(&h.manifest, &h.env, LOCK_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let session = h.session().await;
    provision::rotate::converge(&session, &h.manifest, h.env(), LOCK_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    report
}

#[tokio::test]
async fn apply_from_empty_as_a_createrole_admin_then_plan_and_apply_are_no_ops() {
    let h = Harness::new(Opts {
        services: 2,
        ..Opts::default()
    })
    .await;
    let before = plan(&h.manifest, &h.env).await.unwrap();
    assert!(!before.admin_is_superuser);
    assert!(before.plan.blocked.is_empty(), "{:#?}", before.plan.blocked);
    assert!(before.plan.steps.iter().any(|s| s.sql.starts_with("CREATE DATABASE")));

    let first = apply_all(&h).await;
    assert!(first.executed.len() > 20, "{:#?}", first.executed);
    let again = plan(&h.manifest, &h.env).await.unwrap();
    assert!(again.plan.is_empty(), "second plan not empty: {:#?}", again.plan);
    let second = apply(&h.manifest, &h.env, LOCK_WAIT).await.unwrap();
    assert!(second.executed.is_empty(), "{:#?}", second.executed);

    // What apply built, read back as the superuser.
    let d = h.deployment(0);
    let su = superuser("postgres").await;
    let row = su
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text, pg_encoding_to_char(encoding)::text, \
             has_database_privilege('public', oid, 'CONNECT') OR has_database_privilege('public', oid, 'TEMP') \
             FROM pg_database WHERE datname = $1",
            &[&d.names.database.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), d.names.owner.as_str());
    assert_eq!(row.get::<_, String>(1), "UTF8");
    assert!(!row.get::<_, bool>(2), "PUBLIC can still connect or use TEMP");
    let roles = su
        .query_one(
            "SELECT (SELECT rolinherit FROM pg_roles WHERE rolname = $1), (SELECT rolconnlimit FROM pg_roles WHERE rolname = $2), \
             (SELECT rolcanlogin FROM pg_roles WHERE rolname = $3)",
            &[&h.migrator, &d.names.logins[0].as_str(), &d.names.owner.as_str()],
        )
        .await
        .unwrap();
    assert!(!roles.get::<_, bool>(0), "the migrator must be NOINHERIT");
    assert_eq!(roles.get::<_, i32>(1), 10, "pool max 5 x (1 pod + 1 surge)");
    assert!(!roles.get::<_, bool>(2), "the owner role must not log in");

    let report = check(&h.manifest, &h.env).await.unwrap();
    let failed: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .collect();
    assert!(report.passed(), "check failed: {failed:#?}");
}

#[tokio::test]
async fn the_service_login_can_use_data_but_not_create_tables_or_reach_another_service() {
    let h = Harness::new(Opts {
        services: 2,
        ..Opts::default()
    })
    .await;
    apply_all(&h).await;
    let (a, b) = (h.deployment(0), h.deployment(1));
    let schema = a.names.schema.as_str();

    // A migration, the way pccdb migrate runs it: the migrator SETs ROLE to the owner.
    let migrator = h
        .credential(&format!("{}-{}-db", h.migrator.replace('_', "-"), h.env))
        .await;
    let m = login(a.names.database.as_str(), &migrator).await.unwrap();
    m.batch_execute(&format!(
        "SET ROLE {owner}; CREATE TABLE {schema}.clients (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL); \
         CREATE FUNCTION {schema}.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';",
        owner = a.names.owner
    ))
    .await
    .unwrap();

    let app = h.credential(&a.names.secret).await;
    let c = login(a.names.database.as_str(), &app).await.unwrap();
    c.batch_execute(&format!(
        "INSERT INTO {schema}.clients (name) VALUES ('acme'); UPDATE {schema}.clients SET name = 'acme ltd'; \
         SELECT {schema}.answer(); DELETE FROM {schema}.clients;"
    ))
    .await
    .unwrap_or_else(|e| panic!("DML as the service login failed: {e}"));
    let err = c
        .batch_execute(&format!("CREATE TABLE {schema}.evil (x int)"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{err}");
    let err = c.batch_execute("CREATE TABLE public.evil (x int)").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{err}");
    let err = c.batch_execute("CREATE TEMP TABLE t (x int)").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{err}");
    let err = c
        .batch_execute(&format!("TRUNCATE {schema}.clients"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{err}");

    let err = login(b.names.database.as_str(), &app).await.unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "42501",
        "connecting to another service's database: {err}"
    );
    let err = login("postgres", &app).await.map(drop);
    // The maintenance database is PostgreSQL's to govern; what matters is the other service.
    let _ = err;

    // The read-only group's member sees data but cannot change it.
    let su = superuser(a.names.database.as_str()).await;
    su.batch_execute(&format!(
        "CREATE ROLE r_{tok} LOGIN PASSWORD NULL IN ROLE {ro}",
        tok = h.token,
        ro = a.names.readonly_group
    ))
    .await
    .unwrap();
    su.batch_execute(&format!(
        "SET ROLE r_{tok}; SELECT count(*) FROM {schema}.clients",
        tok = h.token
    ))
    .await
    .unwrap();
    let err = su
        .batch_execute(&format!(
            "SET ROLE r_{tok}; INSERT INTO {schema}.clients (name) VALUES ('x')",
            tok = h.token
        ))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{err}");
}

#[tokio::test]
async fn drift_is_shown_by_plan_fails_check_and_apply_repairs_it() {
    let h = Harness::new(Opts {
        extra: "roles = [{ name = \"{base}_reporting\", access = \"read_only\" }]",
        ..Opts::default()
    })
    .await;
    apply_all(&h).await;
    let d = h.deployment(0);
    let db = d.names.database.as_str();
    let schema = d.names.schema.as_str();
    let su = superuser(db).await;
    su.batch_execute(&format!(
        "SET ROLE {owner}; CREATE TABLE {schema}.clients (id int); RESET ROLE; \
         GRANT CREATE ON SCHEMA {schema} TO {login}; \
         GRANT TRUNCATE ON {schema}.clients TO PUBLIC; GRANT CREATE ON SCHEMA public TO PUBLIC; \
         DROP OWNED BY {ro}; DROP ROLE {ro};",
        owner = d.names.owner,
        login = d.names.logins[0],
        ro = d.names.readonly_group,
    ))
    .await
    .unwrap();
    let p = plan(&h.manifest, &h.env).await.unwrap().plan;
    assert!(p.blocked.is_empty(), "{:#?}", p.blocked);
    let sql: Vec<&str> = p.steps.iter().map(|s| s.sql.as_str()).collect();
    for needle in [
        format!("CREATE ROLE {} NOLOGIN", d.names.readonly_group),
        format!("GRANT {} TO {}_reporting", d.names.readonly_group, d.names.base),
        format!("GRANT CONNECT ON DATABASE {db} TO {}", d.names.readonly_group),
        format!("REVOKE CREATE ON SCHEMA {schema} FROM {} CASCADE", d.names.logins[0]),
        format!("REVOKE TRUNCATE ON TABLE {schema}.clients FROM PUBLIC CASCADE"),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC CASCADE".to_owned(),
        format!("GRANT SELECT ON TABLE {schema}.clients TO {}", d.names.readonly_group),
    ] {
        assert!(sql.contains(&needle.as_str()), "missing {needle:?} in {sql:#?}");
    }
    let report = check(&h.manifest, &h.env).await.unwrap();
    assert!(!report.passed());
    let isolation = report
        .findings
        .iter()
        .find(|f| f.check == "isolation" && f.severity == Severity::Fail);
    assert!(
        isolation.is_some_and(|f| f.message.contains("can create objects in schema")),
        "{:#?}",
        report.findings
    );

    // A changed owner: the database now belongs to the migrator, which the admin is not a
    // member of, so the admin cannot even connect to it. The plan borrows membership for the
    // ownership change, gives it back, and leaves the inside for apply to plan afterwards.
    superuser("postgres")
        .await
        .batch_execute(&format!("ALTER DATABASE {db} OWNER TO {}", h.migrator))
        .await
        .unwrap();
    let p = plan(&h.manifest, &h.env).await.unwrap().plan;
    assert!(p.blocked.is_empty(), "{:#?}", p.blocked);
    let sql: Vec<&str> = p.steps.iter().map(|s| s.sql.as_str()).collect();
    let borrow = format!("GRANT {} TO {}", h.migrator, h.admin_role);
    let alter = format!("ALTER DATABASE {db} OWNER TO {}", d.names.owner);
    let give_back = format!("REVOKE {} FROM {}", h.migrator, h.admin_role);
    let at = |needle: &str| {
        sql.iter()
            .position(|s| *s == needle)
            .unwrap_or_else(|| panic!("missing {needle:?} in {sql:#?}"))
    };
    assert!(at(&borrow) < at(&alter) && at(&alter) < at(&give_back));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("cannot be inspected until its owner is restored")),
        "{:#?}",
        p.notes
    );

    let report = check(&h.manifest, &h.env).await.unwrap();
    assert!(!report.passed());
    let drift: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.check == "drift" && f.severity == Severity::Fail)
        .collect();
    assert!(drift.len() >= 4, "{drift:#?}");

    let fixed = apply(&h.manifest, &h.env, LOCK_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!fixed.executed.is_empty());
    assert!(plan(&h.manifest, &h.env).await.unwrap().plan.is_empty());
    let report = check(&h.manifest, &h.env).await.unwrap();
    assert!(
        report.passed(),
        "{:#?}",
        report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Fail)
            .collect::<Vec<_>>()
    );
    // The borrowed membership was given back.
    let member: bool = superuser("postgres")
        .await
        .query_one("SELECT pg_has_role($1, $2, 'MEMBER')", &[&h.admin_role, &h.migrator])
        .await
        .unwrap()
        .get(0);
    assert!(!member);
}

#[tokio::test]
async fn a_non_superuser_admin_refuses_what_only_a_superuser_could_do_and_changes_nothing() {
    let h = Harness::new(Opts::default()).await;
    apply_all(&h).await;
    let d = h.deployment(0);
    let su = superuser("postgres").await;
    let superuser_name = test_support::cluster().primary().user.clone();
    su.batch_execute(&format!(
        "ALTER DATABASE {db} OWNER TO {superuser_name}; CREATE ROLE x_{tok}; GRANT x_{tok} TO {login}",
        db = d.names.database,
        tok = h.token,
        login = d.names.logins[1],
    ))
    .await
    .unwrap();
    let err = apply(&h.manifest, &h.env, LOCK_WAIT).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("refusing to apply") && msg.contains(&format!("superuser {superuser_name}")),
        "{msg}"
    );
    assert!(msg.contains("run as a superuser"), "{msg}");
    // Nothing ran: the stray membership (which the admin could have revoked) is still there.
    let member: bool = su
        .query_one(
            "SELECT pg_has_role($1, $2, 'MEMBER')",
            &[&d.names.logins[1].as_str(), &format!("x_{}", h.token)],
        )
        .await
        .unwrap()
        .get(0);
    assert!(member);
}

#[tokio::test]
async fn concurrent_applies_take_turns_and_converge() {
    let h = Harness::new(Opts {
        admin: Admin::Superuser,
        services: 2,
        ..Opts::default()
    })
    .await;
    let (m, e) = (&h.manifest, &h.env);
    let (a, b) = tokio::join!(apply(m, e, LOCK_WAIT), apply(m, e, LOCK_WAIT));
    let (a, b) = (a.unwrap_or_else(|e| panic!("{e}")), b.unwrap_or_else(|e| panic!("{e}")));
    // One did the work; the other found nothing left (it planned after the first released the lock).
    assert!(
        a.executed.is_empty() != b.executed.is_empty(),
        "{} and {} statements",
        a.executed.len(),
        b.executed.len()
    );
    assert!(plan(m, e).await.unwrap().plan.is_empty());
}
