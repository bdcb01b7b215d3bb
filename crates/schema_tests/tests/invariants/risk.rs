//! Risk assessments: the latest (by assessed_at, id) is the client's current risk; defaults, limits and the
//! append-only history.

use crate::support::{Db, expect_error, new_client};

#[tokio::test]
async fn the_latest_assessment_is_the_current_risk() {
    let db = Db::new().await;
    let c = db.service("risk officer").await;
    let id = new_client(&c, "Assessed", None).await;
    let current = "SELECT risk_category, risk_next_review_due = (risk_assessed_at AT TIME ZONE 'UTC' + interval '3 months')::date \
                   FROM client_api.client WHERE id = $1";
    c.execute("INSERT INTO client_api.risk_assessment (client_id, rating, rationale) VALUES ($1, 'critical', 'sanctions hit')", &[&id])
        .await
        .expect("assess");
    let row = c.query_one(current, &[&id]).await.expect("row");
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, bool>(1)),
        ("critical".into(), true),
        "default review in 3 months"
    );
    // A late-recorded, older assessment joins the history without replacing the current one.
    c.execute(
        "INSERT INTO client_api.risk_assessment (client_id, rating, rationale, assessed_at, next_review_due) \
         VALUES ($1, 'low', 'old file', now() - interval '1 year', current_date + 30)",
        &[&id],
    )
    .await
    .expect("older assessment");
    assert_eq!(
        c.query_one(current, &[&id]).await.expect("row").get::<_, String>(0),
        "critical"
    );
    let row = c
        .query_one(
            "SELECT count(*), bool_and(recorded_by = 'risk officer') FROM client_api.risk_assessment WHERE client_id = $1",
            &[&id],
        )
        .await
        .expect("history");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, bool>(1)), (2, true));
}

#[tokio::test]
async fn assessments_are_validated_and_history_is_append_only() {
    let db = Db::new().await;
    let c = db.service("risk officer").await;
    let id = new_client(&c, "Assessed", None).await;
    let future = c
        .execute(
            "INSERT INTO client_api.risk_assessment (client_id, rating, rationale, assessed_at) VALUES ($1, 'low', 'x', now() + interval '1 day')",
            &[&id],
        )
        .await;
    expect_error(future, "23514", Some("risk_assessment_not_in_future"));
    let blank = c
        .execute(
            "INSERT INTO client_api.risk_assessment (client_id, rating, rationale) VALUES ($1, 'low', '  ')",
            &[&id],
        )
        .await;
    expect_error(blank, "23514", Some("risk_assessment_rationale_length"));
    let unknown = c
        .execute(
            "INSERT INTO client_api.risk_assessment (client_id, rating, rationale) VALUES ($1, 'severe', 'x')",
            &[&id],
        )
        .await;
    expect_error(unknown, "23503", Some("risk_assessment_rating_fk"));
    let past_review = c
        .execute(
            "INSERT INTO client_api.risk_assessment (client_id, rating, rationale, next_review_due) VALUES ($1, 'low', 'x', current_date - 1)",
            &[&id],
        )
        .await;
    expect_error(past_review, "23514", Some("risk_assessment_review_after_assessment"));
    c.execute(
        "INSERT INTO client_api.risk_assessment (client_id, rating, rationale) VALUES ($1, 'medium', 'ok')",
        &[&id],
    )
    .await
    .expect("valid");
    expect_error(
        c.execute("UPDATE client_api.risk_assessment SET rating = 'low'", &[])
            .await,
        "PC006",
        Some("risk_assessment_append_only"),
    );
    expect_error(
        c.execute("DELETE FROM client_api.risk_assessment", &[]).await,
        "PC006",
        Some("risk_assessment_append_only"),
    );
    // The copy on the client cannot be overwritten by the service.
    c.execute(
        "UPDATE client_api.client SET risk_category = 'low' WHERE id = $1",
        &[&id],
    )
    .await
    .expect("runs");
    let current: String = c
        .query_one("SELECT risk_category FROM client_api.client WHERE id = $1", &[&id])
        .await
        .expect("r")
        .get(0);
    assert_eq!(current, "medium");
}
