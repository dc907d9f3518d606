//! Sending: point-to-point (`sendMsg`), to a list (`sendBatchMsg`), targeted (`sendMsgToAll`)
//! and to everyone (`broadcastMsg`), and the audience preview. Every send is stored once, then
//! published for live delivery.

use std::collections::HashSet;
use std::sync::Arc;

use qunfa_core::ApiError;
use qunfa_core::account::{Accid, NewAccount, Profile, hash_token};
use qunfa_core::audience::{self, Selection};
use qunfa_core::bus::{Event, Live, Target};
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::message::{Message, MsgKind, NewMessage, Sent};
use qunfa_core::store::{StoreError, StoreResult, internal};
use serde_json::{Map, Value, json};

use crate::Services;
use crate::content::Content;

/// Most accounts one targeted send may list explicitly.
pub const MAX_EXPLICIT: usize = 100_000;
/// Explicit lists up to this size are kept in full with a mass message's selection.
const KEEP_EXPLICIT: usize = 500;
/// The operating systems a broadcast may target.
pub const TARGET_OS: [&str; 5] = ["ios", "aos", "pc", "web", "mac"];

/// `msg/sendMsg` with `ope=0`.
#[derive(Clone, Debug)]
pub struct P2pSend {
    pub from: Accid,
    pub to: Accid,
    pub content: Content,
    pub mark_read: bool,
    /// The app's own id for the message (qunfa), for `markReadMsg`'s `msgidClient`.
    pub msgidclient: Option<String>,
}

/// `msg/sendBatchMsg`.
#[derive(Clone, Debug)]
pub struct BatchSend {
    pub from: Accid,
    /// In the order given; repeats are sent once.
    pub to: Vec<Accid>,
    pub content: Content,
}

#[derive(Clone, Debug)]
pub struct BatchSent {
    /// Listed accounts that do not exist.
    pub unregister: Vec<Accid>,
    /// One message per recipient, in the order given.
    pub sent: Vec<(Accid, Sent)>,
    pub timetag: i64,
}

/// `msg/sendMsgToAll`.
#[derive(Clone, Debug)]
pub struct TargetedSend {
    /// The sender; `None`: the app's system account.
    pub from: Option<Accid>,
    pub selection: Selection,
    pub content: Content,
    pub mark_read: bool,
    /// Idempotency key: a repeat inside the window answers the first send.
    pub msgidclient: Option<String>,
}

/// `msg/broadcastMsg`.
#[derive(Clone, Debug)]
pub struct BroadcastSend {
    pub from: Option<Accid>,
    /// Plain text.
    pub body: String,
    /// Kept for clients that are offline (until it expires).
    pub offline: bool,
    pub ttl_hours: i64,
    pub target_os: Vec<String>,
}

/// What a targeted send selected, as stored with it.
fn selection_json(sel: &Selection) -> Value {
    let mut o = Map::new();
    o.insert("areaid".into(), json!(sel.areas));
    o.insert("enterptypeid".into(), json!(sel.types));
    match &sel.accids {
        None => {}
        Some(l) if l.len() <= KEEP_EXPLICIT => {
            o.insert("accids".into(), json!(l));
        }
        Some(l) => {
            o.insert("accidCount".into(), json!(l.len()));
        }
    }
    Value::Object(o)
}

/// Tells every node what was just committed; this node's fan-out gets the messages with it.
pub(crate) fn publish(bus: &dyn qunfa_core::bus::Bus, app: AppId, live: Vec<Arc<Live>>) {
    if let Some(upto) = live.iter().map(|l| l.message.msgid).max() {
        bus.publish(Event::Committed { app, upto, live });
    }
}

