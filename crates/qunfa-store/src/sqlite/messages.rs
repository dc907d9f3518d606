//! Messages: stored once whoever they reach, msgids handed out by the writer in commit order.

use async_trait::async_trait;
use qunfa_core::account::Accid;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::inbox;
use qunfa_core::message::{BroadcastFilter, Message, MsgKind, NewMessage, Sent};
use qunfa_core::store::{MessageStore, SessionQuery, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::conn::internal;

pub(super) const COLS: &str = "msgid, timetag, kind, from_accid, to_accid, msg_type, body, ext, extra, msgidclient, \
                    antispam, mark_read, recipients, selection, offline, expire_ms, ref_msgid, recalled_ms, deleted, \
                    to_ordinal, audience_hash, tid, from_ordinal";

/// A row read from column `.1` on.
struct Shifted<'a, 'b>(&'a rusqlite::Row<'b>, usize);

impl Shifted<'_, '_> {
    fn get<T: rusqlite::types::FromSql>(&self, i: usize) -> rusqlite::Result<T> {
        self.0.get(self.1 + i)
    }
}

fn hash32(v: Option<Vec<u8>>) -> Option<[u8; 32]> {
    v.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
}

pub(super) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    row_at(r, 0)
}

/// A message from the columns of [`COLS`] starting at column `at`.
pub(super) fn row_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Message> {
    let r = Shifted(r, at);
    Ok(Message {
        msgid: MsgId(r.get(0)?),
        timetag: r.get(1)?,
        kind: MsgKind::from_i64(r.get(2)?),
        from: Accid::from_stored(r.get(3)?),
        to: r.get::<Option<String>>(4)?.map(Accid::from_stored),
        msg_type: r.get(5)?,
        body: r.get(6)?,
        ext: r.get(7)?,
        extra: r.get(8)?,
        msgidclient: r.get(9)?,
        antispam: r.get(10)?,
        mark_read: r.get(11)?,
        recipients: r.get::<i64>(12)? as u64,
        selection: r.get(13)?,
        offline: r.get(14)?,
        expire_ms: r.get(15)?,
        ref_msgid: r.get::<Option<i64>>(16)?.map(MsgId),
        recalled_ms: r.get(17)?,
        deleted: r.get(18)?,
        to_ordinal: r.get::<Option<u32>>(19)?.map(Ordinal),
        audience_hash: hash32(r.get(20)?),
        tid: r.get::<Option<i64>>(21)?.map(qunfa_core::team::Tid),
        from_ordinal: r.get::<Option<u32>>(22)?.map(Ordinal),
    })
}

/// Stores an audience once per app, by its content hash, which messages refer to.
fn share_audience(c: &Connection, app: AppId, hash: &[u8], encoded: &[u8]) -> StoreResult<()> {
    let mut st = c
        .prepare_cached("INSERT OR IGNORE INTO audiences (app_id, hash, bits) VALUES (?1, ?2, ?3)")
        .map_err(internal)?;
    st.execute(params![app.0, hash, encoded])
        .map_err(internal)?;
    Ok(())
}

