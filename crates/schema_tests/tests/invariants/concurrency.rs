//! Concurrent sessions under READ COMMITTED: opposite moves never close a cycle (exactly one wins), random
//! concurrent moves leave a consistent tree, soft delete and child insert are ordered, If-Match updates race
//! to exactly one winner, and concurrent risk assessments leave the latest one current.

use std::sync::Arc;

use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::{
    Db, assert_hierarchy_consistent, backend_pid, expect_error, move_client, new_client, sqlstate, wait_until_blocked,
};

/// How a session re-parents: through the function (tree locks first) or a plain UPDATE (row lock first).
#[derive(Debug, Clone, Copy)]
enum Via {
    Function,
    Update,
}

async fn reparent(c: &tokio_postgres::Client, via: Via, id: Uuid, parent: Uuid) -> Result<(), tokio_postgres::Error> {
    match via {
        Via::Function => move_client(c, id, Some(parent)).await,
        Via::Update => c
            .execute(
                "UPDATE client_api.client SET parent_id = $1 WHERE id = $2",
                &[&parent, &id],
            )
            .await
            .map(drop),
    }
}

async fn two_groups(c: &tokio_postgres::Client, tag: &str) -> (Uuid, Uuid) {
    let a = new_client(c, &format!("A{tag}"), None).await;
    new_client(c, &format!("A{tag} child"), Some(a)).await;
    let b = new_client(c, &format!("B{tag}"), None).await;
    new_client(c, &format!("B{tag} child"), Some(b)).await;
    (a, b)
}

#[tokio::test]
async fn a_move_waiting_for_an_opposite_move_sees_its_result_and_refuses_the_cycle() {
    let db = Db::new().await;
    let observer = db.admin().await;
    for via in [Via::Function, Via::Update] {
        let s1 = db.service("one").await;
        let s2 = Arc::new(db.service("two").await);
        let (a, b) = two_groups(&s1, &format!("{via:?}")).await;
        s1.batch_execute("BEGIN").await.expect("begin");
        reparent(&s1, via, a, b).await.expect("first move");
        let pid2 = backend_pid(&s2).await;
        let second = {
            let s2 = Arc::clone(&s2);
            tokio::spawn(async move {
                s2.batch_execute("BEGIN").await.expect("begin");
                let result = reparent(&s2, via, b, a).await;
                s2.batch_execute(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })
                    .await
                    .expect("end");
                result
            })
        };
        wait_until_blocked(&observer, pid2).await;
        s1.batch_execute("COMMIT").await.expect("commit first move");
        let result = second.await.expect("second session");
        expect_error(result, "PC001", Some("client_hierarchy_acyclic"));
        assert_hierarchy_consistent(&s1).await;
    }
}

#[tokio::test]
async fn simultaneous_opposite_moves_let_exactly_one_win() {
    let db = Db::new().await;
    let s1 = Arc::new(db.service("one").await);
    let s2 = Arc::new(db.service("two").await);
    for round in 0..24 {
        let via = if round % 2 == 0 { Via::Function } else { Via::Update };
        let (a, b) = two_groups(&s1, &round.to_string()).await;
        let barrier = Arc::new(Barrier::new(2));
        let spawn = |session: Arc<tokio_postgres::Client>, id: Uuid, parent: Uuid| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                session.batch_execute("BEGIN").await.expect("begin");
                barrier.wait().await;
                let result = reparent(&session, via, id, parent).await;
                let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
                session.batch_execute(end).await.expect("end");
                sqlstate(&result)
            })
        };
        let first = spawn(Arc::clone(&s1), a, b);
        let second = spawn(Arc::clone(&s2), b, a);
        let outcomes = [first.await.expect("one"), second.await.expect("two")];
        let wins = outcomes.iter().filter(|o| o.is_none()).count();
        assert_eq!(wins, 1, "round {round} ({via:?}): outcomes {outcomes:?}");
        assert!(
            outcomes.contains(&Some("PC001".to_owned())),
            "round {round} ({via:?}): outcomes {outcomes:?}"
        );
    }
    assert_hierarchy_consistent(&s1).await;
}

