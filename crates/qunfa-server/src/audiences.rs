//! Recently used message audiences, decoded, so read reports for a big targeted send do not
//! decode its bitmap from the store each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use qunfa_core::Store;
use qunfa_core::audience;
use qunfa_core::store::{StoreError, StoreResult};
use roaring::RoaringBitmap;

const CAPACITY: usize = 256;

#[derive(Default)]
pub struct AudienceCache {
    map: Mutex<HashMap<(i64, i64), Arc<RoaringBitmap>>>,
}

impl AudienceCache {
    pub fn put(&self, app: i64, msgid: i64, bits: Arc<RoaringBitmap>) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= CAPACITY {
            // Crude but bounded: start over; hot messages come back on their next read.
            m.clear();
        }
        m.insert((app, msgid), bits);
    }

    pub async fn get(
        &self,
        store: &dyn Store,
        app: i64,
        msgid: i64,
    ) -> StoreResult<Option<Arc<RoaringBitmap>>> {
        if let Some(b) = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(app, msgid))
        {
            return Ok(Some(b.clone()));
        }
        let Some(blob) = store.message_audience(app, msgid).await? else {
            return Ok(None);
        };
        let bits =
            Arc::new(audience::decode(&blob).map_err(|e| StoreError::Internal(e.to_string()))?);
        self.put(app, msgid, bits.clone());
        Ok(Some(bits))
    }
}
