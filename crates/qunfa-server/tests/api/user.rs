//! `user/*`.

use qunfa_core::account::{Accid, hash_token};
use serde_json::{Value, json};

use crate::harness::{TestServer, create_users};

fn is_token(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn stored_hash(s: &TestServer, accid: &str) -> Option<[u8; 32]> {
    let a = Accid::parse(accid, "accid").unwrap();
    s.state()
        .services
        .store
        .credentials(s.app.id, &a)
        .await
        .unwrap()
        .map(|c| c.token_hash)
}

async fn uinfos(s: &TestServer, accids: &str) -> Value {
    s.call("user/getUinfos", &[("accids", accids)]).await
}

async fn dicts(s: &TestServer) {
    for (id, parent) in [("37", ""), ("3701", "37")] {
        let r = s
            .call(
                "dic/createArea",
                &[("areaid", id), ("name", id), ("parentid", parent)],
            )
            .await;
        assert_eq!(r["code"], 200);
    }
    let r = s
        .call(
            "dic/createEnterptype",
            &[("enterptypeid", "food"), ("name", "Food")],
        )
        .await;
    assert_eq!(r["code"], 200);
}

#[tokio::test]
async fn create_answers_info_lowercases_and_generates_a_token() {
    let s = TestServer::start().await;
    let r = s
        .call(
            "user/create",
            &[
                ("accid", "Zhang.San@X"),
                ("name", "张三"),
                ("token", "my-token"),
            ],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 200, "info": {"accid": "zhang.san@x", "name": "张三", "token": "my-token"}})
    );
    assert_eq!(
        stored_hash(&s, "zhang.san@x").await,
        Some(hash_token(
            &Accid::parse("zhang.san@x", "a").unwrap(),
            "my-token"
        ))
    );

    let r = s.call("user/create", &[("accid", "nobody")]).await;
    assert_eq!(r["code"], 200);
    assert_eq!(r["info"]["accid"], "nobody");
    assert_eq!(r["info"]["name"], "");
    assert!(is_token(&r["info"]["token"]), "{r}");

    let r = s.call("user/create", &[("accid", "ZHANG.SAN@x")]).await;
    assert_eq!(r, json!({"code": 414, "desc": "already register"}));
}

