//! Teams on PostgreSQL. A team change is one transaction on a pooled connection: the app row's
//! lock (`next_change`, which serialises an app's team writes across nodes and makes the
//! `max_*` counts exact), the team row's, then `msg_seqs` for its notification (the order every
//! writer of msg_seqs keeps: nobody holding it waits for a team row). A guarded send takes the
//! guarded team rows `FOR SHARE` (in tid order), so a change of those teams waits for it or it
//! for the change, and it sees the version the change left. Guarded sends go through the
//! group-committing writer (`writer.rs`), which takes the guarded rows first in each batch.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use qunfa_core::account::Accid;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::{Message, NewMessage, Sent};
use qunfa_core::store::{
    Membership, StoreError, StoreResult, TeamChange, TeamCommit, TeamGuard, TeamMsgQuery, TeamStore,
};
use qunfa_core::team::periods::Period;
use qunfa_core::team::{Application, Invitation, Member, MemberChange, Role, Team, Tid};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::batch::Group;
use super::messages::{COLS, list};
use super::{PgStore, next_change, pg};

const TEAM_COLS: &str = "tid, tname, owner, icon, announcement, intro, custom, client_custom, joinmode, \
     beinvitemode, invitemode, uptinfomode, upcustommode, max_users, mute_type, notify_close_online, \
     notify_close_persistent, created_ms, updated_ms, dismissed, version";

fn small(r: &Row, i: usize) -> u8 {
    // Written from u8 values only.
    r.get::<_, i16>(i) as u8
}

fn team_row(r: &Row) -> Team {
    Team {
        tid: Tid(r.get(0)),
        tname: r.get(1),
        owner: Accid::from_stored(r.get(2)),
        icon: r.get(3),
        announcement: r.get(4),
        intro: r.get(5),
        custom: r.get(6),
        client_custom: r.get(7),
        joinmode: small(r, 8),
        beinvitemode: small(r, 9),
        invitemode: small(r, 10),
        uptinfomode: small(r, 11),
        upcustommode: small(r, 12),
        max_users: r.get::<_, i64>(13) as u32,
        mute_type: small(r, 14),
        notify_close_online: r.get(15),
        notify_close_persistent: r.get(16),
        created_ms: r.get(17),
        updated_ms: r.get(18),
        dismissed: r.get(19),
        version: r.get(20),
    }
}

const MEMBER_COLS: &str =
    "ordinal, accid, role, nick, mute, custom, push_enable, joined_ms, updated_ms, tid, active";

fn member_at(r: &Row, i: usize) -> Member {
    Member {
        ordinal: Ordinal(r.get::<_, i64>(i) as u32),
        accid: Accid::from_stored(r.get(i + 1)),
        role: Role::from_i64(i64::from(r.get::<_, i16>(i + 2))),
        nick: r.get(i + 3),
        mute: r.get(i + 4),
        custom: r.get(i + 5),
        push_enable: r.get(i + 6),
        joined_ms: r.get(i + 7),
        updated_ms: r.get(i + 8),
    }
}

fn stale(why: impl Into<String>) -> StoreError {
    StoreError::Stale(why.into())
}

fn ord(o: Ordinal) -> i64 {
    i64::from(o.0)
}

async fn exec(tx: &Transaction<'_>, sql: &str, p: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
    let st = tx.prepare_cached(sql).await.map_err(pg)?;
    tx.execute(&st, p).await.map_err(pg)
}

/// Stores `msgs` (already checked) inside `tx`: one statement hands out their msgids and
/// inserts them with their new audiences.
async fn insert_messages(
    tx: &Transaction<'_>,
    app: AppId,
    msgs: &[&NewMessage],
    now_ms: i64,
) -> StoreResult<Vec<Sent>> {
    if msgs.is_empty() {
        return Ok(Vec::new());
    }
    let mut g = Group::default();
    for m in msgs {
        g.push(m, now_ms);
    }
    let st = tx.prepare_cached(g.sql()).await.map_err(pg)?;
    let row = tx.query_opt(&st, &g.params(&app.0)).await.map_err(pg)?;
    let first: i64 = row
        .map(|r| r.get(0))
        .ok_or_else(|| StoreError::Internal(format!("app {app} has no msgid sequence")))?;
    Ok(msgs
        .iter()
        .enumerate()
        .map(|(i, m)| Sent {
            msgid: MsgId(first + i as i64),
            timetag: now_ms,
            antispam: m.antispam,
            recipients: m.recipients,
            duplicate: false,
        })
        .collect())
}

