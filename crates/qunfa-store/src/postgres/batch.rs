//! One batch of message jobs as SQL: the plan (which message is stored in which app's group,
//! which one is answered by an earlier send with its key) and its pipelined statements. The
//! writer (`writer.rs`) decides when a batch commits or is retried job by job.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use qunfa_core::ids::{AppId, MAX_MSGID, MsgId};
use qunfa_core::message::{MsgKind, NewMessage, Sent};
use qunfa_core::store::{StoreError, StoreResult, TeamGuard};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::statements::{INSERT_CB_SQL, INSERT_SQL};
use super::writer::{Conn, Job};

type Answer = Result<Vec<Row>, tokio_postgres::Error>;
type Pending<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// Runs queries pipelined: each is polled (and so sent) in order before any answer is
/// awaited, so the server gets them all in one round trip and runs them in this order.
async fn pipeline(queries: Vec<Pending<'_>>) -> Vec<Answer> {
    let mut slots: Vec<(Pending<'_>, Option<Answer>)> =
        queries.into_iter().map(|q| (q, None)).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (q, out) in slots.iter_mut() {
            if out.is_none() {
                match q.as_mut().poll(cx) {
                    Poll::Ready(r) => *out = Some(r),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots.into_iter().filter_map(|(_, out)| out).collect()
}

/// Where a message's answer comes from.
enum Slot {
    /// Stored: its msgid is its app group's first msgid + `rank`.
    Fresh { rank: i64 },
    /// A mass message whose key a stored one used inside the window.
    Dup(Sent),
    /// ... that an earlier job of this batch used.
    DupOf(InBatch),
}

/// A keyed mass message stored by an earlier job of the batch.
#[derive(Clone, Copy)]
struct InBatch {
    rank: i64,
    timetag: i64,
    antispam: bool,
    recipients: u64,
}

/// One app's new messages in a batch, as the columns of one multi-row insert.
#[derive(Default)]
pub(super) struct Group<'a> {
    n: i64,
    kind: Vec<i16>,
    from: Vec<&'a str>,
    to: Vec<Option<&'a str>>,
    to_ordinal: Vec<Option<i64>>,
    msg_type: Vec<i32>,
    body: Vec<&'a str>,
    ext: Vec<Option<&'a str>>,
    extra: Vec<Option<&'a str>>,
    msgidclient: Vec<Option<&'a str>>,
    timetag: Vec<i64>,
    antispam: Vec<bool>,
    mark_read: Vec<bool>,
    recipients: Vec<i64>,
    audience_hash: Vec<Option<Vec<u8>>>,
    selection: Vec<Option<&'a str>>,
    offline: Vec<bool>,
    expire_ms: Vec<Option<i64>>,
    ref_msgid: Vec<Option<i64>>,
    tid: Vec<Option<i64>>,
    from_ordinal: Vec<Option<i64>>,
    aud_hash: Vec<Vec<u8>>,
    aud_bits: Vec<&'a [u8]>,
    aud_seen: HashSet<[u8; 32]>,
    cb_type: Vec<Option<&'static str>>,
    cb_ctx: Vec<Option<&'a str>>,
    copies: bool,
}

impl<'a> Group<'a> {
    /// Adds a message; answers its rank in the group.
    pub(super) fn push(&mut self, m: &'a NewMessage, now_ms: i64) -> i64 {
        let hash = m.audience_hash();
        // Without the bits, the message refers to an audience already stored.
        if let (Some(h), Some(bits)) = (hash, m.audience.as_deref())
            && self.aud_seen.insert(h)
        {
            self.aud_hash.push(h.to_vec());
            self.aud_bits.push(bits);
        }
        let hash = hash.map(|h| h.to_vec());
        self.kind.push(m.kind.as_i64() as i16);
        self.from.push(m.from.as_str());
        self.to.push(m.to.as_ref().map(|a| a.as_str()));
        self.to_ordinal.push(m.to_ordinal.map(|o| i64::from(o.0)));
        self.msg_type.push(i32::from(m.msg_type));
        self.body.push(&m.body);
        self.ext.push(m.ext.as_deref());
        self.extra.push(m.extra.as_deref());
        self.msgidclient.push(m.msgidclient.as_deref());
        self.timetag.push(now_ms);
        self.antispam.push(m.antispam);
        self.mark_read.push(m.mark_read);
        self.recipients
            .push(i64::try_from(m.recipients).unwrap_or(i64::MAX));
        self.audience_hash.push(hash);
        self.selection.push(m.selection.as_deref());
        self.offline.push(m.offline);
        self.expire_ms.push(m.expire_ms);
        self.ref_msgid.push(m.ref_msgid.map(|r| r.0));
        self.tid.push(m.tid.map(|t| t.0));
        self.from_ordinal
            .push(m.from_ordinal.map(|o| i64::from(o.0)));
        self.cb_type.push(
            m.copy
                .as_ref()
                .map(|_| qunfa_core::callback::event_type(m.kind, m.tid.is_some())),
        );
        self.cb_ctx.push(m.copy.as_deref());
        self.copies |= m.copy.is_some();
        self.n += 1;
        self.n - 1
    }

    /// Whether some of its messages are copied: it is stored with [`INSERT_CB_SQL`].
    pub(super) fn copies(&self) -> bool {
        self.copies
    }

    /// The statement's text: [`INSERT_CB_SQL`] when some messages are copied.
    pub(super) fn sql(&self) -> &'static str {
        if self.copies {
            INSERT_CB_SQL
        } else {
            INSERT_SQL
        }
    }

    pub(super) fn params(&self, app: &'a i64) -> Vec<&(dyn ToSql + Sync)> {
        const LIMIT: i64 = MAX_MSGID + 1;
        let mut p: Vec<&(dyn ToSql + Sync)> = vec![
            app,
            &self.n,
            &LIMIT,
            &self.aud_hash,
            &self.aud_bits,
            &self.kind,
            &self.from,
            &self.to,
            &self.to_ordinal,
            &self.msg_type,
            &self.body,
            &self.ext,
            &self.extra,
            &self.msgidclient,
            &self.timetag,
            &self.antispam,
            &self.mark_read,
            &self.recipients,
            &self.audience_hash,
            &self.selection,
            &self.offline,
            &self.expire_ms,
            &self.ref_msgid,
            &self.tid,
            &self.from_ordinal,
        ];
        if self.copies {
            p.push(&self.cb_type);
            p.push(&self.cb_ctx);
        }
        p
    }
}

/// A keyed message of a batch: (job, message) and what the lookup needs.
struct Keyed<'a> {
    job: usize,
    msg: usize,
    app: AppId,
    key: &'a str,
    since: i64,
    kind: i16,
    /// `None` for a mass message (its key is app-wide).
    sender: Option<&'a str>,
}

/// What identifies a key within a batch: app, kind, sender (none for mass), key.
type KeyOf<'a> = (AppId, i16, Option<&'a str>, &'a str);

/// How a batch's statements stand to the transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Tx {
    /// Open one first (pipelined with the statements); the caller commits.
    Begin,
    /// Inside the caller's transaction (a savepoint).
    Inside,
    /// The batch is one statement, its own transaction: committed when it answers.
    Autocommit,
}