#[tokio::test]
async fn tokens_are_never_stored_in_plain_text() {
    let s = TestServer::start().await;
    let token = "plain-text-token-that-must-not-be-on-disk";
    assert_eq!(
        s.call("user/create", &[("accid", "t"), ("token", token)])
            .await["code"],
        200
    );
    let generated = s.call("user/refreshToken", &[("accid", "t")]).await["info"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Everything the store holds: every byte on disk (SQLite), every row (PostgreSQL).
    let bytes = s.stored_bytes().await;
    let key = s.app.appkey.as_bytes();
    assert!(
        bytes.windows(key.len()).any(|w| w == key),
        "the scan sees what the store holds (the app's key)"
    );
    for t in [token, generated.as_str()] {
        assert!(
            !bytes.windows(t.len()).any(|w| w == t.as_bytes()),
            "token {t} found in the store"
        );
    }
}

#[tokio::test]
async fn create_checks_every_field() {
    let s = TestServer::start().await;
    dicts(&s).await;
    let long = |n: usize| "x".repeat(n);
    let (l33, l129, l65, l1025, l257, l17) = (
        long(33),
        long(129),
        long(65),
        long(1025),
        long(257),
        long(17),
    );
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "missing parameter: accid"),
        (vec![("accid", "")], "missing parameter: accid"),
        (vec![("accid", &l33)], "accid is longer than 32 characters"),
        (
            vec![("accid", "a b")],
            "accid may only contain letters, digits, _ @ . -: \"a b\"",
        ),
        (
            vec![("accid", "ok"), ("token", &l129)],
            "token is longer than 128 characters",
        ),
        (
            vec![("accid", "ok"), ("name", &l65)],
            "name is longer than 64 characters",
        ),
        (
            vec![("accid", "ok"), ("icon", &l1025)],
            "icon is longer than 1024 characters",
        ),
        (
            vec![("accid", "ok"), ("sign", &l257)],
            "sign is longer than 256 characters",
        ),
        (
            vec![("accid", "ok"), ("email", &l65)],
            "email is longer than 64 characters",
        ),
        (
            vec![("accid", "ok"), ("birth", &l17)],
            "birth is longer than 16 characters",
        ),
        (
            vec![("accid", "ok"), ("mobile", &l33)],
            "mobile is longer than 32 characters",
        ),
        (
            vec![("accid", "ok"), ("ex", &l1025)],
            "ex is longer than 1024 characters",
        ),
        (
            vec![("accid", "ok"), ("props", &l1025)],
            "props is longer than 1024 characters",
        ),
        (
            vec![("accid", "ok"), ("gender", "3")],
            "gender must be 0, 1 or 2: \"3\"",
        ),
        (
            vec![("accid", "ok"), ("areaid", "99")],
            "unknown areaid: 99",
        ),
        (
            vec![("accid", "ok"), ("areaid", "a/b")],
            "areaid may only contain letters, digits, _ . -: \"a/b\"",
        ),
        (
            vec![("accid", "ok"), ("enterptypeid", "steel")],
            "unknown enterptypeid: steel",
        ),
    ];
    for (params, desc) in cases {
        assert_eq!(
            s.call("user/create", &params).await,
            json!({"code": 414, "desc": desc}),
            "{params:?}"
        );
    }
    assert_eq!(
        uinfos(&s, r#"["ok"]"#).await,
        json!({"code": 200, "uinfos": []}),
        "nothing was created"
    );

    let full = [
        ("accid", "ok"),
        ("name", "N"),
        ("icon", "http://i/1.png"),
        ("sign", "hi"),
        ("email", "a@b.c"),
        ("birth", "1990-01-01"),
        ("mobile", "+1-5550100"),
        ("gender", "1"),
        ("ex", "{\"k\":1}"),
        ("props", "{}"),
        ("areaid", "3701"),
        ("enterptypeid", "food"),
    ];
    assert_eq!(s.call("user/create", &full).await["code"], 200);
    assert_eq!(
        uinfos(&s, r#"["ok"]"#).await,
        json!({"code": 200, "uinfos": [{
            "accid": "ok", "name": "N", "icon": "http://i/1.png", "sign": "hi", "email": "a@b.c",
            "birth": "1990-01-01", "mobile": "+1-5550100", "gender": 1, "ex": "{\"k\":1}",
            "areaid": "3701", "enterptypeid": "food"
        }]})
    );
}

#[tokio::test]
async fn accounts_get_dense_ordinals() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    assert_eq!(s.call("user/create", &[("accid", "a")]).await["code"], 414);
    create_users(&s, &["c"]).await;
    let idx = s
        .state()
        .services
        .store
        .index_entries(s.app.id)
        .await
        .unwrap();
    assert_eq!(
        idx.iter().map(|e| e.ordinal.0).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

#[tokio::test]
async fn update_sets_the_token_and_dictionary_fields() {
    let s = TestServer::start().await;
    dicts(&s).await;
    create_users(&s, &["u"]).await;
    let r = s
        .call(
            "user/update",
            &[("accid", "u"), ("token", "new-token"), ("areaid", "37")],
        )
        .await;
    assert_eq!(r, json!({"code": 200}));
    assert_eq!(
        stored_hash(&s, "u").await,
        Some(hash_token(&Accid::parse("u", "a").unwrap(), "new-token"))
    );
    assert_eq!(uinfos(&s, r#"["u"]"#).await["uinfos"][0]["areaid"], "37");

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("token", "x")], "missing parameter: accid"),
        (
            vec![("accid", "ghost"), ("token", "x")],
            "ghost not register",
        ),
        (
            vec![("accid", "u"), ("token", "")],
            "missing parameter: token",
        ),
        (
            vec![("accid", "u"), ("enterptypeid", "nope"), ("token", "other")],
            "unknown enterptypeid: nope",
        ),
    ];
    for (params, desc) in cases {
        assert_eq!(
            s.call("user/update", &params).await,
            json!({"code": 414, "desc": desc}),
            "{params:?}"
        );
    }
    assert_eq!(
        stored_hash(&s, "u").await,
        Some(hash_token(&Accid::parse("u", "a").unwrap(), "new-token")),
        "unchanged"
    );
}

#[tokio::test]
async fn refresh_token_issues_a_new_token() {
    let s = TestServer::start().await;
    create_users(&s, &["u"]).await;
    let before = stored_hash(&s, "u").await;
    let r = s.call("user/refreshToken", &[("accid", "U")]).await;
    assert_eq!(r["code"], 200);
    assert_eq!(r["info"]["accid"], "u");
    assert!(is_token(&r["info"]["token"]), "{r}");
    let token = r["info"]["token"].as_str().unwrap();
    assert_ne!(stored_hash(&s, "u").await, before);
    assert_eq!(
        stored_hash(&s, "u").await,
        Some(hash_token(&Accid::parse("u", "a").unwrap(), token))
    );
    assert_eq!(r.as_object().unwrap().len(), 2);
    assert_eq!(r["info"].as_object().unwrap().len(), 2);
    let r = s.call("user/refreshToken", &[("accid", "ghost")]).await;
    assert_eq!(r, json!({"code": 414, "desc": "ghost not register"}));
}

#[tokio::test]
async fn block_and_unblock() {
    let s = TestServer::start().await;
    create_users(&s, &["u"]).await;
    let blocked = || async {
        s.state()
            .services
            .store
            .index_entries(s.app.id)
            .await
            .unwrap()[0]
            .blocked
    };
    assert_eq!(
        s.call("user/block", &[("accid", "u"), ("needkick", "true")])
            .await,
        json!({"code": 200})
    );
    assert!(blocked().await);
    assert_eq!(
        s.call("user/unblock", &[("accid", "u")]).await,
        json!({"code": 200})
    );
    assert!(!blocked().await);
    assert_eq!(
        s.call("user/block", &[("accid", "u")]).await,
        json!({"code": 200})
    );
    assert!(blocked().await);
    let r = s
        .call("user/block", &[("accid", "u"), ("needkick", "maybe")])
        .await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "needkick must be true or false: \"maybe\""})
    );
    assert_eq!(
        s.call("user/unblock", &[("accid", "ghost")]).await,
        json!({"code": 414, "desc": "ghost not register"})
    );
    assert_eq!(
        s.call("user/block", &[]).await,
        json!({"code": 414, "desc": "missing parameter: accid"})
    );
}

