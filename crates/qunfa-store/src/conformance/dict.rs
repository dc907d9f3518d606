use qunfa_core::dict::Enterptype;
use qunfa_core::store::{Store, StoreError};

use super::{acc, area};

pub async fn area_tree_rules(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    s.create_area(app, area("37", None)).await.unwrap();
    s.create_area(app, area("3701", Some("37"))).await.unwrap();
    s.create_area(app, area("370102", Some("3701")))
        .await
        .unwrap();
    assert_eq!(
        s.create_area(app, area("37", None)).await,
        Err(StoreError::AlreadyExists("areaid 37".into()))
    );
    assert_eq!(
        s.create_area(app, area("x", Some("zz"))).await,
        Err(StoreError::UnknownParent("zz".into()))
    );
    assert_eq!(
        s.update_area(app, "37", None, Some(Some("370102".into())))
            .await,
        Err(StoreError::Cycle("370102".into()))
    );
    assert_eq!(
        s.update_area(app, "37", None, Some(Some("37".into())))
            .await,
        Err(StoreError::Cycle("37".into()))
    );
    assert_eq!(
        s.update_area(app, "37", None, Some(Some("zz".into())))
            .await,
        Err(StoreError::UnknownParent("zz".into()))
    );
    assert_eq!(
        s.update_area(app, "zz", Some("n".into()), None).await,
        Err(StoreError::NotFound("areaid zz".into()))
    );
    s.update_area(app, "370102", Some("Lixia".into()), Some(Some("37".into())))
        .await
        .unwrap();
    assert_eq!(
        s.delete_area(app, "37").await,
        Err(StoreError::InUse(
            "areaid 37 is the parent of area 3701".into()
        ))
    );
    s.create_accounts(app, vec![acc("u", Some("3701"), None)])
        .await
        .unwrap();
    s.update_area(app, "370102", None, Some(None))
        .await
        .unwrap();
    assert_eq!(
        s.delete_area(app, "3701").await,
        Err(StoreError::InUse("areaid 3701 is used by account u".into()))
    );
    s.delete_area(app, "370102").await.unwrap();
    assert_eq!(
        s.delete_area(app, "370102").await,
        Err(StoreError::NotFound("areaid 370102".into()))
    );
    assert_eq!(
        s.list_areas(app).await.unwrap(),
        vec![area("37", None), area("3701", Some("37"))]
    );
}

pub async fn enterptype_rules(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let t = |id: &str, n: &str| Enterptype {
        enterptypeid: id.into(),
        name: n.into(),
    };
    s.create_enterptype(app, t("1", "food")).await.unwrap();
    assert_eq!(
        s.create_enterptype(app, t("1", "x")).await,
        Err(StoreError::AlreadyExists("enterptypeid 1".into()))
    );
    s.update_enterptype(app, "1", "food & drink".into())
        .await
        .unwrap();
    assert_eq!(
        s.update_enterptype(app, "2", "x".into()).await,
        Err(StoreError::NotFound("enterptypeid 2".into()))
    );
    s.create_accounts(app, vec![acc("u", None, Some("1"))])
        .await
        .unwrap();
    assert_eq!(
        s.delete_enterptype(app, "1").await,
        Err(StoreError::InUse(
            "enterptypeid 1 is used by account u".into()
        ))
    );
    assert_eq!(
        s.list_enterptypes(app).await.unwrap(),
        vec![t("1", "food & drink")]
    );
    s.create_enterptype(app, t("2", "steel")).await.unwrap();
    s.delete_enterptype(app, "2").await.unwrap();
    assert_eq!(
        s.delete_enterptype(app, "2").await,
        Err(StoreError::NotFound("enterptypeid 2".into()))
    );
}

/// Every dictionary write moves `dict_seq`; a refused one moves nothing.
pub async fn dictionary_writes_move_dict_seq(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let t = Enterptype {
        enterptypeid: "1".into(),
        name: "food".into(),
    };
    let mut last = s.head(app).await.unwrap();
    let mut step = |what: &str, h: qunfa_core::store::AppHead| {
        assert!(
            h.dict_seq > last.dict_seq && h.dict_seq == h.change_seq,
            "{what}: {h:?} after {last:?}"
        );
        last = h;
    };
    s.create_area(app, area("37", None)).await.unwrap();
    step("create area", s.head(app).await.unwrap());
    s.create_area(app, area("44", None)).await.unwrap();
    step("create area", s.head(app).await.unwrap());
    s.update_area(app, "44", Some("Guangdong".into()), Some(Some("37".into())))
        .await
        .unwrap();
    step("update area", s.head(app).await.unwrap());
    s.update_area(app, "44", None, Some(None)).await.unwrap();
    step("update area", s.head(app).await.unwrap());
    s.delete_area(app, "44").await.unwrap();
    step("delete area", s.head(app).await.unwrap());
    s.create_enterptype(app, t.clone()).await.unwrap();
    step("create type", s.head(app).await.unwrap());
    s.update_enterptype(app, "1", "drink".into()).await.unwrap();
    step("update type", s.head(app).await.unwrap());
    s.delete_enterptype(app, "1").await.unwrap();
    step("delete type", s.head(app).await.unwrap());
    let before = s.head(app).await.unwrap();
    assert!(s.create_area(app, area("37", None)).await.is_err());
    assert!(s.delete_enterptype(app, "nope").await.is_err());
    assert_eq!(s.head(app).await.unwrap(), before);
}