pub(super) fn insert(
    c: &Connection,
    app: AppId,
    msgid: MsgId,
    m: &NewMessage,
    now_ms: i64,
) -> StoreResult<()> {
    // Without the bits, the message refers to an audience already stored.
    let audience_hash = m.audience_hash().map(|h| h.to_vec());
    if let (Some(encoded), Some(hash)) = (&m.audience, &audience_hash) {
        share_audience(c, app, hash, encoded)?;
    }
    let mut st = c
        .prepare_cached(
            "INSERT INTO messages (app_id, msgid, kind, from_accid, to_accid, to_ordinal, msg_type, body, ext, extra, \
             msgidclient, timetag, antispam, mark_read, recipients, audience_hash, selection, offline, expire_ms, ref_msgid, \
             tid, from_ordinal) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
        )
        .map_err(internal)?;
    st.execute(params![
        app.0,
        msgid.0,
        m.kind.as_i64(),
        m.from.as_str(),
        m.to.as_ref().map(|a| a.as_str()),
        m.to_ordinal.map(|o| o.0),
        m.msg_type,
        m.body,
        m.ext,
        m.extra,
        m.msgidclient,
        now_ms,
        m.antispam,
        m.mark_read,
        m.recipients as i64,
        audience_hash,
        m.selection,
        m.offline,
        m.expire_ms,
        m.ref_msgid.map(|r| r.0),
        m.tid.map(|t| t.0),
        m.from_ordinal.map(|o| o.0),
    ])
    .map_err(internal)?;
    if let Some(ctx) = &m.copy {
        super::callbacks::add_message_event(c, app, msgid, m, ctx, now_ms)?;
    }
    Ok(())
}

/// The writer's next msgid per app.
pub(super) type MsgidSeq = std::sync::Mutex<std::collections::HashMap<AppId, i64>>;

/// Hands out `n` consecutive msgids for `app`, above every msgid it ever stored.
///
/// Only the writer thread calls this, inside its transaction, so commit order is msgid order.
/// The next free id is kept in memory (first read from the table), which spares each send a
/// write to `apps`; a rolled-back send leaves a gap, which cursors and live delivery do not
/// mind.
pub(super) fn next_msgids(
    c: &Connection,
    seq: &MsgidSeq,
    app: AppId,
    n: i64,
) -> StoreResult<MsgId> {
    let mut next = seq.lock().unwrap_or_else(|e| e.into_inner());
    let slot = match next.get_mut(&app) {
        Some(v) => v,
        None => {
            let mut st = c
                .prepare_cached(
                    "SELECT coalesce(max(msgid), 0) + 1 FROM messages WHERE app_id = ?1",
                )
                .map_err(internal)?;
            let first: i64 = st.query_row([app.0], |r| r.get(0)).map_err(internal)?;
            next.entry(app).or_insert(first)
        }
    };
    let first = *slot;
    if first + n > qunfa_core::ids::MAX_MSGID {
        return Err(internal(format!("app {app} ran out of msgids")));
    }
    *slot += n;
    Ok(MsgId(first))
}

/// An earlier message with `m`'s key inside the window: for a mass message by app-wide key;
/// with `any_kind`, for any other kind by its sender's key.
fn earlier(
    c: &Connection,
    app: AppId,
    m: &NewMessage,
    dedupe_since: i64,
    any_kind: bool,
) -> StoreResult<Option<Sent>> {
    let Some(key) = &m.msgidclient else {
        return Ok(None);
    };
    let found = |r: &rusqlite::Row<'_>| {
        Ok(Sent {
            msgid: MsgId(r.get(0)?),
            timetag: r.get(1)?,
            antispam: r.get(2)?,
            recipients: r.get::<_, i64>(3)? as u64,
            duplicate: true,
        })
    };
    let sent = if m.kind == MsgKind::Mass {
        let mut st = c
            .prepare_cached(
                "SELECT msgid, timetag, antispam, recipients FROM messages \
                 WHERE app_id = ?1 AND msgidclient = ?2 AND kind = 1 AND timetag >= ?3 ORDER BY msgid DESC LIMIT 1",
            )
            .map_err(internal)?;
        st.query_row(params![app.0, key, dedupe_since], found)
    } else if any_kind {
        let mut st = c
            .prepare_cached(
                "SELECT msgid, timetag, antispam, recipients FROM messages \
                 WHERE app_id = ?1 AND msgidclient = ?2 AND kind = ?3 AND from_accid = ?4 AND timetag >= ?5 \
                 ORDER BY msgid DESC LIMIT 1",
            )
            .map_err(internal)?;
        st.query_row(
            params![app.0, key, m.kind.as_i64(), m.from.as_str(), dedupe_since],
            found,
        )
    } else {
        return Ok(None);
    };
    sent.optional().map_err(internal)
}

