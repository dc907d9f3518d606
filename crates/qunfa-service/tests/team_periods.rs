//! Membership history against a brute-force model: random joins (add, apply), leaves (leave,
//! kick), rejoins and sends through the real service on a real SQLite store; afterwards every
//! account's `queryTeamMsg` (former members included) and inbox (`queryUserMsgs`, what a
//! catch-up reads) hold exactly the team messages and notifications the model says it saw:
//! those sent while it was a member, the notice of its own joining and leaving included.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use qunfa_core::account::{Accid, NewAccount, Profile, hash_token};
use qunfa_core::admission::LocalAdmission;
use qunfa_core::bus::{Bus, Event};
use qunfa_core::clock::SystemClock;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::MsgKind;
use qunfa_core::ratelimit::{Limit, Limits};
use qunfa_core::team::Tid;
use qunfa_service::content::Content;
use qunfa_service::teams::manage::{CreateTeam, TeamPatch};
use qunfa_service::teams::messages::{TeamHistory, TeamSend};
use qunfa_service::teams::roster::{AddMembers, KickMembers};
use qunfa_service::{LocalSessions, Rules, Services};
use serde_json::json;

struct NoBus;
impl Bus for NoBus {
    fn publish(&self, _: Event) {}
    fn subscribe(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Event>> {
        None
    }
    fn connected(&self) -> bool {
        true
    }
}

struct NoSessions;
impl LocalSessions for NoSessions {
    fn kick(&self, _: AppId, _: Ordinal, _: i64, _: &str) {}
    fn online(&self, _: AppId) -> qunfa_service::lookup::Online {
        qunfa_service::lookup::Online {
            sessions: 0,
            accounts: 0,
        }
    }
}

const N: usize = 5;

fn accid(i: usize) -> Accid {
    Accid::parse(&format!("u{i}"), "accid").unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    /// u_i joins (by `add` when the bool holds, else by `apply`).
    Join(usize, bool),
    /// u_i goes (kicked by the owner when the bool holds, else it leaves).
    Go(usize, bool),
    /// u_i (or the owner, if u_i is not a member) sends.
    Send(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..N, any::<bool>()).prop_map(|(i, b)| Op::Join(i, b)),
        (1..N, any::<bool>()).prop_map(|(i, b)| Op::Go(i, b)),
        (0..N).prop_map(Op::Send),
    ]
}

async fn services(dir: &std::path::Path) -> (Services, AppId) {
    let store: Arc<dyn qunfa_core::Store> =
        Arc::new(qunfa_store::SqliteStore::open_dir(dir, &Default::default()).unwrap());
    let app = store.create_app("p").await.unwrap().id;
    let accounts = (0..N)
        .map(|i| NewAccount {
            token_hash: hash_token(&accid(i), "t"),
            accid: accid(i),
            profile: Profile::default(),
        })
        .collect();
    store.create_accounts(app, accounts).await.unwrap();
    let l = Limit {
        count: 1000,
        per_secs: 1,
        penalty_secs: 1,
    };
    let rules = Rules {
        max_body_chars: 5000,
        recall_window_secs: 120,
        system_accid: Accid::parse("sys", "accid").unwrap(),
        dedupe_window_secs: 60,
        curtime_window_secs: 300,
        replay_check: qunfa_core::replay::ReplayCheck::Off,
        rate_limits: false,
        login_throttle: qunfa_service::login::ThrottleRules {
            per_account: 5,
            per_address: 20,
            window_ms: 60_000,
        },
    };
    let svc = Services::new(
        store,
        Arc::new(NoBus),
        Arc::new(LocalAdmission::new(
            300,
            Limits {
                default: l,
                batch: l,
                broadcast: l,
                team_query: l,
            },
        )),
        Arc::new(SystemClock),
        rules,
        Vec::new(),
        Arc::new(NoSessions),
    );
    (svc, app)
}

fn content(text: &str) -> Content {
    let serde_json::Value::Object(body) = json!({ "msg": text }) else {
        unreachable!()
    };
    Content {
        msg_type: 0,
        body,
        ext: None,
        extra: None,
    }
}

