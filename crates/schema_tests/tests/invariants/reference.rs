//! Reference data: row counts, the foreign keys that point at it, repeatable re-application and withdrawal.

use crate::support::{Db, expect_error, new_client};

#[tokio::test]
async fn reference_tables_hold_the_standards() {
    let db = Db::new().await;
    let c = db.service("analyst").await;
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.expect(sql).get::<_, i64>(0) }
    };
    assert_eq!(
        count("SELECT count(*) FROM client_api.country WHERE NOT withdrawn").await,
        249
    );
    assert_eq!(
        count("SELECT count(*) FROM client_api.currency WHERE NOT withdrawn").await,
        178
    );
    assert_eq!(
        count("SELECT count(*) FROM client_api.industry_code WHERE scheme = 'naics_2022'").await,
        2125
    );
    assert_eq!(
        count("SELECT count(*) FROM client_api.industry_code WHERE level = 2").await,
        20
    );
    let row = c
        .query_one(
            "SELECT alpha3, numeric_code, name FROM client_api.country WHERE alpha2 = 'DE'",
            &[],
        )
        .await
        .expect("DE");
    assert_eq!(
        (row.get::<_, &str>(0), row.get::<_, &str>(1), row.get::<_, &str>(2)),
        ("DEU", "276", "Germany")
    );
    let minor: Vec<(String, Option<i16>)> = c
        .query(
            "SELECT code, minor_units FROM client_api.currency WHERE code IN ('JPY','EUR','BHD','XAU') ORDER BY code",
            &[],
        )
        .await
        .expect("currencies")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = [("BHD", Some(3)), ("EUR", Some(2)), ("JPY", Some(0)), ("XAU", None)];
    assert_eq!(minor, expected.map(|(c, m)| (c.to_owned(), m)));
    // Every code's sector is its top-level ancestor, recomputed independently of the generator.
    let wrong = count(
        "WITH RECURSIVE up (code, ancestor) AS (
             SELECT code, code FROM client_api.industry_code
             UNION ALL
             SELECT up.code, p.parent_code FROM up
               JOIN client_api.industry_code p ON p.scheme = 'naics_2022' AND p.code = up.ancestor
              WHERE p.parent_code IS NOT NULL)
         SELECT count(*) FROM client_api.industry_code i
          WHERE i.sector_code <> (SELECT u.ancestor FROM up u JOIN client_api.industry_code t
                                    ON t.code = u.ancestor AND t.parent_code IS NULL WHERE u.code = i.code)",
    )
    .await;
    assert_eq!(wrong, 0);
}

#[tokio::test]
async fn foreign_keys_reject_unknown_codes() {
    let db = Db::new().await;
    let c = db.service("analyst").await;
    let attempt = |column: &'static str, value: &'static str| {
        let c = &c;
        async move {
            c.execute(
                &format!("INSERT INTO client_api.client (display_name, legal_name, {column}) VALUES ('X', 'X', $1)"),
                &[&value],
            )
            .await
        }
    };
    expect_error(attempt("hq_country", "XX").await, "23503", Some("client_hq_country_fk"));
    expect_error(
        attempt("incorporation_country", "QQ").await,
        "23503",
        Some("client_incorporation_country_fk"),
    );
    expect_error(attempt("status", "dormant").await, "23503", Some("client_status_fk"));
    attempt("hq_country", "FR").await.expect("a real country");
    let revenue = c
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, revenue_amount, revenue_currency) \
             VALUES ('X', 'X', 10, 'ZZZ')",
            &[],
        )
        .await;
    expect_error(revenue, "23503", Some("client_revenue_currency_fk"));
    let industry = c
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, industry_scheme, industry_code) \
             VALUES ('X', 'X', 'naics_2022', '999999')",
            &[],
        )
        .await;
    expect_error(industry, "23503", Some("client_industry_fk"));
    let id = new_client(&c, "Addressed", None).await;
    let address = c
        .execute(
            "INSERT INTO client_api.client_address (client_id, address_type, line1, city, country_code) \
             VALUES ($1, 'registered', '1 Main St', 'Springfield', 'QQ')",
            &[&id],
        )
        .await;
    expect_error(address, "23503", Some("client_address_country_fk"));
}

