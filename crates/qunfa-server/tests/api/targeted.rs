//! `msg/sendMsgToAll` and `msg/previewAudience`: the original request.

use qunfa_core::audience;
use qunfa_core::auth::checksum;
use qunfa_core::ids::MsgId;
use serde_json::{Value, json};

use crate::harness::{TestServer, create_users};

/// Msgids the account has received, straight from the store (what sync will serve).
pub async fn inbox(s: &TestServer, accid: &str) -> Vec<i64> {
    let ix = s.state().services.indexes.get(s.app.id).await.unwrap();
    let ordinal = ix.read().ordinal_of(accid).expect("account exists");
    let msgs = s
        .state()
        .services
        .store
        .user_messages(s.app.id, ordinal, MsgId(0), 100, s.clock_ms())
        .await
        .unwrap();
    msgs.iter().map(|m| m.msgid.0).collect()
}

/// The stored audience of a message, as accids, sorted.
async fn audience_of(s: &TestServer, msgid: i64) -> Vec<String> {
    let blob = s
        .state()
        .services
        .store
        .message_audience(s.app.id, MsgId(msgid))
        .await
        .unwrap()
        .unwrap();
    let bits = audience::decode(&blob).unwrap();
    let entries = s
        .state()
        .services
        .store
        .index_entries(s.app.id)
        .await
        .unwrap();
    let mut out: Vec<String> = entries
        .into_iter()
        .filter(|e| bits.contains(e.ordinal.0))
        .map(|e| e.accid.to_string())
        .collect();
    out.sort();
    out
}

async fn shandong(s: &TestServer) {
    for (id, parent) in [
        ("37", ""),
        ("3701", "37"),
        ("370102", "3701"),
        ("3702", "37"),
        ("44", ""),
    ] {
        let r = s
            .call(
                "dic/createArea",
                &[("areaid", id), ("name", id), ("parentid", parent)],
            )
            .await;
        assert_eq!(r["code"], 200, "{r}");
    }
    for t in ["food", "steel"] {
        assert_eq!(
            s.call("dic/createEnterptype", &[("enterptypeid", t), ("name", t)])
                .await["code"],
            200
        );
    }
    let people = [
        ("jinan_food", "3701", "food"),
        ("lixia_food", "370102", "food"),
        ("lixia_steel", "370102", "steel"),
        ("qingdao_food", "3702", "food"),
        ("canton_food", "44", "food"),
        ("nowhere", "", ""),
    ];
    for (accid, area, t) in people {
        let r = s
            .call(
                "user/create",
                &[("accid", accid), ("areaid", area), ("enterptypeid", t)],
            )
            .await;
        assert_eq!(r["code"], 200, "{r}");
    }
}

fn text(msg: &str) -> String {
    json!({ "msg": msg }).to_string()
}

async fn send(s: &TestServer, params: &[(&str, &str)]) -> Value {
    s.call("msg/sendMsgToAll", params).await
}

fn assert_sent(r: &Value, recipients: u64) -> i64 {
    assert_eq!(r["code"], 200, "{r}");
    let d = &r["data"];
    assert_eq!(d.as_object().unwrap().len(), 4, "{r}");
    assert_eq!(d["antispam"], false);
    assert_eq!(d["recipients"], recipients, "{r}");
    assert!(d["timetag"].as_i64().unwrap() > 1_600_000_000_000);
    let id = d["msgid"].as_i64().unwrap();
    assert!(id > 0 && id < (1 << 53));
    id
}

