//! The message writer's statements (`batch.rs` plans a batch, `writer.rs` commits it).

/// The statement storing one app's messages of a batch; `$cb` is the outbox CTE, when some
/// of them are copied to the app's server.
macro_rules! insert_sql {
    ($cb:literal) => {
        concat!(
            "WITH seq AS (
    UPDATE msg_seqs SET next_msgid = next_msgid + $2::bigint
    WHERE app_id = $1::bigint AND next_msgid + $2::bigint <= $3::bigint
    RETURNING next_msgid - $2::bigint AS first
), aud AS (
    INSERT INTO audiences (app_id, hash, bits)
    SELECT $1::bigint, a.hash, a.bits FROM seq, UNNEST($4::bytea[], $5::bytea[]) AS a(hash, bits)
    ON CONFLICT (app_id, hash) DO NOTHING
), ins AS (
    INSERT INTO messages (app_id, msgid, kind, from_accid, to_accid, to_ordinal, msg_type, body, ext, extra,
        msgidclient, timetag, antispam, mark_read, recipients, audience_hash, selection, offline, expire_ms, ref_msgid,
        tid, from_ordinal)
    SELECT $1::bigint, seq.first + u.ord - 1, u.kind, u.from_accid, u.to_accid, u.to_ordinal, u.msg_type, u.body,
        u.ext, u.extra, u.msgidclient, u.timetag, u.antispam, u.mark_read, u.recipients, u.audience_hash,
        u.selection, u.offline, u.expire_ms, u.ref_msgid, u.tid, u.from_ordinal
    FROM seq, UNNEST($6::smallint[], $7::text[], $8::text[], $9::bigint[], $10::int[], $11::text[], $12::text[],
        $13::text[], $14::text[], $15::bigint[], $16::bool[], $17::bool[], $18::bigint[], $19::bytea[], $20::text[],
        $21::bool[], $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[])
        WITH ORDINALITY AS u(kind, from_accid, to_accid, to_ordinal, msg_type, body, ext, extra, msgidclient,
            timetag, antispam, mark_read, recipients, audience_hash, selection, offline, expire_ms, ref_msgid,
            tid, from_ordinal, ord)
)",
            $cb,
            "\nSELECT first FROM seq"
        )
    };
}

pub(super) const INSERT_SQL: &str = insert_sql!("");

/// [`INSERT_SQL`] with the outbox rows of the copied messages (`$26` event types, `$27`
/// contexts, NULL for a message not copied): written by the same statement, after it took the
/// app's `msg_seqs` row, so their ids follow msgid order. Apps without a callback URL never
/// run it.
pub(super) const INSERT_CB_SQL: &str = insert_sql!(
    ", cb AS (
    INSERT INTO callback_events (app_id, msgid, event_type, ctx, created_ms, next_ms)
    SELECT $1::bigint, seq.first + u.ord - 1, u.event_type, u.ctx, u.ts, u.ts
    FROM seq, UNNEST($26::text[], $27::text[], $15::bigint[]) WITH ORDINALITY AS u(event_type, ctx, ts, ord)
    WHERE u.ctx IS NOT NULL
)"
);

pub(super) const RECALL_SQL: &str = "UPDATE messages SET recalled_ms = $3 \
     WHERE app_id = $1 AND msgid = $2 AND recalled_ms IS NULL";

pub(super) const LOCK_SQL: &str =
    "SELECT app_id FROM msg_seqs WHERE app_id = ANY($1::bigint[]) ORDER BY app_id FOR UPDATE";

/// An earlier message with a key: a mass message by app-wide key (`sender` NULL), any other
/// kind by its sender's.
pub(super) const LOOKUP_SQL: &str = "SELECT q.i, m.msgid, m.timetag, m.antispam, m.recipients \
     FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::int[], $5::smallint[], $6::text[]) \
         AS q(app_id, key, since, i, kind, sender) \
     CROSS JOIN LATERAL (SELECT msgid, timetag, antispam, recipients FROM messages m \
         WHERE m.app_id = q.app_id AND m.msgidclient = q.key AND m.kind = q.kind \
         AND (q.sender IS NULL OR m.from_accid = q.sender) AND m.timetag >= q.since \
         ORDER BY m.msgid DESC LIMIT 1) m";

/// The guarded teams of a batch, locked `FOR SHARE` in (app, tid) order: a team change waits
/// for the batch or the batch for it (and then reads the version it left). Taken before
/// `msg_seqs`, the order team changes keep too.
pub(super) const GUARD_SQL: &str = "SELECT t.app_id, t.tid, t.version, t.dismissed FROM teams t \
     JOIN (SELECT DISTINCT * FROM UNNEST($1::bigint[], $2::bigint[]) AS g(app_id, tid)) g \
         ON t.app_id = g.app_id AND t.tid = g.tid \
     ORDER BY t.app_id, t.tid FOR SHARE OF t";
