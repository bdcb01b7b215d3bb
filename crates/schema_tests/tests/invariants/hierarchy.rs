//! The hierarchy: path, depth and root maintained through subtree moves, cycles and excess depth refused,
//! derived columns not writable, move history recorded.

use uuid::Uuid;

use crate::support::{Db, assert_hierarchy_consistent, expect_error, move_client, new_client};

/// client_id, old_parent_id, new_parent_id, descendants_moved, moved_by.
type MoveRow = (Uuid, Option<Uuid>, Option<Uuid>, i32, String);

async fn place(c: &tokio_postgres::Client, id: Uuid) -> (String, i16, Uuid) {
    let row = c
        .query_one(
            "SELECT path, depth, root_id FROM client_api.client WHERE id = $1",
            &[&id],
        )
        .await
        .expect("row");
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn moving_a_subtree_rewrites_path_depth_and_root_of_every_descendant() {
    let db = Db::new().await;
    let c = db.service("mover").await;
    let r1 = new_client(&c, "Group One", None).await;
    let a = new_client(&c, "A", Some(r1)).await;
    let b = new_client(&c, "B", Some(a)).await;
    let d = new_client(&c, "D", Some(b)).await;
    let r2 = new_client(&c, "Group Two", None).await;
    let x = new_client(&c, "X", Some(r2)).await;
    assert_eq!(place(&c, d).await, (format!("/{r1}/{a}/{b}/{d}/"), 3, r1));

    move_client(&c, a, Some(x)).await.expect("move A under X");
    assert_eq!(place(&c, a).await, (format!("/{r2}/{x}/{a}/"), 2, r2));
    assert_eq!(place(&c, d).await, (format!("/{r2}/{x}/{a}/{b}/{d}/"), 4, r2));
    assert_hierarchy_consistent(&c).await;

    move_client(&c, b, None).await.expect("B becomes a root");
    assert_eq!(place(&c, d).await, (format!("/{b}/{d}/"), 1, b));
    assert_hierarchy_consistent(&c).await;

    // A plain UPDATE of parent_id is a move too (the function only adds lock ordering and version checks).
    c.execute("UPDATE client_api.client SET parent_id = $1 WHERE id = $2", &[&r1, &b])
        .await
        .expect("update");
    assert_eq!(place(&c, d).await, (format!("/{r1}/{b}/{d}/"), 2, r1));
    assert_hierarchy_consistent(&c).await;

    let history = c
        .query(
            "SELECT client_id, old_parent_id, new_parent_id, descendants_moved, moved_by \
               FROM client_api.client_move ORDER BY moved_at",
            &[],
        )
        .await
        .expect("history");
    let rows: Vec<MoveRow> = history
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let mover = "mover".to_owned();
    assert_eq!(
        rows,
        [
            (a, Some(r1), Some(x), 2, mover.clone()),
            (b, Some(a), None, 1, mover.clone()),
            (b, None, Some(r1), 1, mover)
        ]
    );
    // Descendants rewritten by a move get a new version (their representation changed).
    let version: i64 = c
        .query_one("SELECT version FROM client_api.client WHERE id = $1", &[&d])
        .await
        .expect("d")
        .get(0);
    assert_eq!(version, 4);
}

#[tokio::test]
async fn cycles_are_refused_at_every_distance() {
    let db = Db::new().await;
    let c = db.service("mover").await;
    let r = new_client(&c, "Root", None).await;
    let a = new_client(&c, "A", Some(r)).await;
    let b = new_client(&c, "B", Some(a)).await;
    let d = new_client(&c, "D", Some(b)).await;
    for (id, parent) in [(a, a), (a, b), (a, d), (r, d)] {
        let error = expect_error(
            move_client(&c, id, Some(parent)).await,
            "PC001",
            Some("client_hierarchy_acyclic"),
        );
        assert!(error.message().contains("would create a cycle"), "{}", error.message());
        let direct = c
            .execute(
                "UPDATE client_api.client SET parent_id = $1 WHERE id = $2",
                &[&parent, &id],
            )
            .await;
        expect_error(direct, "PC001", Some("client_hierarchy_acyclic"));
    }
    let missing = Uuid::now_v7();
    expect_error(
        move_client(&c, a, Some(missing)).await,
        "23503",
        Some("client_parent_fk"),
    );
    expect_error(move_client(&c, missing, Some(a)).await, "PC009", None);
    let stale = c
        .query("SELECT 1 FROM client_api.move_client($1, NULL, 99)", &[&a])
        .await;
    expect_error(stale, "PC008", None);
    assert_hierarchy_consistent(&c).await;
}

#[tokio::test]
async fn the_hierarchy_is_at_most_sixteen_levels_deep() {
    let db = Db::new().await;
    let c = db.service("builder").await;
    let mut chain = vec![new_client(&c, "L0", None).await];
    for level in 1..16 {
        let parent = *chain.last().expect("chain");
        chain.push(new_client(&c, &format!("L{level}"), Some(parent)).await);
    }
    let deepest = *chain.last().expect("chain");
    let too_deep = c
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, parent_id) VALUES ('L16', 'L16', $1)",
            &[&deepest],
        )
        .await;
    expect_error(too_deep, "PC002", Some("client_depth_limit"));
    // Moving a two-level subtree under level 14 would put its leaf at depth 16.
    let other = new_client(&c, "Other", None).await;
    let other_child = new_client(&c, "Other child", Some(other)).await;
    let _leaf = new_client(&c, "Other leaf", Some(other_child)).await;
    expect_error(
        move_client(&c, other_child, Some(chain[14])).await,
        "PC002",
        Some("client_depth_limit"),
    );
    move_client(&c, other_child, Some(chain[13]))
        .await
        .expect("leaf lands at depth 15");
    assert_hierarchy_consistent(&c).await;
}

