//! Message SQL for the SQLite backend.

use qunfa_core::audience;
use qunfa_core::message::{BroadcastFilter, Message, MsgKind, NewMessage, Sent};
use qunfa_core::store::{SessionQuery, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::conn::internal;

const COLS: &str = "msgid, timetag, kind, from_accid, to_accid, msg_type, body, ext, extra, msgidclient, \
                    antispam, mark_read, recipients, selection, offline, expire_ms, ref_msgid, recalled_ms, deleted";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        msgid: r.get(0)?,
        timetag: r.get(1)?,
        kind: MsgKind::from_i64(r.get(2)?),
        from: r.get(3)?,
        to: r.get(4)?,
        msg_type: r.get(5)?,
        body: r.get(6)?,
        ext: r.get(7)?,
        extra: r.get(8)?,
        msgidclient: r.get(9)?,
        antispam: r.get(10)?,
        mark_read: r.get(11)?,
        recipients: r.get::<_, i64>(12)? as u64,
        selection: r.get(13)?,
        offline: r.get(14)?,
        expire_ms: r.get(15)?,
        ref_msgid: r.get(16)?,
        recalled_ms: r.get(17)?,
        deleted: r.get(18)?,
    })
}

/// Stores an audience once per app; answers its content hash, which messages refer to.
fn share_audience(c: &Connection, app: i64, encoded: &[u8]) -> StoreResult<Vec<u8>> {
    let hash = audience::digest(encoded).to_vec();
    let mut st = c
        .prepare_cached("INSERT OR IGNORE INTO audiences (app_id, hash, bits) VALUES (?1, ?2, ?3)")
        .map_err(internal)?;
    st.execute(params![app, hash, encoded]).map_err(internal)?;
    Ok(hash)
}

fn insert(c: &Connection, app: i64, msgid: i64, m: &NewMessage, now_ms: i64) -> StoreResult<()> {
    let audience_hash = match &m.audience {
        Some(encoded) => Some(share_audience(c, app, encoded)?),
        None => None,
    };
    let mut st = c
        .prepare_cached(
            "INSERT INTO messages (app_id, msgid, kind, from_accid, to_accid, to_ordinal, msg_type, body, ext, extra, \
             msgidclient, timetag, antispam, mark_read, recipients, audience_hash, selection, offline, expire_ms, ref_msgid) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        )
        .map_err(internal)?;
    st.execute(params![
        app,
        msgid,
        m.kind.as_i64(),
        m.from.as_str(),
        m.to.as_ref().map(|a| a.as_str()),
        m.to_ordinal,
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
        m.ref_msgid,
    ])
    .map_err(internal)?;
    Ok(())
}

/// Hands out `n` consecutive msgids for `app`, above every msgid it ever stored.
///
/// Only the writer thread calls this, inside its transaction, so commit order is msgid order.
/// The next free id is kept in memory (first read from the table), which spares each send a
/// write to `apps`; a rolled-back send leaves a gap, which cursors do not mind.
fn next_msgids(c: &Connection, seq: &MsgidSeq, app: i64, n: i64) -> StoreResult<i64> {
    let mut next = seq.lock().unwrap_or_else(|e| e.into_inner());
    let slot = match next.get_mut(&app) {
        Some(v) => v,
        None => {
            let mut st = c
                .prepare_cached(
                    "SELECT coalesce(max(msgid), 0) + 1 FROM messages WHERE app_id = ?1",
                )
                .map_err(internal)?;
            let first: i64 = st.query_row([app], |r| r.get(0)).map_err(internal)?;
            next.entry(app).or_insert(first)
        }
    };
    let first = *slot;
    *slot += n;
    Ok(first)
}

/// The writer's next msgid per app.
pub(super) type MsgidSeq = std::sync::Mutex<std::collections::HashMap<i64, i64>>;

pub(super) fn store(
    c: &Connection,
    seq: &MsgidSeq,
    app: i64,
    msgs: &[NewMessage],
    now_ms: i64,
    dedupe_since: i64,
) -> StoreResult<Vec<Sent>> {
    let mut out = Vec::with_capacity(msgs.len());
    let mut fresh = Vec::with_capacity(msgs.len());
    for m in msgs {
        if let (MsgKind::Mass, Some(key)) = (m.kind, &m.msgidclient) {
            let mut st = c
                .prepare_cached(
                    "SELECT msgid, timetag, antispam, recipients FROM messages \
                     WHERE app_id = ?1 AND msgidclient = ?2 AND kind = 1 AND timetag >= ?3 ORDER BY msgid DESC LIMIT 1",
                )
                .map_err(internal)?;
            let earlier = st
                .query_row(params![app, key, dedupe_since], |r| {
                    Ok(Sent {
                        msgid: r.get(0)?,
                        timetag: r.get(1)?,
                        antispam: r.get(2)?,
                        recipients: r.get::<_, i64>(3)? as u64,
                        duplicate: true,
                    })
                })
                .optional()
                .map_err(internal)?;
            if let Some(sent) = earlier {
                out.push(Some(sent));
                continue;
            }
        }
        out.push(None);
        fresh.push(m);
    }
    if !fresh.is_empty() {
        let first = next_msgids(c, seq, app, fresh.len() as i64)?;
        let slots = out.iter_mut().filter(|s| s.is_none());
        for ((msgid, m), slot) in (first..).zip(fresh).zip(slots) {
            insert(c, app, msgid, m, now_ms)?;
            *slot = Some(Sent {
                msgid,
                timetag: now_ms,
                antispam: m.antispam,
                recipients: m.recipients,
                duplicate: false,
            });
        }
    }
    Ok(out.into_iter().flatten().collect())
}

pub(super) fn get(c: &Connection, app: i64, msgid: i64) -> StoreResult<Option<Message>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM messages WHERE app_id = ?1 AND msgid = ?2"
        ))
        .map_err(internal)?;
    st.query_row(params![app, msgid], row)
        .optional()
        .map_err(internal)
}