/// The newest msgid of the app.
async fn last(svc: &Services, app: AppId) -> i64 {
    svc.store.head(app).await.unwrap().last_msgid.0
}

/// Runs `ops`; answers, per account, the msgids the model says it saw.
async fn run(svc: &Services, app: AppId, ops: &[Op]) -> (Tid, BTreeMap<usize, Vec<i64>>) {
    let created = svc
        .create_team(
            app,
            CreateTeam {
                owner: accid(0),
                tname: "p".into(),
                members: vec![accid(1)],
                msg: String::new(),
                magree: false,
                joinmode: 0,
                fields: TeamPatch::default(),
                attach: None,
            },
        )
        .await
        .unwrap();
    let tid = created.tid;
    let mut members: BTreeSet<usize> = [0, 1].into();
    let mut seen: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    let mut saw = |who: &BTreeSet<usize>, id: i64| {
        for &i in who {
            seen.entry(i).or_default().push(id);
        }
    };
    saw(&members, last(svc, app).await);
    for op in ops {
        match *op {
            Op::Join(i, by_add) => {
                if members.contains(&i) {
                    continue;
                }
                if by_add {
                    svc.add_members(
                        app,
                        AddMembers {
                            tid,
                            owner: accid(0),
                            members: vec![accid(i)],
                            magree: false,
                            msg: String::new(),
                            attach: None,
                        },
                    )
                    .await
                    .unwrap();
                } else {
                    assert!(
                        !svc.apply_to_team(app, tid, &accid(i), String::new())
                            .await
                            .unwrap()
                    );
                }
                members.insert(i);
                saw(&members, last(svc, app).await);
            }
            Op::Go(i, kicked) => {
                if !members.contains(&i) {
                    continue;
                }
                if kicked {
                    svc.kick_members(
                        app,
                        KickMembers {
                            tid,
                            owner: accid(0),
                            members: vec![accid(i)],
                            single: true,
                            attach: None,
                        },
                    )
                    .await
                    .unwrap();
                } else {
                    svc.leave_team(app, tid, &accid(i), None).await.unwrap();
                }
                saw(&members, last(svc, app).await);
                members.remove(&i);
            }
            Op::Send(i) => {
                let from = if members.contains(&i) { i } else { 0 };
                let sent = svc
                    .send_team(
                        app,
                        TeamSend {
                            from: accid(from),
                            tid,
                            content: content("m"),
                            mark_read: false,
                            msgidclient: None,
                        },
                    )
                    .await
                    .unwrap();
                saw(&members, sent.msgid.0);
            }
        }
    }
    (tid, seen)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn members_see_exactly_their_periods(ops in prop::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (svc, app) = services(dir.path()).await;
            let (tid, seen) = run(&svc, app, &ops).await;
            for i in 0..N {
                let want = seen.get(&i).cloned().unwrap_or_default();
                let history = svc
                    .team_msgs(app, TeamHistory {
                        tid,
                        accid: accid(i),
                        begin_ms: 0,
                        end_ms: i64::MAX,
                        limit: 100,
                        ascending: true,
                        types: Vec::new(),
                        check_valid: false,
                        exclude_msgid: None,
                    })
                    .await;
                match history {
                    Ok(msgs) => {
                        let got: Vec<i64> = msgs.iter().map(|m| m.msgid.0).collect();
                        assert_eq!(got, want, "queryTeamMsg of u{i} after {ops:?}");
                    }
                    Err(e) => {
                        assert!(want.is_empty(), "u{i}: {e} after {ops:?}");
                        assert_eq!(e.code.as_u16(), 804);
                    }
                }
                let inbox: Vec<i64> = svc
                    .user_msgs(app, &accid(i), MsgId(0), 100)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|m| m.kind == MsgKind::Team)
                    .map(|m| m.msgid.0)
                    .collect();
                assert_eq!(inbox, want, "inbox of u{i} after {ops:?}");
            }
        });
    }
}