pub(super) fn store(
    c: &Connection,
    seq: &MsgidSeq,
    app: AppId,
    msgs: &[NewMessage],
    now_ms: i64,
    dedupe_since: i64,
    any_kind: bool,
) -> StoreResult<Vec<Sent>> {
    let mut out = Vec::with_capacity(msgs.len());
    let mut fresh = Vec::with_capacity(msgs.len());
    for m in msgs {
        if let Some(sent) = earlier(c, app, m, dedupe_since, any_kind)? {
            out.push(Some(sent));
            continue;
        }
        out.push(None);
        fresh.push(m);
    }
    if !fresh.is_empty() {
        let first = next_msgids(c, seq, app, fresh.len() as i64)?;
        let slots = out.iter_mut().filter(|s| s.is_none());
        for ((id, m), slot) in (first.0..).zip(fresh).zip(slots) {
            insert(c, app, MsgId(id), m, now_ms)?;
            *slot = Some(Sent {
                msgid: MsgId(id),
                timetag: now_ms,
                antispam: m.antispam,
                recipients: m.recipients,
                duplicate: false,
            });
        }
    }
    Ok(out.into_iter().flatten().collect())
}

fn recall(
    c: &Connection,
    seq: &MsgidSeq,
    app: AppId,
    msgid: MsgId,
    tombstone: &NewMessage,
    now_ms: i64,
) -> StoreResult<Sent> {
    c.execute(
        "UPDATE messages SET recalled_ms = ?3 WHERE app_id = ?1 AND msgid = ?2 AND recalled_ms IS NULL",
        params![app.0, msgid.0, now_ms],
    )
    .map_err(internal)?;
    let id = next_msgids(c, seq, app, 1)?;
    insert(c, app, id, tombstone, now_ms)?;
    Ok(Sent {
        msgid: id,
        timetag: now_ms,
        antispam: false,
        recipients: tombstone.recipients,
        duplicate: false,
    })
}

fn session(c: &Connection, app: AppId, q: &SessionQuery) -> StoreResult<Vec<Message>> {
    let order = if q.ascending { "ASC" } else { "DESC" };
    let types = if q.types.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = q.types.iter().map(|t| t.to_string()).collect();
        format!(" AND msg_type IN ({})", list.join(","))
    };
    let sql = format!(
        "SELECT {COLS} FROM messages WHERE app_id = ?1 AND kind = 0 AND antispam = 0 AND recalled_ms IS NULL \
         AND ((from_accid = ?2 AND to_accid = ?3) OR (from_accid = ?3 AND to_accid = ?2)) \
         AND timetag BETWEEN ?4 AND ?5 AND msgid <> ?6{types} ORDER BY timetag {order}, msgid {order} LIMIT ?7"
    );
    let mut st = c.prepare_cached(&sql).map_err(internal)?;
    let rows = st
        .query_map(
            params![
                app.0,
                q.a.as_str(),
                q.b.as_str(),
                q.begin_ms,
                q.end_ms,
                q.exclude_msgid.map_or(-1, |m| m.0),
                q.limit as i64
            ],
            row,
        )
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

/// The team messages in an account's inbox after a cursor (`?1` app, `?2` ordinal, `?3` cursor):
/// in a team it was in after the cursor, inside one of its periods there.
pub(super) const TEAM_INBOX: &str = "m.app_id = ?1 AND m.tid IN (SELECT DISTINCT tid FROM team_periods \
     WHERE app_id = ?1 AND ordinal = ?2 AND (leave_msgid IS NULL OR leave_msgid > ?3)) \
     AND m.msgid > ?3 AND m.antispam = 0 AND m.recalled_ms IS NULL AND m.deleted = 0 \
     AND (m.kind <> 5 OR m.offline = 1) \
     AND EXISTS (SELECT 1 FROM team_periods p WHERE p.app_id = ?1 AND p.tid = m.tid AND p.ordinal = ?2 \
         AND m.msgid > p.join_msgid AND (p.leave_msgid IS NULL OR m.msgid <= p.leave_msgid))";

