//! `docs/openapi.yaml` held to the server. The routes come from the real router
//! (`qunfa_server::api::route_paths`, recorded as `api::routes` builds it), and which methods
//! each answers from the running server: a method a route does not take answers 405, so GET
//! and POST are asked of every path. The spec must list exactly those (method, path) pairs.
//!
//! Adding a route: build it in `api::routes` (a route added elsewhere is not seen here), then
//! add its path under `paths:` in docs/openapi.yaml with each method it answers; the failure
//! message prints a stub to start from. Then run
//! `cargo nextest run -p qunfa-server --test api spec`.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_norway::Value;

use crate::harness::TestServer;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
const API_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
const METHODS: [&str; 8] = [
    "get", "post", "put", "delete", "patch", "head", "options", "trace",
];

fn spec() -> Value {
    let text = std::fs::read_to_string(SPEC).expect("docs/openapi.yaml");
    serde_norway::from_str(&text).expect("docs/openapi.yaml is YAML")
}

/// (METHOD, path) of every operation in the spec.
fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let paths = spec["paths"].as_mapping().expect("paths");
    for (path, item) in paths {
        let path = path.as_str().expect("a path is a string");
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

fn stub(method: &str, path: &str) -> String {
    format!(
        "  {path}:\n    {}:\n      tags: [..]\n      operationId: ..\n      summary: ..\n      \
         responses: {{'200': {{$ref: '#/components/responses/Ok'}}}}\n",
        method.to_lowercase()
    )
}

#[tokio::test]
async fn the_spec_lists_every_route_the_router_serves_and_nothing_else() {
    let spec = spec();
    let documented = documented(&spec);
    let s = TestServer::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status = |method: &'static str, path: String| {
        let http = http.clone();
        let url = format!("{}{path}", s.base);
        async move {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            http.request(m, url).send().await.unwrap().status()
        }
    };
    let routes = qunfa_server::api::route_paths();
    assert!(routes.len() > 80, "the router lists its routes: {routes:?}");
    let mut served = BTreeSet::new();
    for path in &routes {
        for method in ["GET", "POST"] {
            let st = status(method, path.clone()).await;
            assert_ne!(
                st,
                StatusCode::NOT_FOUND,
                "{method} {path} is routed but answers 404"
            );
            if st != StatusCode::METHOD_NOT_ALLOWED {
                served.insert((method.to_owned(), path.clone()));
            }
        }
    }
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    // A documented path missing from `api::routes` that answers anyway was built somewhere
    // this test cannot see.
    for (method, path) in extra.iter().filter(|(_, p)| !routes.contains(p)) {
        let m: &'static str = if method == "GET" { "GET" } else { "POST" };
        let st = status(m, path.clone()).await;
        assert_eq!(
            st,
            StatusCode::NOT_FOUND,
            "{method} {path} answers {st} but is not built in qunfa_server::api::routes: build \
             it there, so the router lists it"
        );
    }
    let mut report = String::new();
    if !missing.is_empty() {
        report.push_str(
            "served by the router, missing from docs/openapi.yaml (add under `paths:`):\n",
        );
        for (m, p) in &missing {
            report.push_str(&format!("  {m} {p}\n"));
        }
        report.push_str("a stub to start from:\n");
        for (m, p) in &missing {
            report.push_str(&stub(m, p));
        }
    }
    if !extra.is_empty() {
        report.push_str(
            "in docs/openapi.yaml, not served by the router (remove it, or add the route in \
             qunfa_server::api::routes):\n",
        );
        for (m, p) in &extra {
            report.push_str(&format!("  {m} {p}\n"));
        }
    }
    assert!(report.is_empty(), "\n{report}");
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("$ref") {
                    out.push(v.as_str().unwrap_or_default().to_owned());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_spec_is_whole_every_api_operation_takes_a_form_and_answers_nims_json() {
    let spec = spec();
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document"
    );
    // Every reference resolves.
    let mut all = Vec::new();
    refs(&spec, &mut all);
    let dangling: BTreeSet<_> = all
        .iter()
        .filter(|r| {
            let Some(path) = r.strip_prefix("#/") else {
                return true;
            };
            let mut node = &spec;
            for part in path.split('/') {
                match node.get(part) {
                    Some(n) => node = n,
                    None => return true,
                }
            }
            false
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");

    let api_doc = std::fs::read_to_string(API_DOC).unwrap();
    let mut ids = BTreeMap::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        let path = path.as_str().unwrap();
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{m} {path}: no operationId"));
            if let Some(other) = ids.insert(id.to_owned(), format!("{m} {path}")) {
                panic!("operationId {id} used twice: {other} and {m} {path}");
            }
            assert!(
                op["responses"].as_mapping().is_some_and(|r| !r.is_empty()),
                "{m} {path}: no responses"
            );
            let Some(endpoint) = path
                .strip_prefix("/nimserver/")
                .and_then(|p| p.strip_suffix(".action"))
            else {
                continue;
            };
            assert!(
                api_doc.contains(&format!("`{endpoint}`")) || api_doc.contains(endpoint),
                "{endpoint} is in the spec but docs/api.md does not describe it"
            );
            if endpoint.starts_with("health/") {
                continue;
            }
            assert_eq!(m, "post", "{path}: the API is POST only");
            let body = &op["requestBody"];
            let form = if let Some(r) = body["$ref"].as_str() {
                let name = r.rsplit('/').next().unwrap();
                &spec["components"]["requestBodies"][name]
            } else {
                body
            };
            assert!(
                form["content"]
                    .get("application/x-www-form-urlencoded")
                    .is_some(),
                "{path}: parameters as form fields"
            );
            let ok = &op["responses"]["200"];
            let text = serde_norway::to_string(ok).unwrap();
            assert!(
                text.contains("#/components/schemas/Failure")
                    || text.contains("#/components/responses/"),
                "{path}: its 200 answer allows NIM's failure shape"
            );
        }
    }
}
