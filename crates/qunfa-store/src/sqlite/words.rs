//! The app's keyword list.

use async_trait::async_trait;
use qunfa_core::ids::AppId;
use qunfa_core::store::{StoreResult, WordStore};
use rusqlite::{OptionalExtension, params};

use super::conn::internal;
use super::{SqliteStore, next_change};

#[async_trait]
impl WordStore for SqliteStore {
    async fn set_words(&self, app: AppId, words: Vec<String>) -> StoreResult<()> {
        self.db
            .write(move |c| {
                let json = serde_json::to_string(&words).map_err(internal)?;
                c.execute(
                    "INSERT INTO antispam_words (app_id, words) VALUES (?1, ?2) \
                     ON CONFLICT (app_id) DO UPDATE SET words = excluded.words",
                    params![app.0, json],
                )
                .map_err(internal)?;
                let seq = next_change(c, app)?;
                c.execute(
                    "UPDATE apps SET words_seq = ?2 WHERE id = ?1",
                    params![app.0, seq],
                )
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn words(&self, app: AppId) -> StoreResult<Vec<String>> {
        self.db
            .read(move |c| {
                let json: Option<String> = c
                    .query_row(
                        "SELECT words FROM antispam_words WHERE app_id = ?1",
                        [app.0],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(internal)?;
                match json {
                    None => Ok(Vec::new()),
                    Some(j) => serde_json::from_str(&j).map_err(internal),
                }
            })
            .await
    }
}