async fn check_caps(tx: &Transaction<'_>, app: AppId, ch: &TeamChange) -> StoreResult<()> {
    if let Some(max) = ch.max_owned {
        let st = tx
            .prepare_cached(
                "SELECT count(*) FROM teams WHERE app_id = $1 AND owner = $2 AND NOT dismissed AND tid <> $3",
            )
            .await
            .map_err(pg)?;
        let owned: i64 = tx
            .query_one(&st, &[&app.0, &ch.team.owner.as_str(), &ch.tid.0])
            .await
            .map_err(pg)?
            .get(0);
        if owned as u64 + u64::from(!ch.team.dismissed) > max {
            return Err(stale(format!("{} owns {owned} teams", ch.team.owner)));
        }
    }
    if let (Some(max), false) = (ch.max_joined, ch.joined.is_empty()) {
        let st = tx
            .prepare_cached(
                "SELECT u.o, (SELECT count(*) FROM team_members m WHERE m.app_id = $1 AND m.ordinal = u.o \
                 AND m.active AND m.tid <> $2) FROM UNNEST($3::bigint[]) AS u(o)",
            )
            .await
            .map_err(pg)?;
        let ords: Vec<i64> = ch.joined.iter().map(|o| ord(*o)).collect();
        for r in tx
            .query(&st, &[&app.0, &ch.tid.0, &ords])
            .await
            .map_err(pg)?
        {
            let n: i64 = r.get(1);
            if n as u64 + 1 > max {
                return Err(stale(format!(
                    "ordinal {} is in {n} teams",
                    r.get::<_, i64>(0)
                )));
            }
        }
    }
    Ok(())
}

