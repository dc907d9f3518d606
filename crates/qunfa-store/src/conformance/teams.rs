use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::{MsgKind, NewMessage};
use qunfa_core::store::{Store, StoreError, TeamChange, TeamGuard, TeamMsgQuery};
use qunfa_core::team::{Application, Invitation, Member, Role, Team, Tid};
use roaring::RoaringBitmap;

use super::{acc, accid};

/// An app with accounts a (0), b (1), c (2), d (3).
pub(super) async fn world(s: &dyn Store) -> AppId {
    let app = s.create_app("t").await.unwrap().id;
    let accs = ["a", "b", "c", "d"]
        .iter()
        .map(|a| acc(a, None, None))
        .collect();
    for r in s.create_accounts(app, accs).await.unwrap() {
        r.unwrap();
    }
    app
}

fn member(o: u32, role: Role) -> Member {
    let name = ["a", "b", "c", "d"][o as usize];
    Member::new(Ordinal(o), accid(name), role, 1000)
}

fn notice(tid: Tid, from: &str, members: &[u32]) -> NewMessage {
    let bits: RoaringBitmap = members.iter().copied().collect();
    let mut m = NewMessage::new(
        MsgKind::Team,
        accid(from),
        5,
        r#"{"id":0,"data":{}}"#.into(),
    );
    m.audience = Some(audience::encode(&bits));
    m.tid = Some(tid);
    m.recipients = bits.len();
    m
}

fn change(team: &Team, expected: i64) -> TeamChange {
    TeamChange {
        tid: team.tid,
        expected_version: expected,
        team: team.clone(),
        upsert: Vec::new(),
        joined: Vec::new(),
        left: Vec::new(),
        invite: Vec::new(),
        uninvite: Vec::new(),
        apply: Vec::new(),
        unapply: Vec::new(),
        notification: None,
        max_owned: None,
        max_joined: None,
    }
}

/// Creates a team owned by a with these members; answers it and the notification's msgid.
pub(super) async fn create(s: &dyn Store, app: AppId, members: &[u32]) -> (Team, MsgId) {
    let tid = s.reserve_tid(app).await.unwrap();
    let team = Team::new(tid, "t".into(), accid("a"), 1000);
    let mut ch = change(&team, 0);
    ch.upsert = members
        .iter()
        .map(|&o| member(o, if o == 0 { Role::Owner } else { Role::Member }))
        .collect();
    ch.joined = members.iter().map(|&o| Ordinal(o)).collect();
    ch.notification = Some(notice(tid, "a", members));
    let c = s.apply_team_change(app, ch, 1000).await.unwrap();
    assert_eq!(c.version, 1);
    let mut team = team;
    team.version = 1;
    (team, c.notification.unwrap().msgid)
}

pub(super) fn team_msg(tid: Tid, from: &str, members: &[u32], key: Option<&str>) -> NewMessage {
    let mut m = notice(tid, from, members);
    m.msg_type = 0;
    m.body = r#"{"msg":"hi"}"#.into();
    m.msgidclient = key.map(str::to_owned);
    m
}