#[tokio::test]
async fn random_concurrent_moves_leave_a_consistent_acyclic_forest() {
    let db = Db::new().await;
    let setup = db.service("setup").await;
    let mut nodes = Vec::new();
    for i in 0..16 {
        let parent = if i % 4 == 0 { None } else { nodes.last().copied() };
        nodes.push(new_client(&setup, &format!("N{i}"), parent).await);
    }
    let nodes = Arc::new(nodes);
    let mut workers = Vec::new();
    for worker in 0..4u64 {
        let session = db.service(&format!("worker{worker}")).await;
        let nodes = Arc::clone(&nodes);
        workers.push(tokio::spawn(async move {
            // A small deterministic generator: the interleaving varies, the sequence of requests does not.
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (worker + 1);
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                usize::try_from(state % 1_000_003).unwrap_or_default()
            };
            let mut outcomes = Vec::new();
            for _ in 0..40 {
                let id = nodes[next() % nodes.len()];
                let parent = if next() % 8 == 0 {
                    None
                } else {
                    Some(nodes[next() % nodes.len()])
                };
                outcomes.push(sqlstate(&move_client(&session, id, parent).await));
            }
            outcomes
        }));
    }
    let mut moved = 0;
    for worker in workers {
        for outcome in worker.await.expect("worker") {
            match outcome.as_deref() {
                None => moved += 1,
                // Refused cycles and depth, or a retry request (a root changed while waiting): never damage.
                Some("PC001" | "PC002" | "40001") => {}
                Some(other) => panic!("unexpected SQLSTATE {other}"),
            }
        }
    }
    assert!(moved > 0, "no move succeeded");
    assert_hierarchy_consistent(&setup).await;
}

#[tokio::test]
async fn soft_delete_and_child_insert_are_ordered_either_way() {
    let db = Db::new().await;
    let observer = db.admin().await;
    let s1 = db.service("one").await;
    let s2 = Arc::new(db.service("two").await);
    let pid2 = backend_pid(&s2).await;

    // Delete first: the insert waits, then sees a deleted parent.
    let parent = new_client(&s1, "Parent", None).await;
    s1.batch_execute("BEGIN").await.expect("begin");
    s1.query("SELECT 1 FROM client_api.soft_delete_client($1)", &[&parent])
        .await
        .expect("delete");
    let insert = {
        let s2 = Arc::clone(&s2);
        tokio::spawn(async move {
            s2.execute(
                "INSERT INTO client_api.client (display_name, legal_name, parent_id) VALUES ('C', 'C', $1)",
                &[&parent],
            )
            .await
        })
    };
    wait_until_blocked(&observer, pid2).await;
    s1.batch_execute("COMMIT").await.expect("commit");
    expect_error(insert.await.expect("insert task"), "PC004", Some("client_parent_live"));

    // Insert first: the delete waits, then sees the live child.
    let parent = new_client(&s1, "Parent 2", None).await;
    s2.batch_execute("BEGIN").await.expect("begin");
    s2.execute(
        "INSERT INTO client_api.client (display_name, legal_name, parent_id) VALUES ('C2', 'C2', $1)",
        &[&parent],
    )
    .await
    .expect("insert child");
    let pid1 = backend_pid(&s1).await;
    let s1 = Arc::new(s1);
    let delete = {
        let s1 = Arc::clone(&s1);
        tokio::spawn(async move {
            s1.query("SELECT 1 FROM client_api.soft_delete_client($1)", &[&parent])
                .await
        })
    };
    wait_until_blocked(&observer, pid1).await;
    s2.batch_execute("COMMIT").await.expect("commit");
    expect_error(
        delete.await.expect("delete task"),
        "PC003",
        Some("client_no_live_children"),
    );
    assert_hierarchy_consistent(&s2).await;
}

#[tokio::test]
async fn if_match_updates_race_to_exactly_one_winner() {
    let db = Db::new().await;
    let s1 = Arc::new(db.service("one").await);
    let s2 = Arc::new(db.service("two").await);
    let id = new_client(&s1, "Contested", None).await;
    let barrier = Arc::new(Barrier::new(2));
    let update = |session: Arc<tokio_postgres::Client>, name: &'static str| {
        let barrier = Arc::clone(&barrier);
        tokio::spawn(async move {
            barrier.wait().await;
            session
                .execute(
                    "UPDATE client_api.client SET display_name = $1 WHERE id = $2 AND version = 1",
                    &[&name, &id],
                )
                .await
                .expect("update")
        })
    };
    let (one, two) = (update(Arc::clone(&s1), "One"), update(Arc::clone(&s2), "Two"));
    let counts = [one.await.expect("one"), two.await.expect("two")];
    assert_eq!(counts.iter().sum::<u64>(), 1, "rows updated per session: {counts:?}");
    let version: i64 = s1
        .query_one("SELECT version FROM client_api.client WHERE id = $1", &[&id])
        .await
        .expect("v")
        .get(0);
    assert_eq!(version, 2);
}