async fn apply(
    tx: &Transaction<'_>,
    app: AppId,
    ch: &TeamChange,
    now_ms: i64,
) -> StoreResult<TeamCommit> {
    let tid = ch.tid;
    let cseq = next_change(tx, app).await?;
    let st = tx
        .prepare_cached(
            "SELECT version, dismissed FROM teams WHERE app_id = $1 AND tid = $2 FOR UPDATE",
        )
        .await
        .map_err(pg)?;
    let found: Option<(i64, bool)> = tx
        .query_opt(&st, &[&app.0, &tid.0])
        .await
        .map_err(pg)?
        .map(|r| (r.get(0), r.get(1)));
    match (found, ch.expected_version) {
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
        return Err(StoreError::Internal(
            "a membership change without its notification".into(),
        ));
    }
    check_caps(tx, app, ch).await?;
    let version = ch.expected_version + 1;
    let sent = match &ch.notification {
        Some(n) => insert_messages(tx, app, &[n], now_ms).await?.pop(),
        None => None,
    };
    let t = &ch.team;
    let (jm, bim, im, uim, ucm, mt) = (
        i16::from(t.joinmode),
        i16::from(t.beinvitemode),
        i16::from(t.invitemode),
        i16::from(t.uptinfomode),
        i16::from(t.upcustommode),
        i16::from(t.mute_type),
    );
    exec(
        tx,
        &format!(
            "INSERT INTO teams (app_id, {TEAM_COLS}, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) ON CONFLICT (app_id, tid) DO UPDATE SET \
             tname = excluded.tname, owner = excluded.owner, icon = excluded.icon, \
             announcement = excluded.announcement, intro = excluded.intro, custom = excluded.custom, \
             client_custom = excluded.client_custom, joinmode = excluded.joinmode, \
             beinvitemode = excluded.beinvitemode, invitemode = excluded.invitemode, \
             uptinfomode = excluded.uptinfomode, upcustommode = excluded.upcustommode, \
             max_users = excluded.max_users, mute_type = excluded.mute_type, \
             notify_close_online = excluded.notify_close_online, \
             notify_close_persistent = excluded.notify_close_persistent, updated_ms = excluded.updated_ms, \
             dismissed = excluded.dismissed, version = excluded.version, seq = excluded.seq"
        ),
        &[
            &app.0,
            &tid.0,
            &t.tname,
            &t.owner.as_str(),
            &t.icon,
            &t.announcement,
            &t.intro,
            &t.custom,
            &t.client_custom,
            &jm,
            &bim,
            &im,
            &uim,
            &ucm,
            &i64::from(t.max_users),
            &mt,
            &t.notify_close_online,
            &t.notify_close_persistent,
            &t.created_ms,
            &t.updated_ms,
            &t.dismissed,
            &version,
            &cseq,
        ],
    )
    .await?;
    if !ch.upsert.is_empty() {
        let ords: Vec<i64> = ch.upsert.iter().map(|m| ord(m.ordinal)).collect();
        let accids: Vec<&str> = ch.upsert.iter().map(|m| m.accid.as_str()).collect();
        let roles: Vec<i16> = ch.upsert.iter().map(|m| m.role.as_i64() as i16).collect();
        let nicks: Vec<&str> = ch.upsert.iter().map(|m| m.nick.as_str()).collect();
        let mutes: Vec<bool> = ch.upsert.iter().map(|m| m.mute).collect();
        let customs: Vec<&str> = ch.upsert.iter().map(|m| m.custom.as_str()).collect();
        let pushes: Vec<bool> = ch.upsert.iter().map(|m| m.push_enable).collect();
        let joined: Vec<i64> = ch.upsert.iter().map(|m| m.joined_ms).collect();
        let updated: Vec<i64> = ch.upsert.iter().map(|m| m.updated_ms).collect();
        exec(
            tx,
            "INSERT INTO team_members (app_id, tid, ordinal, accid, role, nick, mute, custom, push_enable, \
             joined_ms, updated_ms, active, seq) \
             SELECT $1, $2, u.*, true, $12 FROM UNNEST($3::bigint[], $4::text[], $5::smallint[], $6::text[], \
             $7::bool[], $8::text[], $9::bool[], $10::bigint[], $11::bigint[]) AS u \
             ON CONFLICT (app_id, tid, ordinal) DO UPDATE SET accid = excluded.accid, role = excluded.role, \
             nick = excluded.nick, mute = excluded.mute, custom = excluded.custom, \
             push_enable = excluded.push_enable, joined_ms = excluded.joined_ms, \
             updated_ms = excluded.updated_ms, active = true, seq = excluded.seq",
            &[
                &app.0, &tid.0, &ords, &accids, &roles, &nicks, &mutes, &customs, &pushes, &joined,
                &updated, &cseq,
            ],
        )
        .await?;
    }
    if let Some(n) = sent.as_ref().map(|s| s.msgid.0) {
        if !ch.joined.is_empty() {
            let ords: Vec<i64> = ch.joined.iter().map(|o| ord(*o)).collect();
            exec(
                tx,
                "INSERT INTO team_periods (app_id, tid, ordinal, join_msgid) \
                 SELECT $1, $2, u.o, $4 FROM UNNEST($3::bigint[]) AS u(o) ON CONFLICT DO NOTHING",
                &[&app.0, &tid.0, &ords, &(n - 1)],
            )
            .await?;
        }
        if !ch.left.is_empty() {
            let ords: Vec<i64> = ch.left.iter().map(|o| ord(*o)).collect();
            exec(
                tx,
                "UPDATE team_members SET active = false, seq = $4 WHERE app_id = $1 AND tid = $2 \
                 AND ordinal = ANY($3::bigint[])",
                &[&app.0, &tid.0, &ords, &cseq],
            )
            .await?;
            exec(
                tx,
                "UPDATE team_periods SET leave_msgid = $4 WHERE app_id = $1 AND tid = $2 \
                 AND ordinal = ANY($3::bigint[]) AND leave_msgid IS NULL",
                &[&app.0, &tid.0, &ords, &n],
            )
            .await?;
        }
        if t.dismissed {
            exec(
                tx,
                "UPDATE team_members SET active = false, seq = $3 WHERE app_id = $1 AND tid = $2 AND active",
                &[&app.0, &tid.0, &cseq],
            )
            .await?;
            exec(
                tx,
                "UPDATE team_periods SET leave_msgid = $3 WHERE app_id = $1 AND tid = $2 AND leave_msgid IS NULL",
                &[&app.0, &tid.0, &n],
            )
            .await?;
            exec(
                tx,
                "DELETE FROM team_invites WHERE app_id = $1 AND tid = $2",
                &[&app.0, &tid.0],
            )
            .await?;
            exec(
                tx,
                "DELETE FROM team_applies WHERE app_id = $1 AND tid = $2",
                &[&app.0, &tid.0],
            )
            .await?;
        }
    }
    for i in &ch.invite {
        exec(
            tx,
            "INSERT INTO team_invites (app_id, tid, ordinal, accid, inviter, msg, attach, time_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (app_id, tid, ordinal) DO UPDATE SET \
             inviter = excluded.inviter, msg = excluded.msg, attach = excluded.attach, time_ms = excluded.time_ms",
            &[
                &app.0,
                &tid.0,
                &ord(i.ordinal),
                &i.accid.as_str(),
                &i.inviter.as_str(),
                &i.msg,
                &i.attach,
                &i.time_ms,
            ],
        )
        .await?;
    }
    if !ch.uninvite.is_empty() {
        let ords: Vec<i64> = ch.uninvite.iter().map(|o| ord(*o)).collect();
        exec(
            tx,
            "DELETE FROM team_invites WHERE app_id = $1 AND tid = $2 AND ordinal = ANY($3::bigint[])",
            &[&app.0, &tid.0, &ords],
        )
        .await?;
    }
    for a in &ch.apply {
        exec(
            tx,
            "INSERT INTO team_applies (app_id, tid, ordinal, accid, msg, time_ms) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (app_id, tid, ordinal) DO UPDATE SET msg = excluded.msg, time_ms = excluded.time_ms",
            &[
                &app.0,
                &tid.0,
                &ord(a.ordinal),
                &a.accid.as_str(),
                &a.msg,
                &a.time_ms,
            ],
        )
        .await?;
    }
    if !ch.unapply.is_empty() {
        let ords: Vec<i64> = ch.unapply.iter().map(|o| ord(*o)).collect();
        exec(
            tx,
            "DELETE FROM team_applies WHERE app_id = $1 AND tid = $2 AND ordinal = ANY($3::bigint[])",
            &[&app.0, &tid.0, &ords],
        )
        .await?;
    }
    Ok(TeamCommit {
        version,
        notification: sent,
    })
}

