//! The SQLite backend as a migration source (`qunfa migrate` from a data directory).

use async_trait::async_trait;
use qunfa_core::account::{Accid, Profile};
use qunfa_core::dict::{Area, Enterptype};
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::Message;
use qunfa_core::store::{AppStore, DictStore, StoreResult, WordStore};
use qunfa_core::team::{Application, Tid};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::conn::internal;
use crate::transfer::{AccountRow, AppRow, AudienceRow, Counts, Source, TeamRows};

fn hash32(v: Vec<u8>) -> StoreResult<[u8; 32]> {
    <[u8; 32]>::try_from(v.as_slice()).map_err(|_| internal("a stored hash is not 32 bytes"))
}

#[async_trait]
impl Source for SqliteStore {
    async fn deployment_id(&self) -> StoreResult<String> {
        SqliteStore::deployment_id(self).await
    }

    async fn app_rows(&self) -> StoreResult<Vec<AppRow>> {
        let apps = self.list_apps().await?;
        let heads = self.heads().await?;
        let counters: Vec<(i64, u32)> = self
            .db
            .read(|c| {
                let mut st = c
                    .prepare("SELECT id, next_ordinal FROM apps ORDER BY id")
                    .map_err(internal)?;
                let rows = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await?;
        let mut out = Vec::with_capacity(apps.len());
        for app in apps {
            let head = heads
                .iter()
                .find(|h| h.app == app.id)
                .ok_or_else(|| internal(format!("app {} has no head", app.id)))?;
            let next_ordinal = counters
                .iter()
                .find(|(id, _)| *id == app.id.0)
                .map_or(0, |(_, n)| *n);
            out.push(AppRow {
                next_ordinal,
                change_seq: head.change_seq,
                dict_seq: head.dict_seq,
                words_seq: head.words_seq,
                last_msgid: head.last_msgid,
                app,
            });
        }
        Ok(out)
    }

    async fn areas(&self, app: AppId) -> StoreResult<Vec<Area>> {
        self.list_areas(app).await
    }

    async fn enterptypes(&self, app: AppId) -> StoreResult<Vec<Enterptype>> {
        self.list_enterptypes(app).await
    }

    async fn words(&self, app: AppId) -> StoreResult<Vec<String>> {
        WordStore::words(self, app).await
    }

    async fn account_rows(
        &self,
        app: AppId,
        after: Option<Ordinal>,
        limit: usize,
    ) -> StoreResult<Vec<AccountRow>> {
        let after = after.map_or(-1, |o| i64::from(o.0));
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT ordinal, accid, token_hash, name, icon, sign, email, birth, mobile, gender, ex, props, \
                         areaid, enterptypeid, blocked, created_ms, seq, kick_seq, kick_reason \
                         FROM accounts WHERE app_id = ?1 AND ordinal > ?2 ORDER BY ordinal LIMIT ?3",
                    )
                    .map_err(internal)?;
                let mut rows = st.query(params![app.0, after, limit as i64]).map_err(internal)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(internal)? {
                    let g = |i: usize| r.get::<_, Option<String>>(i).map_err(internal);
                    out.push(AccountRow {
                        ordinal: Ordinal(r.get(0).map_err(internal)?),
                        accid: Accid::from_stored(r.get(1).map_err(internal)?),
                        token_hash: hash32(r.get(2).map_err(internal)?)?,
                        profile: Profile {
                            name: g(3)?,
                            icon: g(4)?,
                            sign: g(5)?,
                            email: g(6)?,
                            birth: g(7)?,
                            mobile: g(8)?,
                            gender: Some(r.get(9).map_err(internal)?),
                            ex: g(10)?,
                            props: g(11)?,
                            areaid: g(12)?,
                            enterptypeid: g(13)?,
                        },
                        blocked: r.get(14).map_err(internal)?,
                        created_ms: r.get(15).map_err(internal)?,
                        seq: r.get(16).map_err(internal)?,
                        kick_seq: r.get(17).map_err(internal)?,
                        kick_reason: g(18)?,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn audience_rows(
        &self,
        app: AppId,
        after: Option<[u8; 32]>,
        limit: usize,
    ) -> StoreResult<Vec<AudienceRow>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT hash, bits FROM audiences WHERE app_id = ?1 AND hash > ?2 ORDER BY hash LIMIT ?3",
                    )
                    .map_err(internal)?;
                let after: Vec<u8> = after.map_or_else(Vec::new, |h| h.to_vec());
                let rows = st
                    .query_map(params![app.0, after, limit as i64], |r| {
                        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })
                    .map_err(internal)?;
                let mut out = Vec::new();
                for row in rows {
                    let (hash, bits) = row.map_err(internal)?;
                    out.push(AudienceRow {
                        hash: hash32(hash)?,
                        bits,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn message_rows(
        &self,
        app: AppId,
        after: MsgId,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| {
                let sql = format!(
                    "SELECT {} FROM messages WHERE app_id = ?1 AND msgid > ?2 ORDER BY msgid LIMIT ?3",
                    super::messages::COLS
                );
                let mut st = c.prepare_cached(&sql).map_err(internal)?;
                let rows = st
                    .query_map(params![app.0, after.0, limit as i64], super::messages::row)
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn cursor_rows(
        &self,
        app: AppId,
        after: Option<Ordinal>,
        limit: usize,
    ) -> StoreResult<Vec<(Ordinal, MsgId)>> {
        let after = after.map_or(-1, |o| i64::from(o.0));
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT ordinal, cursor FROM cursors WHERE app_id = ?1 AND ordinal > ?2 ORDER BY ordinal LIMIT ?3",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map(params![app.0, after, limit as i64], |r| {
                        Ok((Ordinal(r.get(0)?), MsgId(r.get(1)?)))
                    })
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn read_rows(
        &self,
        app: AppId,
        after: MsgId,
        limit: usize,
    ) -> StoreResult<Vec<(MsgId, Vec<u8>)>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT msgid, readers FROM reads WHERE app_id = ?1 AND msgid > ?2 ORDER BY msgid LIMIT ?3",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map(params![app.0, after.0, limit as i64], |r| {
                        Ok((MsgId(r.get(0)?), r.get(1)?))
                    })
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn team_rows(&self, app: AppId) -> StoreResult<TeamRows> {
        use super::teams::{
            INVITE_COLS, MEMBER_COLS, TEAM_COLS, invitation_row, list, member_row, team_row,
        };
        self.db
            .read(move |c| {
                let next_tid = c
                    .query_row(
                        "SELECT next_tid FROM team_seqs WHERE app_id = ?1",
                        [app.0],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(internal)?;
                let teams = list(
                    c,
                    &format!("SELECT {TEAM_COLS}, seq FROM teams WHERE app_id = ?1 ORDER BY tid"),
                    [app.0],
                    |r| Ok((team_row(r)?, r.get(21)?)),
                )?;
                let members = list(
                    c,
                    &format!(
                        "SELECT {MEMBER_COLS}, seq FROM team_members WHERE app_id = ?1 ORDER BY tid, ordinal"
                    ),
                    [app.0],
                    |r| Ok((Tid(r.get(9)?), member_row(r)?, r.get(10)?, r.get(11)?)),
                )?;
                let periods = list(
                    c,
                    "SELECT tid, ordinal, join_msgid, leave_msgid FROM team_periods WHERE app_id = ?1 \
                     ORDER BY tid, ordinal, join_msgid",
                    [app.0],
                    |r| {
                        Ok((
                            Tid(r.get(0)?),
                            Ordinal(r.get(1)?),
                            MsgId(r.get(2)?),
                            r.get::<_, Option<i64>>(3)?.map(MsgId),
                        ))
                    },
                )?;
                let invites = list(
                    c,
                    &format!(
                        "SELECT {INVITE_COLS} FROM team_invites WHERE app_id = ?1 ORDER BY tid, ordinal"
                    ),
                    [app.0],
                    invitation_row,
                )?;
                let applies = list(
                    c,
                    "SELECT tid, ordinal, accid, msg, time_ms FROM team_applies WHERE app_id = ?1 \
                     ORDER BY tid, ordinal",
                    [app.0],
                    |r| {
                        Ok(Application {
                            tid: Tid(r.get(0)?),
                            ordinal: Ordinal(r.get(1)?),
                            accid: Accid::from_stored(r.get(2)?),
                            msg: r.get(3)?,
                            time_ms: r.get(4)?,
                        })
                    },
                )?;
                Ok(TeamRows {
                    next_tid,
                    teams,
                    members,
                    periods,
                    invites,
                    applies,
                })
            })
            .await
    }

    async fn callback_rows(
        &self,
        app: AppId,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<qunfa_core::callback::CallbackEvent>> {
        super::callbacks::rows(self, app, after, limit).await
    }

    async fn counts(&self, app: AppId) -> StoreResult<Counts> {
        let words = WordStore::words(self, app).await?.len() as u64;
        self.db
            .read(move |c| {
                let n = |table: &str| -> StoreResult<u64> {
                    c.query_row(
                        &format!("SELECT count(*) FROM {table} WHERE app_id = ?1"),
                        [app.0],
                        |r| r.get::<_, i64>(0),
                    )
                    .map(|n| n as u64)
                    .map_err(internal)
                };
                Ok(Counts {
                    accounts: n("accounts")?,
                    areas: n("areas")?,
                    enterptypes: n("enterptypes")?,
                    words,
                    audiences: n("audiences")?,
                    messages: n("messages")?,
                    cursors: n("cursors")?,
                    reads: n("reads")?,
                    team_rows: n("teams")?
                        + n("team_members")?
                        + n("team_periods")?
                        + n("team_invites")?
                        + n("team_applies")?,
                    callback_events: n("callback_events")?,
                })
            })
            .await
    }
}
