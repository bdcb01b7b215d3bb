//! Sizes against estimates, and facts about the platform and the admin role.

use super::{Finding, Severity};
use crate::apply::AdminSession;
use crate::catalog::ClusterSnapshot;
use crate::manifest::{Environment, Manifest};

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