#[tokio::test]
async fn derived_hierarchy_columns_cannot_be_written() {
    let db = Db::new().await;
    let c = db.service("meddler").await;
    let r = new_client(&c, "Root", None).await;
    let a = new_client(&c, "A", Some(r)).await;
    let before = place(&c, a).await;
    c.execute(
        "UPDATE client_api.client SET path = '/x/', depth = 7, root_id = id, version = 42, created_by = 'mallory', \
         risk_category = 'low' WHERE id = $1",
        &[&a],
    )
    .await
    .expect("the statement runs");
    assert_eq!(place(&c, a).await, before);
    let row = c
        .query_one(
            "SELECT version, created_by, risk_category FROM client_api.client WHERE id = $1",
            &[&a],
        )
        .await
        .expect("row");
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, String>(1),
            row.get::<_, Option<String>>(2)
        ),
        (1, "meddler".into(), None)
    );
    let changed_id = c
        .execute(
            "UPDATE client_api.client SET id = $1 WHERE id = $2",
            &[&Uuid::now_v7(), &a],
        )
        .await;
    expect_error(changed_id, "23514", Some("client_id_immutable"));
}

#[tokio::test]
async fn move_history_is_append_only_and_written_only_by_moves() {
    let db = Db::new().await;
    let c = db.service("mover").await;
    let r = new_client(&c, "Root", None).await;
    let a = new_client(&c, "A", None).await;
    move_client(&c, a, Some(r)).await.expect("move");
    expect_error(
        c.execute("UPDATE client_api.client_move SET moved_by = 'x'", &[]).await,
        "PC006",
        None,
    );
    expect_error(
        c.execute("DELETE FROM client_api.client_move", &[]).await,
        "PC006",
        None,
    );
    let forged = c
        .execute(
            "INSERT INTO client_api.client_move (client_id, old_root_id, new_root_id, old_path, new_path, \
             descendants_moved, moved_by) VALUES ($1, $1, $1, '/', '/', 0, 'x')",
            &[&a],
        )
        .await;
    expect_error(forged, "PC006", Some("client_move_append_only"));
    // TRUNCATE needs the owner's privilege; even the owner is refused.
    let admin = db.owner().await;
    expect_error(
        admin.batch_execute("TRUNCATE client_api.client_move").await,
        "PC006",
        None,
    );
    expect_error(
        admin.batch_execute("TRUNCATE client_api.risk_assessment").await,
        "PC006",
        None,
    );
}

