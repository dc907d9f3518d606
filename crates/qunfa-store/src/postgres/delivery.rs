//! Delivery cursors (one per account, only ever raised) and reader bitmaps (one per message,
//! merged under the row's lock so concurrent readers from several nodes are all kept).

use std::collections::BTreeMap;

use async_trait::async_trait;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::store::{DeliveryStore, StoreResult};

use super::{PgStore, internal, pg};

#[async_trait]
impl DeliveryStore for PgStore {
    async fn save_cursors(&self, app: AppId, cursors: Vec<(Ordinal, MsgId)>) -> StoreResult<()> {
        // One row per ordinal (an upsert may touch a row once), in ordinal order so two
        // concurrent saves lock rows in the same order.
        let mut highest: BTreeMap<i64, i64> = BTreeMap::new();
        for (o, m) in cursors {
            let e = highest.entry(i64::from(o.0)).or_insert(m.0);
            *e = (*e).max(m.0);
        }
        if highest.is_empty() {
            return Ok(());
        }
        let (ordinals, values): (Vec<i64>, Vec<i64>) = highest.into_iter().unzip();
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "INSERT INTO cursors (app_id, ordinal, cursor) \
                 SELECT $1, u.o, u.c FROM UNNEST($2::bigint[], $3::bigint[]) AS u(o, c) \
                 ON CONFLICT (app_id, ordinal) DO UPDATE SET cursor = GREATEST(cursors.cursor, excluded.cursor)",
            )
            .await
            .map_err(pg)?;
        c.execute(&st, &[&app.0, &ordinals, &values])
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn delivered(&self, app: AppId, msgid: MsgId) -> StoreResult<Vec<Ordinal>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT ordinal FROM cursors WHERE app_id = $1 AND cursor >= $2")
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[&app.0, &msgid.0]).await.map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| Ordinal(r.get::<_, i64>(0) as u32))
            .collect())
    }

    async fn add_reads(&self, app: AppId, reads: Vec<(MsgId, Vec<u8>)>) -> StoreResult<()> {
        let mut merged: BTreeMap<i64, roaring::RoaringBitmap> = BTreeMap::new();
        for (msgid, blob) in &reads {
            *merged.entry(msgid.0).or_default() |= audience::decode(blob).map_err(internal)?;
        }
        if merged.is_empty() {
            return Ok(());
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO reads (app_id, msgid, readers) VALUES ($1, $2, $3) \
                 ON CONFLICT (app_id, msgid) DO NOTHING",
            )
            .await
            .map_err(pg)?;
        let lock = tx
            .prepare_cached("SELECT readers FROM reads WHERE app_id = $1 AND msgid = $2 FOR UPDATE")
            .await
            .map_err(pg)?;
        let update = tx
            .prepare_cached("UPDATE reads SET readers = $3 WHERE app_id = $1 AND msgid = $2")
            .await
            .map_err(pg)?;
        for (msgid, mut bits) in merged {
            let blob = audience::encode(&bits);
            if tx
                .execute(&insert, &[&app.0, &msgid, &blob])
                .await
                .map_err(pg)?
                == 1
            {
                continue;
            }
            let old: Vec<u8> = tx
                .query_one(&lock, &[&app.0, &msgid])
                .await
                .map_err(pg)?
                .get(0);
            bits |= audience::decode(&old).map_err(internal)?;
            tx.execute(&update, &[&app.0, &msgid, &audience::encode(&bits)])
                .await
                .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn readers(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Vec<u8>>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT readers FROM reads WHERE app_id = $1 AND msgid = $2")
            .await
            .map_err(pg)?;
        let row = c.query_opt(&st, &[&app.0, &msgid.0]).await.map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn cursors_from(&self, app: AppId, msgid: MsgId) -> StoreResult<Vec<(Ordinal, MsgId)>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT ordinal, cursor FROM cursors WHERE app_id = $1 AND cursor >= $2",
            )
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[&app.0, &msgid.0]).await.map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| (Ordinal(r.get::<_, i64>(0) as u32), MsgId(r.get(1))))
            .collect())
    }
}