#[tokio::test]
async fn get_uinfos_leaves_out_unknown_accounts_and_takes_at_most_200() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    let r = uinfos(&s, r#"["b","ghost","A"]"#).await;
    assert_eq!(
        r,
        json!({"code": 200, "uinfos": [{"accid": "b", "gender": 0}, {"accid": "a", "gender": 0}]})
    );
    let list: Vec<String> = (0..200).map(|i| format!("n{i}")).collect();
    assert_eq!(
        uinfos(&s, &serde_json::to_string(&list).unwrap()).await,
        json!({"code": 200, "uinfos": []})
    );
    let list: Vec<String> = (0..201).map(|i| format!("n{i}")).collect();
    let r = uinfos(&s, &serde_json::to_string(&list).unwrap()).await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "accids has more than 200 entries"})
    );
    for bad in ["a", "{\"a\":1}", "[1]"] {
        assert_eq!(
            uinfos(&s, bad).await,
            json!({"code": 414, "desc": "accids must be a JSON array of strings"})
        );
    }
    assert_eq!(
        uinfos(&s, r#"["bad accid"]"#).await,
        json!({"code": 414, "desc": "accids may only contain letters, digits, _ @ . -: \"bad accid\""})
    );
    assert_eq!(
        s.call("user/getUinfos", &[]).await,
        json!({"code": 414, "desc": "missing parameter: accids"})
    );
}