#[tokio::test]
async fn the_original_requests_example_works_as_written() {
    let s = TestServer::start().await;
    create_users(
        &s,
        &[
            "531c506e48a340e5bff7eb72c6504250",
            "yucx_test_10400",
            "bystander",
        ],
    )
    .await;
    // The request body exactly as in spec/sendMsgToAll.txt.
    let body = r#"{
  "body": {
    "contentinfoid": "1",
    "contentcode": 1022,
    "enterpinfoid": "10000",
    "contenttypeid": null,
    "contenttitle": "一米哥湖南梅菜扣肉、鱼香肉丝半成品 微波炉加热即可食用,方便卫生,高效快捷",
    "covermedia": "https://youpeiliangpin.oss-cn-beijing.aliyuncs.com/content/TIM%E5%9B%BE%E7%89%8720180502132735.png",
    "contentdesc": "测试内容描述42018-05-10 16:42:51",
    "contentimage": "https://youpeiliangpin.oss-cn-beijing.aliyuncs.com/content/TIM%E5%9B%BE%E7%89%8720180502132735.png,https://youpeiliangpin.oss-cn-beijing.aliyuncs.com/content/TIM%E5%9B%BE%E7%89%8720180502132741.png,https://youpeiliangpin.oss-cn-beijing.aliyuncs.com/content/TIM%E5%9B%BE%E7%89%8720180502132749.png",
    "contenttemplate": "2",
    "clicks": 4,
    "status": "1",
    "createtime": "2018-05-03 10:07:45",
    "datasource": "1",
    "creatorid": "ebdda385a01e4ecb880794e0e33c7622",
    "isdelete": "1",
    "memo": null,
    "linkmanid": "ebdda385a01e4ecb880794e0e33c7622",
    "companyname": "山东得利斯食品有限公司",
    "appregisterid": null,
    "contenttypename": null,
    "contentlabelname": null,
    "shareFew": null,
    "browseNumber": null,
    "contentCount": null,
    "commentNumber": null,
    "images": null,
    "pageNum": null,
    "pageSize": null
  },
  "type": "2",
  "two": [
    {
      "appregisterid": "531c506e48a340e5bff7eb72c6504250"
    },
    {
      "appregisterid": "yucx_test_10400"
    }
  ]
}"#;
    let nonce = "4tgggergigwow323t23t";
    let curtime = (s.clock_ms() / 1000).to_string();
    let headers = vec![
        ("AppKey", s.app.appkey.clone()),
        ("Nonce", nonce.to_owned()),
        ("CurTime", curtime.clone()),
        ("CheckSum", checksum(&s.app.secret, nonce, &curtime)),
    ];
    let r = s
        .client
        .send(
            "msg/sendMsgToAll",
            &headers,
            "application/json; charset=utf-8",
            body.as_bytes().to_vec(),
        )
        .await;
    let msgid = assert_sent(&r.unwrap(), 2);
    for accid in ["531c506e48a340e5bff7eb72c6504250", "yucx_test_10400"] {
        let r = s.call("history/queryUserMsgs", &[("accid", accid)]).await;
        assert_eq!(r["code"], 200, "{r}");
        assert_eq!(r["size"], 1, "{r}");
        let m = &r["msgs"][0];
        assert_eq!(m["msgid"], msgid);
        assert_eq!(m["kind"], "mass");
        assert_eq!(m["type"], 2);
        assert_eq!(m["from"], "qunfa.system");
        assert_eq!(m["body"]["companyname"], "山东得利斯食品有限公司");
        assert_eq!(m["body"]["contentcode"], 1022);
        assert_eq!(m["body"]["memo"], Value::Null);
    }
    assert!(inbox(&s, "bystander").await.is_empty());
}

