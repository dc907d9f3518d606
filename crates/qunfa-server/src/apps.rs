//! The apps (tenants) the server knows, cached for the auth path and re-read from the store
//! periodically, so an app created or disabled by `qunfa app …` (another process on the same
//! data directory) takes effect without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

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

    /// Replaces the cache with the store's current app table.
    pub async fn reload(&self) -> StoreResult<()> {
        let apps = self.store.list_apps().await?;
        let map = apps
            .into_iter()
            .map(|a| (a.appkey.clone(), Arc::new(a)))
            .collect();
        *self.by_key.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(())
    }

    /// Reloads every `every` until the returned task is aborted.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.reload().await {
                    tracing::warn!(error = %e, "app table reload failed");
                }
            }
        })
    }
}