/// A message's key, when the idempotency check applies to it: a mass message with a client id;
/// in a guarded job (`any_key`), any message with one, by its sender.
pub(super) fn key_of<'a>(job: &'a Job, m: &'a NewMessage) -> Option<KeyOf<'a>> {
    let key = m.msgidclient.as_deref()?;
    match m.kind {
        MsgKind::Mass => Some((job.app, m.kind.as_i64() as i16, None, key)),
        _ if job.any_key => Some((job.app, m.kind.as_i64() as i16, Some(m.from.as_str()), key)),
        _ => None,
    }
}

/// Whether a job needs more than one autocommitted statement: keys to look up, or guards.
pub(super) fn needs_tx(job: &Job) -> bool {
    !job.guards.is_empty() || job.msgs.iter().any(|m| key_of(job, m).is_some())
}

/// Stores `jobs` (see [`Tx`]). A job whose guarded teams are no longer at their versions is
/// answered `Stale` and stores nothing. `Err`: a statement failed, and a transaction the batch
/// opened must be rolled back.
pub(super) async fn attempt(
    c: &Conn,
    jobs: &[&Job],
    tx: Tx,
) -> Result<Vec<StoreResult<Vec<Sent>>>, tokio_postgres::Error> {
    let guards: Vec<(usize, TeamGuard)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, job)| job.guards.iter().map(move |g| (j, *g)))
        .collect();
    if guards.is_empty() {
        return attempt_unguarded(c, jobs, tx != Tx::Begin).await;
    }
    let g_app: Vec<i64> = guards.iter().map(|(j, _)| jobs[*j].app.0).collect();
    let g_tid: Vec<i64> = guards.iter().map(|(_, g)| g.tid.0).collect();
    let params: [&(dyn ToSql + Sync); 2] = [&g_app, &g_tid];
    let mut qs: Vec<Pending<'_>> = Vec::new();
    if tx == Tx::Begin {
        qs.push(Box::pin(c.client.query(&c.begin, &[])));
    }
    qs.push(Box::pin(c.client.query(&c.guard, &params)));
    let mut answers = pipeline(qs).await;
    let rows = answers.pop().unwrap_or_else(|| Ok(Vec::new()));
    for a in answers {
        a?;
    }
    let rows = rows?;
    let mut stale = vec![false; jobs.len()];
    for (j, g) in &guards {
        let ok = rows.iter().any(|r| {
            r.get::<_, i64>(0) == jobs[*j].app.0
                && r.get::<_, i64>(1) == g.tid.0
                && r.get::<_, i64>(2) == g.version
                && !r.get::<_, bool>(3)
        });
        stale[*j] |= !ok;
    }
    let live: Vec<&Job> = jobs
        .iter()
        .zip(&stale)
        .filter(|(_, s)| !**s)
        .map(|(j, _)| *j)
        .collect();
    let mut done = attempt_unguarded(c, &live, true).await?.into_iter();
    Ok(jobs
        .iter()
        .zip(stale)
        .map(|(job, s)| {
            if s {
                Err(StoreError::Stale(format!(
                    "a team of app {} is no longer at the version the send was checked on",
                    job.app
                )))
            } else {
                done.next()
                    .unwrap_or_else(|| Err(StoreError::Internal("job left no result".into())))
            }
        })
        .collect())
}

