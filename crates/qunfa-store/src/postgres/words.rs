//! The app's keyword list, a JSON array; a write moves `words_seq`.

use async_trait::async_trait;
use qunfa_core::ids::AppId;
use qunfa_core::store::{StoreResult, WordStore};

use super::{PgStore, internal, next_change, pg};

#[async_trait]
impl WordStore for PgStore {
    async fn set_words(&self, app: AppId, words: Vec<String>) -> StoreResult<()> {
        let json = serde_json::to_string(&words).map_err(internal)?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let seq = next_change(&tx, app).await?;
        tx.execute(
            "INSERT INTO antispam_words (app_id, words) VALUES ($1, $2) \
             ON CONFLICT (app_id) DO UPDATE SET words = excluded.words",
            &[&app.0, &json],
        )
        .await
        .map_err(pg)?;
        tx.execute(
            "UPDATE apps SET words_seq = $2 WHERE id = $1",
            &[&app.0, &seq],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn words(&self, app: AppId) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT words FROM antispam_words WHERE app_id = $1")
            .await
            .map_err(pg)?;
        match c.query_opt(&st, &[&app.0]).await.map_err(pg)? {
            None => Ok(Vec::new()),
            Some(r) => serde_json::from_str(r.get(0)).map_err(internal),
        }
    }
}
