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
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI64, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use qunfa_core::bus::Target;
use qunfa_core::ids::{AppId, MsgId, Ordinal};

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

/// The hub's side of a session.
///
/// The session task has one waker, shared by everything that can need it: a frame queued, a
/// close asked for. No `Notify` (whose waiter list takes a lock on every wake-up and every
/// wait) and no timer per session: pings and the idle check are the hub's sweep
/// ([`Hub::sweep`]), which queues a ping like any frame.
pub struct SessionHandle {
    pub id: u64,
    pub ordinal: Ordinal,
    /// The account's last kick when it logged in: only later kicks end this session.
    kick_seq: AtomicI64,
    /// The bounded send queue, and whether the hub may write to the socket directly. A plain
    /// `VecDeque` allocates nothing until the first frame (tokio's mpsc allocates a 32-slot
    /// block per channel up front: 1.6 KB per idle client).
    queue: Mutex<Queue>,
    /// The session's socket, once it first parked: the hub writes to it only while `Queue`
    /// says so. Outside the lock so a walk can load it ahead ([`SessionHandle::touch`]).
    socket: OnceLock<Arc<tokio::net::TcpStream>>,
    capacity: usize,
    waker: AtomicWaker,
    /// Non-zero: the close code the session must close with (and `kick_reason` for 4003).
    close_code: AtomicU16,
    kick_reason: RwLock<Option<String>>,
    /// When the client was last heard from, in ms since the hub started.
    heard_ms: AtomicU64,
}

/// A session's send queue, and whether the hub may write to the socket itself.
///
/// While the session task is parked in its live loop with nothing of its own to write, a
/// frame offered to an empty queue is written to the socket by the hub, under this lock: no
/// wake-up, no task poll, one `writev` in the hub's walk (what the ceiling probe does for every
/// connection). Whatever the socket does not take is queued and the session task woken, as
/// before. The session takes the lock and turns direct writes off whenever it runs, so the two
/// never write at once and the frames keep their order.
#[derive(Default)]
struct Queue {
    frames: VecDeque<Outbound>,
    /// The rest of a frame the hub wrote only partly: it goes out before anything else, even
    /// after a close request (a close frame must not cut a frame short).
    tail: Option<Bytes>,
    /// `Some(cursor)`: the session is parked, live, its own buffer empty; messages at or
    /// below `cursor` were already sent by its catch-up.
    direct: Option<MsgId>,
}

