//! Credentials: each `current` secret logs in on the primary and the replica, is younger than
//! the rotation policy, and no retired login is still enabled after its grace period. A service
//! that logs in as an IAM user has no secret: its user must exist and be able to log in, it has
//! no age to report, and its former password logins should no longer log in.

use secrets::VersionRef;
use time::OffsetDateTime;

use super::{Finding, Severity};
use crate::apply::AdminSession;
use crate::manifest::{Environment, Manifest};
use crate::rotate::{parse_mark, targets};
use crate::target::{open_store, read_credential};

/// Each credential's current version logs in and is within the rotation policy; no retired
/// login is still enabled after its grace period.
pub(super) async fn credentials(
    session: &AdminSession,
    manifest: &Manifest,
    env: &Environment,
    out: &mut Vec<Finding>,
) {
    iam_logins(session, manifest, env, out).await;
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

/// Each IAM login exists and may log in; the password pair it replaced does not log in any more.
async fn iam_logins(session: &AdminSession, manifest: &Manifest, env: &Environment, out: &mut Vec<Finding>) {
    for d in manifest.deployments(env) {
        let Some(user) = d.iam_user() else { continue };
        let subject = format!("IAM login {user}");
        let mut names: Vec<String> = d.names.logins.iter().map(ToString::to_string).collect();
        names.push(user.to_owned());
        let rows = match session
            .client
            .query(
                "SELECT rolname::text, rolcanlogin FROM pg_roles WHERE rolname = ANY($1)",
                &[&names],
            )
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                out.push(Finding::new("credentials", Severity::Fail, subject, e.to_string()));
                continue;
            }
        };
        let can_login = |name: &str| {
            rows.iter()
                .find(|r| r.get::<_, String>(0) == name)
                .map(|r| r.get::<_, bool>(1))
        };
        match can_login(user) {
            Some(true) => out.push(Finding::new(
                "credentials",
                Severity::Pass,
                subject,
                format!(
                    "{} logs in with access tokens: no password to store or rotate",
                    d.service.name
                ),
            )),
            Some(false) => out.push(
                Finding::new("credentials", Severity::Fail, subject, "exists but cannot log in (NOLOGIN)")
                    .fix(format!("ALTER ROLE {} LOGIN, or recreate it with Terraform", crate::ident::quote_ident(user))),
            ),
            None => out.push(
                Finding::new("credentials", Severity::Fail, subject, "does not exist").fix(format!(
                    "create it with Terraform (google_alloydb_user, user_type ALLOYDB_IAM_USER), then pccdb apply --env {}",
                    env.name
                )),
            ),
        }
        for login in &d.names.logins {
            if can_login(login.as_str()) == Some(true) {
                out.push(
                    Finding::new(
                        "credentials",
                        Severity::Warn,
                        format!("login {login}"),
                        format!(
                            "can still log in with a password although {} logs in with IAM",
                            d.service.name
                        ),
                    )
                    .fix(format!(
                        "ALTER ROLE {login} NOLOGIN (once no pod uses the password any more)"
                    )),
                );
            }
        }
    }
}