pub async fn teams_change_with_their_notification_and_versions(s: &dyn Store) {
    let app = world(s).await;
    let other = s.create_app("other").await.unwrap().id;
    let t1 = s.reserve_tid(app).await.unwrap();
    let t2 = s.reserve_tid(app).await.unwrap();
    assert!(t1.0 > 0 && t2.0 > t1.0, "{t1} {t2}");
    assert_eq!(s.reserve_tid(other).await.unwrap(), Tid(1), "per app");

    let before = s.head(app).await.unwrap().change_seq;
    let (team, n) = create(s, app, &[0, 1]).await;
    assert!(s.head(app).await.unwrap().change_seq > before);
    assert_eq!(s.team(app, team.tid).await.unwrap(), Some(team.clone()));
    assert_eq!(s.team(other, team.tid).await.unwrap(), None);
    let members = s.team_members(app, team.tid).await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|m| (m.ordinal.0, m.role))
            .collect::<Vec<_>>(),
        [(0, Role::Owner), (1, Role::Member)]
    );
    let m = s.message(app, n).await.unwrap().unwrap();
    assert_eq!(
        (m.kind, m.tid, m.msg_type),
        (MsgKind::Team, Some(team.tid), 5)
    );
    assert!(m.audience_hash.is_some());
    assert_eq!(
        s.periods(app, team.tid, Ordinal(1)).await.unwrap(),
        vec![(MsgId(n.0 - 1), None)]
    );

    // A change decided on another version, or a second create, writes nothing.
    let mut ch = change(&team, 7);
    ch.team.tname = "renamed".into();
    assert!(matches!(
        s.apply_team_change(app, ch, 2000).await,
        Err(StoreError::Stale(_))
    ));
    let mut again = change(&team, 0);
    again.notification = Some(notice(team.tid, "a", &[0]));
    assert!(matches!(
        s.apply_team_change(app, again, 2000).await,
        Err(StoreError::Stale(_))
    ));
    assert_eq!(s.team(app, team.tid).await.unwrap().unwrap().tname, "t");

    // Leaving ends a period at the notification; rejoining starts another.
    let mut ch = change(&team, 1);
    ch.left = vec![Ordinal(1)];
    ch.notification = Some(notice(team.tid, "b", &[0, 1]));
    let c = s.apply_team_change(app, ch, 2000).await.unwrap();
    let left = c.notification.unwrap().msgid;
    assert_eq!(c.version, 2);
    assert_eq!(s.team_members(app, team.tid).await.unwrap().len(), 1);
    let mut t = team.clone();
    t.version = 2;
    let mut ch = change(&t, 2);
    ch.upsert = vec![member(1, Role::Member)];
    ch.joined = vec![Ordinal(1)];
    ch.notification = Some(notice(team.tid, "b", &[0, 1]));
    let back = s
        .apply_team_change(app, ch, 3000)
        .await
        .unwrap()
        .notification
        .unwrap()
        .msgid;
    assert_eq!(
        s.periods(app, team.tid, Ordinal(1)).await.unwrap(),
        vec![(MsgId(n.0 - 1), Some(left)), (MsgId(back.0 - 1), None)]
    );
    // A membership change needs its notification.
    let mut t3 = t.clone();
    t3.version = 3;
    let mut ch = change(&t3, 3);
    ch.left = vec![Ordinal(1)];
    assert!(s.apply_team_change(app, ch, 4000).await.is_err());
}

