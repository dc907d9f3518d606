//! Teams: rows, members, membership periods, pending invitations and applications; team
//! changes written with their notification in one transaction, and messages stored under team
//! guards. Both run on the writer thread, so a guard's check and the write that follows it see
//! the same database.

use async_trait::async_trait;
use qunfa_core::account::Accid;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::{Message, NewMessage, Sent};
use qunfa_core::store::{
    Membership, StoreError, StoreResult, TeamChange, TeamCommit, TeamGuard, TeamMsgQuery, TeamStore,
};
use qunfa_core::team::periods::Period;
use qunfa_core::team::{Application, Invitation, Member, MemberChange, Role, Team, Tid};
use rusqlite::{Connection, OptionalExtension, params};

use super::conn::internal;
use super::messages::{COLS, MsgidSeq, insert, next_msgids, row, store};
use super::{SqliteStore, next_change};

pub(super) const TEAM_COLS: &str = "tid, tname, owner, icon, announcement, intro, custom, client_custom, joinmode, \
     beinvitemode, invitemode, uptinfomode, upcustommode, max_users, mute_type, notify_close_online, \
     notify_close_persistent, created_ms, updated_ms, dismissed, version";

pub(super) fn team_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Team> {
    Ok(Team {
        tid: Tid(r.get(0)?),
        tname: r.get(1)?,
        owner: Accid::from_stored(r.get(2)?),
        icon: r.get(3)?,
        announcement: r.get(4)?,
        intro: r.get(5)?,
        custom: r.get(6)?,
        client_custom: r.get(7)?,
        joinmode: r.get(8)?,
        beinvitemode: r.get(9)?,
        invitemode: r.get(10)?,
        uptinfomode: r.get(11)?,
        upcustommode: r.get(12)?,
        max_users: r.get(13)?,
        mute_type: r.get(14)?,
        notify_close_online: r.get(15)?,
        notify_close_persistent: r.get(16)?,
        created_ms: r.get(17)?,
        updated_ms: r.get(18)?,
        dismissed: r.get(19)?,
        version: r.get(20)?,
    })
}

pub(super) const MEMBER_COLS: &str =
    "ordinal, accid, role, nick, mute, custom, push_enable, joined_ms, updated_ms, tid, active";

pub(super) fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        ordinal: Ordinal(r.get(0)?),
        accid: Accid::from_stored(r.get(1)?),
        role: Role::from_i64(r.get(2)?),
        nick: r.get(3)?,
        mute: r.get(4)?,
        custom: r.get(5)?,
        push_enable: r.get(6)?,
        joined_ms: r.get(7)?,
        updated_ms: r.get(8)?,
    })
}

fn stale(why: impl Into<String>) -> StoreError {
    StoreError::Stale(why.into())
}