#[tokio::test]
async fn areas_cover_their_sub_areas_and_types_narrow_them() {
    let s = TestServer::start().await;
    shandong(&s).await;
    let body = text("hi");
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec![],
            vec![
                "canton_food",
                "jinan_food",
                "lixia_food",
                "lixia_steel",
                "nowhere",
                "qingdao_food",
            ],
        ),
        (
            vec![("areaid", "37")],
            vec!["jinan_food", "lixia_food", "lixia_steel", "qingdao_food"],
        ),
        (
            vec![("areaid", "3701")],
            vec!["jinan_food", "lixia_food", "lixia_steel"],
        ),
        (
            vec![("areaid", "3701"), ("enterptypeid", "steel")],
            vec!["lixia_steel"],
        ),
        (
            vec![("areaid", "3702,44")],
            vec!["canton_food", "qingdao_food"],
        ),
        (
            vec![("enterptypeid", "food")],
            vec!["canton_food", "jinan_food", "lixia_food", "qingdao_food"],
        ),
        (
            vec![("enterptypeid", "food,steel"), ("areaid", "370102")],
            vec!["lixia_food", "lixia_steel"],
        ),
        (
            vec![
                ("toAccids", r#"["jinan_food","canton_food","NOWHERE"]"#),
                ("areaid", "37"),
            ],
            vec!["jinan_food"],
        ),
        (
            vec![("two", r#"["canton_food",{"appregisterid":"qingdao_food"}]"#)],
            vec!["canton_food", "qingdao_food"],
        ),
    ];
    for (selection, want) in cases {
        let mut params = vec![("type", "0"), ("body", body.as_str())];
        params.extend(selection.iter().copied());
        let preview = s.call("msg/previewAudience", &selection).await;
        assert_eq!(
            preview,
            json!({"code": 200, "data": {"recipients": want.len()}}),
            "{selection:?}"
        );
        let msgid = assert_sent(&send(&s, &params).await, want.len() as u64);
        assert_eq!(audience_of(&s, msgid).await, want, "{selection:?}");
    }
}

#[tokio::test]
async fn the_sender_blocked_and_system_accounts_are_left_out() {
    let s = TestServer::start().await;
    shandong(&s).await;
    assert_eq!(
        s.call("user/block", &[("accid", "lixia_steel")]).await["code"],
        200
    );
    let body = text("hi");
    let r = send(
        &s,
        &[
            ("from", "jinan_food"),
            ("areaid", "37"),
            ("type", "0"),
            ("body", &body),
        ],
    )
    .await;
    let msgid = assert_sent(&r, 2);
    assert_eq!(audience_of(&s, msgid).await, ["lixia_food", "qingdao_food"]);
    // Without `from`, the system account sends; it never receives.
    let msgid = assert_sent(&send(&s, &[("type", "0"), ("body", &body)]).await, 5);
    assert!(
        !audience_of(&s, msgid)
            .await
            .contains(&"qunfa.system".to_owned())
    );
    assert_eq!(
        s.state()
            .services
            .store
            .message(s.app.id, qunfa_core::ids::MsgId(msgid))
            .await
            .unwrap()
            .unwrap()
            .from
            .as_str(),
        "qunfa.system"
    );
    assert_eq!(
        s.call("user/unblock", &[("accid", "lixia_steel")]).await["code"],
        200
    );
    assert_eq!(
        s.call("msg/previewAudience", &[("areaid", "37")]).await["data"]["recipients"],
        4
    );
}

#[tokio::test]
async fn the_audience_is_fixed_at_send_time() {
    let s = TestServer::start().await;
    shandong(&s).await;
    let body = text("hi");
    let msgid = assert_sent(
        &send(&s, &[("areaid", "3701"), ("type", "0"), ("body", &body)]).await,
        3,
    );
    // Later accounts and moves do not change who the message was for.
    assert_eq!(
        s.call("user/create", &[("accid", "late"), ("areaid", "3701")])
            .await["code"],
        200
    );
    assert_eq!(
        s.call(
            "user/updateUinfo",
            &[("accid", "jinan_food"), ("areaid", "44")]
        )
        .await["code"],
        200
    );
    assert_eq!(
        audience_of(&s, msgid).await,
        ["jinan_food", "lixia_food", "lixia_steel"]
    );
    assert_eq!(inbox(&s, "jinan_food").await, [msgid]);
    assert!(inbox(&s, "late").await.is_empty());
    // The next send sees the change.
    let next = assert_sent(
        &send(&s, &[("areaid", "3701"), ("type", "0"), ("body", &body)]).await,
        3,
    );
    assert_eq!(
        audience_of(&s, next).await,
        ["late", "lixia_food", "lixia_steel"]
    );
    // Re-parenting an area moves its users with it.
    assert_eq!(
        s.call("dic/updateArea", &[("areaid", "3702"), ("parentid", "44")])
            .await["code"],
        200
    );
    assert_eq!(
        s.call("msg/previewAudience", &[("areaid", "44")]).await["data"]["recipients"],
        3
    );
}

#[tokio::test]
async fn a_repeated_msgidclient_answers_the_first_send() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    let body = text("once");
    let params = [
        ("type", "0"),
        ("body", body.as_str()),
        ("msgidclient", "order-42"),
    ];
    let first = send(&s, &params).await;
    let msgid = assert_sent(&first, 2);
    create_users(&s, &["c"]).await;
    assert_eq!(send(&s, &params).await, first, "same answer, nothing sent");
    assert_eq!(inbox(&s, "c").await, Vec::<i64>::new());
    assert_eq!(inbox(&s, "a").await, [msgid]);
    // After 7 days the key may be used again.
    s.clock.advance_ms(7 * 24 * 3600 * 1000 + 1000);
    let again = assert_sent(&send(&s, &params).await, 3);
    assert!(again > msgid);
}