#[tokio::test]
async fn update_uinfo_sets_and_clears_fields() {
    let s = TestServer::start().await;
    dicts(&s).await;
    create_users(&s, &["u"]).await;
    let set = [
        ("accid", "u"),
        ("name", "N"),
        ("sign", "S"),
        ("gender", "2"),
        ("areaid", "3701"),
        ("enterptypeid", "food"),
    ];
    assert_eq!(s.call("user/updateUinfo", &set).await, json!({"code": 200}));
    let after_set = json!({"code": 200, "uinfos": [{"accid": "u", "name": "N", "sign": "S", "gender": 2, "areaid": "3701", "enterptypeid": "food"}]});
    assert_eq!(uinfos(&s, r#"["u"]"#).await, after_set);

    // A refused update changes nothing, even the fields that were fine.
    let r = s
        .call(
            "user/updateUinfo",
            &[("accid", "u"), ("name", "Other"), ("areaid", "nowhere")],
        )
        .await;
    assert_eq!(r, json!({"code": 414, "desc": "unknown areaid: nowhere"}));
    let r = s
        .call(
            "user/updateUinfo",
            &[
                ("accid", "u"),
                ("name", "Other"),
                ("email", &"e".repeat(65)),
            ],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "email is longer than 64 characters"})
    );
    assert_eq!(uinfos(&s, r#"["u"]"#).await, after_set);

    let clear = [
        ("accid", "u"),
        ("name", ""),
        ("sign", ""),
        ("gender", ""),
        ("areaid", ""),
        ("enterptypeid", ""),
    ];
    assert_eq!(
        s.call("user/updateUinfo", &clear).await,
        json!({"code": 200})
    );
    assert_eq!(
        uinfos(&s, r#"["u"]"#).await,
        json!({"code": 200, "uinfos": [{"accid": "u", "gender": 0}]})
    );
    assert_eq!(
        s.call("user/updateUinfo", &[("accid", "ghost"), ("name", "x")])
            .await,
        json!({"code": 414, "desc": "ghost not register"})
    );
}

#[tokio::test]
async fn batch_create_answers_each_account() {
    let s = TestServer::start().await;
    dicts(&s).await;
    create_users(&s, &["exists"]).await;
    let users = json!([
        {"accid": "B1", "token": "t1", "name": "One", "areaid": "37", "gender": 1},
        {"accid": "exists"},
        {"accid": "b2", "areaid": "nowhere"},
        {"accid": "bad accid"},
        {"accid": "b3", "colour": "red"},
        "not an object",
        {"accid": "b4", "enterptypeid": "food"},
        {"accid": "b1"}
    ]);
    let r = s
        .client
        .call_json("user/batchCreate", &json!({"users": users}))
        .await
        .unwrap();
    let results = r["data"]["results"].as_array().unwrap().clone();
    assert!(is_token(&results[6]["token"]), "{r}");
    assert_eq!(
        r,
        json!({"code": 200, "data": {"created": 2, "failed": 6, "results": [
            {"accid": "b1", "code": 200, "token": "t1"},
            {"accid": "exists", "code": 414, "desc": "already register"},
            {"accid": "b2", "code": 414, "desc": "unknown areaid: nowhere"},
            {"accid": "bad accid", "code": 414, "desc": "accid may only contain letters, digits, _ @ . -: \"bad accid\""},
            {"accid": "b3", "code": 414, "desc": "users[4].colour is not an account field"},
            {"accid": "", "code": 414, "desc": "users[5] must be a JSON object"},
            {"accid": "b4", "code": 200, "token": results[6]["token"]},
            {"accid": "b1", "code": 414, "desc": "already register"}
        ]}})
    );
    assert_eq!(
        uinfos(&s, r#"["b1","b4"]"#).await,
        json!({"code": 200, "uinfos": [
            {"accid": "b1", "name": "One", "gender": 1, "areaid": "37"},
            {"accid": "b4", "gender": 0, "enterptypeid": "food"}
        ]})
    );

    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"accid": format!("m{i}")}))
        .collect();
    let r = s
        .client
        .call_json("user/batchCreate", &json!({"users": too_many}))
        .await
        .unwrap();
    assert_eq!(
        r,
        json!({"code": 414, "desc": "users has more than 1000 entries"})
    );
    let r = s.call("user/batchCreate", &[("users", "{}")]).await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "users must be a JSON array of account objects"})
    );
    assert_eq!(
        s.call("user/batchCreate", &[]).await,
        json!({"code": 414, "desc": "missing parameter: users"})
    );
    let r = s.call("user/getUinfos", &[("accids", r#"["m0"]"#)]).await;
    assert_eq!(r, json!({"code": 200, "uinfos": []}));
}