/// Feeds [`inbox::collect`]: the account's direct messages and the messages with an audience
/// after the cursor. The `WHERE` clauses pre-filter with the inbox rule so the indexes do the
/// work; `inbox` decides.
fn for_user(
    c: &Connection,
    app: AppId,
    ordinal: Ordinal,
    after: MsgId,
    limit: usize,
    now_ms: i64,
) -> StoreResult<Vec<Message>> {
    let mut direct = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM messages WHERE app_id = ?1 AND to_ordinal = ?2 AND msgid > ?3 \
             AND antispam = 0 AND recalled_ms IS NULL AND (kind <> 5 OR offline = 1) ORDER BY msgid LIMIT ?4"
        ))
        .map_err(internal)?;
    let direct = direct
        .query_map(params![app.0, ordinal.0, after.0, limit as i64], row)
        .map_err(internal)?
        .map(|r| r.map_err(internal));
    let mut shared = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM messages WHERE app_id = ?1 AND audience_hash IS NOT NULL AND tid IS NULL \
             AND msgid > ?2 AND antispam = 0 AND recalled_ms IS NULL AND deleted = 0 \
             AND (kind <> 2 OR (offline = 1 AND (expire_ms IS NULL OR expire_ms > ?3))) ORDER BY msgid"
        ))
        .map_err(internal)?;
    let shared = shared
        .query_map(params![app.0, after.0, now_ms], row)
        .map_err(internal)?
        .map(|r| r.map_err(internal));
    // Team messages inside the account's membership periods, through messages_team: at most
    // `limit`, all of them in its inbox (the audience check below confirms it).
    let mut team = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM messages m WHERE {TEAM_INBOX} ORDER BY m.msgid LIMIT ?4"
        ))
        .map_err(internal)?;
    let team: Vec<StoreResult<Message>> = team
        .query_map(params![app.0, ordinal.0, after.0, limit as i64], row)
        .map_err(internal)?
        .map(|r| r.map_err(internal))
        .collect();
    let shared = inbox::merge(shared, team);
    let mut bits = c
        .prepare_cached("SELECT bits FROM audiences WHERE app_id = ?1 AND hash = ?2")
        .map_err(internal)?;
    let holds = |hash: &[u8; 32]| -> StoreResult<bool> {
        let blob: Vec<u8> = bits
            .query_row(params![app.0, &hash[..]], |r| r.get(0))
            .map_err(internal)?;
        Ok(audience::decode(&blob)
            .map_err(internal)?
            .contains(ordinal.0))
    };
    inbox::collect(direct, shared, holds, limit, now_ms)
}

