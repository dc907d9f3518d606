//! Live delivery on this node: the consumer of `Committed` events and of the store's heads.
//!
//! Per app it keeps the highest msgid it has handed to the hub. Messages go out in msgid
//! order, each once. Events this node published carry their messages (with audiences
//! decoded), so the usual case reads nothing. When msgids are missing below the highest one
//! known (committed by another node, a lost event, or two events of this node that overtook
//! each other) it reads them from the store: everything at or below a committed msgid is
//! visible (the store's commit-order rule), so one read fills the gap for good. A gap next to
//! messages of this node's own waits `REORDER_GRACE` first, since the missing ones are
//! usually a few microseconds behind on their way here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use qunfa_core::bus::{Live, Target};
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::message::Message;
use qunfa_core::store::{AppHead, StoreResult};
use qunfa_service::Services;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::hub::{Delivery, Hub};
use super::protocol;

/// How long a gap next to this node's own messages may wait to fill before the store is read.
const REORDER_GRACE: Duration = Duration::from_millis(5);
/// Messages read from the store per query while filling a gap.
const PAGE: usize = 1000;
/// Inputs taken per round: a round ends in one batch for the hub.
const MAX_INPUTS: usize = 256;

enum Input {
    Committed {
        app: AppId,
        upto: MsgId,
        live: Vec<Arc<Live>>,
    },
    Heads(Vec<AppHead>),
}

/// The fan-out task's inbox.
#[derive(Clone)]
pub struct Fanout {
    tx: mpsc::UnboundedSender<Input>,
}

impl Fanout {
    /// `app` committed up to `upto`; `live` are this node's own messages among them.
    pub fn committed(&self, app: AppId, upto: MsgId, live: Vec<Arc<Live>>) {
        // Fails only once the task has stopped (shutdown).
        let _ = self.tx.send(Input::Committed { app, upto, live });
    }

    /// The store's heads, from a poll: whatever lies below them and was missed goes out now.
    pub fn heads(&self, heads: Vec<AppHead>) {
        let _ = self.tx.send(Input::Heads(heads));
    }
}

struct Feed {
    /// Everything up to here was handed to the hub (or was committed before this node
    /// started: sessions catch up on that from the store).
    delivered: MsgId,
    /// The highest msgid known to be committed.
    known: MsgId,
    /// This node's messages above `delivered`, not yet handed over.
    pending: BTreeMap<MsgId, Arc<Live>>,
    /// Since when a gap next to `pending` waits to fill.
    gap_since: Option<Instant>,
}

impl Feed {
    fn at(head: MsgId) -> Feed {
        Feed {
            delivered: head,
            known: head,
            pending: BTreeMap::new(),
            gap_since: None,
        }
    }
}

/// Starts the fan-out task. `heads` are the store's heads at start: what was committed
/// before is the store's business (clients catch up on it), not this task's.
pub fn spawn(
    services: Arc<Services>,
    hub: Arc<Hub>,
    heads: Vec<AppHead>,
) -> (Fanout, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let feeds = heads
        .into_iter()
        .map(|h| (h.app, Feed::at(h.last_msgid)))
        .collect();
    let task = FanoutTask {
        services,
        hub,
        feeds,
        dirty: BTreeSet::new(),
    };
    (Fanout { tx }, tokio::spawn(task.run(rx)))
}

struct FanoutTask {
    services: Arc<Services>,
    hub: Arc<Hub>,
    feeds: HashMap<AppId, Feed>,
    /// Feeds with something new or a gap waiting: the only ones a round looks at.
    dirty: BTreeSet<AppId>,
}