pub(super) fn by_client(c: &Connection, app: i64, key: &str) -> StoreResult<Option<Message>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM messages WHERE app_id = ?1 AND msgidclient = ?2 AND kind = 0 ORDER BY msgid DESC LIMIT 1"
        ))
        .map_err(internal)?;
    st.query_row(params![app, key], row)
        .optional()
        .map_err(internal)
}

pub(super) fn audience(c: &Connection, app: i64, msgid: i64) -> StoreResult<Option<Vec<u8>>> {
    let mut st = c
        .prepare_cached(
            "SELECT a.bits FROM messages m JOIN audiences a ON a.app_id = m.app_id AND a.hash = m.audience_hash \
             WHERE m.app_id = ?1 AND m.msgid = ?2",
        )
        .map_err(internal)?;
    let v: Option<Option<Vec<u8>>> = st
        .query_row(params![app, msgid], |r| r.get(0))
        .optional()
        .map_err(internal)?;
    Ok(v.flatten())
}

pub(super) fn recall(
    c: &Connection,
    seq: &MsgidSeq,
    app: i64,
    msgid: i64,
    tombstone: &NewMessage,
    now_ms: i64,
) -> StoreResult<Sent> {
    c.execute(
        "UPDATE messages SET recalled_ms = ?3 WHERE app_id = ?1 AND msgid = ?2 AND recalled_ms IS NULL",
        params![app, msgid, now_ms],
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

pub(super) fn session(c: &Connection, app: i64, q: &SessionQuery) -> StoreResult<Vec<Message>> {
    let order = if q.ascending { "ASC" } else { "DESC" };
    let types = if q.types.is_empty() {
        String::new()
    } else {
        format!(
            " AND msg_type IN ({})",
            q.types
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
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
                app,
                q.a,
                q.b,
                q.begin_ms,
                q.end_ms,
                q.exclude_msgid.unwrap_or(-1),
                q.limit as i64
            ],
            row,
        )
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

pub(super) fn for_user(
    c: &Connection,
    app: i64,
    ordinal: u32,
    after: i64,
    limit: usize,
    now_ms: i64,
) -> StoreResult<Vec<Message>> {
    let mut direct: Vec<Message> = {
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {COLS} FROM messages WHERE app_id = ?1 AND to_ordinal = ?2 AND msgid > ?3 \
                 AND antispam = 0 AND recalled_ms IS NULL ORDER BY msgid LIMIT ?4"
            ))
            .map_err(internal)?;
        let rows = st
            .query_map(params![app, ordinal, after, limit as i64], row)
            .map_err(internal)?;
        rows.collect::<Result<_, _>>().map_err(internal)?
    };
    // Messages with an audience: stop once `limit` of them hold this account, or once past
    // the last direct message when that list is already full.
    let ceiling = if direct.len() == limit {
        direct.last().map(|m| m.msgid)
    } else {
        None
    };
    let mut fanout = Vec::new();
    {
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {COLS}, audience_hash FROM messages WHERE app_id = ?1 AND audience_hash IS NOT NULL AND msgid > ?2 \
                 AND antispam = 0 AND recalled_ms IS NULL AND deleted = 0 \
                 AND (kind <> 2 OR (offline = 1 AND (expire_ms IS NULL OR expire_ms > ?3))) ORDER BY msgid"
            ))
            .map_err(internal)?;
        let mut bits = c
            .prepare_cached("SELECT bits FROM audiences WHERE app_id = ?1 AND hash = ?2")
            .map_err(internal)?;
        // Messages sharing an audience share its answer: decode each audience once.
        let mut member: std::collections::HashMap<Vec<u8>, bool> = std::collections::HashMap::new();
        let mut rows = st.query(params![app, after, now_ms]).map_err(internal)?;
        while let Some(r) = rows.next().map_err(internal)? {
            let msgid: i64 = r.get(0).map_err(internal)?;
            if ceiling.is_some_and(|c| msgid > c) || fanout.len() == limit {
                break;
            }
            let hash: Vec<u8> = r.get(19).map_err(internal)?;
            let is_member = match member.get(&hash) {
                Some(&m) => m,
                None => {
                    let blob: Vec<u8> = bits
                        .query_row(params![app, hash], |r| r.get(0))
                        .map_err(internal)?;
                    let m = audience::decode(&blob).map_err(internal)?.contains(ordinal);
                    member.insert(hash, m);
                    m
                }
            };
            if is_member {
                fanout.push(row(r).map_err(internal)?);
            }
        }
    }
    direct.extend(fanout);
    direct.sort_by_key(|m| m.msgid);
    direct.truncate(limit);
    Ok(direct)
}

