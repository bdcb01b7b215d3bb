//! The checks that ask the server rather than compare catalogs: privilege probes with
//! `has_*_privilege`, a TLS probe, sizes, credentials and platform facts.

use std::time::Duration;

use secrecy::ExposeSecret as _;
use secrets::VersionRef;
use time::OffsetDateTime;

use super::{Finding, Severity};
use crate::apply::AdminSession;
use crate::catalog::ClusterSnapshot;
use crate::error::ProvisionError;
use crate::manifest::{Environment, Manifest};
use crate::rotate::{parse_mark, targets};
use crate::target::{open_store, read_credential};

async fn probe(
    client: &tokio_postgres::Client,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<bool, ProvisionError> {
    client
        .query_one(sql, args)
        .await
        .map(|r| r.get::<_, bool>(0))
        .map_err(|source| ProvisionError::Sql {
            context: "privilege probe".to_owned(),
            statement: sql.to_owned(),
            source,
        })
}

/// Service logins must not create objects, use TEMP, or reach another service's database.
pub(super) async fn isolation(
    session: &AdminSession,
    manifest: &Manifest,
    env: &Environment,
    cluster: &ClusterSnapshot,
    out: &mut Vec<Finding>,
) -> Result<(), ProvisionError> {
    let deployments = manifest.deployments(env);
    for d in &deployments {
        let db = d.names.database.as_str();
        if !cluster.databases.contains_key(db) {
            continue;
        }
        let mut problems = Vec::new();
        for login in &d.names.logins {
            let login = login.as_str();
            if !cluster.roles.contains_key(login) {
                continue;
            }
            for (privilege, label) in [
                ("CREATE", "create schemas in"),
                ("TEMPORARY", "create temporary tables in"),
            ] {
                if probe(
                    &session.client,
                    "SELECT has_database_privilege($1, $2, $3)",
                    &[&login, &db, &privilege],
                )
                .await?
                {
                    problems.push(format!("{login} can {label} {db}"));
                }
            }
            for other in deployments
                .iter()
                .map(|o| o.names.database.as_str())
                .filter(|o| *o != db && cluster.databases.contains_key(*o))
            {
                if probe(
                    &session.client,
                    "SELECT has_database_privilege($1, $2, 'CONNECT')",
                    &[&login, &other],
                )
                .await?
                {
                    problems.push(format!("{login} can connect to {other}, another service's database"));
                }
            }
        }
        let client = match session.connect_to(db).await {
            Ok(client) => Some(client),
            Err(e) => {
                out.push(Finding::new(
                    "isolation",
                    Severity::Warn,
                    format!("schema of {db}"),
                    format!("cannot probe schema privileges: {e}"),
                ));
                None
            }
        };
        if let Some(client) = client {
            let schema = d.names.schema.as_str();
            for login in d
                .names
                .logins
                .iter()
                .map(|l| l.as_str())
                .filter(|l| cluster.roles.contains_key(*l))
            {
                let exists = probe(
                    &client,
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                    &[&schema],
                )
                .await?;
                if exists
                    && probe(
                        &client,
                        "SELECT has_schema_privilege($1, $2, 'CREATE')",
                        &[&login, &schema],
                    )
                    .await?
                {
                    problems.push(format!("{login} can create objects in schema {schema}"));
                }
                if probe(
                    &client,
                    "SELECT has_schema_privilege($1, 'public', 'CREATE')",
                    &[&login],
                )
                .await?
                {
                    problems.push(format!("{login} can create objects in schema public"));
                }
            }
        }
        let subject = format!("logins of {}", d.service.name);
        if problems.is_empty() {
            out.push(Finding::new(
                "isolation",
                Severity::Pass,
                subject,
                "cannot create objects, use TEMP, or connect to other services' databases",
            ));
        } else {
            for p in problems {
                out.push(
                    Finding::new("isolation", Severity::Fail, subject.clone(), p)
                        .fix(format!("pccdb apply --env {}", env.name)),
                );
            }
        }
    }
    Ok(())
}

/// Whether a connection without TLS is refused by pg_hba.conf. The probe logs in as a user
/// that does not exist with a random password, so nothing real crosses the wire in clear.
async fn plaintext_refused(spec: &conninfo::ConnSpec) -> Result<bool, String> {
    let host = spec.hosts.first().ok_or("no host")?;
    let conninfo::Host::Tcp(name) = &host.host else {
        return Ok(true);
    };
    let junk = secrets::generate_password().map_err(|e| e.to_string())?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(name)
        .port(host.port)
        .user("pccdb_tls_probe")
        .password(junk.expose_secret())
        .dbname("postgres")
        .ssl_mode(tokio_postgres::config::SslMode::Disable)
        .connect_timeout(Duration::from_secs(10));
    match config.connect(tokio_postgres::NoTls).await {
        Ok(_) => Ok(false),
        Err(e) => match e.as_db_error() {
            // pg_hba has no entry for this connection: only encrypted connections are accepted.
            Some(db) if db.code().code() == "28000" && db.message().contains("no encryption") => Ok(true),
            // The server got as far as authenticating a plaintext connection.
            Some(_) => Ok(false),
            None => Err(e.to_string()),
        },
    }
}

/// TLS on and enforced on every server; SCRAM password hashing.
pub(super) async fn transport(
    session: &AdminSession,
    env: &Environment,
    cluster: &ClusterSnapshot,
    out: &mut Vec<Finding>,
) {
    if cluster.settings.ssl {
        out.push(Finding::new("tls", Severity::Pass, "ssl", "the server has TLS enabled"));
    } else {
        out.push(Finding::new("tls", Severity::Fail, "ssl", "the server does not offer TLS").fix("set ssl = on"));
    }
    let servers = [
        ("primary", Some(&session.endpoints.primary)),
        ("replica", session.endpoints.replica.as_ref()),
    ];
    for (which, spec) in servers {
        let Some(spec) = spec else { continue };
        let subject = format!("{which} of {}", env.name);
        match plaintext_refused(spec).await {
            Ok(true) => out.push(Finding::new(
                "tls",
                Severity::Pass,
                subject,
                "connections without TLS are refused",
            )),
            Ok(false) => out.push(
                Finding::new(
                    "tls",
                    Severity::Fail,
                    subject,
                    "a connection without TLS reached authentication",
                )
                .fix("allow only hostssl lines in pg_hba.conf (AlloyDB: require SSL on the instance)"),
            ),
            Err(e) => out.push(Finding::new(
                "tls",
                Severity::Warn,
                subject,
                format!("could not probe a connection without TLS: {e}"),
            )),
        }
    }
    if cluster.settings.password_encryption == "scram-sha-256" {
        out.push(Finding::new(
            "tls",
            Severity::Pass,
            "password_encryption",
            "scram-sha-256",
        ));
    } else {
        out.push(
            Finding::new(
                "tls",
                Severity::Fail,
                "password_encryption",
                format!(
                    "is {}; passwords set by the server would be MD5",
                    cluster.settings.password_encryption
                ),
            )
            .fix("set password_encryption = 'scram-sha-256'"),
        );
    }
}

/// Database sizes against the manifest's estimates.
pub(super) async fn sizes(session: &AdminSession, manifest: &Manifest, env: &Environment, out: &mut Vec<Finding>) {
    for d in manifest.deployments(env) {
        let db = d.names.database.as_str();
        let subject = format!("database {db}");
        // pg_database_size needs CONNECT on the database (or pg_read_all_stats).
        let sql = "SELECT pg_database_size(datname) FROM pg_database WHERE datname = $1";
        let row = match session.client.query(sql, &[&db]).await {
            Ok(rows) => match rows.into_iter().next() {
                Some(row) => row,
                None => continue,
            },
            Err(e) => {
                out.push(Finding::new(
                    "size",
                    Severity::Warn,
                    subject,
                    format!("cannot measure its size: {}", crate::error::pg_message(&e)),
                ));
                continue;
            }
        };
        let size = crate::units::ByteSize(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0));
        let estimate = d.sizing.size_estimate;
        if estimate.0 == 0 {
            out.push(Finding::new(
                "size",
                Severity::Warn,
                subject,
                format!("is {size}; the manifest has no size_estimate"),
            ));
        } else if size > estimate {
            out.push(
                Finding::new(
                    "size",
                    Severity::Warn,
                    subject,
                    format!("is {size}, above its estimate of {estimate}"),
                )
                .fix("revise size_estimate and monthly_growth; see pccdb capacity"),
            );
        } else {
            out.push(Finding::new(
                "size",
                Severity::Pass,
                subject,
                format!("is {size} of an estimated {estimate}"),
            ));
        }
    }
}

