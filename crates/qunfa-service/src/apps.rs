//! The apps (tenants), cached for the auth path and re-read from the store periodically and on
//! bus events, so an app created or disabled by `qunfa app …` (another process, or another
//! node) takes effect without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use qunfa_core::Store;
use qunfa_core::auth::App;
use qunfa_core::store::StoreResult;

pub struct AppRegistry {
    store: Arc<dyn Store>,
    by_key: RwLock<HashMap<String, Arc<App>>>,
}

impl AppRegistry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppRegistry {
            store,
            by_key: RwLock::new(HashMap::new()),
        }
    }

    /// The app with this key: from the cache, else from the store (a new app).
    pub async fn get(&self, appkey: &str) -> StoreResult<Option<Arc<App>>> {
        if let Some(app) = self
            .by_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(appkey)
        {
            return Ok(Some(app.clone()));
        }
        let Some(app) = self.store.app_by_key(appkey).await? else {
            return Ok(None);
        };
        let app = Arc::new(app);
        self.by_key
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(appkey.to_owned(), app.clone());
        Ok(Some(app))
    }

    /// Replaces the cache with the store's current app table; answers it.
    pub async fn reload(&self) -> StoreResult<Vec<App>> {
        let apps = self.store.list_apps().await?;
        let map = apps
            .iter()
            .map(|a| (a.appkey.clone(), Arc::new(a.clone())))
            .collect();
        *self.by_key.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(apps)
    }
}
