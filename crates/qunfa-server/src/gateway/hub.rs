//! Who is online on this node, and the hand-over of frames to them.
//!
//! Sessions register per (app, account ordinal). A delivery is encoded once, then offered to
//! every matching session's bounded queue: a full queue marks that session as too slow (it is
//! closed and resyncs from the store); nobody waits for anybody.
//!
//! The fan-out task (`fanout.rs`) calls [`Hub::deliver_batch`]. A large audience is walked in
//! small chunks with a yield between them, so the woken session tasks run (and write) as the
//! walk goes on instead of piling up: with one wake-up for all of 19,900 sessions at once, an
//! API request's task waited behind all of them in the run queues (seconds, under sustained
//! fan-out). Deliveries of one batch are walked together, so a session gets them all in one
//! wake-up and one write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use bytes::Bytes;
use qunfa_core::bus::Target;
use qunfa_core::ids::{AppId, MsgId, Ordinal};

pub use super::handle::{Inbox, SessionHandle};
use super::protocol::close;

/// One frame for a session: its bytes, and the msgid it carries (for de-duplication at the
/// sync-to-live hand-over; `None` for frames outside the msgid sequence, like receipts).
#[derive(Clone, Debug)]
pub struct Outbound {
    pub msgid: Option<MsgId>,
    /// A complete WebSocket frame (`wire`), the same bytes for every recipient.
    pub frame: Bytes,
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub app: AppId,
    pub target: Target,
    pub out: Outbound,
}

type AppSessions = HashMap<u32, Vec<Arc<SessionHandle>>>;

/// Sessions woken per step of a large fan-out. Small, because the yield between steps only
/// resumes the fan-out at the worker's next park (every 61 polls, or once its queue is empty).
const CHUNK: usize = 32;
#[derive(Default)]
pub struct Counters {
    pub deliveries: AtomicU64,
}

pub struct Hub {
    apps: RwLock<HashMap<AppId, AppSessions>>,
    next_id: AtomicU64,
    queue_frames: usize,
    started: Instant,
    pub counters: Counters,
}

impl Hub {
    pub fn new(queue_frames: usize) -> Hub {
        Hub {
            apps: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            queue_frames: queue_frames.max(1),
            started: Instant::now(),
            counters: Counters::default(),
        }
    }

    /// Milliseconds since the hub started: the clock of [`SessionHandle::heard`].
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Pings every session, and closes (4002) those not heard from for `idle`: one walk every
    /// `gateway.ping_secs` instead of a timer in every session.
    pub fn sweep(&self, idle: std::time::Duration) {
        let now = self.now_ms();
        let idle = idle.as_millis() as u64;
        let ping = Outbound {
            msgid: None,
            frame: super::wire::ping(),
        };
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        for h in apps.values().flat_map(|s| s.values()).flatten() {
            if now.saturating_sub(h.heard_ms()) > idle {
                h.close(close::TIMEOUT, None);
            } else {
                h.offer(&ping);
            }
        }
    }

