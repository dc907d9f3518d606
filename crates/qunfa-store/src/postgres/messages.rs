//! Messages: the reads (inboxes, history, listings) on pooled connections. Writes
//! (`store_messages`, `recall_message`) go to the group-committing writer, `writer.rs`, whose
//! module doc explains how msgids follow commit order across nodes.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Object;
use qunfa_core::account::Accid;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::inbox;
use qunfa_core::message::{BroadcastFilter, Message, MsgKind, NewMessage, Sent};
use qunfa_core::store::{MessageStore, SessionQuery, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, internal, pg};

pub(super) const COLS: &str = "msgid, timetag, kind, from_accid, to_accid, msg_type, body, ext, extra, msgidclient, \
     antispam, mark_read, recipients, selection, offline, expire_ms, ref_msgid, recalled_ms, deleted, \
     to_ordinal, audience_hash, tid, from_ordinal";

fn hash32(v: Option<Vec<u8>>) -> Option<[u8; 32]> {
    v.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
}

pub(super) fn row(r: &Row) -> Message {
    row_at(r, 0)
}

/// A message from the columns of [`COLS`] starting at column `at`.
pub(super) fn row_at(r: &Row, at: usize) -> Message {
    Message {
        msgid: MsgId(r.get(at)),
        timetag: r.get(at + 1),
        kind: MsgKind::from_i64(i64::from(r.get::<_, i16>(at + 2))),
        from: Accid::from_stored(r.get(at + 3)),
        to: r.get::<_, Option<String>>(at + 4).map(Accid::from_stored),
        // Written from u16 values only.
        msg_type: r.get::<_, i32>(at + 5) as u16,
        body: r.get(at + 6),
        ext: r.get(at + 7),
        extra: r.get(at + 8),
        msgidclient: r.get(at + 9),
        antispam: r.get(at + 10),
        mark_read: r.get(at + 11),
        recipients: r.get::<_, i64>(at + 12) as u64,
        selection: r.get(at + 13),
        offline: r.get(at + 14),
        expire_ms: r.get(at + 15),
        ref_msgid: r.get::<_, Option<i64>>(at + 16).map(MsgId),
        recalled_ms: r.get(at + 17),
        deleted: r.get(at + 18),
        to_ordinal: r.get::<_, Option<i64>>(at + 19).map(|o| Ordinal(o as u32)),
        audience_hash: hash32(r.get(at + 20)),
        tid: r.get::<_, Option<i64>>(at + 21).map(qunfa_core::team::Tid),
        from_ordinal: r.get::<_, Option<i64>>(at + 22).map(|o| Ordinal(o as u32)),
    }
}

