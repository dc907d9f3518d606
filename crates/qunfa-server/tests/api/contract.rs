//! The request/answer contract every endpoint shares: bodies, content types, unknown
//! endpoints, oversized bodies, and 500 without internal text.

use serde_json::json;

use crate::harness::TestServer;

#[tokio::test]
async fn json_bodies_take_values_where_nim_expects_json_strings() {
    let s = TestServer::start().await;
    let r = s
        .client
        .call_json(
            "user/create",
            &json!({"accid": "j1", "gender": 2, "name": "J"}),
        )
        .await
        .unwrap();
    assert_eq!(r["code"], 200, "{r}");
    // `accids` as a real JSON array, not a string holding one.
    let r = s
        .client
        .call_json("user/getUinfos", &json!({"accids": ["j1"]}))
        .await
        .unwrap();
    assert_eq!(
        r,
        json!({"code": 200, "uinfos": [{"accid": "j1", "name": "J", "gender": 2}]})
    );
    // …and as a string holding one, like a form would send it.
    let r = s
        .client
        .call_json("user/getUinfos", &json!({"accids": "[\"j1\"]"}))
        .await
        .unwrap();
    assert_eq!(r["uinfos"][0]["accid"], "j1");
}

#[tokio::test]
async fn form_bodies_with_any_charset_spelling() {
    let s = TestServer::start().await;
    for (i, ct) in [
        "application/x-www-form-urlencoded;charset=utf-8",
        "application/x-www-form-urlencoded; charset=UTF-8;",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded;charset=utf-8;",
    ]
    .iter()
    .enumerate()
    {
        let body = format!("accid=f{i}&name=%E5%BC%A0%E4%B8%89");
        let r = s
            .client
            .send("user/create", &s.client.sign(), ct, body.into_bytes())
            .await
            .unwrap();
        assert_eq!(r["code"], 200, "{ct}: {r}");
        assert_eq!(r["info"]["name"], "张三");
    }
}

#[tokio::test]
async fn malformed_bodies_answer_414() {
    let s = TestServer::start().await;
    let r = s
        .client
        .send(
            "user/create",
            &s.client.sign(),
            "application/json",
            b"{not json".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 414, "desc": "body is not a JSON object"}));
    let r = s
        .client
        .send(
            "user/create",
            &s.client.sign(),
            "application/json",
            b"[1,2]".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 414, "desc": "body is not a JSON object"}));
    let form = "application/x-www-form-urlencoded";
    let r = s
        .client
        .send("user/create", &s.client.sign(), form, b"accid=%zz".to_vec())
        .await;
    // Percent-decoding is lenient (as NIM's servlet stack is): the raw text is the accid, which
    // then fails the accid rule and names it.
    let r = r.unwrap();
    assert_eq!(
        r,
        json!({"code": 414, "desc": "accid may only contain letters, digits, _ @ . -: \"%zz\""})
    );
}

