//! The apps (tenants), cached for the auth path and re-read from the store periodically and on
//! bus events, so an app created or disabled by `qunfa app …` (another process, or another
//! node) takes effect without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use qunfa_core::Store;
use qunfa_core::auth::App;
use qunfa_core::ids::AppId;
use qunfa_core::store::StoreResult;

pub struct AppRegistry {
    store: Arc<dyn Store>,
    by_key: RwLock<HashMap<String, Arc<App>>>,
    /// The same apps by id, for the write paths (is this app's traffic copied?).
    by_id: RwLock<HashMap<AppId, Arc<App>>>,
}

impl AppRegistry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppRegistry {
            store,
            by_key: RwLock::new(HashMap::new()),
            by_id: RwLock::new(HashMap::new()),
        }
    }

    /// The app with this id as this node last read it (no store read: `None` for an app this
    /// node has not seen yet).
    pub fn by_id(&self, app: AppId) -> Option<Arc<App>> {
        self.by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&app)
            .cloned()
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
        self.by_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(app.id, app.clone());
        Ok(Some(app))
    }

    /// Replaces the cache with the store's current app table; answers it.
    pub async fn reload(&self) -> StoreResult<Vec<App>> {
        let apps = self.store.list_apps().await?;
        let arcs: Vec<Arc<App>> = apps.iter().map(|a| Arc::new(a.clone())).collect();
        let by_key = arcs.iter().map(|a| (a.appkey.clone(), a.clone())).collect();
        let by_id = arcs.iter().map(|a| (a.id, a.clone())).collect();
        *self.by_key.write().unwrap_or_else(|e| e.into_inner()) = by_key;
        *self.by_id.write().unwrap_or_else(|e| e.into_inner()) = by_id;
        Ok(apps)
    }

    /// Puts an app just written by this node in the cache (its callback settings changed).
    pub fn put(&self, app: App) {
        let app = Arc::new(app);
        self.by_key
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(app.appkey.clone(), app.clone());
        self.by_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(app.id, app);
    }
}
