use qunfa_core::callback::{AppCallbacks, CallbackEvent, Events, Failed, NewEvent, Summary};
use qunfa_core::ids::AppId;
use qunfa_core::message::{MsgKind, NewMessage};
use qunfa_core::store::{Store, StoreError, TeamGuard};

use super::teams::{create, team_msg, world};
use super::{mass, p2p};

fn on(url: &str) -> AppCallbacks {
    AppCallbacks {
        url: url.into(),
        events: Events::ALL,
        pre_send_url: String::new(),
    }
}

fn copied(mut m: NewMessage, ctx: &str) -> NewMessage {
    m.copy = Some(ctx.into());
    m
}

fn view(e: &CallbackEvent) -> (Option<i64>, &str, &str, bool) {
    (
        e.msgid.map(|m| m.0),
        e.event_type.as_str(),
        e.ctx.as_str(),
        e.message.as_ref().map(|m| m.msgid) == e.msgid,
    )
}

pub async fn callback_settings_are_stored_with_the_app(s: &dyn Store) {
    let a = s.create_app("a").await.unwrap();
    assert_eq!(a.callbacks, AppCallbacks::default());
    assert_eq!(a.callbacks.events, Events::ALL, "every kind by default");
    let cb = AppCallbacks {
        url: "http://127.0.0.1:9/cb".into(),
        events: Events {
            messages: true,
            recalls: false,
            logins: true,
        },
        pre_send_url: "http://127.0.0.1:9/check".into(),
    };
    let set = s.set_app_callbacks(&a.appkey, cb.clone()).await.unwrap();
    assert_eq!(set.callbacks, cb);
    assert_eq!((set.id, &set.secret), (a.id, &a.secret));
    assert_eq!(
        s.app_by_key(&a.appkey).await.unwrap().unwrap().callbacks,
        cb
    );
    assert_eq!(s.list_apps().await.unwrap()[0].callbacks, cb);
    let off = s
        .set_app_callbacks(&a.appkey, AppCallbacks::default())
        .await
        .unwrap();
    assert_eq!(off.callbacks, AppCallbacks::default());
    assert!(matches!(
        s.set_app_callbacks("nope", cb).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A copied message's outbox row commits with it, in msgid order; messages not copied (and
/// mass sends answered by an earlier one) add none.
pub async fn copied_messages_get_outbox_rows_in_their_transaction(s: &dyn Store) {
    let app = world(s).await;
    let key = s.list_apps().await.unwrap()[0].appkey.clone();
    s.set_app_callbacks(&key, on("http://h/cb")).await.unwrap();
    let sent = s
        .store_messages(
            app,
            vec![
                copied(p2p("a", "b", 1, "one"), r#"{"fromClientType":"IOS"}"#),
                p2p("a", "b", 1, "not copied"),
                copied(mass("a", &[1, 2], Some("k")), "{}"),
            ],
            1000,
            0,
        )
        .await
        .unwrap();
    let again = s
        .store_messages(
            app,
            vec![copied(mass("a", &[1, 2], Some("k")), "{}")],
            1001,
            0,
        )
        .await
        .unwrap();
    assert!(again[0].duplicate);
    let recall = {
        let mut t = NewMessage::new(
            MsgKind::Recall,
            super::accid("a"),
            7,
            r#"{"msg":""}"#.into(),
        );
        t.ref_msgid = Some(sent[0].msgid);
        t.copy = Some(r#"{"convType":"PERSON","timetag":"1000"}"#.into());
        s.recall_message(app, sent[0].msgid, t, 1002).await.unwrap()
    };
    let (team, _) = create(s, app, &[0, 1]).await;
    let guard = TeamGuard {
        tid: team.tid,
        version: 1,
    };
    let team_sent = s
        .store_guarded(
            app,
            vec![guard],
            vec![copied(team_msg(team.tid, "b", &[0, 1], None), "{}")],
            1003,
            0,
        )
        .await
        .unwrap();
    let mut team_recall = NewMessage::new(MsgKind::Recall, super::accid("b"), 8, "{}".into());
    team_recall.tid = Some(team.tid);
    team_recall.ref_msgid = Some(team_sent[0].msgid);
    team_recall.copy = Some("{}".into());
    let team_recalled = s
        .recall_message(app, team_sent[0].msgid, team_recall, 1004)
        .await
        .unwrap();

    let due = s.due_callback_events(app, 5000, 100).await.unwrap();
    let got: Vec<_> = due.iter().map(view).collect();
    assert_eq!(
        got,
        vec![
            (
                Some(sent[0].msgid.0),
                "1",
                r#"{"fromClientType":"IOS"}"#,
                true
            ),
            (Some(sent[2].msgid.0), "1", "{}", true),
            (
                Some(recall.msgid.0),
                "7",
                r#"{"convType":"PERSON","timetag":"1000"}"#,
                true
            ),
            (Some(team_sent[0].msgid.0), "1", "{}", true),
            (Some(team_recalled.msgid.0), "8", "{}", true),
        ]
    );
    assert!(due.windows(2).all(|w| w[0].id < w[1].id));
    let first = &due[0];
    assert_eq!(
        (
            first.app,
            first.created_ms,
            first.next_ms,
            first.attempts,
            first.dead
        ),
        (app, 1000, 1000, 0, false)
    );
    let m = first.message.as_ref().unwrap();
    assert_eq!((m.body.as_str(), m.timetag), (r#"{"msg":"one"}"#, 1000));
    assert_eq!(
        due[2].message.as_ref().unwrap().ref_msgid,
        Some(sent[0].msgid)
    );
    assert_eq!(s.due_callback_events(app, 999, 100).await.unwrap(), vec![]);
    assert_eq!(s.due_callback_events(app, 5000, 2).await.unwrap().len(), 2);
    assert_eq!(
        s.callback_summary(app).await.unwrap(),
        Summary {
            pending: 5,
            dead: 0,
            next_ms: Some(1000)
        }
    );
    assert_eq!(s.due_callback_apps(5000).await.unwrap(), vec![app]);
    // Without a URL the app's events wait: nobody is asked to deliver them.
    s.set_app_callbacks(&key, AppCallbacks::default())
        .await
        .unwrap();
    assert_eq!(
        s.due_callback_apps(5000).await.unwrap(),
        Vec::<AppId>::new()
    );
}

pub async fn failed_events_back_off_die_and_are_resent(s: &dyn Store) {
    let a = s.create_app("a").await.unwrap();
    let other = s.create_app("b").await.unwrap();
    for app in [&a, &other] {
        s.set_app_callbacks(&app.appkey, on("http://h/cb"))
            .await
            .unwrap();
    }
    let login = |app: AppId, n: u32| NewEvent {
        app,
        event_type: "2".into(),
        payload: format!(r#"{{"accid":"u{n}"}}"#),
    };
    s.add_callback_events(
        vec![
            login(a.id, 1),
            login(other.id, 2),
            login(a.id, 3),
            login(a.id, 4),
        ],
        100,
    )
    .await
    .unwrap();
    s.add_callback_events(Vec::new(), 100).await.unwrap();
    let due = s.due_callback_events(a.id, 100, 10).await.unwrap();
    let ctxs: Vec<&str> = due.iter().map(|e| e.ctx.as_str()).collect();
    assert_eq!(
        ctxs,
        [
            r#"{"accid":"u1"}"#,
            r#"{"accid":"u3"}"#,
            r#"{"accid":"u4"}"#
        ]
    );
    assert!(due.iter().all(|e| e.msgid.is_none() && e.message.is_none()));
    let mut apps = s.due_callback_apps(100).await.unwrap();
    apps.sort();
    assert_eq!(apps, vec![a.id, other.id]);
    let (e1, e3, e4) = (due[0].id, due[1].id, due[2].id);

    s.callback_failed(a.id, e1, 1, Failed::Retry { next_ms: 1100 }, "HTTP 500")
        .await
        .unwrap();
    let ids = |v: Vec<CallbackEvent>| v.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.due_callback_events(a.id, 1099, 10).await.unwrap()),
        vec![e3, e4],
        "an event in backoff does not hold back later ones"
    );
    let retried = s.due_callback_events(a.id, 1100, 10).await.unwrap();
    assert_eq!(ids(retried.clone()), vec![e1, e3, e4]);
    assert_eq!(
        (retried[0].attempts, retried[0].last_error.as_deref()),
        (1, Some("HTTP 500"))
    );
    s.callback_delivered(a.id, e3).await.unwrap();
    s.callback_failed(a.id, e4, 10, Failed::Dead, "timeout")
        .await
        .unwrap();
    assert_eq!(
        ids(s.due_callback_events(a.id, i64::MAX, 10).await.unwrap()),
        vec![e1]
    );
    assert_eq!(
        s.callback_summary(a.id).await.unwrap(),
        Summary {
            pending: 1,
            dead: 1,
            next_ms: Some(1100)
        }
    );
    assert_eq!(s.callback_totals().await.unwrap(), (2, 1));
    let dead = s.dead_callbacks(a.id, 0, 10).await.unwrap();
    assert_eq!(ids(dead.clone()), vec![e4]);
    assert_eq!(
        (
            dead[0].dead,
            dead[0].attempts,
            dead[0].last_error.as_deref()
        ),
        (true, 10, Some("timeout"))
    );
    assert_eq!(s.dead_callbacks(a.id, e4, 10).await.unwrap(), vec![]);
    assert_eq!(s.dead_callbacks(other.id, 0, 10).await.unwrap(), vec![]);

    assert_eq!(
        s.resend_callbacks(other.id, vec![e4], 2000).await.unwrap(),
        0
    );
    assert_eq!(
        s.resend_callbacks(a.id, vec![e1], 2000).await.unwrap(),
        0,
        "not dead"
    );
    assert_eq!(s.resend_callbacks(a.id, vec![e4], 2000).await.unwrap(), 1);
    let back = s.due_callback_events(a.id, 2000, 10).await.unwrap();
    assert_eq!(ids(back.clone()), vec![e1, e4]);
    assert_eq!(
        (
            back[1].attempts,
            back[1].dead,
            back[1].next_ms,
            back[1].last_error.clone()
        ),
        (0, false, 2000, None)
    );
    s.callback_failed(a.id, e4, 10, Failed::Dead, "again")
        .await
        .unwrap();
    s.callback_failed(a.id, e1, 10, Failed::Dead, "again")
        .await
        .unwrap();
    assert_eq!(s.resend_callbacks(a.id, Vec::new(), 3000).await.unwrap(), 2);
    assert_eq!(s.callback_summary(a.id).await.unwrap().pending, 2);
    assert_eq!(s.callback_summary(a.id).await.unwrap().next_ms, Some(3000));
}

pub async fn callback_leases_go_to_one_node_until_they_expire(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let other = s.create_app("b").await.unwrap().id;
    assert!(s.claim_callbacks(app, "n1", 1000, 500).await.unwrap());
    assert!(!s.claim_callbacks(app, "n2", 1499, 500).await.unwrap());
    assert!(
        s.claim_callbacks(other, "n2", 1000, 500).await.unwrap(),
        "per app"
    );
    assert!(
        s.claim_callbacks(app, "n1", 1400, 500).await.unwrap(),
        "renewed"
    );
    assert!(!s.claim_callbacks(app, "n2", 1899, 500).await.unwrap());
    assert!(
        s.claim_callbacks(app, "n2", 1900, 500).await.unwrap(),
        "expired"
    );
    assert!(!s.claim_callbacks(app, "n1", 1901, 500).await.unwrap());
    s.release_callbacks(app, "n1").await.unwrap();
    assert!(
        !s.claim_callbacks(app, "n1", 1902, 500).await.unwrap(),
        "not n1's to give up"
    );
    s.release_callbacks(app, "n2").await.unwrap();
    assert!(s.claim_callbacks(app, "n1", 1903, 500).await.unwrap());
}
