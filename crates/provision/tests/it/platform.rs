//! A managed platform, simulated on a private cluster: the role `alloydbsuperuser` exists (as
//! on AlloyDB) and the admin is a non-superuser member of it. The plan names the platform,
//! apply works, and what only a superuser could do is refused with AlloyDB's explanation.

use crate::common;

use std::time::Duration;

use common::{Harness, Opts, ServerInfo};
use pg_launcher::ClusterOptions;
use provision::catalog::Platform;
use provision::check::{Severity, check};

#[tokio::test]
async fn on_alloydb_the_admin_applies_without_superuser_and_refuses_what_needs_one() {
    let cluster = test_support::dedicated_cluster(ClusterOptions {
        replica: false,
        ..ClusterOptions::ephemeral()
    });
    let primary = cluster.primary();
    let server = ServerInfo {
        host: primary.host.clone(),
        port: primary.port,
        ca: Some(cluster.ca_cert_path()),
        user: primary.user.clone(),
        password: primary.password.clone(),
        replica: None,
    };
    let su = server.superuser("postgres").await;
    su.batch_execute("CREATE ROLE alloydbsuperuser NOLOGIN CREATEROLE CREATEDB")
        .await
        .unwrap();
    let h = Harness::on(server.clone(), Opts::default()).await;
    su.batch_execute(&format!("GRANT alloydbsuperuser TO {}", h.admin_role))
        .await
        .unwrap();

    let report = provision::apply::plan(&h.manifest, &h.env).await.unwrap();
    assert_eq!(report.platform, Platform::AlloyDb);
    assert!(!report.admin_is_superuser);
    provision::apply::provision(&h.manifest, &h.env, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let checked = check(&h.manifest, &h.env).await.unwrap();
    assert!(checked.passed(), "{:#?}", checked.findings);
    assert!(checked.findings.iter().any(|f| f.check == "platform"
        && f.severity == Severity::Pass
        && f.message.contains("member of alloydbsuperuser")));

    // A database handed to the superuser (AlloyDB's own `alloydbadmin` would be the same): no
    // member of alloydbsuperuser can take it back.
    let db = h.deployment(0).names.database.to_string();
    su.batch_execute(&format!("ALTER DATABASE {db} OWNER TO {}", server.user))
        .await
        .unwrap();
    let p = provision::apply::plan(&h.manifest, &h.env).await.unwrap().plan;
    let blocked = p
        .blocked
        .iter()
        .find(|b| b.what.contains(&db))
        .unwrap_or_else(|| panic!("{:#?}", p.blocked));
    assert!(
        blocked
            .fix
            .contains("AlloyDB has no superuser and members of alloydbsuperuser cannot do this"),
        "{blocked:?}"
    );
    let err = provision::apply::apply(&h.manifest, &h.env, Duration::from_secs(60))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("refusing to apply") && err.contains("AlloyDB"), "{err}");
    drop(cluster);
}
