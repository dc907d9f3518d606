//! `dic/*`: the area tree and enterprise types.

use serde_json::json;

use crate::harness::TestServer;

#[tokio::test]
async fn areas_form_a_tree() {
    let s = TestServer::start().await;
    let create = |id: &'static str, name: &'static str, parent: &'static str| {
        let s = &s;
        async move {
            s.call(
                "dic/createArea",
                &[("areaid", id), ("name", name), ("parentid", parent)],
            )
            .await
        }
    };
    assert_eq!(
        create("370000", "山东省", "").await,
        json!({"code": 200, "data": {"areaid": "370000", "name": "山东省"}})
    );
    assert_eq!(
        create("370100", "济南市", "370000").await,
        json!({"code": 200, "data": {"areaid": "370100", "name": "济南市", "parentid": "370000"}})
    );
    assert_eq!(create("370102", "历下区", "370100").await["code"], 200);
    assert_eq!(
        create("370100", "again", "").await,
        json!({"code": 414, "desc": "areaid 370100 already exists"})
    );
    assert_eq!(
        create("x", "orphan", "999").await,
        json!({"code": 414, "desc": "unknown parentid: 999"})
    );
    assert_eq!(
        create("y", "", "").await,
        json!({"code": 414, "desc": "missing parameter: name"})
    );
    assert_eq!(
        s.call("dic/createArea", &[("name", "n")]).await,
        json!({"code": 414, "desc": "missing parameter: areaid"})
    );
    let r = s
        .call(
            "dic/createArea",
            &[("areaid", "z"), ("name", &"n".repeat(65))],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "name is longer than 64 characters"})
    );
    let r = s
        .call(
            "dic/createArea",
            &[("areaid", &"1".repeat(65)), ("name", "n")],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "areaid is longer than 64 characters"})
    );

    // Moving a province under its own district would make a cycle.
    let r = s
        .call(
            "dic/updateArea",
            &[("areaid", "370000"), ("parentid", "370102")],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "parentid 370102 would make a cycle"})
    );
    let r = s
        .call(
            "dic/updateArea",
            &[("areaid", "370000"), ("parentid", "370000")],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "parentid 370000 would make a cycle"})
    );
    let r = s.call("dic/updateArea", &[("areaid", "370000")]).await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "nothing to update: give name or parentid"})
    );
    let r = s
        .call("dic/updateArea", &[("areaid", "nope"), ("name", "x")])
        .await;
    assert_eq!(r, json!({"code": 404, "desc": "areaid nope not found"}));
    let r = s
        .call(
            "dic/updateArea",
            &[("areaid", "370102"), ("name", "历下"), ("parentid", "")],
        )
        .await;
    assert_eq!(r, json!({"code": 200}));

    assert_eq!(
        s.call("dic/listAreas", &[]).await,
        json!({"code": 200, "data": {"areas": [
            {"areaid": "370000", "name": "山东省"},
            {"areaid": "370100", "name": "济南市", "parentid": "370000"},
            {"areaid": "370102", "name": "历下"}
        ]}})
    );
}

#[tokio::test]
async fn an_area_in_use_cannot_be_deleted() {
    let s = TestServer::start().await;
    for (id, parent) in [("37", ""), ("3701", "37")] {
        assert_eq!(
            s.call(
                "dic/createArea",
                &[("areaid", id), ("name", id), ("parentid", parent)]
            )
            .await["code"],
            200
        );
    }
    assert_eq!(
        s.call("user/create", &[("accid", "u"), ("areaid", "3701")])
            .await["code"],
        200
    );
    let r = s.call("dic/deleteArea", &[("areaid", "37")]).await;
    assert_eq!(
        r,
        json!({"code": 417, "desc": "areaid 37 is the parent of area 3701"})
    );
    let r = s.call("dic/deleteArea", &[("areaid", "3701")]).await;
    assert_eq!(
        r,
        json!({"code": 417, "desc": "areaid 3701 is used by account u"})
    );
    assert_eq!(
        s.call("user/updateUinfo", &[("accid", "u"), ("areaid", "")])
            .await["code"],
        200
    );
    assert_eq!(
        s.call("dic/deleteArea", &[("areaid", "3701")]).await,
        json!({"code": 200})
    );
    assert_eq!(
        s.call("dic/deleteArea", &[("areaid", "37")]).await,
        json!({"code": 200})
    );
    assert_eq!(
        s.call("dic/deleteArea", &[("areaid", "37")]).await,
        json!({"code": 404, "desc": "areaid 37 not found"})
    );
    assert_eq!(
        s.call("dic/listAreas", &[]).await,
        json!({"code": 200, "data": {"areas": []}})
    );
}

#[tokio::test]
async fn enterprise_types() {
    let s = TestServer::start().await;
    let r = s
        .call(
            "dic/createEnterptype",
            &[("enterptypeid", "1"), ("name", "食品制造")],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 200, "data": {"enterptypeid": "1", "name": "食品制造"}})
    );
    let r = s
        .call(
            "dic/createEnterptype",
            &[("enterptypeid", "1"), ("name", "x")],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "enterptypeid 1 already exists"})
    );
    let r = s
        .call("dic/createEnterptype", &[("enterptypeid", "2")])
        .await;
    assert_eq!(r, json!({"code": 414, "desc": "missing parameter: name"}));
    let r = s
        .call(
            "dic/updateEnterptype",
            &[("enterptypeid", "1"), ("name", "食品")],
        )
        .await;
    assert_eq!(r, json!({"code": 200}));
    let r = s
        .call(
            "dic/updateEnterptype",
            &[("enterptypeid", "9"), ("name", "x")],
        )
        .await;
    assert_eq!(r, json!({"code": 404, "desc": "enterptypeid 9 not found"}));
    assert_eq!(
        s.call("user/create", &[("accid", "u"), ("enterptypeid", "1")])
            .await["code"],
        200
    );
    let r = s
        .call("dic/deleteEnterptype", &[("enterptypeid", "1")])
        .await;
    assert_eq!(
        r,
        json!({"code": 417, "desc": "enterptypeid 1 is used by account u"})
    );
    assert_eq!(
        s.call("dic/listEnterptypes", &[]).await,
        json!({"code": 200, "data": {"enterptypes": [{"enterptypeid": "1", "name": "食品"}]}})
    );
    assert_eq!(
        s.call("user/update", &[("accid", "u"), ("enterptypeid", "")])
            .await["code"],
        200
    );
    assert_eq!(
        s.call("dic/deleteEnterptype", &[("enterptypeid", "1")])
            .await,
        json!({"code": 200})
    );
    let r = s
        .call("dic/deleteEnterptype", &[("enterptypeid", "1")])
        .await;
    assert_eq!(r, json!({"code": 404, "desc": "enterptypeid 1 not found"}));
}
