//! Accounts: creation with dense ordinals, patches, logins, the audience index's entries.

use async_trait::async_trait;
use qunfa_core::account::{Accid, Account, AccountPatch, NewAccount, Profile};
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::store::{AccountStore, Credentials, IndexEntry, StoreError, StoreResult};
use rusqlite::types::Value as V;
use rusqlite::{Connection, OptionalExtension, params};

use super::conn::internal;
use super::{SqliteStore, exists, next_change, nonempty, now_ms};

const ACCOUNT_COLS: &str = "accid, ordinal, name, icon, sign, email, birth, mobile, gender, ex, props, areaid, enterptypeid, blocked";

fn account_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        accid: Accid::from_stored(r.get(0)?),
        ordinal: Ordinal(r.get(1)?),
        profile: Profile {
            name: r.get(2)?,
            icon: r.get(3)?,
            sign: r.get(4)?,
            email: r.get(5)?,
            birth: r.get(6)?,
            mobile: r.get(7)?,
            gender: Some(r.get(8)?),
            ex: r.get(9)?,
            props: r.get(10)?,
            areaid: r.get(11)?,
            enterptypeid: r.get(12)?,
        },
        blocked: r.get(13)?,
    })
}

const ENTRY_COLS: &str =
    "ordinal, accid, areaid, enterptypeid, blocked, seq, kick_seq, kick_reason";

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IndexEntry> {
    let kick_seq: i64 = r.get(6)?;
    let reason: Option<String> = r.get(7)?;
    Ok(IndexEntry {
        ordinal: Ordinal(r.get(0)?),
        accid: Accid::from_stored(r.get(1)?),
        areaid: r.get(2)?,
        enterptypeid: r.get(3)?,
        blocked: r.get(4)?,
        seq: r.get(5)?,
        kicked: (kick_seq > 0).then(|| (kick_seq, reason.unwrap_or_default())),
    })
}

/// `UnknownArea` / `UnknownEnterptype` for a profile naming dictionary entries that are not there.
fn check_dict_refs(conn: &Connection, app: AppId, p: &Profile) -> StoreResult<()> {
    if let Some(areaid) = nonempty(&p.areaid) {
        let sql = "SELECT 1 FROM areas WHERE app_id = ?1 AND areaid = ?2";
        if !exists(conn, sql, app, areaid)? {
            return Err(StoreError::UnknownArea(areaid.to_owned()));
        }
    }
    if let Some(t) = nonempty(&p.enterptypeid) {
        let sql = "SELECT 1 FROM enterptypes WHERE app_id = ?1 AND enterptypeid = ?2";
        if !exists(conn, sql, app, t)? {
            return Err(StoreError::UnknownEnterptype(t.to_owned()));
        }
    }
    Ok(())
}

fn create(
    c: &Connection,
    app: AppId,
    accounts: Vec<NewAccount>,
) -> StoreResult<Vec<StoreResult<Ordinal>>> {
    let mut next: u32 = c
        .query_row(
            "SELECT next_ordinal FROM apps WHERE id = ?1",
            [app.0],
            |r| r.get(0),
        )
        .map_err(internal)?;
    let seq = next_change(c, app)?;
    let created_ms = now_ms();
    let mut insert = c
        .prepare_cached(
            "INSERT INTO accounts (app_id, ordinal, accid, token_hash, name, icon, sign, email, \
             birth, mobile, gender, ex, props, areaid, enterptypeid, created_ms, seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
             ON CONFLICT (app_id, accid) DO NOTHING",
        )
        .map_err(internal)?;
    let mut results = Vec::with_capacity(accounts.len());
    for a in accounts {
        if let Err(e) = check_dict_refs(c, app, &a.profile) {
            results.push(Err(e));
            continue;
        }
        let p = &a.profile;
        let n = insert
            .execute(params![
                app.0,
                next,
                a.accid.as_str(),
                &a.token_hash[..],
                nonempty(&p.name),
                nonempty(&p.icon),
                nonempty(&p.sign),
                nonempty(&p.email),
                nonempty(&p.birth),
                nonempty(&p.mobile),
                p.gender.unwrap_or(0),
                nonempty(&p.ex),
                nonempty(&p.props),
                nonempty(&p.areaid),
                nonempty(&p.enterptypeid),
                created_ms,
                seq,
            ])
            .map_err(internal)?;
        if n == 0 {
            results.push(Err(StoreError::AlreadyRegistered));
        } else {
            results.push(Ok(Ordinal(next)));
            next = next
                .checked_add(1)
                .ok_or_else(|| internal("account ordinals exhausted"))?;
        }
    }
    c.execute(
        "UPDATE apps SET next_ordinal = ?1 WHERE id = ?2",
        params![next, app.0],
    )
    .map_err(internal)?;
    Ok(results)
}