fn invitation_row(r: &Row) -> Invitation {
    Invitation {
        tid: Tid(r.get(0)),
        ordinal: Ordinal(r.get::<_, i64>(1) as u32),
        accid: Accid::from_stored(r.get(2)),
        inviter: Accid::from_stored(r.get(3)),
        msg: r.get(4),
        attach: r.get(5),
        time_ms: r.get(6),
    }
}

const INVITE_COLS: &str = "tid, ordinal, accid, inviter, msg, attach, time_ms";

impl PgStore {
    async fn rows(&self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let c = self.client().await?;
        let st = c.prepare_cached(sql).await.map_err(pg)?;
        c.query(&st, p).await.map_err(pg)
    }
}

#[async_trait]
impl TeamStore for PgStore {
    async fn reserve_tid(&self, app: AppId) -> StoreResult<Tid> {
        let rows = self
            .rows(
                "INSERT INTO team_seqs (app_id, next_tid) VALUES ($1, 2) \
                 ON CONFLICT (app_id) DO UPDATE SET next_tid = team_seqs.next_tid + 1 RETURNING next_tid - 1",
                &[&app.0],
            )
            .await?;
        rows.first()
            .map(|r| Tid(r.get(0)))
            .ok_or_else(|| StoreError::Internal("no tid answered".into()))
    }