/// Each credential's current version logs in and is within the rotation policy; no retired
/// login is still enabled after its grace period.
pub(super) async fn credentials(
    session: &AdminSession,
    manifest: &Manifest,
    env: &Environment,
    out: &mut Vec<Finding>,
) {
    let store = match open_store(&env.secrets) {
        Ok(s) => s,
        Err(e) => {
            out.push(Finding::new(
                "credentials",
                Severity::Fail,
                format!("secret store of {}", env.name),
                e.to_string(),
            ));
            return;
        }
    };
    let now = OffsetDateTime::now_utc();
    for t in targets(manifest, env) {
        let subject = format!("credential {}", t.secret);
        let flag = if t.is_service { "--service" } else { "--role" };
        let fix = format!("pccdb rotate --env {} {flag} {}", env.name, t.label);
        let cred = match read_credential(store.as_ref(), t.secret.as_str(), &VersionRef::current()).await {
            Ok(c) => c,
            Err(e) => {
                out.push(
                    Finding::new("credentials", Severity::Fail, subject, e.to_string())
                        .fix(format!("pccdb apply --env {} (creates first credentials)", env.name)),
                );
                continue;
            }
        };
        match crate::target::connect(session.primary(), &t.database, &cred).await {
            Ok(_) => out.push(Finding::new(
                "credentials",
                Severity::Pass,
                subject.clone(),
                format!("{} logs in to {}", cred.username, t.database),
            )),
            Err(e) => out.push(
                Finding::new(
                    "credentials",
                    Severity::Fail,
                    subject.clone(),
                    format!("the current credential does not log in: {e}"),
                )
                .fix(fix.clone()),
            ),
        }
        if let Some(replica) = &session.endpoints.replica
            && let Err(e) = crate::target::connect(replica, &t.database, &cred).await
        {
            out.push(
                Finding::new(
                    "credentials",
                    Severity::Fail,
                    subject.clone(),
                    format!("the current credential does not log in on the replica: {e}"),
                )
                .fix("check replication; the replica replays password changes from the primary"),
            );
        }
        if let Ok(versions) = store.list_versions(&t.secret).await {
            let aliases = store.aliases(&t.secret).await.unwrap_or_default();
            let current = aliases.iter().find(|(a, _)| a.as_str() == "current").map(|(_, v)| *v);
            let created = versions
                .iter()
                .find(|v| Some(v.version) == current)
                .and_then(|v| v.created);
            if let Some(created) = created {
                let age = (now - created).whole_days();
                let max = i64::from(t.max_age_days);
                if age >= max {
                    out.push(
                        Finding::new(
                            "credentials",
                            Severity::Fail,
                            subject.clone(),
                            format!("is {age} days old; the policy rotates every {max} days"),
                        )
                        .fix(fix.clone()),
                    );
                } else if age + 7 >= max {
                    out.push(
                        Finding::new(
                            "credentials",
                            Severity::Warn,
                            subject.clone(),
                            format!("is {age} days old; rotation is due within a week"),
                        )
                        .fix(fix.clone()),
                    );
                }
            }
        }
        let rows = session
            .client
            .query("SELECT rolname::text, rolcanlogin, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = ANY($1)", &[&t.logins])
            .await
            .unwrap_or_default();
        for r in rows {
            let (name, login, comment): (String, bool, Option<String>) = (r.get(0), r.get(1), r.get(2));
            if name == cred.username || !login {
                continue;
            }
            match comment.as_deref().and_then(parse_mark) {
                Some(until) if until > now => out.push(Finding::new(
                    "credentials",
                    Severity::Pass,
                    format!("login {name}"),
                    format!("retired, valid until {until} (grace period)"),
                )),
                _ => out.push(
                    Finding::new(
                        "credentials",
                        Severity::Fail,
                        format!("login {name}"),
                        "is not the current login but can still log in",
                    )
                    .fix(format!("pccdb rotate --env {} --finish", env.name)),
                ),
            }
        }
    }
}

