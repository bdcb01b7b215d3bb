//! The service over real HTTP for tests that act as several principals: requests as a subject with a request id,
//! reads that carry the consistency token of the latest write (so the replica serves what the test wrote),
//! successful writes with the current ETag, and every page of a keyset list.

use client_api::auth::{SCOPE_READ, SCOPE_WRITE};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Running, TestApp, serve};

/// A reply: status, headers, JSON body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem of `slug` and `status`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, slug: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        assert_eq!(self.body["type"], format!("/problems/{slug}"), "{}", self.body);
        self
    }

    /// The JSON pointers listed in a problem's `errors`.
    pub fn pointers(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["pointer"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts a problem of `slug` and `status` naming query parameter `parameter`.
    #[track_caller]
    pub fn assert_parameter_problem(&self, status: u16, slug: &str, parameter: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        assert_eq!(self.body["type"], format!("/problems/{slug}"), "{}", self.body);
        assert_eq!(self.body["errors"][0]["parameter"], parameter, "{}", self.body);
    }
}

/// The service over HTTP, with the latest consistency token of the test's writes.
pub struct Api {
    pub app: TestApp,
    pub running: Running,
    token: std::sync::Mutex<Option<String>>,
}

impl Api {
    pub async fn new() -> Self {
        let app = TestApp::new().await;
        let running = serve(&app).await;
        Self {
            app,
            running,
            token: std::sync::Mutex::new(None),
        }
    }

    /// `method path` as `subject` in request `request_id`, with `body` and `headers`; reads carry the token of
    /// the latest write (they are served by the replica).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        subject: &str,
        request_id: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let bearer = self.app.token_for(subject, &[SCOPE_READ, SCOPE_WRITE]);
        let mut request = self
            .running
            .http
            .request(method.clone(), format!("{}{path}", self.running.base))
            .bearer_auth(bearer);
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        if let Some(body) = body {
            let media = if method == Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            request = request.header("content-type", media).body(body.to_string());
        }
        if method == Method::GET
            && let Some(token) = self.token.lock().unwrap().clone()
        {
            request = request.header("pcc-consistency-token", token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(token) = headers.get("pcc-consistency-token").and_then(|v| v.to_str().ok()) {
            *self.token.lock().unwrap() = Some(token.to_owned());
        }
        let bytes = response.bytes().await.expect("body");
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, "reader", None, None, &[]).await
    }

    /// A successful write; returns its body.
    pub async fn write(
        &self,
        method: Method,
        path: &str,
        subject: &str,
        request_id: &str,
        body: Option<Value>,
    ) -> Value {
        let version = if matches!(method, Method::PATCH | Method::DELETE) {
            let current = self.send(Method::GET, path, subject, None, None, &[]).await;
            current.header("etag").map(str::to_owned)
        } else {
            None
        };
        let headers: Vec<(&str, &str)> = version.as_deref().map(|v| ("if-match", v)).into_iter().collect();
        let answer = self
            .send(method.clone(), path, subject, Some(request_id), body, &headers)
            .await;
        assert!(
            answer.status.is_success(),
            "{method} {path}: {} {}",
            answer.status,
            answer.body
        );
        assert_eq!(answer.header("x-request-id"), Some(request_id));
        answer.body
    }

    /// Every entry of a history, following `Link: rel="next"` from `path`.
    pub async fn all_pages(&self, path: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut next = Some(path.to_owned());
        let mut pages = 0;
        while let Some(path) = next.take() {
            let page = self.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
            pages += 1;
            items.extend(page.body["items"].as_array().expect("items").iter().cloned());
            next = page.header("link").map(|link| {
                assert_eq!(Some(link.contains("cursor=")), Some(true), "{link}");
                link.trim_start_matches('<')
                    .split('>')
                    .next()
                    .expect("link target")
                    .to_owned()
            });
            assert_eq!(next.is_some(), page.body.get("next_cursor").is_some());
        }
        (items, pages)
    }

    pub fn stop(self) -> TestApp {
        self.running.stop.cancel();
        self.app
    }
}
