//! Soft delete: never while live children exist, deleted rows are read-only, restore needs a live parent,
//! deleted_by follows deleted_at.

use crate::support::{Db, assert_hierarchy_consistent, expect_error, new_client};

#[tokio::test]
async fn a_client_with_live_children_cannot_be_deleted() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let parent = new_client(&c, "Parent", None).await;
    let child = new_client(&c, "Child", Some(parent)).await;
    let delete = |id| {
        let c = &c;
        async move {
            c.query("SELECT deleted_by FROM client_api.soft_delete_client($1)", &[&id])
                .await
        }
    };
    expect_error(delete(parent).await, "PC003", Some("client_no_live_children"));
    let direct = c
        .execute(
            "UPDATE client_api.client SET deleted_at = now() WHERE id = $1",
            &[&parent],
        )
        .await;
    expect_error(direct, "PC003", Some("client_no_live_children"));
    let rows = delete(child).await.expect("a leaf can go");
    assert_eq!(rows[0].get::<_, String>(0), "alice");
    delete(parent).await.expect("now the parent can go");
    assert_hierarchy_consistent(&c).await;
}

#[tokio::test]
async fn deleted_clients_are_read_only_until_restored_under_a_live_parent() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let parent = new_client(&c, "Parent", None).await;
    let child = new_client(&c, "Child", Some(parent)).await;
    c.query("SELECT 1 FROM client_api.soft_delete_client($1)", &[&child])
        .await
        .expect("delete child");
    c.query("SELECT 1 FROM client_api.soft_delete_client($1)", &[&parent])
        .await
        .expect("delete parent");
    let edit = c
        .execute(
            "UPDATE client_api.client SET display_name = 'Renamed' WHERE id = $1",
            &[&child],
        )
        .await;
    expect_error(edit, "PC007", None);
    let under_deleted = c
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, parent_id) VALUES ('N', 'N', $1)",
            &[&parent],
        )
        .await;
    expect_error(under_deleted, "PC004", Some("client_parent_live"));
    let restore_child = c.query("SELECT 1 FROM client_api.restore_client($1)", &[&child]).await;
    expect_error(restore_child, "PC004", Some("client_parent_live"));
    c.query("SELECT 1 FROM client_api.restore_client($1)", &[&parent])
        .await
        .expect("restore parent");
    let row = c
        .query_one(
            "SELECT deleted_at IS NULL, deleted_by FROM client_api.client WHERE id = $1",
            &[&parent],
        )
        .await
        .expect("row");
    assert_eq!((row.get::<_, bool>(0), row.get::<_, Option<String>>(1)), (true, None));
    c.query("SELECT 1 FROM client_api.restore_client($1)", &[&child])
        .await
        .expect("restore child");
    let address = c
        .execute(
            "INSERT INTO client_api.client_address (client_id, address_type, line1, city, country_code) \
             VALUES ($1, 'billing', '1 Rue', 'Paris', 'FR')",
            &[&child],
        )
        .await;
    address.expect("addresses of a live client");
    assert_hierarchy_consistent(&c).await;
}

#[tokio::test]
async fn addresses_and_assessments_of_a_deleted_client_are_refused() {
    let db = Db::new().await;
    let c = db.service("alice").await;
    let id = new_client(&c, "Gone", None).await;
    c.query("SELECT 1 FROM client_api.soft_delete_client($1)", &[&id])
        .await
        .expect("delete");
    let address = c
        .execute(
            "INSERT INTO client_api.client_address (client_id, address_type, line1, city, country_code) \
             VALUES ($1, 'registered', '1 Main St', 'Leeds', 'GB')",
            &[&id],
        )
        .await;
    expect_error(address, "PC007", None);
    let assessment = c
        .execute(
            "INSERT INTO client_api.risk_assessment (client_id, rating, rationale) VALUES ($1, 'low', 'x')",
            &[&id],
        )
        .await;
    expect_error(assessment, "PC007", None);
}