impl FanoutTask {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        loop {
            let deadline = self
                .feeds
                .values()
                .filter_map(|f| f.gap_since)
                .min()
                .map(|t| t + REORDER_GRACE);
            let first = match deadline {
                None => match rx.recv().await {
                    Some(i) => Some(i),
                    None => return,
                },
                Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                    Ok(Some(i)) => Some(i),
                    Ok(None) => return,
                    Err(_) => None,
                },
            };
            if let Some(i) = first {
                self.ingest(i);
            }
            for _ in 1..MAX_INPUTS {
                match rx.try_recv() {
                    Ok(i) => self.ingest(i),
                    Err(_) => break,
                }
            }
            let mut batch = Vec::new();
            let apps = std::mem::take(&mut self.dirty);
            for app in apps {
                self.step(app, &mut batch).await;
                if self.feeds.get(&app).is_some_and(|f| f.gap_since.is_some()) {
                    self.dirty.insert(app);
                }
            }
            if !batch.is_empty() {
                self.hub.deliver_batch(&batch).await;
            }
        }
    }

    fn ingest(&mut self, input: Input) {
        match input {
            Input::Committed { app, upto, live } => {
                // An app created after this node started: it had nothing before.
                let feed = self.feeds.entry(app).or_insert_with(|| Feed::at(MsgId(0)));
                feed.known = feed.known.max(upto);
                self.dirty.insert(app);
                for l in live {
                    if l.message.msgid > feed.delivered {
                        feed.pending.insert(l.message.msgid, l);
                    }
                }
            }
            Input::Heads(heads) => {
                for h in heads {
                    let feed = self
                        .feeds
                        .entry(h.app)
                        .or_insert_with(|| Feed::at(MsgId(0)));
                    if h.last_msgid > feed.delivered {
                        feed.known = feed.known.max(h.last_msgid);
                        self.dirty.insert(h.app);
                    }
                }
            }
        }
    }

    /// Hands over what is in order; fills a gap from the store when it is due.
    async fn step(&mut self, app: AppId, batch: &mut Vec<Delivery>) {
        let Some(feed) = self.feeds.get_mut(&app) else {
            return;
        };
        while let Some(entry) = feed.pending.first_entry() {
            if entry.key().0 != feed.delivered.0 + 1 {
                break;
            }
            let live = entry.remove();
            feed.delivered = live.message.msgid;
            push(&self.hub, app, &live.message, &live.target, batch);
        }
        if feed.known <= feed.delivered {
            feed.gap_since = None;
            return;
        }
        if !feed.pending.is_empty() {
            let since = *feed.gap_since.get_or_insert_with(Instant::now);
            if since.elapsed() < REORDER_GRACE {
                return;
            }
        }
        let services = self.services.clone();
        let hub = self.hub.clone();
        match fill(&services, &hub, app, feed, batch).await {
            Ok(()) => feed.gap_since = None,
            Err(e) => {
                tracing::warn!(app = %app, error = %e, "reading missed messages failed; will retry");
                feed.gap_since = Some(Instant::now());
            }
        }
    }
}

/// Reads `(delivered, known]` from the store and hands it over in msgid order, using this
/// node's own copies where it has them.
async fn fill(
    services: &Services,
    hub: &Hub,
    app: AppId,
    feed: &mut Feed,
    batch: &mut Vec<Delivery>,
) -> StoreResult<()> {
    while feed.delivered < feed.known {
        let rows = services
            .store
            .messages_between(app, feed.delivered, feed.known, PAGE)
            .await?;
        let Some(last) = rows.last().map(|m| m.msgid) else {
            break;
        };
        for m in rows {
            if let Some(live) = feed.pending.remove(&m.msgid) {
                push(hub, app, &live.message, &live.target, batch);
                continue;
            }
            // Recalled or deleted meanwhile: a later recall or nothing is what clients need.
            if m.antispam || m.deleted || m.recalled_ms.is_some() {
                continue;
            }
            if let Some(target) = target_of(services, app, &m).await? {
                push(hub, app, &m, &target, batch);
            }
        }
        feed.delivered = last;
    }
    feed.delivered = feed.known;
    let delivered = feed.delivered;
    feed.pending.retain(|id, _| *id > delivered);
    Ok(())
}

/// Who a message read from the store is for.
async fn target_of(services: &Services, app: AppId, m: &Message) -> StoreResult<Option<Target>> {
    if let Some(o) = m.to_ordinal {
        // A client's message reaches its sender's other sessions too.
        if let Some(f) = m.from_ordinal {
            let both = [o.0, f.0].into_iter().collect();
            return Ok(Some(Target::Audience(Arc::new(both))));
        }
        return Ok(Some(Target::One(o)));
    }
    let Some(hash) = m.audience_hash else {
        return Ok(None);
    };
    let bits = services
        .audiences
        .by_hash(services.store.as_ref(), app, hash)
        .await?;
    Ok(bits.map(Target::Audience))
}