/// Frames one direct write gathers at most.
const DIRECT_MAX: usize = 64;

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
        self.waker.wake();
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

    /// Registers the session task to be woken by the next frame or close request. Register,
    /// then look: whatever happens after the registration wakes it.
    pub fn register_waker(&self, cx: &Context<'_>) {
        self.waker.register(cx.waker());
    }

    /// Whether a close was asked for.
    pub fn closing(&self) -> bool {
        self.close_code() != 0
    }

    /// The client was heard from (any frame, a pong included).
    pub fn heard(&self, hub_ms: u64) {
        self.heard_ms.store(hub_ms, Ordering::Relaxed);
    }

    fn offer(&self, out: &Outbound) -> bool {
        self.offer_all(&[out])
    }

    /// Offers `outs` (in order): written to the socket at once when the session is parked
    /// and nothing is queued, else queued. `false`: the queue is full and the session is
    /// closed as too slow (what was not taken is dropped; it resyncs from its cursor).
    fn offer_all(&self, outs: &[&Outbound]) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let mut rest = outs;
        if let (Some(cursor), true) = (q.direct, q.frames.is_empty()) {
            if self.closing() {
                return true;
            }
            let fresh = |o: &Outbound| o.msgid.is_none_or(|id| id > cursor);
            let mut slices = [std::io::IoSlice::new(&[]); DIRECT_MAX];
            let mut k = 0;
            let mut taken = 0;
            for o in rest.iter().take(DIRECT_MAX) {
                taken += 1;
                if fresh(o) {
                    slices[k] = std::io::IoSlice::new(&o.frame);
                    k += 1;
                }
            }
            let written = match (self.socket.get(), k) {
                (_, 0) => 0,
                (Some(sock), _) => super::conn::send_now(sock, &slices[..k]).unwrap_or(0),
                (None, _) => 0,
            };
            // What the socket did not take, in order: the tail of a partly written frame
            // first.
            let mut left = written;
            let mut pending = VecDeque::new();
            for o in rest.iter().take(taken) {
                if !fresh(o) {
                    continue;
                }
                let len = o.frame.len();
                if left >= len {
                    left -= len;
                } else if left > 0 {
                    q.tail = Some(o.frame.slice(left..));
                    left = 0;
                } else {
                    pending.push_back((*o).clone());
                }
            }
            rest = &rest[taken..];
            if q.tail.is_none() && pending.is_empty() && rest.is_empty() {
                return true;
            }
            q.direct = None;
            q.frames = pending;
        }
        for out in rest {
            if q.frames.len() >= self.capacity {
                drop(q);
                self.close(close::TOO_SLOW, None);
                return false;
            }
            q.frames.push_back((*out).clone());
        }
        drop(q);
        self.waker.wake();
        true
    }

    /// The session task runs: the hub stops writing to the socket (until [`Self::park`]).
    pub fn unpark(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).direct = None;
    }

    /// The session task is about to wait with nothing of its own to write: the hub may write
    /// messages above `cursor` to `socket` directly. Does nothing if frames are queued (the
    /// offer that queued them woke the task, which takes them next).
    pub fn park(&self, socket: &Arc<tokio::net::TcpStream>, cursor: MsgId) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.frames.is_empty() && q.tail.is_none() && !self.closing() {
            self.socket.get_or_init(|| socket.clone());
            q.direct = Some(cursor);
        }
    }

    /// The session ends: the hub no longer writes to its socket. Answers the rest of a frame
    /// the hub wrote partly, which must be finished before the close frame.
    pub fn detach(&self) -> Option<Bytes> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.direct = None;
        q.tail.take()
    }

    /// Loads what a direct write reads first (this handle, the socket's descriptor) without
    /// doing anything with it. A walk touches a chunk of sessions this way before writing to
    /// them: the cache misses of the chunk then overlap, instead of coming one after another
    /// between system calls (each write evicts what the last one brought in).
    fn touch(&self) {
        std::hint::black_box((self.ordinal.0, self.socket.get().map(|s| s.as_raw_fd())));
    }

    /// Moves up to `max` queued frames to `out`, skipping messages at or below `cursor`
    /// (already sent by the catch-up); answers how many were taken off the queue, and whether
    /// the first is the rest of a frame the hub wrote partly (it must not be dropped).
    pub fn take(&self, out: &mut VecDeque<Bytes>, max: usize, cursor: MsgId) -> (usize, bool) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let tail = q.tail.take();
        let started = tail.is_some();
        out.extend(tail);
        let n = q.frames.len().min(max);
        for o in q.frames.drain(..n) {
            if o.msgid.is_none_or(|id| id > cursor) {
                out.push_back(o.frame);
            }
        }
        if q.frames.is_empty() && q.frames.capacity() > 4 {
            // A burst is over: give its memory back rather than keep it per idle client.
            q.frames = VecDeque::new();
        }
        (n + usize::from(started), started)
    }

    fn pop(&self) -> Option<Outbound> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let out = q.frames.pop_front();
        if q.frames.is_empty() && q.frames.capacity() > 4 {
            q.frames = VecDeque::new();
        }
        out
    }
}

/// The session's end of its send queue.
pub struct Inbox(Arc<SessionHandle>);

impl Inbox {
    /// The next queued frame, waiting for one; `None` once the session is asked to close.
    pub async fn recv(&mut self) -> Option<Outbound> {
        std::future::poll_fn(|cx| {
            self.0.register_waker(cx);
            if let Some(o) = self.0.pop() {
                return Poll::Ready(Some(o));
            }
            if self.0.closing() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// The session's handle.
    pub fn handle(&self) -> &SessionHandle {
        &self.0
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
            if now.saturating_sub(h.heard_ms.load(Ordering::Relaxed)) > idle {
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
        let handle = Arc::new(SessionHandle {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            ordinal,
            kick_seq: AtomicI64::new(kick_seq),
            queue: Mutex::new(Queue::default()),
            socket: OnceLock::new(),
            capacity: self.queue_frames,
            waker: AtomicWaker::new(),
            close_code: AtomicU16::new(0),
            kick_reason: RwLock::new(None),
            heard_ms: AtomicU64::new(self.now_ms()),
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
