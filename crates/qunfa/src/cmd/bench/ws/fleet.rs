//! The fan-out clients: the counters they all update (and the sender waits on), one client's
//! receive loop, and the fleet of client tasks on their own runtime.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use roaring::RoaringBitmap;
use tokio::sync::{Notify, watch};
use tokio_tungstenite::tungstenite::Message;

use super::{Ws, msgid_of, sent_at};

/// What every client task updates.
pub(super) struct Shared {
    pub(super) base: Instant,
    /// msgids are kept relative to this (the cursor the clients logged in with).
    pub(super) cursor: i64,
    pub(super) deliveries: AtomicU64,
    pub(super) online: AtomicUsize,
    /// Wake the sender once `deliveries` reaches this.
    pub(super) want: AtomicU64,
    pub(super) progress: Notify,
    /// Latency phase: frames with a msgid above this are timed (`i64::MAX`: none).
    pub(super) floor: AtomicI64,
    pub(super) round_count: AtomicUsize,
    pub(super) round_first_ns: AtomicU64,
    pub(super) round_last_ns: AtomicU64,
    /// How connections the server ended were ended.
    pub(super) ended: Mutex<BTreeMap<String, usize>>,
    /// Delivery latencies (ns) of timed sends, recorded by one client in `SAMPLE_EVERY`.
    pub(super) latencies: Mutex<Vec<u64>>,
}

/// One client in this many times the deliveries of timed sends.
pub(super) const SAMPLE_EVERY: usize = 64;

impl Shared {
    fn on_msgid(&self, id: i64) {
        let n = self.deliveries.fetch_add(1, Ordering::Relaxed) + 1;
        if id > self.floor.load(Ordering::Relaxed) {
            let ns = self.base.elapsed().as_nanos() as u64;
            self.round_first_ns.fetch_min(ns, Ordering::Relaxed);
            self.round_last_ns.fetch_max(ns, Ordering::Relaxed);
            self.round_count.fetch_add(1, Ordering::Relaxed);
        }
        if n >= self.want.load(Ordering::Relaxed) {
            self.progress.notify_one();
        }
    }

    fn ended(&self, how: String) {
        self.online.fetch_sub(1, Ordering::Relaxed);
        *self
            .ended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(how)
            .or_default() += 1;
        self.progress.notify_one();
    }

    /// Waits until `deliveries` reaches `n`, or nothing arrived for `quiet`. Answers whether
    /// it was reached.
    pub(super) async fn wait_deliveries(&self, n: u64, quiet: Duration) -> bool {
        self.want.store(n, Ordering::Relaxed);
        let mut last = self.deliveries.load(Ordering::Relaxed);
        loop {
            let notified = self.progress.notified();
            let now = self.deliveries.load(Ordering::Relaxed);
            if now >= n {
                self.want.store(u64::MAX, Ordering::Relaxed);
                return true;
            }
            if tokio::time::timeout(quiet, notified).await.is_err() {
                let now = self.deliveries.load(Ordering::Relaxed);
                if now == last {
                    self.want.store(u64::MAX, Ordering::Relaxed);
                    return false;
                }
                last = now;
            }
        }
    }
}

/// What one client saw, handed back when it stops.
#[derive(Default)]
pub(super) struct Seen {
    /// msgids − cursor.
    pub(super) ids: RoaringBitmap,
    pub(super) duplicates: u64,
}

/// One client after login: counts and records every msgid until told to stop.
pub(super) async fn receive(
    mut ws: Ws,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    sampled: bool,
) -> Seen {
    let mut seen = Seen::default();
    loop {
        tokio::select! {
            biased;
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    if let Some(id) = msgid_of(t.as_str()) {
                        shared.on_msgid(id);
                        if sampled && let Some(at) = sent_at(t.as_str()) {
                            let now = shared.base.elapsed().as_nanos() as u64;
                            shared
                                .latencies
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(now.saturating_sub(at));
                        }
                        let rel = u32::try_from(id - shared.cursor).unwrap_or(0);
                        if !seen.ids.insert(rel) {
                            seen.duplicates += 1;
                        }
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    let how = f.map_or("close without code".into(), |f| format!("close {} {}", u16::from(f.code), f.reason));
                    shared.ended(how);
                    return seen;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    shared.ended(format!("error: {e}"));
                    return seen;
                }
                None => {
                    shared.ended("connection ended".into());
                    return seen;
                }
            },
            _ = stop.changed() => return seen,
        }
    }
}

/// The clients: their runtime, their tasks, and the switch that stops them.
pub(super) struct Fleet {
    pub(super) runtime: tokio::runtime::Runtime,
    /// `None` from a client that never logged in.
    pub(super) tasks: Vec<tokio::task::JoinHandle<Option<Seen>>>,
    pub(super) stop: watch::Sender<bool>,
}

impl Fleet {
    pub(super) async fn stop(self) -> Vec<Seen> {
        let _ = self.stop.send(true);
        let mut out = Vec::with_capacity(self.tasks.len());
        for t in self.tasks {
            if let Ok(Some(seen)) = t.await {
                out.push(seen);
            }
        }
        self.runtime.shutdown_background();
        out
    }
}