pub async fn team_and_member_changes_follow_change_seq(s: &dyn Store) {
    let app = world(s).await;
    let seq0 = s.head(app).await.unwrap().change_seq;
    let (team, _) = create(s, app, &[0, 1, 2]).await;
    let seq1 = s.head(app).await.unwrap().change_seq;
    let mut ch = change(&team, 1);
    ch.left = vec![Ordinal(2)];
    let mut nick = member(1, Role::Manager);
    nick.nick = "bee".into();
    ch.upsert = vec![nick.clone()];
    ch.notification = Some(notice(team.tid, "a", &[0, 1, 2]));
    s.apply_team_change(app, ch, 2000).await.unwrap();
    let seq2 = s.head(app).await.unwrap().change_seq;

    let teams = s.team_changes(app, seq0, seq1).await.unwrap();
    assert_eq!(teams.len(), 0, "the row was written again after seq1");
    let teams = s.team_changes(app, seq0, seq2).await.unwrap();
    assert_eq!(teams.iter().map(|t| t.version).collect::<Vec<_>>(), vec![2]);
    assert!(s.team_changes(app, seq2, seq2).await.unwrap().is_empty());
    let changes = s.member_changes(app, seq1, seq2).await.unwrap();
    let seen: Vec<(u32, bool, String)> = changes
        .iter()
        .map(|c| (c.member.ordinal.0, c.active, c.member.nick.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![(1, true, "bee".into()), (2, false, String::new())]
    );
    assert!(changes.iter().all(|c| c.tid == team.tid));
    assert_eq!(
        s.member_changes(app, seq0, seq2).await.unwrap().len(),
        3,
        "a's row is from seq1"
    );
}

pub async fn memberships_counts_and_caps_are_exact(s: &dyn Store) {
    let app = world(s).await;
    let (t1, _) = create(s, app, &[0, 1]).await;
    let (t2, _) = create(s, app, &[0, 1, 2]).await;
    assert_eq!(s.owned_count(app, &accid("a")).await.unwrap(), 2);
    assert_eq!(s.owned_count(app, &accid("b")).await.unwrap(), 0);
    assert_eq!(
        s.joined_counts(app, vec![Ordinal(2), Ordinal(0), Ordinal(3)])
            .await
            .unwrap(),
        vec![1, 2, 0]
    );
    let ms = s.memberships(app, Ordinal(1)).await.unwrap();
    assert_eq!(
        ms.iter().map(|m| (m.team.tid, m.size)).collect::<Vec<_>>(),
        vec![(t1.tid, 2), (t2.tid, 3)]
    );
    assert_eq!(ms[0].member.role, Role::Member);

    // Caps are checked in the write.
    let tid = s.reserve_tid(app).await.unwrap();
    let team = Team::new(tid, "x".into(), accid("a"), 1);
    let mut ch = change(&team, 0);
    ch.upsert = vec![member(0, Role::Owner)];
    ch.joined = vec![Ordinal(0)];
    ch.notification = Some(notice(tid, "a", &[0]));
    ch.max_owned = Some(2);
    assert!(matches!(
        s.apply_team_change(app, ch.clone(), 1).await,
        Err(StoreError::Stale(_))
    ));
    ch.max_owned = Some(3);
    ch.max_joined = Some(2);
    assert!(matches!(
        s.apply_team_change(app, ch.clone(), 1).await,
        Err(StoreError::Stale(_))
    ));
    ch.max_joined = Some(3);
    s.apply_team_change(app, ch, 1).await.unwrap();

    // Dismissed teams count for nothing.
    let mut d = t2.clone();
    d.dismissed = true;
    let mut ch = change(&t2, 1);
    ch.team = d;
    ch.notification = Some(notice(t2.tid, "a", &[0, 1, 2]));
    s.apply_team_change(app, ch, 2).await.unwrap();
    assert_eq!(s.owned_count(app, &accid("a")).await.unwrap(), 2);
    assert_eq!(
        s.joined_counts(app, vec![Ordinal(2)]).await.unwrap(),
        vec![0]
    );
    assert!(s.team_members(app, t2.tid).await.unwrap().is_empty());
    assert_eq!(s.memberships(app, Ordinal(2)).await.unwrap().len(), 0);
    assert!(s.team(app, t2.tid).await.unwrap().unwrap().dismissed);
    assert!(matches!(
        s.periods(app, t2.tid, Ordinal(2)).await.unwrap().as_slice(),
        [(_, Some(_))]
    ));
}

pub async fn invitations_and_applications_stay_pending_until_dropped(s: &dyn Store) {
    let app = world(s).await;
    let (team, _) = create(s, app, &[0]).await;
    let inv = |o: u32, name: &str, t: i64| Invitation {
        tid: team.tid,
        ordinal: Ordinal(o),
        accid: accid(name),
        inviter: accid("a"),
        msg: "come".into(),
        attach: Some("x".into()),
        time_ms: t,
    };
    let mut ch = change(&team, 1);
    ch.invite = vec![inv(1, "b", 5), inv(2, "c", 6)];
    ch.apply = vec![Application {
        tid: team.tid,
        ordinal: Ordinal(3),
        accid: accid("d"),
        msg: "me".into(),
        time_ms: 7,
    }];
    assert_eq!(s.apply_team_change(app, ch, 10).await.unwrap().version, 2);
    assert_eq!(
        s.invitation(app, team.tid, Ordinal(1)).await.unwrap(),
        Some(inv(1, "b", 5))
    );
    assert_eq!(s.invitation(app, team.tid, Ordinal(3)).await.unwrap(), None);
    assert_eq!(
        s.invitations_of(app, Ordinal(2)).await.unwrap(),
        vec![inv(2, "c", 6)]
    );
    assert_eq!(
        s.application(app, team.tid, Ordinal(3))
            .await
            .unwrap()
            .map(|a| a.msg),
        Some("me".into())
    );
    assert!(s.team_members(app, team.tid).await.unwrap().len() == 1);

    let mut t = team.clone();
    t.version = 2;
    let mut ch = change(&t, 2);
    ch.uninvite = vec![Ordinal(1)];
    ch.unapply = vec![Ordinal(3)];
    s.apply_team_change(app, ch, 11).await.unwrap();
    assert_eq!(s.invitation(app, team.tid, Ordinal(1)).await.unwrap(), None);
    assert_eq!(
        s.application(app, team.tid, Ordinal(3)).await.unwrap(),
        None
    );

    // Dismissing drops the rest.
    t.version = 3;
    let mut d = t.clone();
    d.dismissed = true;
    let mut ch = change(&t, 3);
    ch.team = d;
    ch.notification = Some(notice(team.tid, "a", &[0]));
    s.apply_team_change(app, ch, 12).await.unwrap();
    assert!(s.invitations_of(app, Ordinal(2)).await.unwrap().is_empty());
}

pub async fn guarded_stores_check_team_versions_and_keys(s: &dyn Store) {
    let app = world(s).await;
    let (team, _) = create(s, app, &[0, 1]).await;
    let g = TeamGuard {
        tid: team.tid,
        version: 1,
    };
    let sent = s
        .store_guarded(
            app,
            vec![g],
            vec![team_msg(team.tid, "b", &[0, 1], Some("k1"))],
            5000,
            0,
        )
        .await
        .unwrap();
    assert!(!sent[0].duplicate);
    // The same sender's key again: the first send answers.
    let again = s
        .store_guarded(
            app,
            vec![g],
            vec![team_msg(team.tid, "b", &[0, 1], Some("k1"))],
            6000,
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        (again[0].msgid, again[0].timetag, again[0].duplicate),
        (sent[0].msgid, 5000, true)
    );
    // Another sender's key, or past the window, is new.
    let other = s
        .store_guarded(
            app,
            vec![g],
            vec![
                team_msg(team.tid, "a", &[0, 1], Some("k1")),
                team_msg(team.tid, "b", &[0, 1], Some("k1")),
            ],
            7000,
            5500,
        )
        .await
        .unwrap();
    assert!(other.iter().all(|x| !x.duplicate));
    assert!(other[0].msgid > sent[0].msgid && other[1].msgid > other[0].msgid);
    // A message without the bits refers to the audience stored before.
    let mut by_hash = team_msg(team.tid, "a", &[0, 1], None);
    by_hash.audience_digest = by_hash.audience_hash();
    by_hash.audience = None;
    let h = s
        .store_guarded(app, vec![g], vec![by_hash], 8000, 0)
        .await
        .unwrap();
    let m = s.message(app, h[0].msgid).await.unwrap().unwrap();
    assert!(
        s.audience(app, m.audience_hash.unwrap())
            .await
            .unwrap()
            .is_some()
    );

    // A guard on another version, or on a dismissed team, stores nothing.
    let head = s.head(app).await.unwrap().last_msgid;
    let stale = TeamGuard {
        tid: team.tid,
        version: 2,
    };
    assert!(matches!(
        s.store_guarded(
            app,
            vec![g, stale],
            vec![team_msg(team.tid, "a", &[0, 1], None)],
            9000,
            0
        )
        .await,
        Err(StoreError::Stale(_))
    ));
    assert_eq!(s.head(app).await.unwrap().last_msgid, head);
    let unknown = TeamGuard {
        tid: Tid(999),
        version: 1,
    };
    assert!(
        s.store_guarded(app, vec![unknown], vec![], 1, 0)
            .await
            .is_err()
    );
    // No guard: a plain store with per-sender keys.
    let p = s
        .store_guarded(
            app,
            vec![],
            vec![super::p2p("a", "b", 1, "x"), super::p2p("a", "b", 1, "y")],
            1,
            0,
        )
        .await
        .unwrap();
    assert_eq!(p.len(), 2);
}

pub async fn team_messages_follow_membership_periods(s: &dyn Store) {
    let app = world(s).await;
    // b and c in; m1; c leaves; m2; c rejoins; m3 (d never a member).
    let (team, n0) = create(s, app, &[0, 1, 2]).await;
    let g = |v| TeamGuard {
        tid: team.tid,
        version: v,
    };
    let send = |v: i64, members: &'static [u32], t: i64| async move {
        s.store_guarded(
            app,
            vec![g(v)],
            vec![team_msg(team.tid, "a", members, None)],
            t,
            0,
        )
        .await
        .unwrap()[0]
            .msgid
    };
    let m1 = send(1, &[0, 1, 2], 2000).await;
    let mut ch = change(&team, 1);
    ch.left = vec![Ordinal(2)];
    ch.notification = Some(notice(team.tid, "c", &[0, 1, 2]));
    let left = s
        .apply_team_change(app, ch, 3000)
        .await
        .unwrap()
        .notification
        .unwrap()
        .msgid;
    let m2 = send(2, &[0, 1], 4000).await;
    let mut t = team.clone();
    t.version = 2;
    let mut ch = change(&t, 2);
    ch.upsert = vec![member(2, Role::Member)];
    ch.joined = vec![Ordinal(2)];
    ch.notification = Some(notice(team.tid, "c", &[0, 1, 2]));
    let back = s
        .apply_team_change(app, ch, 5000)
        .await
        .unwrap()
        .notification
        .unwrap()
        .msgid;
    let m3 = send(3, &[0, 1, 2], 6000).await;

    let inbox = |o: u32, limit: usize| async move {
        s.user_messages(app, Ordinal(o), MsgId(0), limit, 10_000)
            .await
            .unwrap()
            .iter()
            .map(|m| m.msgid)
            .collect::<Vec<_>>()
    };
    assert_eq!(inbox(1, 100).await, vec![n0, m1, left, m2, back, m3]);
    assert_eq!(inbox(2, 100).await, vec![n0, m1, left, back, m3]);
    assert_eq!(inbox(2, 2).await, vec![n0, m1]);
    assert!(inbox(3, 100).await.is_empty());
    let after = s
        .user_messages(app, Ordinal(2), left, 100, 10_000)
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|m| m.msgid).collect::<Vec<_>>(),
        vec![back, m3]
    );

    let q = |periods, types: Vec<u16>, ascending| TeamMsgQuery {
        tid: team.tid,
        periods,
        begin_ms: 0,
        end_ms: 10_000,
        limit: 100,
        ascending,
        types,
        exclude_msgid: None,
    };
    let ids = |v: Vec<qunfa_core::message::Message>| v.iter().map(|m| m.msgid).collect::<Vec<_>>();
    let periods = s.periods(app, team.tid, Ordinal(2)).await.unwrap();
    assert_eq!(
        ids(s
            .team_messages(app, q(periods.clone(), vec![], true))
            .await
            .unwrap()),
        vec![n0, m1, left, back, m3]
    );
    assert_eq!(
        ids(s
            .team_messages(app, q(periods.clone(), vec![0], false))
            .await
            .unwrap()),
        vec![m3, m1]
    );
    let mut window = q(periods, vec![], true);
    window.begin_ms = 2500;
    window.limit = 1;
    assert_eq!(ids(s.team_messages(app, window).await.unwrap()), vec![left]);
    assert!(
        s.team_messages(app, q(vec![], vec![], true))
            .await
            .unwrap()
            .is_empty()
    );

    // A recall leaves a tombstone in the team's stream (by the original's audience) and the
    // original out of every listing.
    let orig = s.message(app, m1).await.unwrap().unwrap();
    let mut t = NewMessage::new(MsgKind::Recall, accid("a"), 8, "{}".into());
    t.ref_msgid = Some(m1);
    t.tid = Some(team.tid);
    t.audience_digest = orig.audience_hash;
    let tomb = s.recall_message(app, m1, t, 7000).await.unwrap().msgid;
    assert_eq!(inbox(1, 100).await, vec![n0, left, m2, back, m3, tomb]);
    let all = s
        .team_messages(app, q(vec![(MsgId(0), None)], vec![], true))
        .await
        .unwrap();
    assert!(!ids(all).contains(&m1));
}
