//! Hierarchy reads: children, descendants (depth limit, cursor), ancestors (root first), bounded tree.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

/// Builds Root -> {A -> {A1, A2 -> A2x}, B} and returns (ids by name, a token covering all writes).
async fn group(app: &TestApp) -> (std::collections::HashMap<String, String>, String) {
    let mut ids: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut token = String::new();
    for (name, parent) in [
        ("Root", None),
        ("A", Some("Root")),
        ("B", Some("Root")),
        ("A1", Some("A")),
        ("A2", Some("A")),
        ("A2x", Some("A2")),
    ] {
        let parent_id = parent.map(|p| ids[p].clone());
        let reply = app
            .post(
                "/v1/clients",
                json!({"display_name": name, "legal_name": name, "parent_id": parent_id}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        token = reply.header("pcc-consistency-token").unwrap();
        ids.insert(name.to_owned(), reply.body["id"].as_str().unwrap().to_owned());
    }
    (ids, token)
}

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["display_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn children_descendants_ancestors_and_tree() {
    let app = TestApp::new().await;
    let (ids, token) = group(&app).await;
    let get = |uri: String| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call(Method::GET, &uri, None, &[("pcc-consistency-token", &token)])
                .await
        }
    };
    let root = &ids["Root"];
    assert_eq!(
        names(&get(format!("/v1/clients/{root}/children")).await.body),
        ["A", "B"]
    );
    let all = get(format!("/v1/clients/{root}/descendants")).await;
    assert_eq!(names(&all.body), ["A", "A1", "A2", "A2x", "B"], "depth first, by path");
    let shallow = get(format!("/v1/clients/{root}/descendants?max_depth=1")).await;
    assert_eq!(names(&shallow.body).len(), 2);
    // Pages of two, following the cursor, give the same sequence.
    let mut paged = Vec::new();
    let mut uri = format!("/v1/clients/{root}/descendants?limit=2");
    loop {
        let page = get(uri.clone()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        paged.extend(names(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(c) => uri = format!("/v1/clients/{root}/descendants?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, names(&all.body));
    get(format!("/v1/clients/{root}/descendants?max_depth=16"))
        .await
        .assert_problem(422, "validation");

    let ancestors = get(format!("/v1/clients/{}/ancestors", ids["A2x"])).await;
    assert_eq!(names(&ancestors.body), ["Root", "A", "A2"]);
    assert_eq!(
        names(&get(format!("/v1/clients/{root}/ancestors")).await.body),
        Vec::<String>::new()
    );

    let tree = get(format!("/v1/clients/{root}/tree?max_depth=2")).await;
    assert_eq!(tree.status, StatusCode::OK, "{}", tree.body);
    assert_eq!(tree.body["root"]["display_name"], "Root");
    assert_eq!(tree.body["root"]["children"][0]["display_name"], "A");
    assert_eq!(tree.body["root"]["children"][0]["children"][1]["display_name"], "A2");
    assert_eq!(tree.body["root"]["children"][0]["children"][1]["children"], json!([]));
    assert_eq!(tree.body["truncated"], true, "A2x is below the depth limit");
    assert_eq!(tree.body["nodes"], 5);
    let capped = get(format!("/v1/clients/{root}/tree?max_depth=5&max_nodes=3")).await;
    assert_eq!(capped.body["nodes"], 3);
    assert_eq!(capped.body["truncated"], true);
    let whole = get(format!("/v1/clients/{root}/tree?max_depth=5")).await;
    assert_eq!(whole.body["truncated"], false);
    assert_eq!(whole.body["nodes"], 6);
}
