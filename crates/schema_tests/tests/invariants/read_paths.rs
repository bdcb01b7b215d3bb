//! The read paths docs/SCHEMA.md promises: each documented query shape can use its index (generic plans for
//! parameterised predicates), and every constraint, index or column name the document mentions exists.

use crate::support::{Db, new_client};

/// (index the query must be able to use, query with `$n` parameters as the service would send it). Plans are
/// generic (what a prepared statement settles on), except for text search, whose selectivity depends on the
/// search text: those get a custom plan for a typical search (`custom(<arguments>) <query>`).
const READ_PATHS: &[(&str, &str)] = &[
    (
        "client_live_name_idx",
        "SELECT id FROM client_api.client WHERE deleted_at IS NULL AND (display_name, id) > ($1, $2::uuid) ORDER BY display_name, id LIMIT 50",
    ),
    (
        "client_live_updated_idx",
        "SELECT id FROM client_api.client WHERE deleted_at IS NULL AND updated_at >= $1::timestamptz ORDER BY updated_at, id LIMIT 50",
    ),
    (
        "client_live_status_name_idx",
        "SELECT id FROM client_api.client WHERE deleted_at IS NULL AND status = $1::text ORDER BY display_name, id LIMIT 50",
    ),
    (
        "client_live_owner_name_idx",
        "SELECT id FROM client_api.client WHERE deleted_at IS NULL AND owner = $1::text ORDER BY display_name, id LIMIT 50",
    ),
    (
        "client_live_industry_idx",
        "SELECT id FROM client_api.client WHERE deleted_at IS NULL AND industry_scheme = 'naics_2022' AND industry_code >= $1::text AND industry_code < $1::text || '~' ORDER BY industry_code, id LIMIT 50",
    ),
    (
        "client_parent_name_idx",
        "SELECT id FROM client_api.client WHERE parent_id = $1::uuid ORDER BY display_name, id LIMIT 50",
    ),
    (
        "client_path_idx",
        "SELECT id FROM client_api.client WHERE path > $1::text AND path < $1::text || '~' AND depth <= $2::int ORDER BY path LIMIT 50",
    ),
    (
        "client_path_idx",
        "SELECT status, count(*) FROM client_api.client WHERE deleted_at IS NULL AND path >= $1::text AND path < $1::text || '~' GROUP BY status",
    ),
    (
        "client_live_review_due_idx",
        "SELECT id FROM client_api.client WHERE deleted_at IS NULL AND coalesce(risk_next_review_due, '-infinity'::date) <= $1::date ORDER BY coalesce(risk_next_review_due, '-infinity'::date), id LIMIT 50",
    ),
    (
        "client_live_search_idx",
        "custom('company 42') SELECT id FROM client_api.client WHERE deleted_at IS NULL AND search_vector @@ websearch_to_tsquery('simple', $1::text)",
    ),
    (
        "client_live_display_name_trgm_idx",
        "custom('ompany 1234') SELECT id FROM client_api.client WHERE deleted_at IS NULL AND display_name ILIKE '%' || $1::text || '%'",
    ),
    (
        "client_lei_live_key",
        "SELECT id FROM client_api.client WHERE deleted_at IS NULL AND lei = $1::text",
    ),
    (
        "client_move_client_idx",
        "SELECT id FROM client_api.client_move WHERE client_id = $1::uuid ORDER BY moved_at DESC, id DESC LIMIT 50",
    ),
    (
        "risk_assessment_client_idx",
        "SELECT id FROM client_api.risk_assessment WHERE client_id = $1::uuid ORDER BY assessed_at DESC, id DESC LIMIT 50",
    ),
    (
        "change_history_client_idx",
        "SELECT id FROM client_api.change_history WHERE client_id = $1::uuid AND changed_at >= $2::timestamptz AND (changed_at, id) < ($3::timestamptz, $4::bigint) ORDER BY changed_at DESC, id DESC LIMIT 50",
    ),
    (
        "change_history_contact_idx",
        "SELECT id FROM client_api.change_history WHERE contact_id = $1::uuid ORDER BY changed_at DESC, id DESC LIMIT 50",
    ),
    (
        "change_history_fields_idx",
        "custom('{lei}') SELECT id FROM client_api.change_history WHERE fields && $1::text[]",
    ),
    (
        "change_history_changed_brin_idx",
        "SELECT id FROM client_api.change_history WHERE changed_at < $1::timestamptz ORDER BY changed_at, id LIMIT 1000",
    ),
    (
        "idempotency_key_expires_idx",
        "SELECT principal FROM client_api.idempotency_key WHERE expires_at <= $1::timestamptz",
    ),
];