#[tokio::test]
async fn bad_selections_and_content_answer_414_and_send_nothing() {
    let s = TestServer::with(|c| c.messages.max_body_chars = 100).await;
    shandong(&s).await;
    let ok_body = text("x");
    let long_body = text(&"x".repeat(100));
    let long_ext = "e".repeat(1025);
    let long_key = "k".repeat(129);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("areaid", "99")], "unknown areaid: 99"),
        (vec![("areaid", "37,99")], "unknown areaid: 99"),
        (vec![("enterptypeid", "wood")], "unknown enterptypeid: wood"),
        (
            vec![("areaid", "a b")],
            "areaid may only contain letters, digits, _ . -: \"a b\"",
        ),
        (
            vec![("toAccids", r#"["jinan_food","ghost"]"#)],
            "ghost not register",
        ),
        (
            vec![("two", r#"[{"appregisterid":"ghost"}]"#)],
            "ghost not register",
        ),
        (
            vec![("two", r#"[{"id":"x"}]"#)],
            "two must be a JSON array of accids or of objects with appregisterid",
        ),
        (
            vec![("two", "nope")],
            "two must be a JSON array of accids or of objects with appregisterid",
        ),
        (
            vec![("toAccids", "nope")],
            "toAccids must be a JSON array of strings",
        ),
        (vec![("from", "ghost")], "ghost not register"),
        (vec![("markRead", "2")], "markRead must be 0 or 1: \"2\""),
        (
            vec![("ext", long_ext.as_str())],
            "ext is longer than 1024 characters",
        ),
        (
            vec![("msgidclient", long_key.as_str())],
            "msgidclient is longer than 128 characters",
        ),
    ];
    for (extra, desc) in cases {
        let mut params = vec![("type", "0"), ("body", ok_body.as_str())];
        params.extend(extra.iter().copied());
        assert_eq!(
            send(&s, &params).await,
            json!({"code": 414, "desc": desc}),
            "{extra:?}"
        );
    }
    let content_cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("body", ok_body.as_str())], "missing parameter: type"),
        (
            vec![("type", "5"), ("body", ok_body.as_str())],
            "type must be one of 0, 1, 2, 3, 4, 6, 10, 100: \"5\"",
        ),
        (vec![("type", "0")], "missing parameter: body"),
        (
            vec![("type", "0"), ("body", "not json")],
            "body must be a JSON object",
        ),
        (
            vec![("type", "0"), ("body", "\"{jsonbody}\"")],
            "body must be a JSON object",
        ),
        (
            vec![("type", "0"), ("body", long_body.as_str())],
            "body is longer than 100 characters",
        ),
        (
            vec![("type", "0"), ("body", r#"{"msg":1}"#)],
            "body.msg must be a string for type 0",
        ),
        (
            vec![("type", "4"), ("body", r#"{"title":"t","lat":1}"#)],
            "body.lng must be a number for type 4",
        ),
        (
            vec![("type", "1"), ("body", r#"{"url":7}"#)],
            "body.url must be a string for type 1",
        ),
        (
            vec![("type", "3"), ("body", r#"{"dur":"long"}"#)],
            "body.dur must be a non-negative integer for type 3",
        ),
        (
            vec![("type", "6"), ("body", r#"{"size":-1}"#)],
            "body.size must be a non-negative integer for type 6",
        ),
    ];
    for (params, desc) in content_cases {
        assert_eq!(
            send(&s, &params).await,
            json!({"code": 414, "desc": desc}),
            "{params:?}"
        );
    }
    assert_eq!(
        s.call("history/queryMassMsgs", &[]).await["size"],
        0,
        "nothing was stored"
    );
    assert!(inbox(&s, "jinan_food").await.is_empty());
}

#[tokio::test]
async fn every_message_type_is_accepted_in_both_body_styles() {
    let s = TestServer::start().await;
    create_users(&s, &["a"]).await;
    let bodies = [
        ("0", json!({"msg": "哈哈哈"})),
        (
            "1",
            json!({"name": "图片", "md5": "9894907e4ad9de4678091277509361f7", "url": "http://x/1.jpg", "ext": "jpg", "w": 6814, "h": 2332, "size": 388245}),
        ),
        (
            "2",
            json!({"dur": 4551, "md5": "87b94a090dec5c58f242b7132a530a01", "url": "http://x/1.aac", "ext": "aac", "size": 16420}),
        ),
        (
            "3",
            json!({"dur": 8003, "md5": "da2cef3e5663ee9c3547ef5d127f7e3e", "url": "http://x/1.mp4", "w": 360, "h": 480, "ext": "mp4", "size": 16420}),
        ),
        (
            "4",
            json!({"title": "中国 浙江省 杭州市 网商路 599号", "lng": 120.1908686708565, "lat": 30.18704515647036}),
        ),
        (
            "6",
            json!({"name": "BlizzardReg.ttf", "md5": "79d62a35fa3d34c367b20c66afc2a500", "url": "http://x/f", "ext": "ttf", "size": 91680}),
        ),
        ("10", json!({"msg": "这是一条提示消息，请注意查看"})),
        ("100", json!({"myKey": "myValue", "nested": {"n": [1, 2]}})),
    ];
    for (t, body) in bodies {
        let r = send(&s, &[("type", t), ("body", &body.to_string())]).await;
        let id = assert_sent(&r, 1);
        let r = s
            .client
            .call_json(
                "msg/sendMsgToAll",
                &json!({"type": t.parse::<u16>().unwrap(), "body": body}),
            )
            .await
            .unwrap();
        let id2 = assert_sent(&r, 1);
        for id in [id, id2] {
            let stored = s
                .state()
                .services
                .store
                .message(s.app.id, qunfa_core::ids::MsgId(id))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(serde_json::from_str::<Value>(&stored.body).unwrap(), body);
            assert_eq!(stored.msg_type.to_string(), t);
        }
    }
}

#[tokio::test]
async fn send_msg_to_all_answers_every_nim_code() {
    // 416: over the msg group's limit, then 200 after the penalty.
    let s = TestServer::with(|c| c.rate_limits.default.count = 2).await;
    create_users(&s, &["a"]).await;
    s.clock.set_ms(s.clock_ms() / 1000 * 1000 + 1000);
    let body = text("hi");
    let params = [("type", "0"), ("body", body.as_str())];
    assert_sent(&send(&s, &params).await, 1);
    assert_sent(&send(&s, &params).await, 1);
    assert_eq!(
        send(&s, &params).await,
        json!({"code": 416, "desc": "too many requests: msg"})
    );
    s.clock.advance_ms(10_001);
    assert_sent(&send(&s, &params).await, 1);

    // 431: the same signature twice.
    let h = s.client.sign();
    let form = serde_urlencoded::to_string(params).unwrap().into_bytes();
    let ct = "application/x-www-form-urlencoded";
    assert_eq!(
        s.client
            .send("msg/sendMsgToAll", &h, ct, form.clone())
            .await
            .unwrap()["code"],
        200
    );
    let r = s
        .client
        .send("msg/sendMsgToAll", &h, ct, form)
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 431, "desc": "repeated request"}));

    // 403: a disabled app.
    s.state()
        .services
        .store
        .set_app_disabled(&s.app.appkey, true)
        .await
        .unwrap();
    s.state().services.apps.reload().await.unwrap();
    assert_eq!(
        send(&s, &params).await,
        json!({"code": 403, "desc": "app is forbidden"})
    );
    s.state()
        .services
        .store
        .set_app_disabled(&s.app.appkey, false)
        .await
        .unwrap();
    s.state().services.apps.reload().await.unwrap();

    // 500: the message table is gone.
    s.drop_table("messages").await;
    s.clock.advance_ms(10_001);
    assert_eq!(
        send(&s, &params).await,
        json!({"code": 500, "desc": "internal error"})
    );
}

/// splitmix64, so the random cases are the same every run.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// Random area trees, accounts, blocks and selections through the real API: the stored
/// audience always equals a brute-force filter over the accounts.
#[tokio::test]
async fn stored_audiences_equal_a_brute_force_filter() {
    for seed in 1..=4u64 {
        let s = TestServer::with(|c| c.rate_limits.enabled = false).await;
        let mut rng = Rng(seed);
        let n_areas = 3 + rng.below(10) as usize;
        let mut parent: Vec<Option<usize>> = Vec::new();
        for i in 0..n_areas {
            let p = if i == 0 || rng.below(3) == 0 {
                None
            } else {
                Some(rng.below(i as u64) as usize)
            };
            let pid = p.map(|p| format!("a{p}")).unwrap_or_default();
            let r = s
                .call(
                    "dic/createArea",
                    &[
                        ("areaid", &format!("a{i}")),
                        ("name", "n"),
                        ("parentid", &pid),
                    ],
                )
                .await;
            assert_eq!(r["code"], 200);
            parent.push(p);
        }
        for t in 0..4 {
            s.call(
                "dic/createEnterptype",
                &[("enterptypeid", &format!("t{t}")), ("name", "n")],
            )
            .await;
        }
        let n_acc = 20 + rng.below(60) as usize;
        let mut accounts = Vec::new();
        let users: Vec<Value> = (0..n_acc)
            .map(|i| {
                let area = (rng.below(4) != 0).then(|| rng.below(n_areas as u64) as usize);
                let t = (rng.below(4) != 0).then(|| rng.below(4) as usize);
                accounts.push((format!("u{i}"), area, t, false));
                let mut u = json!({"accid": format!("u{i}")});
                if let Some(a) = area {
                    u["areaid"] = json!(format!("a{a}"));
                }
                if let Some(t) = t {
                    u["enterptypeid"] = json!(format!("t{t}"));
                }
                u
            })
            .collect();
        let r = s
            .client
            .call_json("user/batchCreate", &json!({"users": users}))
            .await
            .unwrap();
        assert_eq!(r["data"]["created"], n_acc);
        for acc in accounts.iter_mut() {
            if rng.below(6) == 0 {
                assert_eq!(
                    s.call("user/block", &[("accid", &acc.0)]).await["code"],
                    200
                );
                acc.3 = true;
            }
        }
        let within = |mut a: usize, root: usize| loop {
            if a == root {
                return true;
            }
            match parent[a] {
                Some(p) => a = p,
                None => return false,
            }
        };
        for _ in 0..15 {
            let areas: Vec<usize> = (0..rng.below(3))
                .map(|_| rng.below(n_areas as u64) as usize)
                .collect();
            let types: Vec<usize> = (0..rng.below(3)).map(|_| rng.below(4) as usize).collect();
            let list: Option<Vec<usize>> = (rng.below(3) == 0).then(|| {
                (0..rng.below(10))
                    .map(|_| rng.below(n_acc as u64) as usize)
                    .collect()
            });
            let sender = (rng.below(2) == 0).then(|| rng.below(n_acc as u64) as usize);
            let area_s = areas
                .iter()
                .map(|a| format!("a{a}"))
                .collect::<Vec<_>>()
                .join(",");
            let type_s = types
                .iter()
                .map(|t| format!("t{t}"))
                .collect::<Vec<_>>()
                .join(",");
            let list_s = list
                .as_ref()
                .map(|l| json!(l.iter().map(|i| format!("u{i}")).collect::<Vec<_>>()).to_string());
            let from_s = sender.map(|i| format!("u{i}")).unwrap_or_default();
            let body = text("p");
            let mut params = vec![
                ("type", "0"),
                ("body", body.as_str()),
                ("areaid", area_s.as_str()),
                ("enterptypeid", type_s.as_str()),
                ("from", from_s.as_str()),
            ];
            if let Some(l) = &list_s {
                params.push(("toAccids", l.as_str()));
            }
            let mut want: Vec<String> = accounts
                .iter()
                .enumerate()
                .filter(|(i, (_, area, t, blocked))| {
                    !blocked
                        && Some(*i) != sender
                        && list.as_ref().is_none_or(|l| l.contains(i))
                        && (areas.is_empty()
                            || area.is_some_and(|a| areas.iter().any(|&r| within(a, r))))
                        && (types.is_empty() || t.is_some_and(|t| types.contains(&t)))
                })
                .map(|(_, a)| a.0.clone())
                .collect();
            want.sort();
            let msgid = assert_sent(&send(&s, &params).await, want.len() as u64);
            assert_eq!(
                audience_of(&s, msgid).await,
                want,
                "seed {seed}: {params:?}"
            );
        }
    }
}
