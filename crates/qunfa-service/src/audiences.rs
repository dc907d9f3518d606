//! Decoded audience bitmaps, recently used, by content hash: read reports, stats and live
//! delivery of messages another node wrote do not decode the same bitmap from the store each
//! time (2,000 sends to one province share one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use qunfa_core::Store;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::store::{StoreResult, internal};
use roaring::RoaringBitmap;

const CAPACITY: usize = 256;

/// An audience's key: the app and its content hash.
type Key = (AppId, [u8; 32]);

#[derive(Default)]
pub struct AudienceCache {
    map: Mutex<HashMap<Key, Arc<RoaringBitmap>>>,
}

impl AudienceCache {
    pub fn put(&self, app: AppId, hash: [u8; 32], bits: Arc<RoaringBitmap>) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= CAPACITY {
            // Crude but bounded: start over; hot audiences come back on their next use.
            m.clear();
        }
        m.insert((app, hash), bits);
    }

    fn cached(&self, app: AppId, hash: &[u8; 32]) -> Option<Arc<RoaringBitmap>> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(app, *hash))
            .cloned()
    }

    /// The audience with this hash.
    pub async fn by_hash(
        &self,
        store: &dyn Store,
        app: AppId,
        hash: [u8; 32],
    ) -> StoreResult<Option<Arc<RoaringBitmap>>> {
        if let Some(b) = self.cached(app, &hash) {
            return Ok(Some(b));
        }
        let Some(blob) = store.audience(app, hash).await? else {
            return Ok(None);
        };
        let bits = Arc::new(audience::decode(&blob).map_err(internal)?);
        self.put(app, hash, bits.clone());
        Ok(Some(bits))
    }

    /// The audience of a stored message, if it has one.
    pub async fn of_message(
        &self,
        store: &dyn Store,
        app: AppId,
        msgid: MsgId,
    ) -> StoreResult<Option<Arc<RoaringBitmap>>> {
        match store
            .message(app, msgid)
            .await?
            .and_then(|m| m.audience_hash)
        {
            Some(hash) => self.by_hash(store, app, hash).await,
            None => Ok(None),
        }
    }
}