impl Services {
    /// Stores messages, then publishes those that are new. On its own task: once the store
    /// has them, the publish happens even if the caller went away (a cancelled request), so
    /// live delivery never has to wait for a poll to find them.
    pub(crate) async fn commit(
        &self,
        app: AppId,
        mut msgs: Vec<(NewMessage, Target)>,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>> {
        let copied = self.stamp(app, msgs.iter_mut().map(|(m, _)| m));
        let hooks = self.hooks.clone();
        let store = self.store.clone();
        let bus = self.bus.clone();
        let now = self.now_ms();
        let task = tokio::spawn(async move {
            let (new, targets): (Vec<NewMessage>, Vec<Target>) = msgs.into_iter().unzip();
            let sent = store
                .store_messages(app, new.clone(), now, dedupe_since_ms)
                .await?;
            if copied {
                hooks.queued(app);
            }
            publish(&*bus, app, crate::send::live(&new, targets, &sent));
            Ok(sent)
        });
        task.await.map_err(internal)?
    }

    pub(crate) async fn commit_one(
        &self,
        app: AppId,
        m: NewMessage,
        target: Target,
        dedupe_since_ms: i64,
    ) -> Result<Sent, ApiError> {
        self.commit(app, vec![(m, target)], dedupe_since_ms)
            .await?
            .pop()
            .ok_or_else(|| ApiError::internal("store answered no result for one message"))
    }

    /// An account that must exist: its ordinal, or 414 "ACCID not register".
    pub async fn registered(&self, app: AppId, accid: &Accid) -> Result<Ordinal, ApiError> {
        self.ordinal(app, accid)
            .await?
            .ok_or_else(|| ApiError::param(format!("{accid} not register")))
    }

    /// The sender of a targeted send or broadcast: `from`, or the app's system account
    /// (created on first use; never a recipient).
    pub(crate) async fn sender(
        &self,
        app: AppId,
        from: Option<Accid>,
    ) -> Result<(Accid, Ordinal), ApiError> {
        if let Some(from) = from {
            let o = self.registered(app, &from).await?;
            return Ok((from, o));
        }
        let accid = self.rules.system_accid.clone();
        if let Some(o) = self.ordinal(app, &accid).await? {
            return Ok((accid, o));
        }
        let new = NewAccount {
            token_hash: hash_token(&accid, &qunfa_core::random_hex(16)),
            accid: accid.clone(),
            profile: Profile::default(),
        };
        match self.store.create_accounts(app, vec![new]).await?.pop() {
            // Another request (or node) made it first: fine.
            Some(Ok(_)) | Some(Err(StoreError::AlreadyRegistered)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => {
                return Err(ApiError::internal(
                    "store answered no result for the system account",
                ));
            }
        }
        self.changed(app).await?;
        let o = self
            .ordinal(app, &accid)
            .await?
            .ok_or_else(|| ApiError::internal("the system account vanished"))?;
        Ok((accid, o))
    }

    /// `msg/sendMsg`: one point-to-point message.
    pub async fn send_p2p(&self, app: AppId, req: P2pSend) -> Result<Sent, ApiError> {
        self.registered(app, &req.from).await?;
        let to = self.registered(app, &req.to).await?;
        let mut m = NewMessage::new(
            MsgKind::P2p,
            req.from,
            req.content.msg_type,
            req.content.body_text(),
        );
        m.antispam = self.words.hits(app, &req.content.shown_text()).await?;
        m.to = Some(req.to);
        m.to_ordinal = Some(to);
        m.ext = req.content.ext;
        m.extra = req.content.extra;
        m.mark_read = req.mark_read;
        m.msgidclient = req.msgidclient;
        // Point-to-point sends are not idempotent by msgidclient.
        let since = self.now_ms();
        self.commit_one(app, m, Target::One(to), since).await
    }

    /// `msg/sendBatchMsg`: one point-to-point message to each listed account that exists.
    pub async fn send_batch(&self, app: AppId, req: BatchSend) -> Result<BatchSent, ApiError> {
        self.registered(app, &req.from).await?;
        let antispam = self.words.hits(app, &req.content.shown_text()).await?;
        let body = req.content.body_text();
        let mut unregister = Vec::new();
        let mut msgs = Vec::new();
        let mut recipients = Vec::new();
        let mut seen = HashSet::new();
        for accid in req.to {
            if !seen.insert(accid.clone()) {
                continue;
            }
            let Some(o) = self.ordinal(app, &accid).await? else {
                unregister.push(accid);
                continue;
            };
            let mut m = NewMessage::new(
                MsgKind::P2p,
                req.from.clone(),
                req.content.msg_type,
                body.clone(),
            );
            m.to = Some(accid.clone());
            m.to_ordinal = Some(o);
            m.ext = req.content.ext.clone();
            m.extra = req.content.extra.clone();
            m.antispam = antispam;
            msgs.push((m, Target::One(o)));
            recipients.push(accid);
        }
        let now = self.now_ms();
        let sent = if msgs.is_empty() {
            Vec::new()
        } else {
            self.commit(app, msgs, now).await?
        };
        let timetag = sent.first().map_or(now, |x| x.timetag);
        Ok(BatchSent {
            unregister,
            sent: recipients.into_iter().zip(sent).collect(),
            timetag,
        })
    }

    /// `msg/sendMsgToAll`: one message to every account of the app, or to those of some areas
    /// (with their sub-areas) and enterprise types, or to an explicit list: (the list or
    /// everyone) ∩ areas ∩ types, minus the sender, blocked accounts and the system account.
    /// Stored once, with its audience fixed now; a repeat of `msgidclient` inside the window
    /// answers the first send and stores nothing.
    pub async fn send_to_all(&self, app: AppId, req: TargetedSend) -> Result<Sent, ApiError> {
        let (m, bits, hash) = self.targeted_message(app, req).await?;
        let since = self.now_ms() - self.rules.dedupe_window_secs * 1000;
        let sent = self
            .commit_one(app, m, Target::Audience(bits.clone()), since)
            .await?;
        if !sent.duplicate {
            self.audiences.put(app, hash, bits);
        }
        Ok(sent)
    }

    /// The message of a targeted send, its audience and the audience's hash.
    pub(crate) async fn targeted_message(
        &self,
        app: AppId,
        req: TargetedSend,
    ) -> Result<(NewMessage, Arc<roaring::RoaringBitmap>, [u8; 32]), ApiError> {
        let ix = self.fresh_index(app).await?;
        let (from, from_o) = self.sender(app, req.from).await?;
        let audience = ix.read().select(&req.selection, Some(from_o))?;
        let mut m = NewMessage::new(
            MsgKind::Mass,
            from,
            req.content.msg_type,
            req.content.body_text(),
        );
        m.antispam = self.words.hits(app, &req.content.shown_text()).await?;
        m.recipients = audience.len();
        let encoded = audience::encode(&audience);
        let hash = audience::digest(&encoded);
        m.audience = Some(encoded);
        m.audience_digest = Some(hash);
        m.selection = Some(selection_json(&req.selection).to_string());
        m.ext = req.content.ext;
        m.extra = req.content.extra;
        m.mark_read = req.mark_read;
        m.msgidclient = req.msgidclient;
        Ok((m, Arc::new(audience), hash))
    }

    /// `msg/previewAudience`: how many accounts a targeted send would reach, sending nothing.
    pub async fn preview(
        &self,
        app: AppId,
        selection: &Selection,
        from: Option<&Accid>,
    ) -> Result<u64, ApiError> {
        let ix = self.fresh_index(app).await?;
        let exclude = match from {
            Some(f) => Some(self.registered(app, f).await?),
            None => None,
        };
        Ok(ix.read().select(selection, exclude)?.len())
    }

    /// `msg/broadcastMsg`: plain text to every account of the app. Answers it as stored.
    pub async fn broadcast(&self, app: AppId, req: BroadcastSend) -> Result<Message, ApiError> {
        let ix = self.fresh_index(app).await?;
        let (from, from_o) = self.sender(app, req.from).await?;
        let audience = ix.read().select(&Selection::default(), Some(from_o))?;
        let now = self.now_ms();
        let mut m = NewMessage::new(MsgKind::Broadcast, from, 100, req.body.clone());
        m.antispam = self.words.hits(app, &req.body).await?;
        m.recipients = audience.len();
        let encoded = audience::encode(&audience);
        let hash = audience::digest(&encoded);
        m.audience = Some(encoded);
        m.offline = req.offline;
        m.expire_ms = Some(now + req.ttl_hours * 3_600_000);
        m.extra = Some(json!({"targetOs": req.target_os}).to_string());
        let bits = Arc::new(audience);
        let sent = self
            .commit_one(app, m.clone(), Target::Audience(bits.clone()), now)
            .await?;
        self.audiences.put(app, hash, bits);
        Ok(m.stored(&sent))
    }
}

/// What goes live of a stored batch: each message that was not a repeat, with its target.
pub(crate) fn live(new: &[NewMessage], targets: Vec<Target>, sent: &[Sent]) -> Vec<Arc<Live>> {
    new.iter()
        .zip(targets)
        .zip(sent)
        .filter(|(_, x)| !x.duplicate)
        .map(|((m, target), x)| {
            Arc::new(Live {
                message: m.stored(x),
                target,
            })
        })
        .collect()
}