#[tokio::test]
async fn structural_changes_refuse_repeatable_read() {
    let db = Db::new().await;
    let c = db.service("mover").await;
    let r = new_client(&c, "Root", None).await;
    let a = new_client(&c, "A", None).await;
    c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .expect("begin");
    expect_error(move_client(&c, a, Some(r)).await, "PC011", None);
    c.batch_execute("ROLLBACK; BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await
        .expect("begin");
    move_client(&c, a, Some(r)).await.expect("serializable is safe");
    c.batch_execute("COMMIT").await.expect("commit");
    assert_hierarchy_consistent(&c).await;
}

#[tokio::test]
async fn a_clients_own_trigger_cannot_pass_for_an_internal_write() {
    // Provisioning revokes TEMPORARY from PUBLIC, so the service's login cannot create temporary objects...
    let db = Db::new().await;
    let c = db.service("mallory").await;
    expect_error(c.batch_execute("CREATE TEMP TABLE probe (x int)").await, "42501", None);
    // ...but the schema must not rely on that: with TEMPORARY granted (a misconfiguration), a trigger of the
    // login's own runs one level deep, like the schema's internal writes, but as itself, so the schema still
    // treats its writes as a client's.
    let login: String = c.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    db.admin()
        .await
        .batch_execute(&format!("GRANT TEMPORARY ON DATABASE {} TO {login}", db.db.db().name()))
        .await
        .expect("granting TEMPORARY");
    let c = db.service("mallory").await;
    let victim = new_client(&c, "Victim", None).await;
    c.batch_execute(&format!(
        "CREATE FUNCTION pg_temp.forge() RETURNS trigger LANGUAGE plpgsql AS $f$
         BEGIN
             UPDATE client_api.client SET risk_category = 'low', risk_assessed_at = now(),
                    risk_next_review_due = current_date + 1, path = '/forged/', depth = 3 WHERE id = '{victim}';
             INSERT INTO client_api.client_move (client_id, old_root_id, new_root_id, old_path, new_path,
                                                 descendants_moved, moved_by)
             VALUES ('{victim}', '{victim}', '{victim}', '/', '/', 0, 'nobody');
             RETURN NULL;
         END $f$;
         CREATE TEMP TABLE trap (x int);
         CREATE TRIGGER trap_forge AFTER INSERT ON pg_temp.trap FOR EACH ROW EXECUTE FUNCTION pg_temp.forge();"
    ))
    .await
    .expect("temporary objects");
    let forged = c.execute("INSERT INTO pg_temp.trap VALUES (1)", &[]).await;
    expect_error(forged, "PC006", Some("client_move_append_only"));
    // Without the history insert, the client update goes through but its derived columns stay put.
    c.batch_execute(&format!(
        "CREATE OR REPLACE FUNCTION pg_temp.forge() RETURNS trigger LANGUAGE plpgsql AS $f$
         BEGIN
             UPDATE client_api.client SET risk_category = 'low', risk_assessed_at = now(),
                    risk_next_review_due = current_date + 1, path = '/forged/', depth = 3 WHERE id = '{victim}';
             RETURN NULL;
         END $f$"
    ))
    .await
    .expect("replace");
    c.execute("INSERT INTO pg_temp.trap VALUES (2)", &[])
        .await
        .expect("runs");
    let row = c
        .query_one(
            "SELECT risk_category, depth FROM client_api.client WHERE id = $1",
            &[&victim],
        )
        .await
        .expect("row");
    assert_eq!((row.get::<_, Option<String>>(0), row.get::<_, i16>(1)), (None, 0));
    assert_eq!(place(&c, victim).await.0, format!("/{victim}/"));
}