    async fn apply_team_change(
        &self,
        app: AppId,
        change: TeamChange,
        now_ms: i64,
    ) -> StoreResult<TeamCommit> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let commit = apply(&tx, app, &change, now_ms).await?;
        tx.commit().await.map_err(pg)?;
        Ok(commit)
    }

    async fn store_guarded(
        &self,
        app: AppId,
        guards: Vec<TeamGuard>,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>> {
        if msgs.is_empty() && guards.is_empty() {
            return Ok(Vec::new());
        }
        self.writer
            .store_guarded(app, guards, msgs, now_ms, dedupe_since_ms)
            .await
    }

    async fn team(&self, app: AppId, tid: Tid) -> StoreResult<Option<Team>> {
        let rows = self
            .rows(
                &format!("SELECT {TEAM_COLS} FROM teams WHERE app_id = $1 AND tid = $2"),
                &[&app.0, &tid.0],
            )
            .await?;
        Ok(rows.first().map(team_row))
    }

    async fn team_members(&self, app: AppId, tid: Tid) -> StoreResult<Vec<Member>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {MEMBER_COLS} FROM team_members WHERE app_id = $1 AND tid = $2 AND active ORDER BY ordinal"
                ),
                &[&app.0, &tid.0],
            )
            .await?;
        Ok(rows.iter().map(|r| member_at(r, 0)).collect())
    }

    async fn team_changes(&self, app: AppId, since: i64, upto: i64) -> StoreResult<Vec<Team>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {TEAM_COLS} FROM teams WHERE app_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq, tid"
                ),
                &[&app.0, &since, &upto],
            )
            .await?;
        Ok(rows.iter().map(team_row).collect())
    }

    async fn member_changes(
        &self,
        app: AppId,
        since: i64,
        upto: i64,
    ) -> StoreResult<Vec<MemberChange>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {MEMBER_COLS} FROM team_members WHERE app_id = $1 AND seq > $2 AND seq <= $3 \
                     ORDER BY seq, tid, ordinal"
                ),
                &[&app.0, &since, &upto],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| MemberChange {
                member: member_at(r, 0),
                tid: Tid(r.get(9)),
                active: r.get(10),
            })
            .collect())
    }

    async fn memberships(&self, app: AppId, ordinal: Ordinal) -> StoreResult<Vec<Membership>> {
        let cols: Vec<String> = TEAM_COLS
            .split(", ")
            .map(|x| format!("t.{x}"))
            .chain(MEMBER_COLS.split(", ").map(|x| format!("m.{x}")))
            .collect();
        let sql = format!(
            "SELECT {}, (SELECT count(*) FROM team_members x WHERE x.app_id = t.app_id AND x.tid = t.tid \
             AND x.active) FROM team_members m JOIN teams t ON t.app_id = m.app_id AND t.tid = m.tid \
             WHERE m.app_id = $1 AND m.ordinal = $2 AND m.active AND NOT t.dismissed ORDER BY t.tid",
            cols.join(", ")
        );
        let rows = self.rows(&sql, &[&app.0, &ord(ordinal)]).await?;
        Ok(rows
            .iter()
            .map(|r| Membership {
                team: team_row(r),
                member: member_at(r, 21),
                size: r.get::<_, i64>(32) as u64,
            })
            .collect())
    }

    async fn owned_count(&self, app: AppId, owner: &Accid) -> StoreResult<u64> {
        let rows = self
            .rows(
                "SELECT count(*) FROM teams WHERE app_id = $1 AND owner = $2 AND NOT dismissed",
                &[&app.0, &owner.as_str()],
            )
            .await?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    async fn joined_counts(&self, app: AppId, ordinals: Vec<Ordinal>) -> StoreResult<Vec<u64>> {
        let ords: Vec<i64> = ordinals.iter().map(|o| ord(*o)).collect();
        let rows = self
            .rows(
                "SELECT (SELECT count(*) FROM team_members m WHERE m.app_id = $1 AND m.ordinal = u.o AND m.active) \
                 FROM UNNEST($2::bigint[]) WITH ORDINALITY AS u(o, i) ORDER BY u.i",
                &[&app.0, &ords],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    async fn periods(&self, app: AppId, tid: Tid, ordinal: Ordinal) -> StoreResult<Vec<Period>> {
        let rows = self
            .rows(
                "SELECT join_msgid, leave_msgid FROM team_periods WHERE app_id = $1 AND tid = $2 AND ordinal = $3 \
                 ORDER BY join_msgid",
                &[&app.0, &tid.0, &ord(ordinal)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (MsgId(r.get(0)), r.get::<_, Option<i64>>(1).map(MsgId)))
            .collect())
    }

    async fn invitation(
        &self,
        app: AppId,
        tid: Tid,
        ordinal: Ordinal,
    ) -> StoreResult<Option<Invitation>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {INVITE_COLS} FROM team_invites WHERE app_id = $1 AND tid = $2 AND ordinal = $3"
                ),
                &[&app.0, &tid.0, &ord(ordinal)],
            )
            .await?;
        Ok(rows.first().map(invitation_row))
    }

    async fn invitations_of(&self, app: AppId, ordinal: Ordinal) -> StoreResult<Vec<Invitation>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {INVITE_COLS} FROM team_invites WHERE app_id = $1 AND ordinal = $2 ORDER BY time_ms, tid"
                ),
                &[&app.0, &ord(ordinal)],
            )
            .await?;
        Ok(rows.iter().map(invitation_row).collect())
    }

    async fn application(
        &self,
        app: AppId,
        tid: Tid,
        ordinal: Ordinal,
    ) -> StoreResult<Option<Application>> {
        let rows = self
            .rows(
                "SELECT tid, ordinal, accid, msg, time_ms FROM team_applies \
                 WHERE app_id = $1 AND tid = $2 AND ordinal = $3",
                &[&app.0, &tid.0, &ord(ordinal)],
            )
            .await?;
        Ok(rows.first().map(|r| Application {
            tid: Tid(r.get(0)),
            ordinal: Ordinal(r.get::<_, i64>(1) as u32),
            accid: Accid::from_stored(r.get(2)),
            msg: r.get(3),
            time_ms: r.get(4),
        }))
    }

    async fn team_messages(&self, app: AppId, q: TeamMsgQuery) -> StoreResult<Vec<Message>> {
        let c = self.client().await?;
        let order = if q.ascending { "ASC" } else { "DESC" };
        let joins: Vec<i64> = q.periods.iter().map(|(j, _)| j.0).collect();
        let leaves: Vec<Option<i64>> = q.periods.iter().map(|(_, l)| l.map(|l| l.0)).collect();
        let types: Vec<i32> = q.types.iter().map(|t| i32::from(*t)).collect();
        let sql = format!(
            "SELECT {COLS} FROM messages WHERE app_id = $1 AND tid = $2 AND kind = 4 AND NOT antispam \
             AND recalled_ms IS NULL AND timetag BETWEEN $3 AND $4 AND msgid <> $5 \
             AND (cardinality($7::int[]) = 0 OR msg_type = ANY($7::int[])) \
             AND EXISTS (SELECT 1 FROM UNNEST($8::bigint[], $9::bigint[]) AS p(j, l) \
                 WHERE msgid > p.j AND (p.l IS NULL OR msgid <= p.l)) \
             ORDER BY timetag {order}, msgid {order} LIMIT $6"
        );
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let rows = list(
            &c,
            &sql,
            &[
                &app.0,
                &q.tid.0,
                &q.begin_ms,
                &q.end_ms,
                &q.exclude_msgid.map_or(-1, |m| m.0),
                &limit,
                &types,
                &joins,
                &leaves,
            ],
        )
        .await?;
        Ok(rows)
    }
}
