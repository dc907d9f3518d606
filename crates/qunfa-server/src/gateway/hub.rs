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

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::ws::Utf8Bytes;
use qunfa_core::bus::Target;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use roaring::RoaringBitmap;
use tokio::sync::Notify;

use super::protocol::close;

/// One frame for a session: its bytes, and the msgid it carries (for de-duplication at the
/// sync-to-live hand-over; `None` for frames outside the msgid sequence, like receipts).
#[derive(Clone, Debug)]
pub struct Outbound {
    pub msgid: Option<MsgId>,
    pub frame: Utf8Bytes,
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub app: AppId,
    pub target: Target,
    pub out: Outbound,
}

/// The hub's side of a session.
pub struct SessionHandle {
    pub id: u64,
    pub ordinal: Ordinal,
    /// The account's last kick when it logged in: only later kicks end this session.
    kick_seq: AtomicI64,
    /// The bounded send queue. A plain `VecDeque` allocates nothing until the first frame
    /// (tokio's mpsc allocates a 32-slot block per channel up front: 1.6 KB per idle client).
    queue: Mutex<VecDeque<Outbound>>,
    capacity: usize,
    ready: Notify,
    /// Non-zero: the close code the session must close with (and `kick_reason` for 4003).
    close_code: AtomicU16,
    kick_reason: RwLock<Option<String>>,
    pub closing: Notify,
}

impl SessionHandle {
    /// Asks the session to close with `code`; the first reason wins.
    pub fn close(&self, code: u16, kick_reason: Option<String>) {
        if self
            .close_code
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            *self.kick_reason.write().unwrap_or_else(|e| e.into_inner()) = kick_reason;
        }
        self.closing.notify_one();
    }

    pub fn close_code(&self) -> u16 {
        self.close_code.load(Ordering::SeqCst)
    }

    pub fn kick_reason(&self) -> Option<String> {
        self.kick_reason
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn offer(&self, out: &Outbound) -> bool {
        {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if q.len() >= self.capacity {
                drop(q);
                self.close(close::TOO_SLOW, None);
                return false;
            }
            q.push_back(out.clone());
        }
        self.ready.notify_one();
        true
    }

    fn pop(&self) -> Option<Outbound> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let out = q.pop_front();
        if q.is_empty() && q.capacity() > 64 {
            // A burst is over: give its memory back rather than keep it per idle client.
            q.shrink_to(0);
        }
        out
    }
}

/// The session's end of its send queue.
pub struct Inbox(Arc<SessionHandle>);

impl Inbox {
    /// The next queued frame, waiting for one.
    pub async fn recv(&mut self) -> Option<Outbound> {
        loop {
            if let Some(o) = self.0.pop() {
                return Some(o);
            }
            // `notify_one` keeps a permit when nobody waits, so a frame queued between the
            // pop above and this wait is not missed.
            self.0.ready.notified().await;
        }
    }

    /// A queued frame, if there is one.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        self.0.pop()
    }
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
    pub counters: Counters,
}

impl Hub {
    pub fn new(queue_frames: usize) -> Hub {
        Hub {
            apps: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            queue_frames: queue_frames.max(1),
            counters: Counters::default(),
        }
    }

    /// Registers a session; live deliveries start queueing at once.
    pub fn register(
        &self,
        app: AppId,
        ordinal: Ordinal,
        kick_seq: i64,
    ) -> (Arc<SessionHandle>, Inbox) {
        let handle = Arc::new(SessionHandle {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            ordinal,
            kick_seq: AtomicI64::new(kick_seq),
            queue: Mutex::new(VecDeque::new()),
            capacity: self.queue_frames,
            ready: Notify::new(),
            close_code: AtomicU16::new(0),
            kick_reason: RwLock::new(None),
            closing: Notify::new(),
        });
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

    /// Delivers `batch` in order: consecutive large-audience deliveries are walked together
    /// over the app's sessions in chunks (yielding between chunks); the others one by one.
    pub async fn deliver_batch(&self, batch: &[Delivery]) {
        let mut rest = batch;
        while let Some(first) = rest.first() {
            if !self.is_large(first) {
                self.deliver(first);
                rest = &rest[1..];
                continue;
            }
            let run = rest
                .iter()
                .take_while(|d| d.app == first.app && self.is_large(d))
                .count();
            self.deliver_chunked(first.app, &rest[..run]).await;
            rest = &rest[run..];
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

    /// Offers `run` (audience deliveries of one app, in order) to each of the app's sessions,
    /// `CHUNK` sessions at a time.
    async fn deliver_chunked(&self, app: AppId, run: &[Delivery]) {
        // A snapshot: a session registered after it catches up from the store instead (it
        // registers before its catch-up query, and these messages are committed already).
        let sessions: Vec<Arc<SessionHandle>> = {
            let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
            match apps.get(&app) {
                Some(s) => s.values().flatten().cloned().collect(),
                None => return,
            }
        };
        let targets: Vec<(&RoaringBitmap, &Outbound)> = run
            .iter()
            .filter_map(|d| match &d.target {
                Target::Audience(bits) => Some((bits.as_ref(), &d.out)),
                Target::One(_) => None,
            })
            .collect();
        let mut n = 0u64;
        for chunk in sessions.chunks(CHUNK) {
            for h in chunk {
                for (bits, out) in &targets {
                    if bits.contains(h.ordinal.0) {
                        // A full queue closes the session (it resyncs from its cursor): offering
                        // it the later messages could only open a gap before that cursor.
                        if !h.offer(out) {
                            break;
                        }
                        n += 1;
                    }
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
            if h.kick_seq.load(Ordering::SeqCst) < seq {
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