/// [`attempt`] once the guards are checked; `begun`: a transaction is open already (or the
/// batch is one autocommitted statement).
async fn attempt_unguarded(
    c: &Conn,
    jobs: &[&Job],
    mut begun: bool,
) -> Result<Vec<StoreResult<Vec<Sent>>>, tokio_postgres::Error> {
    let mut keyed: Vec<Keyed<'_>> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        for (k, m) in job.msgs.iter().enumerate() {
            if let Some((_, kind, sender, key)) = key_of(job, m) {
                keyed.push(Keyed {
                    job: j,
                    msg: k,
                    app: job.app,
                    key,
                    since: job.dedupe_since_ms,
                    kind,
                    sender,
                });
            }
        }
    }
    let mut earlier: HashMap<(usize, usize), Sent> = HashMap::new();
    if !keyed.is_empty() {
        let apps: Vec<i64> = jobs
            .iter()
            .map(|j| j.app.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let k_app: Vec<i64> = keyed.iter().map(|k| k.app.0).collect();
        let k_key: Vec<&str> = keyed.iter().map(|k| k.key).collect();
        let k_since: Vec<i64> = keyed.iter().map(|k| k.since).collect();
        let k_i: Vec<i32> = (0..keyed.len() as i32).collect();
        let k_kind: Vec<i16> = keyed.iter().map(|k| k.kind).collect();
        let k_sender: Vec<Option<&str>> = keyed.iter().map(|k| k.sender).collect();
        let lock_params: [&(dyn ToSql + Sync); 1] = [&apps];
        let lookup_params: [&(dyn ToSql + Sync); 6] =
            [&k_app, &k_key, &k_since, &k_i, &k_kind, &k_sender];
        let mut qs: Vec<Pending<'_>> = Vec::new();
        if !begun {
            qs.push(Box::pin(c.client.query(&c.begin, &[])));
            begun = true;
        }
        qs.push(Box::pin(c.client.query(&c.lock, &lock_params)));
        qs.push(Box::pin(c.client.query(&c.lookup, &lookup_params)));
        let mut answers = pipeline(qs).await;
        let found = answers.pop().unwrap_or_else(|| Ok(Vec::new()));
        for a in answers {
            a?;
        }
        for r in found? {
            let i: i32 = r.get(0);
            let Some(k) = usize::try_from(i).ok().and_then(|i| keyed.get(i)) else {
                continue;
            };
            earlier.insert(
                (k.job, k.msg),
                Sent {
                    msgid: MsgId(r.get(1)),
                    timetag: r.get(2),
                    antispam: r.get(3),
                    recipients: r.get::<_, i64>(4) as u64,
                    duplicate: true,
                },
            );
        }
    }

    // Plan: each message is stored in its app's group or answered by an earlier one.
    let mut groups: BTreeMap<AppId, Group<'_>> = BTreeMap::new();
    let mut in_batch: HashMap<KeyOf<'_>, Vec<InBatch>> = HashMap::new();
    let mut slots: Vec<Vec<Slot>> = Vec::with_capacity(jobs.len());
    for (j, job) in jobs.iter().enumerate() {
        let mut job_slots = Vec::with_capacity(job.msgs.len());
        let mut new_keys = Vec::new();
        for (k, m) in job.msgs.iter().enumerate() {
            let key = key_of(job, m);
            if let Some(key) = key {
                // An earlier job of the batch has a newer msgid than anything stored.
                let same = in_batch
                    .get(&key)
                    .and_then(|v| v.iter().rev().find(|e| e.timetag >= job.dedupe_since_ms));
                if let Some(&same) = same {
                    job_slots.push(Slot::DupOf(same));
                    continue;
                }
                if let Some(s) = earlier.get(&(j, k)) {
                    job_slots.push(Slot::Dup(s.clone()));
                    continue;
                }
            }
            let rank = groups.entry(job.app).or_default().push(m, job.now_ms);
            job_slots.push(Slot::Fresh { rank });
            if let Some(key) = key {
                new_keys.push((
                    key,
                    InBatch {
                        rank,
                        timetag: job.now_ms,
                        antispam: m.antispam,
                        recipients: m.recipients,
                    },
                ));
            }
        }
        // Messages of one call are not checked against each other (as if stored one by one
        // after the check), only against earlier calls.
        for (key, e) in new_keys {
            in_batch.entry(key).or_default().push(e);
        }
        slots.push(job_slots);
    }

    let app_ids: Vec<i64> = groups.keys().map(|a| a.0).collect();
    let params: Vec<Vec<&(dyn ToSql + Sync)>> = groups
        .values()
        .zip(&app_ids)
        .map(|(g, app)| g.params(app))
        .collect();
    let recalls: Vec<(i64, i64, i64)> = jobs
        .iter()
        .filter_map(|j| j.recall.map(|m| (j.app.0, m.0, j.now_ms)))
        .collect();
    let mut qs: Vec<Pending<'_>> = Vec::new();
    if !begun {
        qs.push(Box::pin(c.client.query(&c.begin, &[])));
    }
    let skip = qs.len();
    for (p, g) in params.iter().zip(groups.values()) {
        let st = if g.copies() { &c.insert_cb } else { &c.insert };
        qs.push(Box::pin(c.client.query(st, p)));
    }
    for (app, msgid, now) in &recalls {
        let p: [&(dyn ToSql + Sync); 3] = [app, msgid, now];
        qs.push(Box::pin(async move { c.client.query(&c.recall, &p).await }));
    }
    let answers = pipeline(qs).await;
    let mut firsts: HashMap<AppId, Option<i64>> = HashMap::new();
    for (i, a) in answers.into_iter().enumerate() {
        let rows = a?;
        if i >= skip
            && let Some(app) = app_ids.get(i - skip)
        {
            firsts.insert(AppId(*app), rows.first().map(|r| r.get(0)));
        }
    }

    Ok(jobs
        .iter()
        .zip(slots)
        .map(|(job, job_slots)| {
            let first = firsts.get(&job.app).copied().flatten();
            let msgid = |rank: i64| {
                first.map(|f| MsgId(f + rank)).ok_or_else(|| {
                    StoreError::Internal(format!(
                        "app {} has no msgid sequence (unknown app, or msgids exhausted)",
                        job.app
                    ))
                })
            };
            job.msgs
                .iter()
                .zip(job_slots)
                .map(|(m, slot)| match slot {
                    Slot::Fresh { rank } => Ok(Sent {
                        msgid: msgid(rank)?,
                        timetag: job.now_ms,
                        antispam: m.antispam,
                        recipients: m.recipients,
                        duplicate: false,
                    }),
                    Slot::Dup(s) => Ok(s),
                    Slot::DupOf(e) => Ok(Sent {
                        msgid: msgid(e.rank)?,
                        timetag: e.timetag,
                        antispam: e.antispam,
                        recipients: e.recipients,
                        duplicate: true,
                    }),
                })
                .collect()
        })
        .collect())
}
