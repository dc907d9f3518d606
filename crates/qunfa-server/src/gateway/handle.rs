//! The hub's side of one session: its bounded send queue, the direct write to a parked
//! session's socket, and the signals (close, kick, heard-from) the hub and the session task
//! share. The hub (`hub.rs`) finds sessions and walks them; this is what it does to each.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI64, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use qunfa_core::ids::{MsgId, Ordinal};

use super::hub::Outbound;
use super::protocol::close;

/// The hub's side of a session.
///
/// The session task has one waker, shared by everything that can need it: a frame queued, a
/// close asked for. No `Notify` (whose waiter list takes a lock on every wake-up and every
/// wait) and no timer per session: pings and the idle check are the hub's sweep
/// ([`super::hub::Hub::sweep`]), which queues a ping like any frame.
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
/// wake-up, no task poll, one `send` in the hub's walk (what the ceiling probe does for every
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
    pub(super) fn new(
        id: u64,
        ordinal: Ordinal,
        kick_seq: i64,
        capacity: usize,
        now_ms: u64,
    ) -> Self {
        SessionHandle {
            id,
            ordinal,
            kick_seq: AtomicI64::new(kick_seq),
            queue: Mutex::new(Queue::default()),
            socket: OnceLock::new(),
            capacity,
            waker: AtomicWaker::new(),
            close_code: AtomicU16::new(0),
            kick_reason: RwLock::new(None),
            heard_ms: AtomicU64::new(now_ms),
        }
    }

    /// The account's last kick when this session logged in.
    pub(super) fn kick_seq(&self) -> i64 {
        self.kick_seq.load(Ordering::SeqCst)
    }

    /// When the client was last heard from (the hub's clock, [`super::hub::Hub::now_ms`]).
    pub(super) fn heard_ms(&self) -> u64 {
        self.heard_ms.load(Ordering::Relaxed)
    }

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

    pub(super) fn offer(&self, out: &Outbound) -> bool {
        self.offer_all(&[out])
    }

    /// Offers `outs` (in order): written to the socket at once when the session is parked
    /// and nothing is queued, else queued. `false`: the queue is full and the session is
    /// closed as too slow (what was not taken is dropped; it resyncs from its cursor).
    pub(super) fn offer_all(&self, outs: &[&Outbound]) -> bool {
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
    pub(super) fn touch(&self) {
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
pub struct Inbox(pub(super) Arc<SessionHandle>);

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
