//! The web console at `/console/`: every file of `clients/js/console/` served from the binary,
//! as it is in the repository, with its content type and a policy that keeps it on its origin.

use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};

use crate::harness::TestServer;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_console_file_is_served_as_it_is_in_the_repository() {
    let s = TestServer::start().await;
    let http = client();
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/js");
    let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(js.join("console"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), e.path())
        })
        .collect();
    files.push(("api.js".into(), js.join("api.js")));
    files.push(("sha1.js".into(), js.join("sha1.js")));
    files.sort();
    let mut served: Vec<&str> = qunfa_server::console::FILES.iter().map(|f| f.0).collect();
    served.sort();
    assert_eq!(
        served,
        files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        "console.rs embeds exactly the console's files"
    );
    for (name, path) in &files {
        let r = http
            .get(format!("{}/console/{name}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let ty = match name.rsplit('.').next() {
            Some("html") => "text/html; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            _ => "text/javascript; charset=utf-8",
        };
        assert_eq!(r.headers()[CONTENT_TYPE], ty, "{name}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self';"),
            "{csp}"
        );
        assert!(csp.contains("connect-src 'self';"), "{csp}");
        assert_eq!(
            r.text().await.unwrap(),
            std::fs::read_to_string(path).unwrap(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn console_leads_to_console_slash_relatively() {
    let s = TestServer::start().await;
    let http = client();
    let r = http
        .get(format!("{}/console", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers()[LOCATION], "console/");
    let r = http
        .get(format!("{}/console/", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert_eq!(page, qunfa_server::console::FILES[0].2);
    assert!(page.contains("<html"), "the index page");
}
