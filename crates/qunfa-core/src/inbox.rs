//! What an account has received: the rule behind a client's catch-up after its cursor and
//! `history/queryUserMsgs`, written once for every backend. A backend feeds it candidates in
//! msgid order (it may pre-filter them with the same rule in its query, to use an index);
//! what is kept is decided here.

use std::collections::HashMap;

use crate::message::{Message, MsgKind};
use crate::store::StoreResult;

/// Whether a message addressed to an account (point-to-point to it, or its audience holds
/// it) is in that account's inbox at `now_ms`: not intercepted, recalled or deleted; a
/// broadcast only when it was kept for offline clients and has not expired, a custom
/// notification only when it was kept (`save=2`). Recall
/// tombstones are in it, so a client that had the original learns it was withdrawn.
pub fn visible(m: &Message, now_ms: i64) -> bool {
    if m.antispam || m.recalled_ms.is_some() || m.deleted {
        return false;
    }
    match m.kind {
        MsgKind::Broadcast => m.offline && m.expire_ms.is_none_or(|e| e > now_ms),
        MsgKind::Notify => m.offline,
        MsgKind::P2p | MsgKind::Mass | MsgKind::Recall | MsgKind::Team => true,
    }
}

/// The first `limit` messages, in msgid order, of an account's inbox.
///
/// - `direct`: messages addressed to the account by ordinal (point-to-point, and recalls of
///   them), ascending.
/// - `shared`: messages with an audience (mass, broadcast, their recalls), ascending; read
///   lazily and only as far as needed.
/// - `holds`: whether the audience with this hash holds the account. Asked once per distinct
///   audience: 2,000 sends sharing one audience cost one decode.
pub fn collect<D, S, H>(
    direct: D,
    shared: S,
    mut holds: H,
    limit: usize,
    now_ms: i64,
) -> StoreResult<Vec<Message>>
where
    D: IntoIterator<Item = StoreResult<Message>>,
    S: IntoIterator<Item = StoreResult<Message>>,
    H: FnMut(&[u8; 32]) -> StoreResult<bool>,
{
    let mut out = Vec::with_capacity(limit.min(1024));
    for m in direct {
        if out.len() == limit {
            break;
        }
        let m = m?;
        if visible(&m, now_ms) {
            out.push(m);
        }
    }
    // With a full page of direct messages, nothing past its last one can make the cut.
    let ceiling = (out.len() == limit)
        .then(|| out.last().map(|m| m.msgid))
        .flatten();
    let mut from_audiences = 0;
    let mut member: HashMap<[u8; 32], bool> = HashMap::new();
    for m in shared {
        let m = m?;
        if ceiling.is_some_and(|c| m.msgid > c) || from_audiences == limit {
            break;
        }
        if !visible(&m, now_ms) {
            continue;
        }
        let Some(hash) = m.audience_hash else {
            continue;
        };
        let is_member = match member.get(&hash) {
            Some(&b) => b,
            None => {
                let b = holds(&hash)?;
                member.insert(hash, b);
                b
            }
        };
        if is_member {
            out.push(m);
            from_audiences += 1;
        }
    }
    out.sort_by_key(|m| m.msgid);
    out.truncate(limit);
    Ok(out)
}

/// Two ascending streams of messages as one, in msgid order (the shared messages of an inbox
/// and its team messages, read apart through their own indexes).
pub fn merge<A, B>(a: A, b: B) -> impl Iterator<Item = StoreResult<Message>>
where
    A: IntoIterator<Item = StoreResult<Message>>,
    B: IntoIterator<Item = StoreResult<Message>>,
{
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    std::iter::from_fn(move || {
        let take_a = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            // An error goes first, so it is not hidden behind the other stream.
            (Some(Err(_)), _) => true,
            (_, Some(Err(_))) => false,
            (Some(Ok(x)), Some(Ok(y))) => x.msgid <= y.msgid,
        };
        if take_a { a.next() } else { b.next() }
    })
}
