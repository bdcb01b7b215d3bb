//! Bulk import (`POST /v1/imports/clients`, `GET /v1/imports/{id}`) and export (`GET /v1/exports/clients`)
//! over real HTTP on the primary + replica: validate writes nothing, apply is all or nothing (a bad row near
//! the end of 100,000 leaves nothing), references in any order, idempotent replay, progress visible while the
//! job runs, export streamed from an open snapshot, ownership stakes checked by the database's rules, and an
//! export (stakes included) that imports into an empty database and exports again byte for byte.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Running, TestApp, serve};

/// Posts a file; answers status, headers and body.
async fn post_file(
    running: &Running,
    mode: &str,
    media: &str,
    body: impl Into<reqwest::Body>,
    key: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = running
        .http
        .post(format!("{}/v1/imports/clients?mode={mode}", running.base))
        .bearer_auth(&running.token)
        .header("content-type", media)
        .body(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// GETs a job (with the token of its 202).
async fn job(running: &Running, location: &str, token: &str) -> Value {
    let response = running
        .get(location)
        .header("pcc-consistency-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Polls the job of an accepted import until it ends.
async fn finished(running: &Running, headers: &reqwest::header::HeaderMap) -> Value {
    let location = headers["location"].to_str().unwrap().to_owned();
    let token = headers["pcc-consistency-token"].to_str().unwrap().to_owned();
    // A job that never ends is what this guards against; the bound is far above any run.
    for _ in 0..6000 {
        let body = job(running, &location, &token).await;
        if matches!(body["state"].as_str(), Some("succeeded" | "failed")) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("import job {location} did not end");
}

/// Accepts and runs an import to its end.
async fn import(running: &Running, mode: &str, media: &str, body: String) -> Value {
    let (status, headers, accepted) = post_file(running, mode, media, body, None).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["state"], "queued");
    finished(running, &headers).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db.connect().await.query_one(sql, &[]).await.unwrap().get(0)
}

async fn clients(app: &TestApp) -> i64 {
    count(app, "SELECT count(*) FROM client_api.client").await
}

/// All problems of a job: (line, column, type).
fn problems(job: &Value) -> Vec<(i64, Option<String>, String)> {
    job["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["line"].as_i64().unwrap(),
                p["column"].as_str().map(str::to_owned),
                p["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A valid LEI (ISO 17442 check digits) from an 18-character prefix.
fn lei(prefix: &str) -> String {
    let digits: String = format!("{prefix}00")
        .chars()
        .map(|c| c.to_digit(36).unwrap().to_string())
        .collect();
    let rem = digits
        .bytes()
        .fold(0u64, |acc, b| (acc * 10 + u64::from(b - b'0')) % 97);
    format!("{prefix}{:02}", 98 - rem)
}

/// `n` CSV rows with long-ish values (about 250 bytes each), one group root every 100 rows.
fn book(n: usize) -> String {
    let mut out = String::from(
        "key,parent_key,display_name,legal_name,hq_country,website,registration_authority,registration_number,employee_count,status\n",
    );
    for i in 0..n {
        let parent = if i % 100 == 0 {
            String::new()
        } else {
            format!("k{}", i - i % 100)
        };
        out.push_str(&format!(
            "k{i},{parent},Company {i:06},Company {i:06} Holdings International Limited,NL,\
             https://company-{i:06}.example.com/about/investor-relations,RA000463,REG-{i:08},{},active\n",
            i % 5000
        ));
    }
    out
}

#[tokio::test]
async fn validate_reports_each_line_and_writes_nothing() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let file = format!(
        "key,parent_key,display_name,legal_name,lei,employee_count,hq_country\n\
         a,,Alpha,Alpha Ltd,{},10,NL\n\
         b,a,Beta,Beta Ltd,NOTALEI,,NL\n\
         c,a,Gamma,Gamma Ltd,,lots,NL\n\
         d,nowhere,Delta,Delta Ltd,,,NL\n\
         e,b,Epsilon,Epsilon Ltd,,,NL\n\
         f,a,Phi,Phi Ltd,,,XX\n",
        lei("5493001KJTIIGC8Y1R")
    );
    let report = import(&running, "validate", "text/csv", file).await;
    assert_eq!(report["state"], "failed", "{report}");
    assert_eq!(report["mode"], "validate");
    assert_eq!(report["rows_total"], 6);
    assert_eq!(report["rows_done"], 6);
    assert_eq!(report["clients_created"], Value::Null);
    let found = problems(&report);
    assert_eq!(
        found,
        vec![
            (3, Some("lei".into()), "/problems/validation".into()),
            (4, Some("employee_count".into()), "/problems/validation".into()),
            (5, Some("parent_key".into()), "/problems/not-found".into()),
            (6, Some("parent_key".into()), "/problems/validation".into()),
            (7, Some("hq_country".into()), "/problems/validation".into()),
        ],
        "{report}"
    );
    assert_eq!(report["problem_count"], 5);
    assert_eq!(clients(&app).await, 0, "a validation writes nothing");
    assert_eq!(count(&app, "SELECT count(*) FROM client_api.change_history").await, 0);

    // A clean file validates as succeeded, and still writes nothing.
    let clean = "display_name,legal_name\nOne,One Ltd\nTwo,Two Ltd\n".to_owned();
    let report = import(&running, "validate", "text/csv", clean).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    assert_eq!(report["problem_count"], 0);
    assert_eq!(clients(&app).await, 0);

    // The report pages by line.
    let many: String = std::iter::once("display_name,legal_name,employee_count\n".to_owned())
        .chain((1..=7).map(|i| format!("N{i},N{i} Ltd,-{i}\n")))
        .collect();
    let (status, headers, _) = post_file(&running, "validate", "text/csv", many, None).await;
    assert_eq!(status, 202);
    let done = finished(&running, &headers).await;
    assert_eq!(done["problem_count"], 7);
    let location = headers["location"].to_str().unwrap();
    let token = headers["pcc-consistency-token"].to_str().unwrap();
    let first = job(&running, &format!("{location}?limit=4"), token).await;
    assert_eq!(first["problems"].as_array().unwrap().len(), 4);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = job(&running, &format!("{location}?limit=4&cursor={cursor}"), token).await;
    let lines: Vec<i64> = second["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![6, 7, 8]);
    assert_eq!(second["next_cursor"], Value::Null);
}

#[tokio::test]
async fn ownership_stakes_import_on_their_parent_link_under_the_databases_rules() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let today = time::OffsetDateTime::now_utc().date();
    let tomorrow = today.next_day().unwrap();
    let file = format!(
        "key,parent_key,display_name,legal_name,ownership_percent,ownership_effective_from\n\
         top,,Top,Top plc,,\n\
         a,top,A,A Ltd,75.5,2024-07-01\n\
         b,top,B,B Ltd,150,2024-07-01\n\
         c,top,C,C Ltd,10,{tomorrow}\n\
         d,top,D,D Ltd,10.12345,2024-07-01\n\
         e,top,E,E Ltd,10,\n\
         f,,F,F Ltd,10,2024-07-01\n\
         g,top,G,G Ltd,10,1 July\n\
         h,top,H,H Ltd,0,2024-07-01\n"
    );
    let report = import(&running, "validate", "text/csv", file.clone()).await;
    assert_eq!(
        problems(&report),
        vec![
            (4, Some("ownership_percent".into()), "/problems/validation".into()),
            (
                5,
                Some("ownership_effective_from".into()),
                "/problems/validation".into()
            ),
            (6, Some("ownership_percent".into()), "/problems/validation".into()),
            (
                7,
                Some("ownership_effective_from".into()),
                "/problems/validation".into()
            ),
            (8, Some("ownership_percent".into()), "/problems/validation".into()),
            (
                9,
                Some("ownership_effective_from".into()),
                "/problems/validation".into()
            ),
            (10, Some("ownership_percent".into()), "/problems/validation".into()),
        ],
        "{report}"
    );
    // Only the good rows: the stake lands on the link to the parent the file named.
    let good: String = file.lines().take(3).map(|l| format!("{l}\n")).collect();
    let report = import(&running, "apply", "text/csv", good).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    let db = app.db.connect().await;
    let row = db
        .query_one(
            "SELECT c.ownership_percent::text, c.ownership_effective_from::text, c.ownership_holder_id = p.id \
             FROM client_api.client AS c JOIN client_api.client AS p ON p.id = c.parent_id \
             WHERE c.display_name = 'A' AND p.display_name = 'Top'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1), row.get::<_, bool>(2)),
        ("75.5".to_owned(), "2024-07-01".to_owned(), true)
    );
}

#[tokio::test]
async fn files_that_cannot_be_read_are_refused_and_nothing_starts() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "apply",
            "application/json",
            b"{}".to_vec(),
            415,
            "unsupported-media-type",
        ),
        (
            "apply",
            "text/csv",
            b"display_name,colour\nA,red\n".to_vec(),
            400,
            "malformed-body",
        ),
        (
            "apply",
            "text/csv",
            b"legal_name\nA Ltd\n".to_vec(),
            400,
            "malformed-body",
        ),
        (
            "apply",
            "text/csv",
            b"display_name,legal_name\n".to_vec(),
            400,
            "malformed-body",
        ),
        (
            "apply",
            "text/csv",
            b"display_name,legal_name\n\xff\xfe,x\n".to_vec(),
            400,
            "malformed-body",
        ),
        (
            "bogus",
            "text/csv",
            b"display_name,legal_name\nA,A Ltd\n".to_vec(),
            422,
            "validation",
        ),
        (
            "apply",
            "text/csv",
            {
                let mut rows = b"display_name,legal_name\n".to_vec();
                for _ in 0..100_001 {
                    rows.extend_from_slice(b"A,A Ltd\n");
                }
                rows
            },
            413,
            "payload-too-large",
        ),
    ];
    for (mode, media, body, status, slug) in cases {
        let (got, _, problem) = post_file(&running, mode, media, body, None).await;
        assert_eq!(got, status, "{problem}");
        assert_eq!(problem["type"], format!("/problems/{slug}"), "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(count(&app, "SELECT count(*) FROM client_api.import_job").await, 0);
    assert_eq!(clients(&app).await, 0);
}

#[tokio::test]
async fn references_resolve_within_the_file_in_any_order() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let outside_lei = lei("529900T8BM49AURSDO");
    let outside = app.create_client("Outside", None).await;
    let patched = app
        .patch(
            &format!("/v1/clients/{}", outside["id"].as_str().unwrap()),
            1,
            json!({"lei": outside_lei}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let existing = outside["id"].as_str().unwrap();
    let top_lei = lei("5493001KJTIIGC8Y1R");
    let child_id = uuid::Uuid::now_v7();
    // Grandchildren first, then children, the top last; by key, by id and by LEI; and two rows hanging
    // from clients that exist already (by id and by LEI).
    let lines = [
        json!({"display_name": "Grandchild by key", "legal_name": "GK Ltd", "key": "gk", "parent_key": "child"}),
        json!({"display_name": "Grandchild by id", "legal_name": "GI Ltd", "parent_id": child_id}),
        json!({"display_name": "Child", "legal_name": "Child Ltd", "key": "child", "id": child_id, "parent_lei": top_lei}),
        json!({"display_name": "Top", "legal_name": "Top Ltd", "lei": top_lei, "employee_count": 12}),
        json!({"display_name": "Under outside by id", "legal_name": "UO Ltd", "parent_id": existing}),
        json!({"display_name": "Under outside by LEI", "legal_name": "UL Ltd", "parent_lei": outside_lei}),
    ];
    let file: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let report = import(&running, "apply", "application/x-ndjson", file).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    assert_eq!(report["clients_created"], 6);
    let primary = app.db.connect().await;
    let rows = primary
        .query(
            "SELECT c.display_name, p.display_name, c.depth, c.id, c.created_by FROM client_api.client AS c \
             LEFT JOIN client_api.client AS p ON p.id = c.parent_id ORDER BY c.display_name",
            &[],
        )
        .await
        .unwrap();
    let found: Vec<(String, Option<String>, i16)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    let expect = |a: &str, b: Option<&str>, d: i16| (a.to_owned(), b.map(str::to_owned), d);
    assert_eq!(
        found,
        vec![
            expect("Child", Some("Top"), 1),
            expect("Grandchild by id", Some("Child"), 2),
            expect("Grandchild by key", Some("Child"), 2),
            expect("Outside", None, 0),
            expect("Top", None, 0),
            expect("Under outside by LEI", Some("Outside"), 1),
            expect("Under outside by id", Some("Outside"), 1),
        ]
    );
    let child: uuid::Uuid = rows[0].get(3);
    assert_eq!(child, child_id, "an id given in the file is the client's id");
    let creator: String = rows[0].get(4);
    assert_eq!(creator, "tester", "the import writes as the caller");
    // The change history records the import's writes, with the request that sent the file.
    let recorded: i64 = primary
        .query_one(
            "SELECT count(*) FROM client_api.change_history WHERE operation = 'insert' AND request_id IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(recorded >= 6, "{recorded}");

    // A cycle within the file is reported on each of its rows.
    let cycle = "key,parent_key,display_name,legal_name\nx,y,X,X Ltd\ny,x,Y,Y Ltd\n".to_owned();
    let report = import(&running, "apply", "text/csv", cycle).await;
    assert_eq!(report["state"], "failed");
    assert_eq!(
        problems(&report),
        vec![
            (2, Some("parent_key".into()), "/problems/hierarchy-cycle".into()),
            (3, Some("parent_key".into()), "/problems/hierarchy-cycle".into()),
        ]
    );
}

#[tokio::test]
async fn a_replayed_import_answers_the_first_job_and_imports_once() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let file = "display_name,legal_name\nOnce,Once Ltd\nTwice,Twice Ltd\n";
    let (status, first_headers, first) = post_file(&running, "apply", "text/csv", file, Some("import-1")).await;
    assert_eq!(status, 202, "{first}");
    let done = finished(&running, &first_headers).await;
    assert_eq!(done["state"], "succeeded");
    let (status, headers, again) = post_file(&running, "apply", "text/csv", file, Some("import-1")).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(headers["location"], first_headers["location"]);
    assert_eq!(count(&app, "SELECT count(*) FROM client_api.import_job").await, 1);
    assert_eq!(clients(&app).await, 2);
    // The same key for another mode or file is another request.
    let (status, _, problem) = post_file(&running, "validate", "text/csv", file, Some("import-1")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (422, Some("/problems/idempotency-key-reused"))
    );
    let (status, _, problem) = post_file(
        &running,
        "apply",
        "text/csv",
        "display_name,legal_name\nX,X Ltd\n",
        Some("import-1"),
    )
    .await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (422, Some("/problems/idempotency-key-reused"))
    );
    assert_eq!(clients(&app).await, 2);
}

#[tokio::test]
async fn progress_is_visible_while_the_job_runs() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let parent = app.create_client("Held parent", None).await;
    let parent_id = parent["id"].as_str().unwrap().to_owned();
    // 12,000 top-level rows (three batches), then 10 under a client the test holds locked: the import writes
    // the first three batches and then waits for the lock, with its transaction open.
    let mut file = String::from("display_name,legal_name,parent_id\n");
    for i in 0..6000 {
        file.push_str(&format!("Top {i},Top {i} Ltd,\n"));
    }
    for i in 0..10 {
        file.push_str(&format!("Held {i},Held {i} Ltd,{parent_id}\n"));
    }
    let mut holder = app.db.connect().await;
    let hold = holder.transaction().await.unwrap();
    hold.execute(
        "SELECT 1 FROM client_api.client WHERE id = $1::text::uuid FOR UPDATE",
        &[&parent_id],
    )
    .await
    .unwrap();
    let (status, headers, _) = post_file(&running, "apply", "text/csv", file, None).await;
    assert_eq!(status, 202);
    let location = headers["location"].to_str().unwrap().to_owned();
    let token = headers["pcc-consistency-token"].to_str().unwrap().to_owned();
    let mut seen = None;
    for _ in 0..6000 {
        let body = job(&running, &location, &token).await;
        if body["rows_done"].as_i64() == Some(6000) {
            seen = Some(body);
            break;
        }
        assert_ne!(
            body["state"], "succeeded",
            "the job cannot end while the lock is held: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.expect("the job's progress reached the held rows");
    assert_eq!(seen["state"], "applying");
    assert_eq!(seen["rows_total"], 6010);
    assert_eq!(clients(&app).await, 1, "nothing is visible before the import commits");
    hold.commit().await.unwrap();
    let done = finished(&running, &headers).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["rows_done"], 6010);
    assert_eq!(clients(&app).await, 6011);
}

#[tokio::test]
async fn a_bad_row_near_the_end_of_100000_leaves_nothing_and_the_book_exports_streamed() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let good = book(100_000);
    // Line 99,999 (the header is line 1) gets a country that does not exist.
    let bad = good.replacen(
        "Company 099997 Holdings International Limited,NL",
        "Company 099997 Holdings International Limited,XX",
        1,
    );
    assert_ne!(bad, good);
    let report = import(&running, "apply", "text/csv", bad).await;
    assert_eq!(report["state"], "failed", "{report}");
    assert_eq!(report["rows_done"], 100_000);
    assert_eq!(
        problems(&report),
        vec![(99_999, Some("hq_country".into()), "/problems/validation".into())]
    );
    assert_eq!(clients(&app).await, 0, "one bad row: nothing written");

    // The whole book, into a database of its own (not over the dead rows the refused import left behind).
    let app = TestApp::new().await;
    let running = serve(&app).await;
    let report = import(&running, "apply", "text/csv", good).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    assert_eq!(report["clients_created"], 100_000);
    assert_eq!(clients(&app).await, 100_000);

    // The export streams from an open snapshot on the replica: after the first bytes arrived, the
    // snapshot is still open (the service is still producing rows, not holding a finished file).
    app.replica_replayed().await;
    let response = running.get("/v1/exports/clients").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let mut response = response;
    let first = response.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"id,parent_id,display_name,legal_name,"));
    let replica = app.db.db().connect_replica().await;
    let open = "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid <> pg_catalog.pg_backend_pid() \
                AND xact_start IS NOT NULL AND query LIKE '%pcc export clients%'";
    let during: i64 = replica.query_one(open, &[]).await.unwrap().get(0);
    assert_eq!(during, 1, "the export's snapshot is open while its body is read");
    let mut all = first.to_vec();
    while let Some(chunk) = response.chunk().await.unwrap() {
        all.extend_from_slice(&chunk);
    }
    let lines = all.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines, 100_001);
    // Ended with the body (polled: the session ends just after the last chunk was sent).
    let mut after = 1;
    for _ in 0..200 {
        after = replica.query_one(open, &[]).await.unwrap().get::<_, i64>(0);
        if after == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(after, 0, "the snapshot ends with the export");
}

#[tokio::test]
async fn an_export_imported_into_an_empty_database_exports_again_byte_for_byte() {
    let app = TestApp::new().await;
    let running = serve(&app).await;
    // A book with every column and a hierarchy (children created after, and ordered before, parents' ids
    // would not matter: the export is by id, and ids are imported).
    let top = app
        .post(
            "/v1/clients",
            json!({"display_name": "Top, \"quoted\"", "legal_name": "Top Holdings Ltd", "lei": lei("5493001KJTIIGC8Y1R"),
                   "registration_authority": "RA000463", "registration_number": "123456",
                   "incorporation_country": "NL", "hq_country": "DE", "website": "https://top.example.com",
                   "status": "active", "owner": "rm-1", "industry_code": "541511", "employee_count": 250,
                   "revenue_amount": "1250000.50", "revenue_currency": "EUR", "revenue_fiscal_year": 2025}),
        )
        .await;
    assert_eq!(top.status, 201, "{}", top.body);
    let top_id = top.body["id"].as_str().unwrap();
    // Stakes on two of the links (one whole, one with decimals), none on the third.
    let child = app
        .post(
            "/v1/clients",
            json!({"display_name": "Child", "legal_name": "Child BV", "parent_id": top_id,
                   "ownership": {"percent": "51.25", "effective_from": "2024-07-01"}}),
        )
        .await;
    assert_eq!(child.status, 201, "{}", child.body);
    let child = child.body;
    let grandchild = app
        .post(
            "/v1/clients",
            json!({"display_name": "Grandchild", "legal_name": "Grandchild GmbH",
                   "parent_id": child["id"], "ownership": {"percent": "100", "effective_from": "2020-01-31"}}),
        )
        .await;
    assert_eq!(grandchild.status, 201, "{}", grandchild.body);
    app.create_client("Great-grandchild", Some(grandchild.body["id"].as_str().unwrap()))
        .await;
    app.create_client("Other; \"semi\"", None).await;
    let deleted = app.create_client("Deleted", None).await;
    let gone = app
        .call(
            http::Method::DELETE,
            &format!("/v1/clients/{}", deleted["id"].as_str().unwrap()),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    app.replica_replayed().await;
    let export = |running: &Running, query: &str| {
        let request = running.get(&format!("/v1/exports/clients{query}"));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap().to_vec()
        }
    };
    let first = export(&running, "").await;
    let text = String::from_utf8(first.clone()).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "id,parent_id,display_name,legal_name,lei,registration_authority,registration_number,incorporation_country,hq_country,website,status,owner,industry_scheme,industry_code,employee_count,revenue_amount,revenue_currency,revenue_fiscal_year,ownership_percent,ownership_effective_from"
    );
    assert!(text.contains(",51.25,2024-07-01\n"), "{text}");
    assert!(text.contains(",100,2020-01-31\n"), "{text}");
    assert!(!text.contains("Deleted"), "live clients only: {text}");
    assert!(text.contains("\"Top, \"\"quoted\"\"\""), "{text}");
    // The list's filters apply.
    let filtered = String::from_utf8(export(&running, "?country=DE").await).unwrap();
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    // A parameter the list does not know is refused as the list refuses it.
    let problem = running.get("/v1/exports/clients?colour=red").send().await.unwrap();
    let listed = running.get("/v1/clients?colour=red").send().await.unwrap();
    assert_eq!(problem.status(), listed.status());
    assert!(problem.status().is_client_error());
    let (problem, listed): (Value, Value) = (problem.json().await.unwrap(), listed.json().await.unwrap());
    assert_eq!(problem["type"], listed["type"]);

    let empty = TestApp::new().await;
    let empty_running = serve(&empty).await;
    let report = import(&empty_running, "apply", "text/csv", text.clone()).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    assert_eq!(report["clients_created"], 5);
    empty.replica_replayed().await;
    let imported_child = empty
        .get(&format!("/v1/clients/{}", child["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        imported_child.body["ownership"], child["ownership"],
        "{}",
        imported_child.body
    );
    let again = export(&empty_running, "").await;
    assert_eq!(
        String::from_utf8(again).unwrap(),
        text,
        "the round trip gives the same bytes"
    );
}