fn list(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<Message>> {
    let mut st = c.prepare_cached(sql).map_err(internal)?;
    let rows = st.query_map(p, row).map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn store_messages(
        &self,
        app: AppId,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>> {
        let seq = self.msgids.clone();
        self.db
            .write(move |c| store(c, &seq, app, &msgs, now_ms, dedupe_since_ms, false))
            .await
    }

    async fn message(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Message>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {COLS} FROM messages WHERE app_id = ?1 AND msgid = ?2"
                    ))
                    .map_err(internal)?;
                st.query_row(params![app.0, msgid.0], row)
                    .optional()
                    .map_err(internal)
            })
            .await
    }

    async fn message_by_client(
        &self,
        app: AppId,
        msgidclient: &str,
    ) -> StoreResult<Option<Message>> {
        let key = msgidclient.to_owned();
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {COLS} FROM messages WHERE app_id = ?1 AND msgidclient = ?2 AND kind = 0 \
                         ORDER BY msgid DESC LIMIT 1"
                    ))
                    .map_err(internal)?;
                st.query_row(params![app.0, key], row)
                    .optional()
                    .map_err(internal)
            })
            .await
    }

    async fn message_audience(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Vec<u8>>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT a.bits FROM messages m JOIN audiences a ON a.app_id = m.app_id AND a.hash = m.audience_hash \
                         WHERE m.app_id = ?1 AND m.msgid = ?2",
                    )
                    .map_err(internal)?;
                st.query_row(params![app.0, msgid.0], |r| r.get(0))
                    .optional()
                    .map_err(internal)
            })
            .await
    }

    async fn audience(&self, app: AppId, hash: [u8; 32]) -> StoreResult<Option<Vec<u8>>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached("SELECT bits FROM audiences WHERE app_id = ?1 AND hash = ?2")
                    .map_err(internal)?;
                st.query_row(params![app.0, &hash[..]], |r| r.get(0))
                    .optional()
                    .map_err(internal)
            })
            .await
    }

    async fn recall_message(
        &self,
        app: AppId,
        msgid: MsgId,
        tombstone: NewMessage,
        now_ms: i64,
    ) -> StoreResult<Sent> {
        let seq = self.msgids.clone();
        self.db
            .write(move |c| recall(c, &seq, app, msgid, &tombstone, now_ms))
            .await
    }

    async fn session_messages(&self, app: AppId, q: SessionQuery) -> StoreResult<Vec<Message>> {
        self.db.read(move |c| session(c, app, &q)).await
    }

    async fn user_messages(
        &self,
        app: AppId,
        ordinal: Ordinal,
        after: MsgId,
        limit: usize,
        now_ms: i64,
    ) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| for_user(c, app, ordinal, after, limit, now_ms))
            .await
    }

    async fn messages_between(
        &self,
        app: AppId,
        after: MsgId,
        upto: MsgId,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| {
                let sql = format!(
                    "SELECT {COLS} FROM messages WHERE app_id = ?1 AND msgid > ?2 AND msgid <= ?3 ORDER BY msgid LIMIT ?4"
                );
                list(c, &sql, params![app.0, after.0, upto.0, limit as i64])
            })
            .await
    }

    async fn mass_messages(
        &self,
        app: AppId,
        before: Option<MsgId>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| {
                let sql = format!(
                    "SELECT {COLS} FROM messages WHERE app_id = ?1 AND audience_hash IS NOT NULL AND tid IS NULL \
                     AND kind = 1 AND msgid < ?2 ORDER BY msgid DESC LIMIT ?3"
                );
                let before = before.map_or(i64::MAX, |b| b.0);
                list(c, &sql, params![app.0, before, limit as i64])
            })
            .await
    }

    async fn broadcasts(
        &self,
        app: AppId,
        start: Option<MsgId>,
        limit: usize,
        filter: BroadcastFilter,
    ) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| {
                let which = match filter {
                    BroadcastFilter::All => "",
                    BroadcastFilter::Offline => " AND offline = 1",
                    BroadcastFilter::OnlineOnly => " AND offline = 0",
                };
                let sql = format!(
                    "SELECT {COLS} FROM messages WHERE app_id = ?1 AND audience_hash IS NOT NULL AND tid IS NULL \
                     AND kind = 2 AND deleted = 0 AND msgid <= ?2{which} ORDER BY msgid DESC LIMIT ?3"
                );
                let start = start.map_or(i64::MAX, |s| s.0);
                list(c, &sql, params![app.0, start, limit as i64])
            })
            .await
    }

    async fn delete_broadcast(&self, app: AppId, id: MsgId) -> StoreResult<bool> {
        self.db
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE messages SET deleted = 1 WHERE app_id = ?1 AND msgid = ?2 AND kind = 2 AND deleted = 0",
                        params![app.0, id.0],
                    )
                    .map_err(internal)?;
                Ok(n > 0)
            })
            .await
    }
}