/// Adds a delivery to the batch, encoding the frame only if someone here can take it.
fn push(hub: &Hub, app: AppId, m: &Message, target: &Target, batch: &mut Vec<Delivery>) {
    if m.antispam || !hub.may_reach(app, target) {
        return;
    }
    batch.push(Delivery {
        app,
        target: target.clone(),
        out: protocol::message(m),
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::Duration;

    use qunfa_core::account::{Accid, NewAccount, Profile, hash_token};
    use qunfa_core::admission::LocalAdmission;
    use qunfa_core::bus::{Live, Target};
    use qunfa_core::clock::SystemClock;
    use qunfa_core::ids::{AppId, MsgId, Ordinal};
    use qunfa_core::message::{MsgKind, NewMessage, Sent};
    use qunfa_core::ratelimit::Limits;
    use qunfa_core::{Store, ratelimit::Limit};
    use qunfa_service::{Rules, Services};

    use crate::bus::local::LocalBus;
    use crate::gateway::hub::{Hub, Inbox};

    struct World {
        store: Arc<dyn Store>,
        services: Arc<Services>,
        hub: Arc<Hub>,
        app: AppId,
        _dir: tempfile::TempDir,
    }

    async fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(qunfa_store::SqliteStore::open_dir(dir.path(), &Default::default()).unwrap());
        let app = store.create_app("a").await.unwrap().id;
        let accid = Accid::parse("me", "accid").unwrap();
        let new = NewAccount {
            token_hash: hash_token(&accid, "t"),
            accid,
            profile: Profile::default(),
        };
        store.create_accounts(app, vec![new]).await.unwrap();
        let hub = Arc::new(Hub::new(100));
        let l = Limit {
            count: 100,
            per_secs: 1,
            penalty_secs: 1,
        };
        let rules = Rules {
            max_body_chars: 5000,
            recall_window_secs: 120,
            system_accid: Accid::parse("sys", "accid").unwrap(),
            dedupe_window_secs: 60,
            curtime_window_secs: 300,
            replay_check: qunfa_core::replay::ReplayCheck::Off,
            rate_limits: false,
            login_throttle: qunfa_service::login::ThrottleRules {
                per_account: 5,
                per_address: 20,
                window_ms: 60_000,
            },
        };
        let services = Arc::new(Services::new(
            store.clone(),
            Arc::new(LocalBus::new()),
            Arc::new(LocalAdmission::new(
                300,
                Limits {
                    default: l,
                    batch: l,
                    broadcast: l,
                    team_query: l,
                },
            )),
            Arc::new(SystemClock),
            rules,
            Vec::new(),
            hub.clone(),
        ));
        World {
            store,
            services,
            hub,
            app,
            _dir: dir,
        }
    }

    fn p2p(text: &str) -> NewMessage {
        let mut m = NewMessage::new(
            MsgKind::P2p,
            Accid::parse("x", "from").unwrap(),
            0,
            format!("{{\"msg\":\"{text}\"}}"),
        );
        m.to = Some(Accid::parse("me", "to").unwrap());
        m.to_ordinal = Some(Ordinal(0));
        m
    }

    async fn stored(w: &World, msgs: Vec<NewMessage>) -> Vec<Arc<Live>> {
        let sent: Vec<Sent> = w
            .store
            .store_messages(w.app, msgs.clone(), 1, 1)
            .await
            .unwrap();
        msgs.iter()
            .zip(&sent)
            .map(|(m, x)| {
                Arc::new(Live {
                    message: m.stored(x),
                    target: Target::One(Ordinal(0)),
                })
            })
            .collect()
    }

    async fn received(inbox: &mut Inbox, n: usize) -> Vec<i64> {
        let mut out = Vec::new();
        while out.len() < n {
            let o = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
                .await
                .expect("a frame within 5 s")
                .unwrap();
            out.push(o.msgid.unwrap().0);
        }
        out
    }

    #[tokio::test]
    async fn overtaken_lost_and_foreign_messages_go_out_once_in_msgid_order() {
        let w = world().await;
        let heads = w.store.heads().await.unwrap();
        let (fanout, _task) = super::spawn(w.services.clone(), w.hub.clone(), heads);
        let (_handle, mut inbox) = w.hub.register(w.app, Ordinal(0), 0);

        let mut flagged = p2p("filtered");
        flagged.antispam = true;
        let live = stored(&w, vec![p2p("1"), p2p("2"), flagged, p2p("4")]).await;
        let ids: Vec<i64> = live.iter().map(|l| l.message.msgid.0).collect();
        // 4 arrives first, then 1; the events for 2 and 3 are lost.
        fanout.committed(w.app, MsgId(ids[3]), vec![live[3].clone()]);
        fanout.committed(w.app, MsgId(ids[0]), vec![live[0].clone()]);
        assert_eq!(
            received(&mut inbox, 3).await,
            [ids[0], ids[1], ids[3]],
            "2 read from the store; 3 is intercepted"
        );

        // Written by another node: only a wake-up (a poll's heads) says so.
        let foreign = stored(&w, vec![p2p("5"), p2p("6")]).await;
        fanout.heads(w.store.heads().await.unwrap());
        let want: Vec<i64> = foreign.iter().map(|l| l.message.msgid.0).collect();
        assert_eq!(received(&mut inbox, 2).await, want);

        // Late and repeated events change nothing.
        fanout.committed(w.app, MsgId(ids[1]), vec![live[1].clone()]);
        fanout.committed(w.app, MsgId(want[1]), foreign.clone());
        let later = stored(&w, vec![p2p("7")]).await;
        fanout.committed(w.app, later[0].message.msgid, later.clone());
        assert_eq!(received(&mut inbox, 1).await, [later[0].message.msgid.0]);
    }
}
