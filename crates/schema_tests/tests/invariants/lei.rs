//! ISO 17442 LEIs: the MOD 97-10 check in the database against a table of vectors, and uniqueness among live
//! clients only.

use crate::support::{Db, expect_error};

/// LEI vectors: real LEIs from GLEIF's public register (GLEIF itself, Apple Inc., Deutsche Bank AG) and
/// variants that each break one rule of ISO 17442 (check digits, length, alphabet).
const SHARED_CASES: &str = include_str!("../data/lei-cases.tsv");

fn shared_cases() -> Vec<(String, bool, String)> {
    let text = SHARED_CASES;
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("lei\t") && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let lei = f.next().unwrap_or_default().to_owned();
            let valid = f.next() == Some("true");
            (lei, valid, f.next().unwrap_or_default().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn lei_check_digits_match_the_shared_vectors() {
    let db = Db::new().await;
    let c = db.service("analyst").await;
    let cases = shared_cases();
    assert!(cases.len() >= 6, "vectors found: {cases:?}");
    for (lei, valid, note) in cases {
        let checked: bool = c
            .query_one("SELECT client_api.lei_is_valid($1)", &[&lei])
            .await
            .expect("check")
            .get(0);
        assert_eq!(checked, valid, "{lei} ({note})");
        let insert = c
            .execute(
                "INSERT INTO client_api.client (display_name, legal_name, lei) VALUES ($1, $1, $1)",
                &[&lei],
            )
            .await;
        if valid {
            insert.unwrap_or_else(|e| panic!("{lei} ({note}) refused: {e}"));
        } else {
            expect_error(insert, "23514", Some("client_lei_valid"));
        }
    }
    // Lower case is not the ISO form: the service upper-cases before writing.
    let lower: bool = c
        .query_one("SELECT client_api.lei_is_valid(lower('HWUPKR0MPOU8FGXBT394'))", &[])
        .await
        .expect("q")
        .get(0);
    assert!(!lower);
}

#[tokio::test]
async fn lei_is_unique_among_live_clients_only() {
    let db = Db::new().await;
    let c = db.service("analyst").await;
    let insert = "INSERT INTO client_api.client (display_name, legal_name, lei) VALUES ($1, $1, '506700GE1G29325QX363') \
                  RETURNING id";
    let first: uuid::Uuid = c.query_one(insert, &[&"GLEIF"]).await.expect("first").get(0);
    expect_error(
        c.query_one(insert, &[&"GLEIF again"]).await,
        "23505",
        Some("client_lei_live_key"),
    );
    c.query("SELECT 1 FROM client_api.soft_delete_client($1)", &[&first])
        .await
        .expect("soft delete");
    c.query_one(insert, &[&"GLEIF reborn"])
        .await
        .expect("the deleted row no longer blocks the LEI");
    let restore = c.query("SELECT 1 FROM client_api.restore_client($1)", &[&first]).await;
    expect_error(restore, "23505", Some("client_lei_live_key"));
}
