//! Delivery cursors and read reports from clients, batched in memory and flushed to the store
//! every `gateway.flush_ms` (and at shutdown): one cursor per account, one reader bitmap per
//! message, so a million reads of one message cost one row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qunfa_core::Store;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::store::StoreResult;
use roaring::RoaringBitmap;

type Cursors = HashMap<AppId, HashMap<Ordinal, MsgId>>;
type Reads = HashMap<AppId, HashMap<MsgId, RoaringBitmap>>;

pub struct Tracker {
    store: Arc<dyn Store>,
    cursors: Mutex<Cursors>,
    reads: Mutex<Reads>,
    /// Serialises flushes so a reader of the store sees every earlier report.
    flushing: tokio::sync::Mutex<()>,
}

impl Tracker {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Tracker {
            store,
            cursors: Mutex::default(),
            reads: Mutex::default(),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn ack(&self, app: AppId, ordinal: Ordinal, cursor: MsgId) {
        let mut c = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        let slot = c.entry(app).or_default().entry(ordinal).or_insert(cursor);
        *slot = (*slot).max(cursor);
    }

    pub fn read(&self, app: AppId, msgid: MsgId, ordinal: Ordinal) {
        let mut r = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        r.entry(app)
            .or_default()
            .entry(msgid)
            .or_default()
            .insert(ordinal.0);
    }

    /// Writes everything reported so far.
    pub async fn flush(&self) -> StoreResult<()> {
        let _one = self.flushing.lock().await;
        let cursors = std::mem::take(&mut *self.cursors.lock().unwrap_or_else(|e| e.into_inner()));
        let reads = std::mem::take(&mut *self.reads.lock().unwrap_or_else(|e| e.into_inner()));
        for (app, per) in cursors {
            let list: Vec<(Ordinal, MsgId)> = per.into_iter().collect();
            if let Err(e) = self.store.save_cursors(app, list.clone()).await {
                // Put them back for the next flush rather than lose them.
                for (o, c) in list {
                    self.ack(app, o, c);
                }
                return Err(e);
            }
        }
        for (app, per) in reads {
            let list: Vec<(MsgId, Vec<u8>)> =
                per.iter().map(|(m, b)| (*m, audience::encode(b))).collect();
            if let Err(e) = self.store.add_reads(app, list).await {
                let mut r = self.reads.lock().unwrap_or_else(|e| e.into_inner());
                for (m, b) in per {
                    *r.entry(app).or_default().entry(m).or_default() |= b;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    pub fn spawn_flusher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.flush().await {
                    tracing::warn!(error = %e, "delivery tracking flush failed; will retry");
                }
            }
        })
    }
}
