//! A session's role follows the server: after the standby it is connected to is promoted, the
//! server's `in_hot_standby` report reaches `SessionWatch` without any role query. Runs on a
//! private cluster because it promotes the replica.

use std::time::{Duration, Instant};

use conninfo::{ConnSpec, HostSpec, ServerRole, SslMode, TargetSessionAttrs};
use pg_launcher::{ClusterOptions, NodeName};

#[tokio::test]
async fn session_watch_sees_a_promotion() {
    let cluster = std::sync::Arc::new(test_support::dedicated_cluster(ClusterOptions::ephemeral()));
    let replica = cluster.endpoint(NodeName::Replica).unwrap();
    let spec = ConnSpec::for_host(&replica.host, replica.port)
        .with_user(&replica.user)
        .with_password(replica.password.clone())
        .with_database("postgres")
        .with_ssl_mode(SslMode::VerifyFull)
        .with_root_cert(cluster.ca_cert_path())
        .with_target_session_attrs(TargetSessionAttrs::Standby)
        .with_hosts(vec![HostSpec::tcp(&replica.host, replica.port)]);
    let (client, host) = conninfo::connect(&spec).await.unwrap();
    assert_eq!(host.role, ServerRole::Standby);

    let promoting = cluster.clone();
    tokio::task::spawn_blocking(move || promoting.promote().unwrap())
        .await
        .unwrap();

    // The report arrives with the session's next exchange; a bounded wait avoids a hang.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        client.simple_query("SELECT 1").await.unwrap();
        if host.session.role() == Some(ServerRole::PrimaryReadWrite) {
            break;
        }
        assert!(Instant::now() < deadline, "role still {:?}", host.session.role());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!host.session.is_closed());
    drop(client);
}
