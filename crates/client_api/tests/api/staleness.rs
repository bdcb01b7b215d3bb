//! `Pcc-Max-Staleness-Ms`: an untokened read bounds how old its answer may be.

use http::Method;

use crate::support::TestApp;

#[tokio::test]
async fn a_staleness_bound_keeps_reads_off_a_replica_that_lags_more() {
    let app = TestApp::new().await;
    app.create_client("Bounded", None).await;
    // No replica is ever 0 ms behind: a bound of 0 is met by the primary only.
    let bounded = app
        .call(
            Method::GET,
            "/v1/clients?limit=5",
            None,
            &[("pcc-max-staleness-ms", "0")],
        )
        .await;
    assert_eq!(bounded.status, 200, "{}", bounded.body);
    assert_eq!(bounded.header("pcc-read-staleness-ms").as_deref(), Some("0"));
    // A generous bound is met by the replica (which reports a positive bound once it knows one).
    let loose = app
        .call(
            Method::GET,
            "/v1/clients?limit=5",
            None,
            &[("pcc-max-staleness-ms", "86400000")],
        )
        .await;
    assert_eq!(loose.status, 200);
    for bad in ["-1", "soon", "86400001", ""] {
        let reply = app
            .call(
                Method::GET,
                "/v1/clients?limit=5",
                None,
                &[("pcc-max-staleness-ms", bad)],
            )
            .await;
        reply.assert_problem(422, "validation");
        assert!(
            reply.body.to_string().contains("Pcc-Max-Staleness-Ms"),
            "{}",
            reply.body
        );
    }
}