#[tokio::test]
async fn unknown_endpoints_answer_404_and_other_methods_405() {
    let s = TestServer::start().await;
    let r = s.call("user/nope", &[]).await;
    assert_eq!(
        r,
        json!({"code": 404, "desc": "no such endpoint: /nimserver/user/nope.action"})
    );
    let http = reqwest::Client::new();
    for path in ["/nimserver/user/nope.action", "/healthz-typo", "/"] {
        let resp = http.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], 404);
    }
    let live = http
        .get(format!("{}/nimserver/health/liveness.action", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let resp = http
        .get(format!("{}/nimserver/user/create.action", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": 414, "desc": "method GET not allowed: use POST"})
    );
}

/// Found by schemathesis (`allow_header_conformance`): every 405 said `Allow: POST`, also for
/// the pages and the gateway, which take GET; and liveness answered any method, TRACE too.
#[tokio::test]
async fn a_405_names_the_methods_of_its_route() {
    let s = TestServer::start().await;
    let http = reqwest::Client::new();
    for (method, path, allow, desc) in [
        (
            "POST",
            "/console/",
            "GET,HEAD",
            "method POST not allowed: use GET",
        ),
        (
            "DELETE",
            "/demo/demo.js",
            "GET,HEAD",
            "method DELETE not allowed: use GET",
        ),
        (
            "POST",
            "/ws",
            "GET,HEAD",
            "method POST not allowed: use GET",
        ),
        (
            "PUT",
            "/nimserver/msg/sendMsg.action",
            "POST",
            "method PUT not allowed: use POST",
        ),
        (
            "TRACE",
            "/nimserver/health/liveness.action",
            "GET,HEAD,POST",
            "method TRACE not allowed: use POST",
        ),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = http
            .request(m, format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body, json!({"code": 414, "desc": desc}), "{method} {path}");
    }
    for method in ["GET", "HEAD", "POST"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = http
            .request(m, format!("{}/nimserver/health/liveness.action", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{method}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_being_read() {
    let s = TestServer::with(|c| c.api.max_body_bytes = 1024).await;
    let big = format!("accid=big&ex={}", "x".repeat(2000));
    let r = s
        .client
        .send(
            "user/create",
            &s.client.sign(),
            "application/x-www-form-urlencoded",
            big.into_bytes(),
        )
        .await;
    assert_eq!(
        r.unwrap(),
        json!({"code": 414, "desc": "request body is larger than 1024 bytes"})
    );
    // Without a Content-Length (chunked), the limit still holds while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b'x'; 100])).collect();
    let body = reqwest::Body::wrap_stream(futures_stream(chunks));
    let mut req = reqwest::Client::new()
        .post(format!("{}/nimserver/user/create.action", s.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body);
    for (k, v) in s.client.sign() {
        req = req.header(k, v);
    }
    let r: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        r,
        json!({"code": 414, "desc": "request body is larger than 1024 bytes"})
    );
    assert_eq!(
        s.call("user/getUinfos", &[("accids", r#"["big"]"#)]).await,
        json!({"code": 200, "uinfos": []})
    );
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    struct Iter(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Iter {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(chunks.into_iter())
}

#[tokio::test]
async fn a_storage_fault_answers_500_without_internal_text() {
    let s = TestServer::start().await;
    // Break the database under the running server, as a failing disk or a bad hand edit would.
    s.drop_table("enterptypes").await;
    let r = s.call("dic/listEnterptypes", &[]).await;
    assert_eq!(r, json!({"code": 500, "desc": "internal error"}));
    let r = s
        .call(
            "dic/createEnterptype",
            &[("enterptypeid", "1"), ("name", "food")],
        )
        .await;
    assert_eq!(r, json!({"code": 500, "desc": "internal error"}));
    // The rest of the server still works.
    assert_eq!(
        s.call("dic/listAreas", &[]).await,
        json!({"code": 200, "data": {"areas": []}})
    );
}

/// Bytes that are not UTF-8 in a form field are refused naming the field, as the same bytes in
/// JSON are, and change nothing (they used to be stored as U+FFFD).
#[tokio::test]
async fn invalid_utf8_is_refused_naming_the_parameter() {
    let s = TestServer::start().await;
    crate::harness::create_users(&s, &["a", "b"]).await;
    let form = "application/x-www-form-urlencoded;charset=utf-8";
    let raw = |body: &str| body.as_bytes().to_vec();
    for (endpoint, body, desc) in [
        (
            "user/create",
            "accid=c&name=%FF%FE",
            "name is not valid UTF-8",
        ),
        (
            "msg/sendMsg",
            "from=a&ope=0&to=b&type=0&body=%7B%22msg%22%3A%22%FF%22%7D",
            "body is not valid UTF-8",
        ),
        ("msg/broadcastMsg", "body=%FF%FE", "body is not valid UTF-8"),
        (
            "dic/createArea",
            "areaid=37&name=%FE",
            "name is not valid UTF-8",
        ),
    ] {
        let r = s
            .client
            .send(endpoint, &s.client.sign(), form, raw(body))
            .await
            .unwrap();
        assert_eq!(r, json!({"code": 414, "desc": desc}), "{endpoint}");
    }
    let r = s
        .client
        .send(
            "user/create",
            &s.client.sign(),
            "application/json",
            b"{\"accid\":\"c\",\"name\":\"\xff\"}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 414, "desc": "body is not valid UTF-8"}));
    // Nothing was stored.
    assert_eq!(
        s.call("user/getUinfos", &[("accids", r#"["c"]"#)]).await,
        json!({"code": 200, "uinfos": []})
    );
    assert_eq!(
        s.call("dic/listAreas", &[]).await,
        json!({"code": 200, "data": {"areas": []}})
    );
    assert_eq!(
        s.call("history/queryBroadcastMsg", &[]).await,
        json!({"code": 200, "size": 0, "msgs": []})
    );
}

/// A broadcast's body is plain text: a JSON array or object in a JSON body is refused.
#[tokio::test]
async fn a_broadcast_body_must_be_a_string() {
    let s = TestServer::start().await;
    for body in [json!(["赌博"]), json!({"msg": "x"}), json!(7)] {
        let r = s
            .client
            .call_json("msg/broadcastMsg", &json!({"body": body}))
            .await
            .unwrap();
        assert_eq!(r, json!({"code": 414, "desc": "body must be a string"}));
    }
    let r = s
        .client
        .call_json("msg/broadcastMsg", &json!({"body": "大家好"}))
        .await
        .unwrap();
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(r["msg"]["body"], "大家好");
}
