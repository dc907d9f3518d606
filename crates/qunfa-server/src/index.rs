//! The audience indexes of all apps, kept in step with the store.
//!
//! Each app has one [`AudienceIndex`] behind a read-write lock (sends read it) and an async
//! write gate: an account or dictionary write holds the gate across its store commit and the
//! index update, so the index sees changes in commit order and a 200 answer for an account
//! write means later sends see it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use qunfa_core::Store;
use qunfa_core::audience::AudienceIndex;
use qunfa_core::store::StoreResult;
use tokio::sync::{Mutex, MutexGuard};

pub struct AppIndex {
    gate: Mutex<()>,
    index: RwLock<AudienceIndex>,
}

impl AppIndex {
    pub fn read(&self) -> RwLockReadGuard<'_, AudienceIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, AudienceIndex> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Held across a store write and the matching index update.
    pub async fn gate(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().await
    }
}

pub struct Indexes {
    store: Arc<dyn Store>,
    system_accid: String,
    apps: RwLock<HashMap<i64, Arc<AppIndex>>>,
    building: Mutex<()>,
}

impl Indexes {
    pub fn new(store: Arc<dyn Store>, system_accid: &str) -> Self {
        Indexes {
            store,
            system_accid: system_accid.to_owned(),
            apps: RwLock::new(HashMap::new()),
            building: Mutex::new(()),
        }
    }

    /// The app's index, built from the store on first use.
    pub async fn get(&self, app: i64) -> StoreResult<Arc<AppIndex>> {
        if let Some(ix) = self
            .apps
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&app)
        {
            return Ok(ix.clone());
        }
        let _one_builder = self.building.lock().await;
        if let Some(ix) = self
            .apps
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&app)
        {
            return Ok(ix.clone());
        }
        let ix = Arc::new(AppIndex {
            gate: Mutex::new(()),
            index: RwLock::new(self.build(app).await?),
        });
        self.apps
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(app, ix.clone());
        Ok(ix)
    }

    async fn build(&self, app: i64) -> StoreResult<AudienceIndex> {
        let mut ix = AudienceIndex::new();
        let mut areas = self.store.list_areas(app).await?;
        // Parents first, so every child finds its parent.
        let mut placed = std::collections::HashSet::new();
        while !areas.is_empty() {
            let before = areas.len();
            areas.retain(|a| {
                let ready = a.parentid.as_ref().is_none_or(|p| placed.contains(p));
                if ready {
                    ix.add_area(&a.areaid, a.parentid.as_deref());
                    placed.insert(a.areaid.clone());
                }
                !ready
            });
            if areas.len() == before {
                // Unreachable with the store's cycle check; never loop forever.
                for a in areas.drain(..) {
                    ix.add_area(&a.areaid, None);
                }
            }
        }
        for t in self.store.list_enterptypes(app).await? {
            ix.add_type(&t.enterptypeid);
        }
        for e in self.store.index_entries(app).await? {
            ix.upsert_account(
                e.ordinal,
                &e.accid,
                e.areaid.as_deref(),
                e.enterptypeid.as_deref(),
                e.blocked,
            );
        }
        if let Some(o) = ix.ordinal_of(&self.system_accid) {
            ix.set_system(o);
        }
        Ok(ix)
    }

    /// Builds every app's index (at start, so the first send does not pay for it).
    pub async fn warm(&self) -> StoreResult<()> {
        for app in self.store.list_apps().await? {
            self.get(app.id).await?;
        }
        Ok(())
    }
}
