//! The history table pccdb creates is Flyway's, as PostgreSQL itself reports it: the table
//! created from Flyway's literal DDL (crates/migrate/FLYWAY.md) and the one pccdb creates read back identically
//! from pg_catalog (columns, types, nullability, defaults, constraints, indexes, their names).

use crate::common;

use common::Fixture;

/// Flyway's DDL for PostgreSQL, as Flyway's `PostgreSQLDatabase` creates it (crates/migrate/FLYWAY.md).
const FLYWAY_DDL: &str = r#"
    CREATE TABLE "flyway_ref"."flyway_schema_history" (
        "installed_rank" INT NOT NULL, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL,
        "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER,
        "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
        "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL);
    ALTER TABLE "flyway_ref"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
    CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_ref"."flyway_schema_history" ("success");
"#;

/// Everything PostgreSQL knows about a table's shape, as text with the schema name removed.
async fn describe(f: &Fixture, schema: &str) -> Vec<String> {
    let table = format!("\"{schema}\".\"flyway_schema_history\"");
    let queries = [
        format!(
            "SELECT format('%s %s %s notnull=%s default=%s collation=%s', a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), \
             a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), a.attcollation) \
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        ),
        format!(
            "SELECT format('%s %s %s deferrable=%s', conname, contype, pg_get_constraintdef(oid), condeferrable) \
             FROM pg_constraint WHERE conrelid = '{table}'::regclass ORDER BY conname"
        ),
        format!(
            "SELECT format('%s %s unique=%s primary=%s', c.relname, replace(pg_get_indexdef(i.indexrelid), '{schema}.', 'SCHEMA.'), i.indisunique, i.indisprimary) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = '{table}'::regclass ORDER BY c.relname"
        ),
        format!(
            "SELECT format('%s persistence=%s tablespace=%s options=%s', relkind, relpersistence, reltablespace, coalesce(array_to_string(reloptions, ','), '-')) \
             FROM pg_class WHERE oid = '{table}'::regclass"
        ),
    ];
    let mut out = Vec::new();
    for sql in queries {
        for row in f.client.query(&sql, &[]).await.expect("catalog query") {
            out.push(row.get::<_, String>(0));
        }
    }
    out
}

#[tokio::test]
async fn the_history_table_matches_flyways_ddl_as_read_back_from_pg_catalog() {
    let f = Fixture::new().await;
    f.client.batch_execute("CREATE SCHEMA flyway_ref").await.unwrap();
    f.client.batch_execute(FLYWAY_DDL).await.unwrap();
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    migrate::migrate(&f.client, &f.config_with(&[("schemas", "pccdb")]), &())
        .await
        .unwrap();
    let flyway = describe(&f, "flyway_ref").await;
    let ours = describe(&f, "pccdb").await;
    assert_eq!(flyway.len(), 10 + 1 + 2 + 1, "{flyway:#?}");
    assert_eq!(ours, flyway);
}

#[tokio::test]
async fn flyway_can_read_our_rows_with_its_own_query() {
    let f = Fixture::new().await;
    f.write("V1__t.sql", "CREATE TABLE t (a int);");
    migrate::migrate(&f.client, &f.config(), &()).await.unwrap();
    // Flyway's JdbcTableSchemaHistory.refreshCache query.
    let rows = f
        .client
        .query(
            "select \"installed_rank\",\"version\",\"description\",\"type\",\"script\",\"checksum\",\"installed_on\",\"installed_by\",\"execution_time\",\"success\" from \"public\".\"flyway_schema_history\" where \"installed_rank\" > $1 order by \"installed_rank\"",
            &[&-1i32],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let installed_on: String = f
        .scalar("SELECT (installed_on <= now())::text FROM flyway_schema_history")
        .await;
    assert_eq!(installed_on, "true");
}