#[tokio::test]
async fn documented_read_paths_can_use_their_indexes() {
    let db = Db::new().await;
    let c = db.service("reader").await;
    let root = new_client(&c, "Root", None).await;
    new_client(&c, "Child", Some(root)).await;
    c.execute(
        "INSERT INTO client_api.client (display_name, legal_name, status, owner, industry_scheme, industry_code) \
         SELECT 'Company ' || i, 'Company ' || i, (ARRAY['prospect', 'active'])[1 + i % 2], 'rm' || i % 20, \
                'naics_2022', (ARRAY['522110', '311111', '541511'])[1 + i % 3] \
           FROM generate_series(1, 20000) AS i",
        &[],
    )
    .await
    .expect("enough rows that plans are realistic");
    // Statistics need the owner (the service role may not ANALYZE); sequential scans stay off: the question is
    // whether the index *can* serve the query.
    db.admin()
        .await
        .batch_execute("ANALYZE client_api.client, client_api.change_history")
        .await
        .expect("analyze");
    c.batch_execute("SET enable_seqscan = off").await.expect("settings");
    for (index, entry) in READ_PATHS {
        // "custom(<args>) <query>": plan for these arguments; otherwise a generic plan with NULL arguments.
        let (mode, args, query) = match entry.strip_prefix("custom(") {
            Some(rest) => {
                let (args, query) = rest.split_once(") ").expect("custom(<args>) <query>");
                ("force_custom_plan", args.to_owned(), query)
            }
            None => {
                let count = (1..=9).filter(|n| entry.contains(&format!("${n}"))).count();
                ("force_generic_plan", vec!["NULL"; count].join(", "), *entry)
            }
        };
        // Parameters declared as text, as a driver that sends strings would; the query casts them.
        let count = (1..=9).filter(|n| query.contains(&format!("${n}"))).count();
        let types = vec!["text"; count].join(", ");
        c.batch_execute(&format!(
            "SET plan_cache_mode = {mode}; DEALLOCATE ALL; PREPARE read_path({types}) AS {query}"
        ))
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
        let plan: Vec<String> = c
            .simple_query(&format!("EXPLAIN (COSTS OFF) EXECUTE read_path({args})"))
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains(index),
            "{query}\nshould use {index} ({mode}), plan:\n{plan}"
        );
    }
}

#[tokio::test]
async fn every_name_the_schema_document_mentions_exists() {
    let db = Db::new().await;
    let admin = db.admin().await;
    let doc_path = schema_tests::repo_root().join("docs/SCHEMA.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap_or_else(|e| panic!("{}: {e}", doc_path.display()));
    let migrations: String = std::fs::read_dir(schema_tests::migrations_dir())
        .expect("migrations")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    let suffixes = [
        "_fk",
        "_key",
        "_idx",
        "_valid",
        "_format",
        "_clean",
        "_range",
        "_complete",
        "_limit",
        "_acyclic",
        "_live",
        "_children",
        "_transition",
        "_units",
        "_v7",
        "_immutable",
        "_primary",
        "_overlap",
        "_order",
        "_only",
        "_completed",
        "_consistent",
        "_e164",
    ];
    let mut checked = 0;
    for name in doc.split('`').skip(1).step_by(2) {
        let name = name.trim();
        let looks_like_constraint = name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            && suffixes.iter().any(|s| name.ends_with(s))
            && !name.contains("<");
        if !looks_like_constraint {
            continue;
        }
        let in_catalog: bool = admin
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1)
                     OR EXISTS (SELECT 1 FROM pg_class WHERE relname = $1)
                     OR EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
                                 WHERE r.relnamespace = 'client_api'::regnamespace AND a.attname = $1)
                     OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = $1)",
                &[&name],
            )
            .await
            .expect("catalog")
            .get(0);
        let raised = migrations.contains(&format!("CONSTRAINT = '{name}'"));
        assert!(
            in_catalog || raised,
            "docs/SCHEMA.md names `{name}`, which the schema does not have"
        );
        checked += 1;
    }
    assert!(
        checked > 30,
        "only {checked} names checked: did the document's format change?"
    );
}
