//! PostgreSQL as a migration target (`qunfa migrate --to postgres://…`): rows written with
//! the source's ids, `ON CONFLICT DO NOTHING`, in multi-row inserts; counters raised to the
//! source's at the end of each app.

use async_trait::async_trait;
use qunfa_core::dict::{Area, Enterptype};
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::Message;
use qunfa_core::store::StoreResult;
use tokio_postgres::types::ToSql;

use super::{PgStore, internal, pg};
use crate::transfer::{AccountRow, AppRow, AudienceRow, Claim, Counts, Sink, TeamRows};

const MIGRATED_FROM: &str = "migrated_from";

impl PgStore {
    async fn exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let c = self.client().await?;
        let st = c.prepare_cached(sql).await.map_err(pg)?;
        c.execute(&st, params).await.map_err(pg)
    }

    async fn count(&self, sql: &str, app: AppId) -> StoreResult<u64> {
        let c = self.client().await?;
        let row = c.query_one(sql, &[&app.0]).await.map_err(pg)?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}

fn opt_i64(v: Option<MsgId>) -> Option<i64> {
    v.map(|m| m.0)
}

#[async_trait]
impl Sink for PgStore {
    async fn claim(&self, source_id: &str) -> StoreResult<Claim> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        tx.execute("LOCK TABLE meta IN EXCLUSIVE MODE", &[])
            .await
            .map_err(pg)?;
        let from: Option<String> = tx
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&MIGRATED_FROM])
            .await
            .map_err(pg)?
            .map(|r| r.get(0));
        let claim = match from {
            Some(f) if f == source_id => Claim::Resume,
            Some(f) => Claim::Refused(format!("data migrated from another deployment, {f}")),
            None => {
                let apps: i64 = tx
                    .query_one("SELECT count(*) FROM apps", &[])
                    .await
                    .map_err(pg)?
                    .get(0);
                if apps > 0 {
                    Claim::Refused(format!("{apps} app(s) of its own"))
                } else {
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES ($1, $2)",
                        &[&MIGRATED_FROM, &source_id],
                    )
                    .await
                    .map_err(pg)?;
                    Claim::Fresh
                }
            }
        };
        tx.commit().await.map_err(pg)?;
        Ok(claim)
    }

    async fn put_app(&self, row: &AppRow) -> StoreResult<()> {
        let a = &row.app;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        tx.execute(
            "INSERT INTO apps (id, appkey, secret, name, disabled, created_ms, callback_url, callback_events, \
             pre_send_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            &[
                &a.id.0,
                &a.appkey,
                &a.secret,
                &a.name,
                &a.disabled,
                &a.created_ms,
                &a.callbacks.url,
                &a.callbacks.events.as_list(),
                &a.callbacks.pre_send_url,
            ],
        )
        .await
        .map_err(pg)?;
        tx.execute(
            "INSERT INTO msg_seqs (app_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&a.id.0],
        )
        .await
        .map_err(pg)?;
        // Apps created later through the API must not take a migrated id.
        tx.execute(
            "SELECT setval(pg_get_serial_sequence('apps', 'id'), (SELECT max(id) FROM apps))",
            &[],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn put_dictionaries(
        &self,
        app: AppId,
        areas: &[Area],
        types: &[Enterptype],
        words: &[String],
    ) -> StoreResult<()> {
        let ids: Vec<&str> = areas.iter().map(|a| a.areaid.as_str()).collect();
        let names: Vec<&str> = areas.iter().map(|a| a.name.as_str()).collect();
        let parents: Vec<Option<&str>> = areas.iter().map(|a| a.parentid.as_deref()).collect();
        self.exec(
            "INSERT INTO areas (app_id, areaid, name, parentid) \
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING",
            &[&app.0, &ids, &names, &parents],
        )
        .await?;
        let ids: Vec<&str> = types.iter().map(|t| t.enterptypeid.as_str()).collect();
        let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
        self.exec(
            "INSERT INTO enterptypes (app_id, enterptypeid, name) \
             SELECT $1, * FROM UNNEST($2::text[], $3::text[]) ON CONFLICT DO NOTHING",
            &[&app.0, &ids, &names],
        )
        .await?;
        if !words.is_empty() {
            let json = serde_json::to_string(words).map_err(internal)?;
            self.exec(
                "INSERT INTO antispam_words (app_id, words) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&app.0, &json],
            )
            .await?;
        }
        Ok(())
    }

    async fn put_accounts(&self, app: AppId, rows: &[AccountRow]) -> StoreResult<()> {
        let col = |f: fn(&AccountRow) -> Option<&str>| -> Vec<Option<&str>> {
            rows.iter().map(f).collect()
        };
        let ordinals: Vec<i64> = rows.iter().map(|r| i64::from(r.ordinal.0)).collect();
        let accids: Vec<&str> = rows.iter().map(|r| r.accid.as_str()).collect();
        let hashes: Vec<&[u8]> = rows.iter().map(|r| &r.token_hash[..]).collect();
        let genders: Vec<i16> = rows
            .iter()
            .map(|r| i16::from(r.profile.gender.unwrap_or(0)))
            .collect();
        let blocked: Vec<bool> = rows.iter().map(|r| r.blocked).collect();
        let created: Vec<i64> = rows.iter().map(|r| r.created_ms).collect();
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let kick_seqs: Vec<i64> = rows.iter().map(|r| r.kick_seq).collect();
        let (name, icon, sign, email) = (
            col(|r| r.profile.name.as_deref()),
            col(|r| r.profile.icon.as_deref()),
            col(|r| r.profile.sign.as_deref()),
            col(|r| r.profile.email.as_deref()),
        );
        let (birth, mobile, ex, props) = (
            col(|r| r.profile.birth.as_deref()),
            col(|r| r.profile.mobile.as_deref()),
            col(|r| r.profile.ex.as_deref()),
            col(|r| r.profile.props.as_deref()),
        );
        let (areaid, etype, reason) = (
            col(|r| r.profile.areaid.as_deref()),
            col(|r| r.profile.enterptypeid.as_deref()),
            col(|r| r.kick_reason.as_deref()),
        );
        self.exec(
            "INSERT INTO accounts (app_id, ordinal, accid, token_hash, name, icon, sign, email, birth, mobile, gender, \
             ex, props, areaid, enterptypeid, blocked, created_ms, seq, kick_seq, kick_reason) \
             SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[], \
             $8::text[], $9::text[], $10::text[], $11::smallint[], $12::text[], $13::text[], $14::text[], $15::text[], \
             $16::bool[], $17::bigint[], $18::bigint[], $19::bigint[], $20::text[]) ON CONFLICT DO NOTHING",
            &[
                &app.0, &ordinals, &accids, &hashes, &name, &icon, &sign, &email, &birth, &mobile, &genders, &ex,
                &props, &areaid, &etype, &blocked, &created, &seqs, &kick_seqs, &reason,
            ],
        )
        .await?;
        Ok(())
    }

    async fn put_audiences(&self, app: AppId, rows: &[AudienceRow]) -> StoreResult<()> {
        let hashes: Vec<&[u8]> = rows.iter().map(|r| &r.hash[..]).collect();
        let bits: Vec<&[u8]> = rows.iter().map(|r| r.bits.as_slice()).collect();
        self.exec(
            "INSERT INTO audiences (app_id, hash, bits) SELECT $1, * FROM UNNEST($2::bytea[], $3::bytea[]) \
             ON CONFLICT DO NOTHING",
            &[&app.0, &hashes, &bits],
        )
        .await?;
        Ok(())
    }

    async fn put_messages(&self, app: AppId, rows: &[Message]) -> StoreResult<()> {
        let msgids: Vec<i64> = rows.iter().map(|m| m.msgid.0).collect();
        let kinds: Vec<i16> = rows.iter().map(|m| m.kind.as_i64() as i16).collect();
        let froms: Vec<&str> = rows.iter().map(|m| m.from.as_str()).collect();
        let tos: Vec<Option<&str>> = rows
            .iter()
            .map(|m| m.to.as_ref().map(|a| a.as_str()))
            .collect();
        let to_ords: Vec<Option<i64>> = rows
            .iter()
            .map(|m| m.to_ordinal.map(|o| i64::from(o.0)))
            .collect();
        let types: Vec<i32> = rows.iter().map(|m| i32::from(m.msg_type)).collect();
        let bodies: Vec<&str> = rows.iter().map(|m| m.body.as_str()).collect();
        let exts: Vec<Option<&str>> = rows.iter().map(|m| m.ext.as_deref()).collect();
        let extras: Vec<Option<&str>> = rows.iter().map(|m| m.extra.as_deref()).collect();
        let clients: Vec<Option<&str>> = rows.iter().map(|m| m.msgidclient.as_deref()).collect();
        let timetags: Vec<i64> = rows.iter().map(|m| m.timetag).collect();
        let antispam: Vec<bool> = rows.iter().map(|m| m.antispam).collect();
        let mark_read: Vec<bool> = rows.iter().map(|m| m.mark_read).collect();
        let recipients: Vec<i64> = rows.iter().map(|m| m.recipients as i64).collect();
        let hashes: Vec<Option<&[u8]>> = rows
            .iter()
            .map(|m| m.audience_hash.as_ref().map(|h| &h[..]))
            .collect();
        let selections: Vec<Option<&str>> = rows.iter().map(|m| m.selection.as_deref()).collect();
        let offline: Vec<bool> = rows.iter().map(|m| m.offline).collect();
        let expires: Vec<Option<i64>> = rows.iter().map(|m| m.expire_ms).collect();
        let refs: Vec<Option<i64>> = rows.iter().map(|m| opt_i64(m.ref_msgid)).collect();
        let recalled: Vec<Option<i64>> = rows.iter().map(|m| m.recalled_ms).collect();
        let deleted: Vec<bool> = rows.iter().map(|m| m.deleted).collect();
        let tids: Vec<Option<i64>> = rows.iter().map(|m| m.tid.map(|t| t.0)).collect();
        let from_ords: Vec<Option<i64>> = rows
            .iter()
            .map(|m| m.from_ordinal.map(|o| i64::from(o.0)))
            .collect();
        self.exec(
            "INSERT INTO messages (app_id, msgid, kind, from_accid, to_accid, to_ordinal, msg_type, body, ext, extra, \
             msgidclient, timetag, antispam, mark_read, recipients, audience_hash, selection, offline, expire_ms, \
             ref_msgid, recalled_ms, deleted, tid, from_ordinal) \
             SELECT $1, * FROM UNNEST($2::bigint[], $3::smallint[], $4::text[], $5::text[], $6::bigint[], $7::int[], \
             $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bool[], $14::bool[], $15::bigint[], \
             $16::bytea[], $17::text[], $18::bool[], $19::bigint[], $20::bigint[], $21::bigint[], $22::bool[], \
             $23::bigint[], $24::bigint[]) \
             ON CONFLICT DO NOTHING",
            &[
                &app.0, &msgids, &kinds, &froms, &tos, &to_ords, &types, &bodies, &exts, &extras, &clients,
                &timetags, &antispam, &mark_read, &recipients, &hashes, &selections, &offline, &expires, &refs,
                &recalled, &deleted, &tids, &from_ords,
            ],
        )
        .await?;
        Ok(())
    }

    async fn put_cursors(&self, app: AppId, rows: &[(Ordinal, MsgId)]) -> StoreResult<()> {
        let ords: Vec<i64> = rows.iter().map(|(o, _)| i64::from(o.0)).collect();
        let curs: Vec<i64> = rows.iter().map(|(_, m)| m.0).collect();
        self.exec(
            "INSERT INTO cursors (app_id, ordinal, cursor) SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[]) \
             ON CONFLICT DO NOTHING",
            &[&app.0, &ords, &curs],
        )
        .await?;
        Ok(())
    }

    async fn put_teams(&self, app: AppId, rows: &TeamRows) -> StoreResult<()> {
        if let Some(next) = rows.next_tid {
            self.exec(
                "INSERT INTO team_seqs (app_id, next_tid) VALUES ($1, $2) \
                 ON CONFLICT (app_id) DO UPDATE SET next_tid = GREATEST(team_seqs.next_tid, excluded.next_tid)",
                &[&app.0, &next],
            )
            .await?;
        }
        for (t, seq) in &rows.teams {
            let small = |v: u8| i16::from(v);
            self.exec(
                "INSERT INTO teams (app_id, tid, tname, owner, icon, announcement, intro, custom, client_custom, \
                 joinmode, beinvitemode, invitemode, uptinfomode, upcustommode, max_users, mute_type, \
                 notify_close_online, notify_close_persistent, created_ms, updated_ms, dismissed, version, seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
                 $21, $22, $23) ON CONFLICT DO NOTHING",
                &[
                    &app.0,
                    &t.tid.0,
                    &t.tname,
                    &t.owner.as_str(),
                    &t.icon,
                    &t.announcement,
                    &t.intro,
                    &t.custom,
                    &t.client_custom,
                    &small(t.joinmode),
                    &small(t.beinvitemode),
                    &small(t.invitemode),
                    &small(t.uptinfomode),
                    &small(t.upcustommode),
                    &i64::from(t.max_users),
                    &small(t.mute_type),
                    &t.notify_close_online,
                    &t.notify_close_persistent,
                    &t.created_ms,
                    &t.updated_ms,
                    &t.dismissed,
                    &t.version,
                    seq,
                ],
            )
            .await?;
        }
        for chunk in rows.members.chunks(5000) {
            let col = |f: fn(
                &(qunfa_core::team::Tid, qunfa_core::team::Member, bool, i64),
            ) -> i64|
             -> Vec<i64> { chunk.iter().map(f).collect() };
            let tids = col(|r| r.0.0);
            let ords = col(|r| i64::from(r.1.ordinal.0));
            let joined = col(|r| r.1.joined_ms);
            let updated = col(|r| r.1.updated_ms);
            let seqs = col(|r| r.3);
            let accids: Vec<&str> = chunk.iter().map(|r| r.1.accid.as_str()).collect();
            let roles: Vec<i16> = chunk.iter().map(|r| r.1.role.as_i64() as i16).collect();
            let nicks: Vec<&str> = chunk.iter().map(|r| r.1.nick.as_str()).collect();
            let mutes: Vec<bool> = chunk.iter().map(|r| r.1.mute).collect();
            let customs: Vec<&str> = chunk.iter().map(|r| r.1.custom.as_str()).collect();
            let pushes: Vec<bool> = chunk.iter().map(|r| r.1.push_enable).collect();
            let active: Vec<bool> = chunk.iter().map(|r| r.2).collect();
            self.exec(
                "INSERT INTO team_members (app_id, tid, ordinal, accid, role, nick, mute, custom, push_enable, \
                 joined_ms, updated_ms, active, seq) SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], \
                 $4::text[], $5::smallint[], $6::text[], $7::bool[], $8::text[], $9::bool[], $10::bigint[], \
                 $11::bigint[], $12::bool[], $13::bigint[]) ON CONFLICT DO NOTHING",
                &[
                    &app.0, &tids, &ords, &accids, &roles, &nicks, &mutes, &customs, &pushes, &joined,
                    &updated, &active, &seqs,
                ],
            )
            .await?;
        }
        for chunk in rows.periods.chunks(5000) {
            let tids: Vec<i64> = chunk.iter().map(|p| p.0.0).collect();
            let ords: Vec<i64> = chunk.iter().map(|p| i64::from(p.1.0)).collect();
            let joins: Vec<i64> = chunk.iter().map(|p| p.2.0).collect();
            let leaves: Vec<Option<i64>> = chunk.iter().map(|p| opt_i64(p.3)).collect();
            self.exec(
                "INSERT INTO team_periods (app_id, tid, ordinal, join_msgid, leave_msgid) \
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) \
                 ON CONFLICT DO NOTHING",
                &[&app.0, &tids, &ords, &joins, &leaves],
            )
            .await?;
        }
        for i in &rows.invites {
            self.exec(
                "INSERT INTO team_invites (app_id, tid, ordinal, accid, inviter, msg, attach, time_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                &[
                    &app.0,
                    &i.tid.0,
                    &i64::from(i.ordinal.0),
                    &i.accid.as_str(),
                    &i.inviter.as_str(),
                    &i.msg,
                    &i.attach,
                    &i.time_ms,
                ],
            )
            .await?;
        }
        for a in &rows.applies {
            self.exec(
                "INSERT INTO team_applies (app_id, tid, ordinal, accid, msg, time_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &app.0,
                    &a.tid.0,
                    &i64::from(a.ordinal.0),
                    &a.accid.as_str(),
                    &a.msg,
                    &a.time_ms,
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn put_reads(&self, app: AppId, rows: &[(MsgId, Vec<u8>)]) -> StoreResult<()> {
        let ids: Vec<i64> = rows.iter().map(|(m, _)| m.0).collect();
        let bits: Vec<&[u8]> = rows.iter().map(|(_, b)| b.as_slice()).collect();
        self.exec(
            "INSERT INTO reads (app_id, msgid, readers) SELECT $1, * FROM UNNEST($2::bigint[], $3::bytea[]) \
             ON CONFLICT DO NOTHING",
            &[&app.0, &ids, &bits],
        )
        .await?;
        Ok(())
    }

    async fn put_callbacks(
        &self,
        app: AppId,
        rows: &[qunfa_core::callback::CallbackEvent],
    ) -> StoreResult<()> {
        super::callbacks::put_rows(self, app, rows).await
    }

    async fn finish_app(&self, row: &AppRow) -> StoreResult<()> {
        let app = row.app.id.0;
        self.exec(
            "UPDATE apps SET next_ordinal = GREATEST(next_ordinal, $2), change_seq = GREATEST(change_seq, $3), \
             dict_seq = GREATEST(dict_seq, $4), words_seq = GREATEST(words_seq, $5) WHERE id = $1",
            &[
                &app,
                &i64::from(row.next_ordinal),
                &row.change_seq,
                &row.dict_seq,
                &row.words_seq,
            ],
        )
        .await?;
        self.exec(
            "UPDATE msg_seqs SET next_msgid = GREATEST(next_msgid, $2) WHERE app_id = $1",
            &[&app, &(row.last_msgid.0 + 1)],
        )
        .await?;
        Ok(())
    }

    async fn counts(&self, app: AppId) -> StoreResult<Counts> {
        let n = |table: &'static str| format!("SELECT count(*) FROM {table} WHERE app_id = $1");
        let words = {
            let c = self.client().await?;
            let row = c
                .query_opt(
                    "SELECT words FROM antispam_words WHERE app_id = $1",
                    &[&app.0],
                )
                .await
                .map_err(pg)?;
            match row {
                Some(r) => serde_json::from_str::<Vec<String>>(&r.get::<_, String>(0))
                    .map_err(internal)?
                    .len() as u64,
                None => 0,
            }
        };
        Ok(Counts {
            accounts: self.count(&n("accounts"), app).await?,
            areas: self.count(&n("areas"), app).await?,
            enterptypes: self.count(&n("enterptypes"), app).await?,
            words,
            audiences: self.count(&n("audiences"), app).await?,
            messages: self.count(&n("messages"), app).await?,
            cursors: self.count(&n("cursors"), app).await?,
            reads: self.count(&n("reads"), app).await?,
            team_rows: self.count(&n("teams"), app).await?
                + self.count(&n("team_members"), app).await?
                + self.count(&n("team_periods"), app).await?
                + self.count(&n("team_invites"), app).await?
                + self.count(&n("team_applies"), app).await?,
            callback_events: self.count(&n("callback_events"), app).await?,
        })
    }
}
