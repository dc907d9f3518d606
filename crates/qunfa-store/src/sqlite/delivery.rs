//! Delivery cursors and reader bitmaps.

use async_trait::async_trait;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::store::{DeliveryStore, StoreResult};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::conn::internal;

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn save_cursors(&self, app: AppId, cursors: Vec<(Ordinal, MsgId)>) -> StoreResult<()> {
        self.db
            .write(move |c| {
                let mut st = c
                    .prepare_cached(
                        "INSERT INTO cursors (app_id, ordinal, cursor) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (app_id, ordinal) DO UPDATE SET cursor = max(cursor, excluded.cursor)",
                    )
                    .map_err(internal)?;
                for (o, cur) in &cursors {
                    st.execute(params![app.0, o.0, cur.0]).map_err(internal)?;
                }
                Ok(())
            })
            .await
    }

    async fn delivered(&self, app: AppId, msgid: MsgId) -> StoreResult<Vec<Ordinal>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT ordinal FROM cursors WHERE app_id = ?1 AND cursor >= ?2",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map(params![app.0, msgid.0], |r| r.get(0).map(Ordinal))
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn add_reads(&self, app: AppId, reads: Vec<(MsgId, Vec<u8>)>) -> StoreResult<()> {
        self.db
            .write(move |c| {
                for (msgid, blob) in &reads {
                    let old: Option<Vec<u8>> = c
                        .query_row(
                            "SELECT readers FROM reads WHERE app_id = ?1 AND msgid = ?2",
                            params![app.0, msgid.0],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(internal)?;
                    let mut bits = audience::decode(blob).map_err(internal)?;
                    if let Some(old) = old {
                        bits |= audience::decode(&old).map_err(internal)?;
                    }
                    c.execute(
                        "INSERT INTO reads (app_id, msgid, readers) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (app_id, msgid) DO UPDATE SET readers = excluded.readers",
                        params![app.0, msgid.0, audience::encode(&bits)],
                    )
                    .map_err(internal)?;
                }
                Ok(())
            })
            .await
    }

    async fn readers(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Vec<u8>>> {
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT readers FROM reads WHERE app_id = ?1 AND msgid = ?2",
                    params![app.0, msgid.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(internal)
            })
            .await
    }

    async fn cursors_from(&self, app: AppId, msgid: MsgId) -> StoreResult<Vec<(Ordinal, MsgId)>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT ordinal, cursor FROM cursors WHERE app_id = ?1 AND cursor >= ?2",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map(params![app.0, msgid.0], |r| {
                        Ok((Ordinal(r.get(0)?), MsgId(r.get(1)?)))
                    })
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }
}
