//! Ownership stakes on the parent link (V13): 0 < percent <= 100 with at most 4 decimals, an effective date that
//! is not in the future, always the current parent's (a root has none, a move that does not restate it clears
//! it), also when the stake and a move are written by two concurrent transactions.

use std::sync::Arc;

use uuid::Uuid;

use crate::support::{Db, backend_pid, describe, expect_error, move_client, new_client, wait_until_blocked};

const SET_STAKE: &str = "UPDATE client_api.client SET ownership_percent = $2::text::numeric, \
                         ownership_effective_from = $3, ownership_holder_id = $4 WHERE id = $1";

async fn stake(c: &tokio_postgres::Client, id: Uuid) -> (Option<String>, Option<Uuid>) {
    let row = c
        .query_one(
            "SELECT ownership_percent::text, ownership_holder_id FROM client_api.client WHERE id = $1",
            &[&id],
        )
        .await
        .expect("stake");
    (row.get(0), row.get(1))
}

fn date(text: &str) -> time::Date {
    time::Date::parse(text, &time::format_description::well_known::Iso8601::DATE).expect("date")
}

#[tokio::test]
async fn a_stake_is_more_than_zero_at_most_one_hundred_percent_and_already_in_effect() {
    let db = Db::new().await;
    let c = db.service("analyst").await;
    let parent = new_client(&c, "Holding", None).await;
    let child = new_client(&c, "Subsidiary", Some(parent)).await;
    let from = date("2024-01-01");
    for ok in ["100", "0.0001", "51.5", "99.9999"] {
        c.execute(SET_STAKE, &[&child, &ok, &from, &parent])
            .await
            .unwrap_or_else(|e| panic!("{ok}: {}", describe(&e)));
    }
    for bad in ["0", "-1", "100.0001", "150", "33.33333"] {
        expect_error(
            c.execute(SET_STAKE, &[&child, &bad, &from, &parent]).await,
            "23514",
            Some("client_ownership_percent_range"),
        );
    }
    expect_error(
        c.execute(SET_STAKE, &[&child, &"50", &date("1899-12-31"), &parent])
            .await,
        "23514",
        Some("client_ownership_effective_from_range"),
    );
    let tomorrow: time::Date = c
        .query_one("SELECT ((now() AT TIME ZONE 'UTC')::date + 1)", &[])
        .await
        .unwrap()
        .get(0);
    expect_error(
        c.execute(SET_STAKE, &[&child, &"50", &tomorrow, &parent]).await,
        "23514",
        Some("client_ownership_effective_from_not_future"),
    );
    // Both or neither, and only the parent's.
    expect_error(
        c.execute(SET_STAKE, &[&child, &"50", &None::<time::Date>, &parent])
            .await,
        "23514",
        Some("client_ownership_complete"),
    );
    let stranger = new_client(&c, "Stranger", None).await;
    expect_error(
        c.execute(SET_STAKE, &[&child, &"50", &from, &stranger]).await,
        "23514",
        Some("client_ownership_holder_is_parent"),
    );
    expect_error(
        c.execute(SET_STAKE, &[&parent, &"50", &from, &None::<Uuid>]).await,
        "23514",
        Some("client_ownership_complete"),
    );
    assert_eq!(stake(&c, child).await, (Some("99.9999".to_owned()), Some(parent)));
}

#[tokio::test]
async fn a_move_clears_the_old_parents_stake_unless_it_records_the_new_one() {
    let db = Db::new().await;
    let c = db.service("analyst").await;
    let first = new_client(&c, "First", None).await;
    let second = new_client(&c, "Second", None).await;
    let child = new_client(&c, "Child", Some(first)).await;
    c.execute(SET_STAKE, &[&child, &"60", &date("2024-01-01"), &first])
        .await
        .expect("stake");
    move_client(&c, child, Some(second)).await.expect("move");
    assert_eq!(stake(&c, child).await, (None, None));
    // The same statement may restate the stake for the new parent.
    c.execute(
        "UPDATE client_api.client SET parent_id = $2, ownership_percent = 75, \
         ownership_effective_from = DATE '2025-01-01', ownership_holder_id = $2 WHERE id = $1",
        &[&child, &first],
    )
    .await
    .unwrap_or_else(|e| panic!("move with stake: {}", describe(&e)));
    assert_eq!(stake(&c, child).await, (Some("75".to_owned()), Some(first)));
    // Becoming a root clears it too.
    move_client(&c, child, None).await.expect("to root");
    assert_eq!(stake(&c, child).await, (None, None));
}

#[tokio::test]
async fn a_stake_written_while_a_concurrent_move_commits_is_refused() {
    let db = Db::new().await;
    let observer = db.admin().await;
    let mover = db.service("mover").await;
    let writer = Arc::new(db.service("writer").await);
    let first = new_client(&mover, "First", None).await;
    let second = new_client(&mover, "Second", None).await;
    let child = new_client(&mover, "Child", Some(first)).await;

    // The mover holds the row; the writer records a stake for the parent it read (first) and waits.
    mover.batch_execute("BEGIN").await.unwrap();
    move_client(&mover, child, Some(second)).await.expect("move");
    let pid = backend_pid(&writer).await;
    let write = {
        let writer = Arc::clone(&writer);
        tokio::spawn(async move {
            writer
                .execute(SET_STAKE, &[&child, &"40", &date("2024-06-01"), &first])
                .await
        })
    };
    wait_until_blocked(&observer, pid).await;
    mover.batch_execute("COMMIT").await.unwrap();
    // Re-evaluated on the moved row: a stake of `first` in a child of `second` is refused.
    expect_error(
        write.await.expect("writer task"),
        "23514",
        Some("client_ownership_holder_is_parent"),
    );
    assert_eq!(stake(&mover, child).await, (None, None));

    // Two writers of the same link: they serialize on the row, the second one's stake replaces the first
    // one's whole (percent, date and holder together), never a mix of both.
    mover.batch_execute("BEGIN").await.unwrap();
    mover
        .execute(SET_STAKE, &[&child, &"30", &date("2024-01-01"), &second])
        .await
        .expect("first stake");
    let write = {
        let writer = Arc::clone(&writer);
        tokio::spawn(async move {
            writer
                .execute(SET_STAKE, &[&child, &"80", &date("2025-01-01"), &second])
                .await
        })
    };
    wait_until_blocked(&observer, pid).await;
    mover.batch_execute("COMMIT").await.unwrap();
    assert_eq!(write.await.expect("writer task").expect("second stake"), 1);
    let row = mover
        .query_one(
            "SELECT ownership_percent::text, ownership_effective_from, ownership_holder_id \
             FROM client_api.client WHERE id = $1",
            &[&child],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "80");
    assert_eq!(row.get::<_, time::Date>(1), date("2025-01-01"));
    assert_eq!(row.get::<_, Uuid>(2), second);
}