    /// Runs [`Hub::sweep`] every `every` until aborted.
    pub fn spawn_sweeper(
        self: &Arc<Self>,
        every: std::time::Duration,
        idle: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let hub = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                hub.sweep(idle);
            }
        })
    }

    /// Registers a session; live deliveries start queueing at once.
    pub fn register(
        &self,
        app: AppId,
        ordinal: Ordinal,
        kick_seq: i64,
    ) -> (Arc<SessionHandle>, Inbox) {
        let handle = Arc::new(SessionHandle::new(
            self.next_id.fetch_add(1, Ordering::Relaxed),
            ordinal,
            kick_seq,
            self.queue_frames,
            self.now_ms(),
        ));
        let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
        apps.entry(app)
            .or_default()
            .entry(ordinal.0)
            .or_default()
            .push(handle.clone());
        (handle.clone(), Inbox(handle))
    }

    pub fn unregister(&self, app: AppId, handle: &SessionHandle) {
        let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
        if let Some(sessions) = apps.get_mut(&app) {
            if let Some(list) = sessions.get_mut(&handle.ordinal.0) {
                list.retain(|h| h.id != handle.id);
                if list.is_empty() {
                    sessions.remove(&handle.ordinal.0);
                }
            }
            if sessions.is_empty() {
                apps.remove(&app);
            }
        }
    }

    /// Whether any session on this node could take a delivery to `target` (saves encoding a
    /// frame nobody here would get).
    pub fn may_reach(&self, app: AppId, target: &Target) -> bool {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        match (apps.get(&app), target) {
            (None, _) => false,
            (Some(s), Target::One(o)) => s.contains_key(&o.0),
            (Some(s), Target::Audience(_)) => !s.is_empty(),
        }
    }

    /// Sessions online on this node.
    pub fn sessions(&self) -> usize {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        apps.values().flat_map(|s| s.values()).map(Vec::len).sum()
    }

    /// Hands one delivery to every matching session on this node.
    pub fn deliver(&self, d: &Delivery) {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        let Some(sessions) = apps.get(&d.app) else {
            return;
        };
        let mut n = 0u64;
        match &d.target {
            Target::One(o) => {
                for h in sessions.get(&o.0).into_iter().flatten() {
                    n += u64::from(h.offer(&d.out));
                }
            }
            Target::Audience(bits) => {
                // Walk whichever side is smaller: the online sessions or the audience.
                if (sessions.len() as u64) <= bits.len() {
                    for (o, list) in sessions {
                        if bits.contains(*o) {
                            for h in list {
                                n += u64::from(h.offer(&d.out));
                            }
                        }
                    }
                } else {
                    for o in bits.iter() {
                        for h in sessions.get(&o).into_iter().flatten() {
                            n += u64::from(h.offer(&d.out));
                        }
                    }
                }
            }
        }
        self.counters.deliveries.fetch_add(n, Ordering::Relaxed);
    }

    /// Delivers `batch`, each session getting its frames in batch (msgid) order. Per app: when
    /// the batch holds a delivery large enough to walk the app's sessions, they are walked
    /// once, in chunks with a yield between them, and every session is offered all of the
    /// batch's deliveries meant for it at once, point-to-point ones included (a small delivery
    /// between two large ones used to split the walk, and every session then got, and wrote,
    /// one frame per walk). Otherwise each delivery goes straight to its sessions.
    pub async fn deliver_batch(&self, batch: &[Delivery]) {
        let mut apps: Vec<AppId> = Vec::new();
        for d in batch {
            if !apps.contains(&d.app) {
                apps.push(d.app);
            }
        }
        for app in apps {
            let ds: Vec<&Delivery> = batch.iter().filter(|d| d.app == app).collect();
            if ds.iter().any(|d| self.is_large(d)) {
                self.deliver_walk(app, &ds).await;
            } else {
                for d in ds {
                    self.deliver(d);
                }
            }
        }
    }

    /// Whether a delivery reaches enough sessions to be walked in chunks.
    fn is_large(&self, d: &Delivery) -> bool {
        let Target::Audience(bits) = &d.target else {
            return false;
        };
        if bits.len() < CHUNK as u64 {
            return false;
        }
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        apps.get(&d.app).is_some_and(|s| s.len() >= CHUNK)
    }

    /// Offers `ds` (deliveries of one app, in order) to each of the app's sessions, `CHUNK`
    /// sessions at a time.
    async fn deliver_walk(&self, app: AppId, ds: &[&Delivery]) {
        // A snapshot: a session registered after it catches up from the store instead (it
        // registers before its catch-up query, and these messages are committed already).
        let sessions: Vec<Arc<SessionHandle>> = {
            let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
            match apps.get(&app) {
                Some(s) => s.values().flatten().cloned().collect(),
                None => return,
            }
        };
        let mut n = 0u64;
        let mut mine: Vec<&Outbound> = Vec::with_capacity(ds.len());
        for chunk in sessions.chunks(CHUNK) {
            for h in chunk {
                h.touch();
            }
            for h in chunk {
                mine.clear();
                for d in ds {
                    let meant = match &d.target {
                        Target::One(o) => *o == h.ordinal,
                        Target::Audience(bits) => bits.contains(h.ordinal.0),
                    };
                    if meant {
                        mine.push(&d.out);
                    }
                }
                // A full queue closes the session (it resyncs from its cursor): offering it
                // the later messages could only open a gap before that cursor.
                if !mine.is_empty() && h.offer_all(&mine) {
                    n += mine.len() as u64;
                }
            }
            tokio::task::yield_now().await;
        }
        self.counters.deliveries.fetch_add(n, Ordering::Relaxed);
    }

    /// Closes the sessions of one account (blocked, or its token changed) that logged in
    /// before the kick at `seq`.
    pub fn kick(&self, app: AppId, ordinal: Ordinal, seq: i64, reason: &str) {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        for h in apps
            .get(&app)
            .and_then(|s| s.get(&ordinal.0))
            .into_iter()
            .flatten()
        {
            if h.kick_seq() < seq {
                h.close(close::KICKED, Some(reason.to_owned()));
            }
        }
    }

    /// Closes every session (server shutdown).
    pub fn close_all(&self) {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        for h in apps.values().flat_map(|s| s.values()).flatten() {
            h.close(close::GOING_AWAY, None);
        }
    }
}

impl qunfa_service::LocalSessions for Hub {
    fn kick(&self, app: AppId, ordinal: Ordinal, seq: i64, reason: &str) {
        Hub::kick(self, app, ordinal, seq, reason);
    }

    fn online(&self, app: AppId) -> qunfa_service::lookup::Online {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        let sessions = apps.get(&app);
        qunfa_service::lookup::Online {
            sessions: sessions.map_or(0, |s| s.values().map(|l| l.len() as u64).sum()),
            accounts: sessions.map_or(0, |s| s.len() as u64),
        }
    }
}