#[tokio::test]
async fn revenue_respects_the_currency_minor_units() {
    let db = Db::new().await;
    let c = db.service("analyst").await;
    let insert = |amount: &'static str, currency: &'static str| {
        let c = &c;
        async move {
            c.execute(
                "INSERT INTO client_api.client (display_name, legal_name, revenue_amount, revenue_currency) \
                 VALUES ('R', 'R', $1::text::numeric, $2)",
                &[&amount, &currency],
            )
            .await
        }
    };
    insert("1250000.50", "EUR").await.expect("two decimals in EUR");
    insert("1250000.500", "EUR")
        .await
        .expect("trailing zeros are not precision");
    insert("3.125", "BHD").await.expect("three decimals in BHD");
    insert("1.2345", "XAU")
        .await
        .expect("no minor unit defined: up to four decimals");
    expect_error(insert("1.5", "JPY").await, "23514", Some("client_revenue_minor_units"));
    expect_error(insert("-1", "EUR").await, "23514", Some("client_revenue_range"));
    expect_error(insert("1.00001", "XAU").await, "23514", Some("client_revenue_range"));
}

#[tokio::test]
async fn repeatable_reference_migrations_are_idempotent_and_withdraw_instead_of_deleting() {
    let db = Db::new().await;
    let admin = db.admin().await;
    // Flyway re-runs a repeatable whenever its checksum changes; the engine runs it again when its history
    // row is gone, the same thing without editing the file.
    let rerun = async || {
        admin
            .batch_execute("DELETE FROM client_api.flyway_schema_history WHERE version IS NULL AND type = 'SQL'")
            .await
            .expect("forgetting the repeatables");
        let report = db
            .db
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("re-applying the repeatables: {e}"));
        assert_eq!(
            report.migrations_executed, 3,
            "the three reference repeatables ran again"
        );
    };
    let fingerprint = "SELECT (SELECT string_agg(xmin::text, ',' ORDER BY alpha2) FROM client_api.country) \
                       || (SELECT string_agg(xmin::text, ',' ORDER BY code) FROM client_api.currency) \
                       || (SELECT string_agg(xmin::text, ',' ORDER BY code) FROM client_api.industry_code)";
    let before: String = admin.query_one(fingerprint, &[]).await.expect("xmins").get(0);
    rerun().await;
    let after: String = admin.query_one(fingerprint, &[]).await.expect("xmins").get(0);
    assert_eq!(before, after, "re-applying unchanged reference data rewrote rows");

    // A code that is not in the source any more (here: one added by hand) is withdrawn, not deleted.
    admin
        .batch_execute(
            "INSERT INTO client_api.country (alpha2, alpha3, numeric_code, name) VALUES ('ZZ', 'ZZZ', '999', 'Zedland')",
        )
        .await
        .expect("extra country");
    let service = db.service("analyst").await;
    service
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, hq_country) VALUES ('Z', 'Z', 'ZZ')",
            &[],
        )
        .await
        .expect("in force");
    rerun().await;
    let withdrawn: bool = admin
        .query_one("SELECT withdrawn FROM client_api.country WHERE alpha2 = 'ZZ'", &[])
        .await
        .expect("still there")
        .get(0);
    assert!(withdrawn);
    let reuse = service
        .execute(
            "INSERT INTO client_api.client (display_name, legal_name, hq_country) VALUES ('Z2', 'Z2', 'ZZ')",
            &[],
        )
        .await;
    let error = expect_error(reuse, "PC010", None);
    assert_eq!(error.column(), Some("hq_country"));
    // The client that already used it keeps it and can still be edited.
    service
        .execute(
            "UPDATE client_api.client SET website = 'https://zed.example.com' WHERE display_name = 'Z'",
            &[],
        )
        .await
        .expect("existing use stays valid");
}
