//! The audience indexes of all apps, following the store.
//!
//! Each app has one [`AudienceIndex`] behind a read-write lock (sends read it) and a
//! watermark: the app's `change_seq` it has applied. Catching up reads the accounts written
//! since then (and the dictionaries when they changed), so the index follows this node's
//! writes and every other node's the same way. Sequence order is commit order, so a catch-up
//! never skips a change that commits late.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use qunfa_core::Store;
use qunfa_core::account::Accid;
use qunfa_core::audience::AudienceIndex;
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::store::{AppHead, IndexEntry, StoreResult};
use tokio::sync::Mutex;

/// What the index has applied.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    change_seq: i64,
    dict_seq: i64,
    /// The highest kick sequence acted on.
    kicks: i64,
}

pub struct AppIndex {
    index: RwLock<AudienceIndex>,
    seen: Mutex<Seen>,
}

impl AppIndex {
    pub fn read(&self) -> RwLockReadGuard<'_, AudienceIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// A kick found while catching up: end `ordinal`'s sessions that logged in before `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kick {
    pub ordinal: Ordinal,
    pub seq: i64,
    pub reason: String,
}

pub struct Indexes {
    store: Arc<dyn Store>,
    system_accid: Accid,
    apps: RwLock<HashMap<AppId, Arc<AppIndex>>>,
    building: Mutex<()>,
}

impl Indexes {
    pub fn new(store: Arc<dyn Store>, system_accid: Accid) -> Self {
        Indexes {
            store,
            system_accid,
            apps: RwLock::new(HashMap::new()),
            building: Mutex::new(()),
        }
    }

    fn cached(&self, app: AppId) -> Option<Arc<AppIndex>> {
        self.apps
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&app)
            .cloned()
    }

    /// The app's index as this node has it, built from the store on first use.
    pub async fn get(&self, app: AppId) -> StoreResult<Arc<AppIndex>> {
        if let Some(ix) = self.cached(app) {
            return Ok(ix);
        }
        let _one_builder = self.building.lock().await;
        if let Some(ix) = self.cached(app) {
            return Ok(ix);
        }
        let ix = Arc::new(self.build(app).await?);
        self.apps
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(app, ix.clone());
        Ok(ix)
    }

    async fn build(&self, app: AppId) -> StoreResult<AppIndex> {
        // The head first: whatever commits while the rest is read has a later sequence and is
        // applied by the next catch-up (applying a change twice is harmless).
        let head = self.store.head(app).await?;
        let mut ix = AudienceIndex::new();
        let areas = self.store.list_areas(app).await?;
        let types = self.store.list_enterptypes(app).await?;
        ix.sync_dictionaries(&areas, &types);
        let entries = self.store.index_entries(app).await?;
        let kicks = entries
            .iter()
            .filter_map(|e| e.kicked.as_ref().map(|(s, _)| *s))
            .max()
            .unwrap_or(0);
        self.apply(&mut ix, &entries);
        Ok(AppIndex {
            index: RwLock::new(ix),
            seen: Mutex::new(Seen {
                change_seq: head.change_seq,
                dict_seq: head.dict_seq,
                kicks,
            }),
        })
    }

    fn apply(&self, ix: &mut AudienceIndex, entries: &[IndexEntry]) {
        for e in entries {
            ix.upsert_account(
                e.ordinal,
                e.accid.as_str(),
                e.areaid.as_deref(),
                e.enterptypeid.as_deref(),
                e.blocked,
            );
            if e.accid == self.system_accid {
                ix.set_system(e.ordinal);
            }
        }
    }

    /// Applies what the store holds beyond the index's watermark, up to `head` (read after
    /// the writes the caller needs to see). Answers the kicks found on the way.
    pub async fn catch_up(&self, head: &AppHead) -> StoreResult<Vec<Kick>> {
        let app = head.app;
        let ix = self.get(app).await?;
        let mut seen = ix.seen.lock().await;
        if head.change_seq <= seen.change_seq {
            return Ok(Vec::new());
        }
        let entries = self.store.account_changes(app, seen.change_seq).await?;
        let unknown_refs = {
            let r = ix.read();
            entries.iter().any(|e| {
                e.areaid.as_deref().is_some_and(|a| !r.knows_area(a))
                    || e.enterptypeid.as_deref().is_some_and(|t| !r.knows_type(t))
            })
        };
        // Read after the accounts: every area or type they name is in it (the store never
        // deletes one in use).
        let dicts = if head.dict_seq > seen.dict_seq || unknown_refs {
            Some((
                self.store.list_areas(app).await?,
                self.store.list_enterptypes(app).await?,
            ))
        } else {
            None
        };
        {
            let mut w = ix.index.write().unwrap_or_else(|e| e.into_inner());
            if let Some((areas, types)) = &dicts {
                w.sync_dictionaries(areas, types);
            }
            self.apply(&mut w, &entries);
        }
        let mut kicks = Vec::new();
        for e in &entries {
            if let Some((seq, reason)) = &e.kicked
                && *seq > seen.kicks
            {
                kicks.push(Kick {
                    ordinal: e.ordinal,
                    seq: *seq,
                    reason: reason.clone(),
                });
            }
        }
        seen.kicks = kicks.iter().map(|k| k.seq).fold(seen.kicks, i64::max);
        seen.change_seq = head.change_seq;
        if dicts.is_some() {
            seen.dict_seq = seen.dict_seq.max(head.dict_seq);
        }
        Ok(kicks)
    }

    /// Builds every app's index (at start, so the first send does not pay for it).
    pub async fn warm(&self, apps: &[AppId]) -> StoreResult<()> {
        for &app in apps {
            self.get(app).await?;
        }
        Ok(())
    }
}