fn update(c: &Connection, app: AppId, accid: &Accid, patch: AccountPatch) -> StoreResult<()> {
    check_dict_refs(c, app, &patch.profile)?;
    let found = exists(
        c,
        "SELECT 1 FROM accounts WHERE app_id = ?1 AND accid = ?2",
        app,
        accid.as_str(),
    )?;
    if !found {
        return Err(StoreError::NotRegistered(accid.to_string()));
    }
    let seq = next_change(c, app)?;
    let p = &patch.profile;
    let mut sets: Vec<String> = vec!["seq = ?3".into()];
    let mut values: Vec<V> = vec![
        V::Integer(app.0),
        V::Text(accid.to_string()),
        V::Integer(seq),
    ];
    let mut set = |col: &str, v: V| {
        values.push(v);
        sets.push(format!("{col} = ?{}", values.len()));
    };
    let text = |v: &Option<String>| match nonempty(v) {
        Some(s) => V::Text(s.to_owned()),
        None => V::Null,
    };
    for (col, v) in [
        ("name", &p.name),
        ("icon", &p.icon),
        ("sign", &p.sign),
        ("email", &p.email),
        ("birth", &p.birth),
        ("mobile", &p.mobile),
        ("ex", &p.ex),
        ("props", &p.props),
        ("areaid", &p.areaid),
        ("enterptypeid", &p.enterptypeid),
    ] {
        if v.is_some() {
            set(col, text(v));
        }
    }
    if let Some(g) = p.gender {
        set("gender", V::Integer(g.into()));
    }
    if let Some(h) = patch.token_hash {
        set("token_hash", V::Blob(h.to_vec()));
    }
    if let Some(b) = patch.blocked {
        set("blocked", V::Integer(b.into()));
    }
    if let Some(reason) = patch.kick {
        set("kick_seq", V::Integer(seq));
        set("kick_reason", V::Text(reason));
    }
    let sql = format!(
        "UPDATE accounts SET {} WHERE app_id = ?1 AND accid = ?2",
        sets.join(", ")
    );
    c.execute(&sql, rusqlite::params_from_iter(values))
        .map_err(internal)?;
    Ok(())
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_accounts(
        &self,
        app: AppId,
        accounts: Vec<NewAccount>,
    ) -> StoreResult<Vec<StoreResult<Ordinal>>> {
        self.db.write(move |c| create(c, app, accounts)).await
    }

    async fn update_account(
        &self,
        app: AppId,
        accid: &Accid,
        patch: AccountPatch,
    ) -> StoreResult<()> {
        let accid = accid.clone();
        self.db.write(move |c| update(c, app, &accid, patch)).await
    }

    async fn get_accounts(&self, app: AppId, accids: &[Accid]) -> StoreResult<Vec<Account>> {
        let accids = accids.to_vec();
        self.db
            .read(move |c| {
                let sql =
                    format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE app_id = ?1 AND accid = ?2");
                let mut st = c.prepare_cached(&sql).map_err(internal)?;
                let mut out = Vec::with_capacity(accids.len());
                for a in &accids {
                    if let Some(acc) = st
                        .query_row(params![app.0, a.as_str()], account_from_row)
                        .optional()
                        .map_err(internal)?
                    {
                        out.push(acc);
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn credentials(&self, app: AppId, accid: &Accid) -> StoreResult<Option<Credentials>> {
        let accid = accid.clone();
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT ordinal, token_hash, blocked, kick_seq FROM accounts \
                         WHERE app_id = ?1 AND accid = ?2",
                    )
                    .map_err(internal)?;
                let row = st
                    .query_row(params![app.0, accid.as_str()], |r| {
                        Ok((
                            r.get::<_, u32>(0)?,
                            r.get::<_, Vec<u8>>(1)?,
                            r.get(2)?,
                            r.get(3)?,
                        ))
                    })
                    .optional()
                    .map_err(internal)?;
                let Some((ordinal, hash, blocked, kick_seq)) = row else {
                    return Ok(None);
                };
                let token_hash = <[u8; 32]>::try_from(hash.as_slice())
                    .map_err(|_| internal(format!("token hash of {accid} is not 32 bytes")))?;
                Ok(Some(Credentials {
                    ordinal: Ordinal(ordinal),
                    token_hash,
                    blocked,
                    kick_seq,
                }))
            })
            .await
    }

    async fn index_entries(&self, app: AppId) -> StoreResult<Vec<IndexEntry>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {ENTRY_COLS} FROM accounts WHERE app_id = ?1 ORDER BY ordinal"
                    ))
                    .map_err(internal)?;
                let rows = st.query_map([app.0], entry_from_row).map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn account_changes(&self, app: AppId, since: i64) -> StoreResult<Vec<IndexEntry>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {ENTRY_COLS} FROM accounts WHERE app_id = ?1 AND seq > ?2 ORDER BY seq, ordinal"
                    ))
                    .map_err(internal)?;
                let rows = st
                    .query_map(params![app.0, since], entry_from_row)
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn accids_of(
        &self,
        app: AppId,
        ordinals: Vec<Ordinal>,
    ) -> StoreResult<Vec<(Ordinal, Accid)>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached("SELECT accid FROM accounts WHERE app_id = ?1 AND ordinal = ?2")
                    .map_err(internal)?;
                let mut sorted = ordinals;
                sorted.sort_unstable();
                sorted.dedup();
                let mut out = Vec::with_capacity(sorted.len());
                for o in sorted {
                    if let Some(a) = st
                        .query_row(params![app.0, o.0], |r| r.get::<_, String>(0))
                        .optional()
                        .map_err(internal)?
                    {
                        out.push((o, Accid::from_stored(a)));
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn search_accounts(
        &self,
        app: AppId,
        prefix: &str,
        after: Option<&Accid>,
        limit: usize,
    ) -> StoreResult<Vec<Account>> {
        let (low, high) = prefix_range(prefix);
        let after = after.map_or_else(String::new, |a| a.as_str().to_owned());
        self.db
            .read(move |c| {
                // A range over the (app_id, accid) index: BINARY collation is byte order.
                let sql = format!(
                    "SELECT {ACCOUNT_COLS} FROM accounts WHERE app_id = ?1 AND accid >= ?2 \
                     AND accid < ?3 AND accid > ?4 ORDER BY accid LIMIT ?5"
                );
                let mut st = c.prepare_cached(&sql).map_err(internal)?;
                let rows = st
                    .query_map(
                        params![app.0, low, high, after, limit as i64],
                        account_from_row,
                    )
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }
}

/// The accids starting with `prefix` are those in `[prefix, prefix + U+007F)`: accids are ASCII
/// letters, digits and `_ @ . -`, all below U+007F.
fn prefix_range(prefix: &str) -> (String, String) {
    (prefix.to_owned(), format!("{prefix}\u{7f}"))
}