/// Facts about the platform and the admin role.
pub(super) fn platform(manifest: &Manifest, cluster: &ClusterSnapshot, out: &mut Vec<Finding>) {
    let s = &cluster.session;
    let what = format!("{} as {}", cluster.platform.name(), s.user);
    if let Some(group) = cluster.platform.admin_group() {
        if s.member_of.contains(group) {
            out.push(Finding::new(
                "platform",
                Severity::Pass,
                what,
                format!("managed platform; the admin is a member of {group}"),
            ));
        } else {
            out.push(Finding::new(
                "platform",
                Severity::Warn,
                what,
                format!("managed platform, but the admin is not a member of {group}; it may lack rights the platform grants that group"),
            ));
        }
    } else if s.superuser {
        out.push(Finding::new(
            "platform",
            Severity::Warn,
            what,
            format!(
                "connected as a superuser; production applies as {} (CREATEROLE CREATEDB, not SUPERUSER)",
                manifest.admin_role
            ),
        ));
    } else {
        out.push(Finding::new(
            "platform",
            Severity::Pass,
            what,
            "the admin is not a superuser",
        ));
    }
    if let Some(admin) = cluster.roles.get(manifest.admin_role.as_str()) {
        if admin.superuser {
            out.push(Finding::new(
                "platform",
                Severity::Warn,
                format!("role {}", manifest.admin_role),
                "is a superuser; it needs only LOGIN CREATEROLE CREATEDB",
            ));
        }
        if !admin.inherit {
            out.push(
                Finding::new(
                    "platform",
                    Severity::Fail,
                    format!("role {}", manifest.admin_role),
                    "is NOINHERIT, so membership in owner roles does not give it their privileges",
                )
                .fix(format!("ALTER ROLE {} INHERIT", manifest.admin_role)),
            );
        }
    }
}