#[tokio::test]
async fn concurrent_assessments_leave_the_latest_current() {
    let db = Db::new().await;
    let observer = db.admin().await;
    for newer_first in [true, false] {
        let s1 = db.service("one").await;
        let s2 = Arc::new(db.service("two").await);
        let id = new_client(&s1, "Assessed", None).await;
        let (first, second) = if newer_first {
            ("1 day", "2 days")
        } else {
            ("2 days", "1 day")
        };
        let assess = "INSERT INTO client_api.risk_assessment (client_id, rating, rationale, assessed_at) \
                      VALUES ($1, $2, 'review', now() - $3::text::interval)";
        s1.batch_execute("BEGIN").await.expect("begin");
        s1.execute(assess, &[&id, &"high", &first])
            .await
            .expect("first assessment");
        let pid2 = backend_pid(&s2).await;
        let task = {
            let s2 = Arc::clone(&s2);
            tokio::spawn(async move { s2.execute(assess, &[&id, &"low", &second]).await })
        };
        wait_until_blocked(&observer, pid2).await;
        s1.batch_execute("COMMIT").await.expect("commit");
        task.await.expect("task").expect("second assessment");
        let current: String = s1
            .query_one("SELECT risk_category FROM client_api.client WHERE id = $1", &[&id])
            .await
            .expect("c")
            .get(0);
        assert_eq!(
            current,
            if newer_first { "high" } else { "low" },
            "newer_first = {newer_first}"
        );
    }
}

#[tokio::test]
async fn a_child_inserted_while_its_ancestor_moves_lands_on_the_new_path() {
    let db = Db::new().await;
    let observer = db.admin().await;
    let s1 = Arc::new(db.service("mover").await);
    let s2 = Arc::new(db.service("creator").await);
    let insert = "INSERT INTO client_api.client (display_name, legal_name, parent_id) VALUES ('C', 'C', $1) \
                  RETURNING id, path";

    // The move holds the tree; the insert under a descendant waits, then reads the moved parent.
    let r = new_client(&s1, "R", None).await;
    let a = new_client(&s1, "A", Some(r)).await;
    let b = new_client(&s1, "B", Some(a)).await;
    let x = new_client(&s1, "X", None).await;
    s1.batch_execute("BEGIN").await.expect("begin");
    move_client(&s1, a, Some(x)).await.expect("move");
    let pid2 = backend_pid(&s2).await;
    let task = {
        let s2 = Arc::clone(&s2);
        tokio::spawn(async move { s2.query_one(insert, &[&b]).await })
    };
    wait_until_blocked(&observer, pid2).await;
    s1.batch_execute("COMMIT").await.expect("commit");
    let row = task.await.expect("task").expect("insert");
    let (c, path): (Uuid, String) = (row.get(0), row.get(1));
    assert_eq!(path, format!("/{x}/{a}/{b}/{c}/"));

    // The insert holds the tree; the move waits, then its rewrite includes the new child.
    s2.batch_execute("BEGIN").await.expect("begin");
    let c2: Uuid = s2.query_one(insert, &[&b]).await.expect("insert").get(0);
    let pid1 = backend_pid(&s1).await;
    let task = {
        let s1 = Arc::clone(&s1);
        tokio::spawn(async move { move_client(&s1, a, Some(r)).await })
    };
    wait_until_blocked(&observer, pid1).await;
    s2.batch_execute("COMMIT").await.expect("commit");
    task.await.expect("task").expect("move back");
    let path: String = s2
        .query_one("SELECT path FROM client_api.client WHERE id = $1", &[&c2])
        .await
        .expect("c2")
        .get(0);
    assert_eq!(path, format!("/{r}/{a}/{b}/{c2}/"));
    assert_hierarchy_consistent(&s2).await;
}

#[tokio::test]
async fn a_second_tree_held_by_another_transaction_fails_the_change_with_40001_instead_of_waiting() {
    let db = Db::new().await;
    let s1 = db.service("holder").await;
    let s2 = db.service("changer").await;
    let r = new_client(&s1, "R", None).await;
    let x = new_client(&s1, "X", None).await;
    // The holder keeps tree X locked (an insert under X) until it ends.
    s1.batch_execute("BEGIN").await.expect("begin");
    new_client(&s1, "X child", Some(x)).await;
    // The changer's first structural change locks tree R; its second needs tree X, which is busy. Waiting
    // for it could close a lock cycle, so after a short retry (V9: a committing holder is still releasing)
    // the statement fails with 40001 and the changer retries the whole transaction.
    s2.batch_execute("BEGIN").await.expect("begin");
    new_client(&s2, "R child", Some(r)).await;
    let second = s2
        .query_one(
            "INSERT INTO client_api.client (display_name, legal_name, parent_id) VALUES ('Y', 'Y Ltd', $1) RETURNING id",
            &[&x],
        )
        .await;
    assert_eq!(sqlstate(&second).as_deref(), Some("40001"), "{second:?}");
    s2.batch_execute("ROLLBACK").await.expect("rollback");
    s1.batch_execute("COMMIT").await.expect("commit");
    // Once the holder is done, the retried transaction goes through.
    s2.batch_execute("BEGIN").await.expect("begin");
    new_client(&s2, "R child", Some(r)).await;
    new_client(&s2, "Y", Some(x)).await;
    s2.batch_execute("COMMIT").await.expect("commit");
    assert_hierarchy_consistent(&s2).await;
}