pub(super) fn mass(
    c: &Connection,
    app: i64,
    before: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Message>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM messages WHERE app_id = ?1 AND audience_hash IS NOT NULL AND kind = 1 AND msgid < ?2 \
             ORDER BY msgid DESC LIMIT ?3"
        ))
        .map_err(internal)?;
    let rows = st
        .query_map(params![app, before.unwrap_or(i64::MAX), limit as i64], row)
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

pub(super) fn broadcasts(
    c: &Connection,
    app: i64,
    start: i64,
    limit: usize,
    filter: BroadcastFilter,
) -> StoreResult<Vec<Message>> {
    let which = match filter {
        BroadcastFilter::All => "",
        BroadcastFilter::Offline => " AND offline = 1",
        BroadcastFilter::OnlineOnly => " AND offline = 0",
    };
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM messages WHERE app_id = ?1 AND audience_hash IS NOT NULL AND kind = 2 AND deleted = 0 \
             AND msgid <= ?2{which} \
             ORDER BY msgid DESC LIMIT ?3"
        ))
        .map_err(internal)?;
    let start = if start <= 0 { i64::MAX } else { start };
    let rows = st
        .query_map(params![app, start, limit as i64], row)
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

pub(super) fn delete_broadcast(c: &Connection, app: i64, id: i64) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE messages SET deleted = 1 WHERE app_id = ?1 AND msgid = ?2 AND kind = 2 AND deleted = 0",
            params![app, id],
        )
        .map_err(internal)?;
    Ok(n > 0)
}
