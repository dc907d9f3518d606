//! The demo inbox at `/demo/`: served from the binary with the right content types, beside
//! the API's NIM-style 404 for everything else.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};

use crate::harness::TestServer;

async fn get(http: &reqwest::Client, s: &TestServer, path: &str) -> reqwest::Response {
    http.get(format!("{}{path}", s.base))
        .send()
        .await
        .expect("GET answers")
}

fn content_type(r: &reqwest::Response) -> &str {
    r.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn the_page_and_its_scripts_are_served_with_their_content_types() {
    let s = TestServer::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let cases = [
        (
            "/demo/",
            "text/html; charset=utf-8",
            "<script type=\"module\" src=\"demo.js\">",
        ),
        (
            "/demo/index.html",
            "text/html; charset=utf-8",
            "<form id=\"login\"",
        ),
        (
            "/demo/demo.js",
            "text/javascript; charset=utf-8",
            "import { QunfaClient } from './qunfa.js';",
        ),
        (
            "/demo/qunfa.js",
            "text/javascript; charset=utf-8",
            "export class QunfaClient",
        ),
        ("/demo/demo.css", "text/css; charset=utf-8", ".inbox"),
    ];
    for (path, ty, needle) in cases {
        let r = get(&http, &s, path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(content_type(&r), ty, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path} lacks {needle:?}");
    }

    // HEAD works as GET without a body.
    let r = http
        .head(format!("{}/demo/qunfa.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(content_type(&r), "text/javascript; charset=utf-8");

    // `/demo` leads to `/demo/`, relatively, so a path prefix added by a proxy survives.
    let r = get(&http, &s, "/demo").await;
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers()[LOCATION], "demo/");
}

#[tokio::test]
async fn other_paths_under_demo_answer_404() {
    let s = TestServer::start().await;
    let http = reqwest::Client::new();
    let r = get(&http, &s, "/demo/nope.js").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(content_type(&r), "application/json; charset=utf-8");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"code": 404, "desc": "no such endpoint: /demo/nope.js"})
    );
}