/// The team's version and whether it is dismissed.
fn version(c: &Connection, app: AppId, tid: Tid) -> StoreResult<Option<(i64, bool)>> {
    c.prepare_cached("SELECT version, dismissed FROM teams WHERE app_id = ?1 AND tid = ?2")
        .map_err(internal)?
        .query_row(params![app.0, tid.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(internal)
}

fn check_caps(c: &Connection, app: AppId, ch: &TeamChange) -> StoreResult<()> {
    if let Some(max) = ch.max_owned {
        let owned: i64 = c
            .prepare_cached(
                "SELECT count(*) FROM teams WHERE app_id = ?1 AND owner = ?2 AND dismissed = 0 AND tid <> ?3",
            )
            .map_err(internal)?
            .query_row(params![app.0, ch.team.owner.as_str(), ch.tid.0], |r| {
                r.get(0)
            })
            .map_err(internal)?;
        if owned as u64 + u64::from(!ch.team.dismissed) > max {
            return Err(stale(format!("{} owns {owned} teams", ch.team.owner)));
        }
    }
    if let Some(max) = ch.max_joined {
        let mut st = c
            .prepare_cached(
                "SELECT count(*) FROM team_members WHERE app_id = ?1 AND ordinal = ?2 AND active = 1 AND tid <> ?3",
            )
            .map_err(internal)?;
        for o in &ch.joined {
            let n: i64 = st
                .query_row(params![app.0, o.0, ch.tid.0], |r| r.get(0))
                .map_err(internal)?;
            if n as u64 + 1 > max {
                return Err(stale(format!("ordinal {o} is in {n} teams")));
            }
        }
    }
    Ok(())
}

fn apply(
    c: &Connection,
    seq: &MsgidSeq,
    app: AppId,
    ch: &TeamChange,
    now_ms: i64,
) -> StoreResult<TeamCommit> {
    let tid = ch.tid;
    match (version(c, app, tid)?, ch.expected_version) {
        (None, 0) => {}
        (Some((v, false)), e) if v == e && e > 0 => {}
        (found, e) => {
            return Err(stale(format!(
                "team {tid} is at {found:?}, the change was decided at {e}"
            )));
        }
    }
    if (!ch.joined.is_empty() || !ch.left.is_empty() || ch.team.dismissed)
        && ch.notification.is_none()
    {
        return Err(internal("a membership change without its notification"));
    }
    check_caps(c, app, ch)?;
    let cseq = next_change(c, app)?;
    let version = ch.expected_version + 1;
    let sent = match &ch.notification {
        Some(n) => {
            let id = next_msgids(c, seq, app, 1)?;
            insert(c, app, id, n, now_ms)?;
            Some(Sent {
                msgid: id,
                timetag: now_ms,
                antispam: false,
                recipients: n.recipients,
                duplicate: false,
            })
        }
        None => None,
    };
    let t = &ch.team;
    c.prepare_cached(&format!(
        "INSERT OR REPLACE INTO teams (app_id, {TEAM_COLS}, seq) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
    ))
    .map_err(internal)?
    .execute(params![
        app.0,
        tid.0,
        t.tname,
        t.owner.as_str(),
        t.icon,
        t.announcement,
        t.intro,
        t.custom,
        t.client_custom,
        t.joinmode,
        t.beinvitemode,
        t.invitemode,
        t.uptinfomode,
        t.upcustommode,
        t.max_users,
        t.mute_type,
        t.notify_close_online,
        t.notify_close_persistent,
        t.created_ms,
        t.updated_ms,
        t.dismissed,
        version,
        cseq,
    ])
    .map_err(internal)?;
    let mut up = c
        .prepare_cached(
            "INSERT OR REPLACE INTO team_members (app_id, tid, ordinal, accid, role, nick, mute, custom, push_enable, \
             joined_ms, updated_ms, active, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12)",
        )
        .map_err(internal)?;
    for m in &ch.upsert {
        up.execute(params![
            app.0,
            tid.0,
            m.ordinal.0,
            m.accid.as_str(),
            m.role.as_i64(),
            m.nick,
            m.mute,
            m.custom,
            m.push_enable,
            m.joined_ms,
            m.updated_ms,
            cseq,
        ])
        .map_err(internal)?;
    }
    let msgid = sent.as_ref().map(|s| s.msgid.0);
    if let Some(n) = msgid {
        let mut join = c
            .prepare_cached(
                "INSERT OR IGNORE INTO team_periods (app_id, tid, ordinal, join_msgid) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(internal)?;
        for o in &ch.joined {
            join.execute(params![app.0, tid.0, o.0, n - 1])
                .map_err(internal)?;
        }
        let mut leave = c
            .prepare_cached(
                "UPDATE team_members SET active = 0, seq = ?4 WHERE app_id = ?1 AND tid = ?2 AND ordinal = ?3",
            )
            .map_err(internal)?;
        let mut end = c
            .prepare_cached(
                "UPDATE team_periods SET leave_msgid = ?4 WHERE app_id = ?1 AND tid = ?2 AND ordinal = ?3 \
                 AND leave_msgid IS NULL",
            )
            .map_err(internal)?;
        for o in &ch.left {
            leave
                .execute(params![app.0, tid.0, o.0, cseq])
                .map_err(internal)?;
            end.execute(params![app.0, tid.0, o.0, n])
                .map_err(internal)?;
        }
        if t.dismissed {
            c.execute(
                "UPDATE team_members SET active = 0, seq = ?3 WHERE app_id = ?1 AND tid = ?2 AND active = 1",
                params![app.0, tid.0, cseq],
            )
            .map_err(internal)?;
            c.execute(
                "UPDATE team_periods SET leave_msgid = ?3 WHERE app_id = ?1 AND tid = ?2 AND leave_msgid IS NULL",
                params![app.0, tid.0, n],
            )
            .map_err(internal)?;
            c.execute(
                "DELETE FROM team_invites WHERE app_id = ?1 AND tid = ?2",
                params![app.0, tid.0],
            )
            .map_err(internal)?;
            c.execute(
                "DELETE FROM team_applies WHERE app_id = ?1 AND tid = ?2",
                params![app.0, tid.0],
            )
            .map_err(internal)?;
        }
    }
    let mut inv = c
        .prepare_cached(
            "INSERT OR REPLACE INTO team_invites (app_id, tid, ordinal, accid, inviter, msg, attach, time_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(internal)?;
    for i in &ch.invite {
        inv.execute(params![
            app.0,
            tid.0,
            i.ordinal.0,
            i.accid.as_str(),
            i.inviter.as_str(),
            i.msg,
            i.attach,
            i.time_ms
        ])
        .map_err(internal)?;
    }
    let mut uninv = c
        .prepare_cached("DELETE FROM team_invites WHERE app_id = ?1 AND tid = ?2 AND ordinal = ?3")
        .map_err(internal)?;
    for o in &ch.uninvite {
        uninv
            .execute(params![app.0, tid.0, o.0])
            .map_err(internal)?;
    }
    let mut ap = c
        .prepare_cached(
            "INSERT OR REPLACE INTO team_applies (app_id, tid, ordinal, accid, msg, time_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(internal)?;
    for a in &ch.apply {
        ap.execute(params![
            app.0,
            tid.0,
            a.ordinal.0,
            a.accid.as_str(),
            a.msg,
            a.time_ms
        ])
        .map_err(internal)?;
    }
    let mut unap = c
        .prepare_cached("DELETE FROM team_applies WHERE app_id = ?1 AND tid = ?2 AND ordinal = ?3")
        .map_err(internal)?;
    for o in &ch.unapply {
        unap.execute(params![app.0, tid.0, o.0]).map_err(internal)?;
    }
    Ok(TeamCommit {
        version,
        notification: sent,
    })
}

pub(super) fn list<T>(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut st = c.prepare_cached(sql).map_err(internal)?;
    let rows = st.query_map(p, f).map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

pub(super) fn invitation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Invitation> {
    Ok(Invitation {
        tid: Tid(r.get(0)?),
        ordinal: Ordinal(r.get(1)?),
        accid: Accid::from_stored(r.get(2)?),
        inviter: Accid::from_stored(r.get(3)?),
        msg: r.get(4)?,
        attach: r.get(5)?,
        time_ms: r.get(6)?,
    })
}

pub(super) const INVITE_COLS: &str = "tid, ordinal, accid, inviter, msg, attach, time_ms";

/// `(msgid > join AND msgid <= leave) OR …` for a query's periods (numbers from the store).
pub(super) fn periods_sql(periods: &[Period]) -> String {
    if periods.is_empty() {
        return "0".into();
    }
    periods
        .iter()
        .map(|(j, l)| match l {
            Some(l) => format!("(msgid > {} AND msgid <= {})", j.0, l.0),
            None => format!("msgid > {}", j.0),
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[async_trait]
impl TeamStore for SqliteStore {
    async fn reserve_tid(&self, app: AppId) -> StoreResult<Tid> {
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO team_seqs (app_id, next_tid) VALUES (?1, 2) \
                     ON CONFLICT (app_id) DO UPDATE SET next_tid = next_tid + 1 RETURNING next_tid - 1",
                )
                .map_err(internal)?
                .query_row([app.0], |r| r.get(0).map(Tid))
                .map_err(internal)
            })
            .await
    }

    async fn apply_team_change(
        &self,
        app: AppId,
        change: TeamChange,
        now_ms: i64,
    ) -> StoreResult<TeamCommit> {
        let seq = self.msgids.clone();
        self.db
            .write(move |c| apply(c, &seq, app, &change, now_ms))
            .await
    }

    async fn store_guarded(
        &self,
        app: AppId,
        guards: Vec<TeamGuard>,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>> {
        let seq = self.msgids.clone();
        self.db
            .write(move |c| {
                for g in &guards {
                    match version(c, app, g.tid)? {
                        Some((v, false)) if v == g.version => {}
                        found => {
                            return Err(stale(format!(
                                "team {} is at {found:?}, the send was checked at {}",
                                g.tid, g.version
                            )));
                        }
                    }
                }
                store(c, &seq, app, &msgs, now_ms, dedupe_since_ms, true)
            })
            .await
    }

    async fn team(&self, app: AppId, tid: Tid) -> StoreResult<Option<Team>> {
        self.db
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {TEAM_COLS} FROM teams WHERE app_id = ?1 AND tid = ?2"
                ))
                .map_err(internal)?
                .query_row(params![app.0, tid.0], team_row)
                .optional()
                .map_err(internal)
            })
            .await
    }

    async fn team_members(&self, app: AppId, tid: Tid) -> StoreResult<Vec<Member>> {
        self.db
            .read(move |c| {
                list(
                    c,
                    &format!(
                        "SELECT {MEMBER_COLS} FROM team_members WHERE app_id = ?1 AND tid = ?2 AND active = 1 \
                         ORDER BY ordinal"
                    ),
                    params![app.0, tid.0],
                    member_row,
                )
            })
            .await
    }

    async fn team_changes(&self, app: AppId, since: i64, upto: i64) -> StoreResult<Vec<Team>> {
        self.db
            .read(move |c| {
                list(
                    c,
                    &format!(
                        "SELECT {TEAM_COLS} FROM teams WHERE app_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq, tid"
                    ),
                    params![app.0, since, upto],
                    team_row,
                )
            })
            .await
    }

    async fn member_changes(
        &self,
        app: AppId,
        since: i64,
        upto: i64,
    ) -> StoreResult<Vec<MemberChange>> {
        self.db
            .read(move |c| {
                list(
                    c,
                    &format!(
                        "SELECT {MEMBER_COLS} FROM team_members WHERE app_id = ?1 AND seq > ?2 AND seq <= ?3 \
                         ORDER BY seq, tid, ordinal"
                    ),
                    params![app.0, since, upto],
                    |r| {
                        Ok(MemberChange {
                            member: member_row(r)?,
                            tid: Tid(r.get(9)?),
                            active: r.get(10)?,
                        })
                    },
                )
            })
            .await
    }

    async fn memberships(&self, app: AppId, ordinal: Ordinal) -> StoreResult<Vec<Membership>> {
        self.db
            .read(move |c| {
                let cols: Vec<String> = TEAM_COLS
                    .split(", ")
                    .map(|x| format!("t.{x}"))
                    .chain(MEMBER_COLS.split(", ").map(|x| format!("m.{x}")))
                    .collect();
                let sql = format!(
                    "SELECT {}, (SELECT count(*) FROM team_members x WHERE x.app_id = t.app_id AND x.tid = t.tid \
                     AND x.active = 1) FROM team_members m JOIN teams t ON t.app_id = m.app_id AND t.tid = m.tid \
                     WHERE m.app_id = ?1 AND m.ordinal = ?2 AND m.active = 1 AND t.dismissed = 0 ORDER BY t.tid",
                    cols.join(", ")
                );
                list(c, &sql, params![app.0, ordinal.0], |r| {
                    let team = team_row(r)?;
                    let m = Member {
                        ordinal: Ordinal(r.get(21)?),
                        accid: Accid::from_stored(r.get(22)?),
                        role: Role::from_i64(r.get(23)?),
                        nick: r.get(24)?,
                        mute: r.get(25)?,
                        custom: r.get(26)?,
                        push_enable: r.get(27)?,
                        joined_ms: r.get(28)?,
                        updated_ms: r.get(29)?,
                    };
                    Ok(Membership {
                        team,
                        member: m,
                        size: r.get::<_, i64>(32)? as u64,
                    })
                })
            })
            .await
    }

    async fn owned_count(&self, app: AppId, owner: &Accid) -> StoreResult<u64> {
        let owner = owner.clone();
        self.db
            .read(move |c| {
                c.prepare_cached(
                    "SELECT count(*) FROM teams WHERE app_id = ?1 AND owner = ?2 AND dismissed = 0",
                )
                .map_err(internal)?
                .query_row(params![app.0, owner.as_str()], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(internal)
            })
            .await
    }

    async fn joined_counts(&self, app: AppId, ordinals: Vec<Ordinal>) -> StoreResult<Vec<u64>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT count(*) FROM team_members WHERE app_id = ?1 AND ordinal = ?2 AND active = 1",
                    )
                    .map_err(internal)?;
                ordinals
                    .iter()
                    .map(|o| {
                        st.query_row(params![app.0, o.0], |r| r.get::<_, i64>(0))
                            .map(|n| n as u64)
                            .map_err(internal)
                    })
                    .collect()
            })
            .await
    }

    async fn periods(&self, app: AppId, tid: Tid, ordinal: Ordinal) -> StoreResult<Vec<Period>> {
        self.db
            .read(move |c| {
                list(
                    c,
                    "SELECT join_msgid, leave_msgid FROM team_periods WHERE app_id = ?1 AND tid = ?2 AND ordinal = ?3 \
                     ORDER BY join_msgid",
                    params![app.0, tid.0, ordinal.0],
                    |r| Ok((MsgId(r.get(0)?), r.get::<_, Option<i64>>(1)?.map(MsgId))),
                )
            })
            .await
    }

    async fn invitation(
        &self,
        app: AppId,
        tid: Tid,
        ordinal: Ordinal,
    ) -> StoreResult<Option<Invitation>> {
        self.db
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {INVITE_COLS} FROM team_invites WHERE app_id = ?1 AND tid = ?2 AND ordinal = ?3"
                ))
                .map_err(internal)?
                .query_row(params![app.0, tid.0, ordinal.0], invitation_row)
                .optional()
                .map_err(internal)
            })
            .await
    }

    async fn invitations_of(&self, app: AppId, ordinal: Ordinal) -> StoreResult<Vec<Invitation>> {
        self.db
            .read(move |c| {
                list(
                    c,
                    &format!(
                        "SELECT {INVITE_COLS} FROM team_invites WHERE app_id = ?1 AND ordinal = ?2 \
                         ORDER BY time_ms, tid"
                    ),
                    params![app.0, ordinal.0],
                    invitation_row,
                )
            })
            .await
    }

    async fn application(
        &self,
        app: AppId,
        tid: Tid,
        ordinal: Ordinal,
    ) -> StoreResult<Option<Application>> {
        self.db
            .read(move |c| {
                c.prepare_cached(
                    "SELECT tid, ordinal, accid, msg, time_ms FROM team_applies \
                     WHERE app_id = ?1 AND tid = ?2 AND ordinal = ?3",
                )
                .map_err(internal)?
                .query_row(params![app.0, tid.0, ordinal.0], |r| {
                    Ok(Application {
                        tid: Tid(r.get(0)?),
                        ordinal: Ordinal(r.get(1)?),
                        accid: Accid::from_stored(r.get(2)?),
                        msg: r.get(3)?,
                        time_ms: r.get(4)?,
                    })
                })
                .optional()
                .map_err(internal)
            })
            .await
    }

    async fn team_messages(&self, app: AppId, q: TeamMsgQuery) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| {
                let order = if q.ascending { "ASC" } else { "DESC" };
                let types = if q.types.is_empty() {
                    String::new()
                } else {
                    let list: Vec<String> = q.types.iter().map(|t| t.to_string()).collect();
                    format!(" AND msg_type IN ({})", list.join(","))
                };
                let sql = format!(
                    "SELECT {COLS} FROM messages WHERE app_id = ?1 AND tid = ?2 AND kind = 4 AND antispam = 0 \
                     AND recalled_ms IS NULL AND timetag BETWEEN ?3 AND ?4 AND msgid <> ?5{types} AND ({}) \
                     ORDER BY timetag {order}, msgid {order} LIMIT ?6",
                    periods_sql(&q.periods)
                );
                let mut st = c.prepare(&sql).map_err(internal)?;
                let rows = st
                    .query_map(
                        params![
                            app.0,
                            q.tid.0,
                            q.begin_ms,
                            q.end_ms,
                            q.exclude_msgid.map_or(-1, |m| m.0),
                            q.limit as i64
                        ],
                        row,
                    )
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }
}