pub(super) async fn list(
    c: &Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<Message>> {
    let st = c.prepare_cached(sql).await.map_err(pg)?;
    let rows = c.query(&st, params).await.map_err(pg)?;
    Ok(rows.iter().map(row).collect())
}

/// The team messages in an account's inbox after a cursor (`$1` app, `$2` ordinal, `$3`
/// cursor): in a team it was in after the cursor, inside one of its periods there.
pub(super) const TEAM_INBOX: &str = "m.app_id = $1 AND m.tid IN (SELECT DISTINCT tid FROM team_periods \
     WHERE app_id = $1 AND ordinal = $2 AND (leave_msgid IS NULL OR leave_msgid > $3)) \
     AND m.msgid > $3 AND NOT m.antispam AND m.recalled_ms IS NULL AND NOT m.deleted \
     AND (m.kind <> 5 OR m.offline) \
     AND EXISTS (SELECT 1 FROM team_periods p WHERE p.app_id = $1 AND p.tid = m.tid AND p.ordinal = $2 \
         AND m.msgid > p.join_msgid AND (p.leave_msgid IS NULL OR m.msgid <= p.leave_msgid))";

/// Shared (audience) candidates are read in pages of this many rows at least.
const MIN_PAGE: usize = 256;
const MAX_PAGE: usize = 2000;

/// Feeds [`inbox::collect`]: the account's direct messages and, page by page, the messages
/// with an audience after the cursor, until the pages hold `limit` messages the account is in
/// (or nothing is left). The `WHERE` clauses pre-filter with the inbox rule so the indexes do
/// the work; `inbox` decides. Each distinct audience is fetched and decoded once per call.
async fn for_user(
    c: &Object,
    app: AppId,
    ordinal: Ordinal,
    after: MsgId,
    limit: usize,
    now_ms: i64,
) -> StoreResult<Vec<Message>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let o = i64::from(ordinal.0);
    let direct = list(
        c,
        &format!(
            "SELECT {COLS} FROM messages WHERE app_id = $1 AND to_ordinal = $2 AND msgid > $3 \
             AND NOT antispam AND recalled_ms IS NULL AND (kind <> 5 OR offline) ORDER BY msgid LIMIT $4"
        ),
        &[&app.0, &o, &after.0, &lim(limit)],
    )
    .await?;
    // What `collect` will cut at: with a full page of direct messages nothing past its last one
    // can make it, so no shared row past it needs reading.
    let visible: Vec<&Message> = direct
        .iter()
        .filter(|m| inbox::visible(m, now_ms))
        .take(limit)
        .collect();
    let ceiling = match visible.last() {
        Some(m) if visible.len() == limit => m.msgid.0,
        _ => i64::MAX,
    };
    let page_st = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM messages WHERE app_id = $1 AND audience_hash IS NOT NULL AND tid IS NULL \
             AND msgid > $2 AND msgid <= $3 AND NOT antispam AND recalled_ms IS NULL AND NOT deleted \
             AND (kind <> 2 OR (offline AND (expire_ms IS NULL OR expire_ms > $4))) ORDER BY msgid LIMIT $5"
        ))
        .await
        .map_err(pg)?;
    let bits_st = c
        .prepare_cached(
            "SELECT a.hash, a.bits FROM UNNEST($2::bytea[]) AS u(hash), \
             LATERAL (SELECT hash, bits FROM audiences WHERE app_id = $1 AND hash = u.hash) a",
        )
        .await
        .map_err(pg)?;
    let page = limit.clamp(MIN_PAGE, MAX_PAGE);
    let mut member: HashMap<[u8; 32], bool> = HashMap::new();
    // Team messages inside the account's membership periods, through messages_team: at most
    // `limit`, all of them in its inbox (the audience check below confirms it).
    let team = list(
        c,
        &format!("SELECT {COLS} FROM messages m WHERE {TEAM_INBOX} ORDER BY m.msgid LIMIT $4"),
        &[&app.0, &o, &after.0, &lim(limit)],
    )
    .await?;
    let team_hashes: Vec<Vec<u8>> = {
        let mut seen: Vec<[u8; 32]> = Vec::new();
        for h in team.iter().filter_map(|m| m.audience_hash) {
            if !seen.contains(&h) {
                seen.push(h);
            }
        }
        seen.iter().map(|h| h.to_vec()).collect()
    };
    if !team_hashes.is_empty() {
        for r in c
            .query(&bits_st, &[&app.0, &team_hashes])
            .await
            .map_err(pg)?
        {
            let (Some(hash), bits) = (hash32(Some(r.get(0))), r.get::<_, &[u8]>(1)) else {
                continue;
            };
            let holds = audience::decode(bits)
                .map_err(internal)?
                .contains(ordinal.0);
            member.insert(hash, holds);
        }
    }
    let mut shared: Vec<Message> = Vec::new();
    let mut found = 0usize;
    let mut from = after.0;
    loop {
        let rows = c
            .query(
                &page_st,
                &[&app.0, &from, &ceiling, &now_ms, &(page as i64)],
            )
            .await
            .map_err(pg)?;
        let got: Vec<Message> = rows.iter().map(row).collect();
        let mut missing: Vec<Vec<u8>> = Vec::new();
        for m in got.iter().filter(|m| inbox::visible(m, now_ms)) {
            if let Some(h) = m.audience_hash
                && !member.contains_key(&h)
                && !missing.iter().any(|x| x[..] == h[..])
            {
                missing.push(h.to_vec());
            }
        }
        if !missing.is_empty() {
            for r in c.query(&bits_st, &[&app.0, &missing]).await.map_err(pg)? {
                let (Some(hash), bits) = (hash32(Some(r.get(0))), r.get::<_, &[u8]>(1)) else {
                    continue;
                };
                let holds = audience::decode(bits)
                    .map_err(internal)?
                    .contains(ordinal.0);
                member.insert(hash, holds);
            }
        }
        found += got
            .iter()
            .filter(|m| inbox::visible(m, now_ms))
            .filter(|m| m.audience_hash.and_then(|h| member.get(&h).copied()) == Some(true))
            .count();
        let short = got.len() < page;
        if let Some(last) = got.last() {
            from = last.msgid.0;
        }
        shared.extend(got);
        if short || found >= limit {
            break;
        }
    }
    let holds = |hash: &[u8; 32]| {
        member
            .get(hash)
            .copied()
            .ok_or_else(|| internal(format!("audience {} is missing", hex(hash))))
    };
    inbox::collect(
        direct.into_iter().map(Ok),
        inbox::merge(shared.into_iter().map(Ok), team.into_iter().map(Ok)),
        holds,
        limit,
        now_ms,
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn lim(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl MessageStore for PgStore {
    async fn store_messages(
        &self,
        app: AppId,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>> {
        self.writer.store(app, msgs, now_ms, dedupe_since_ms).await
    }

    async fn message(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Message>> {
        let c = self.client().await?;
        let sql = format!("SELECT {COLS} FROM messages WHERE app_id = $1 AND msgid = $2");
        Ok(list(&c, &sql, &[&app.0, &msgid.0]).await?.pop())
    }

    async fn message_by_client(
        &self,
        app: AppId,
        msgidclient: &str,
    ) -> StoreResult<Option<Message>> {
        let c = self.client().await?;
        let sql = format!(
            "SELECT {COLS} FROM messages WHERE app_id = $1 AND msgidclient = $2 AND kind = 0 \
             ORDER BY msgid DESC LIMIT 1"
        );
        Ok(list(&c, &sql, &[&app.0, &msgidclient]).await?.pop())
    }

    async fn message_audience(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Vec<u8>>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT a.bits FROM messages m JOIN audiences a ON a.app_id = m.app_id AND a.hash = m.audience_hash \
                 WHERE m.app_id = $1 AND m.msgid = $2",
            )
            .await
            .map_err(pg)?;
        let row = c.query_opt(&st, &[&app.0, &msgid.0]).await.map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn audience(&self, app: AppId, hash: [u8; 32]) -> StoreResult<Option<Vec<u8>>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT bits FROM audiences WHERE app_id = $1 AND hash = $2")
            .await
            .map_err(pg)?;
        let row = c.query_opt(&st, &[&app.0, &&hash[..]]).await.map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn recall_message(
        &self,
        app: AppId,
        msgid: MsgId,
        tombstone: NewMessage,
        now_ms: i64,
    ) -> StoreResult<Sent> {
        self.writer.recall(app, msgid, tombstone, now_ms).await
    }

    async fn session_messages(&self, app: AppId, q: SessionQuery) -> StoreResult<Vec<Message>> {
        let c = self.client().await?;
        let order = if q.ascending { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT {COLS} FROM messages WHERE app_id = $1 AND kind = 0 AND NOT antispam AND recalled_ms IS NULL \
             AND ((from_accid = $2 AND to_accid = $3) OR (from_accid = $3 AND to_accid = $2)) \
             AND timetag BETWEEN $4 AND $5 AND msgid <> $6 \
             AND (cardinality($8::int[]) = 0 OR msg_type = ANY($8::int[])) \
             ORDER BY timetag {order}, msgid {order} LIMIT $7"
        );
        let types: Vec<i32> = q.types.iter().map(|t| i32::from(*t)).collect();
        list(
            &c,
            &sql,
            &[
                &app.0,
                &q.a.as_str(),
                &q.b.as_str(),
                &q.begin_ms,
                &q.end_ms,
                &q.exclude_msgid.map_or(-1, |m| m.0),
                &lim(q.limit),
                &types,
            ],
        )
        .await
    }

    async fn user_messages(
        &self,
        app: AppId,
        ordinal: Ordinal,
        after: MsgId,
        limit: usize,
        now_ms: i64,
    ) -> StoreResult<Vec<Message>> {
        let c = self.client().await?;
        for_user(&c, app, ordinal, after, limit, now_ms).await
    }

    async fn messages_between(
        &self,
        app: AppId,
        after: MsgId,
        upto: MsgId,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let c = self.client().await?;
        let sql = format!(
            "SELECT {COLS} FROM messages WHERE app_id = $1 AND msgid > $2 AND msgid <= $3 ORDER BY msgid LIMIT $4"
        );
        list(&c, &sql, &[&app.0, &after.0, &upto.0, &lim(limit)]).await
    }

    async fn mass_messages(
        &self,
        app: AppId,
        before: Option<MsgId>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let c = self.client().await?;
        let sql = format!(
            "SELECT {COLS} FROM messages WHERE app_id = $1 AND audience_hash IS NOT NULL AND tid IS NULL \
             AND kind = 1 AND msgid < $2 ORDER BY msgid DESC LIMIT $3"
        );
        let before = before.map_or(i64::MAX, |b| b.0);
        list(&c, &sql, &[&app.0, &before, &lim(limit)]).await
    }

    async fn broadcasts(
        &self,
        app: AppId,
        start: Option<MsgId>,
        limit: usize,
        filter: BroadcastFilter,
    ) -> StoreResult<Vec<Message>> {
        let c = self.client().await?;
        let which = match filter {
            BroadcastFilter::All => "",
            BroadcastFilter::Offline => " AND offline",
            BroadcastFilter::OnlineOnly => " AND NOT offline",
        };
        let sql = format!(
            "SELECT {COLS} FROM messages WHERE app_id = $1 AND audience_hash IS NOT NULL AND tid IS NULL \
             AND kind = 2 AND NOT deleted AND msgid <= $2{which} ORDER BY msgid DESC LIMIT $3"
        );
        let start = start.map_or(i64::MAX, |s| s.0);
        list(&c, &sql, &[&app.0, &start, &lim(limit)]).await
    }

    async fn delete_broadcast(&self, app: AppId, id: MsgId) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE messages SET deleted = true WHERE app_id = $1 AND msgid = $2 AND kind = 2 AND NOT deleted",
                &[&app.0, &id.0],
            )
            .await
            .map_err(pg)?;
        Ok(n > 0)
    }
}
