//! Accounts: creation with dense ordinals (one multi-row insert per call), patches, logins,
//! the audience index's entries. Every write takes the app row's lock first (`next_change`),
//! which serialises account writes of an app across nodes.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use qunfa_core::account::{Accid, Account, AccountPatch, NewAccount, Profile};
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::store::{AccountStore, Credentials, IndexEntry, StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, internal, next_change, nonempty, now_ms, pg};

const ACCOUNT_COLS: &str = "a.accid, a.ordinal, a.name, a.icon, a.sign, a.email, a.birth, a.mobile, a.gender, \
     a.ex, a.props, a.areaid, a.enterptypeid, a.blocked";

fn ordinal(r: &Row, i: usize) -> Ordinal {
    // Ordinals are written from u32 values only.
    Ordinal(r.get::<_, i64>(i) as u32)
}

fn account_from_row(r: &Row) -> Account {
    Account {
        accid: Accid::from_stored(r.get(0)),
        ordinal: ordinal(r, 1),
        profile: Profile {
            name: r.get(2),
            icon: r.get(3),
            sign: r.get(4),
            email: r.get(5),
            birth: r.get(6),
            mobile: r.get(7),
            gender: Some(r.get::<_, i16>(8) as u8),
            ex: r.get(9),
            props: r.get(10),
            areaid: r.get(11),
            enterptypeid: r.get(12),
        },
        blocked: r.get(13),
    }
}

const ENTRY_COLS: &str =
    "ordinal, accid, areaid, enterptypeid, blocked, seq, kick_seq, kick_reason";

fn entry_from_row(r: &Row) -> IndexEntry {
    let kick_seq: i64 = r.get(6);
    let reason: Option<String> = r.get(7);
    IndexEntry {
        ordinal: ordinal(r, 0),
        accid: Accid::from_stored(r.get(1)),
        areaid: r.get(2),
        enterptypeid: r.get(3),
        blocked: r.get(4),
        seq: r.get(5),
        kicked: (kick_seq > 0).then(|| (kick_seq, reason.unwrap_or_default())),
    }
}

/// Which of `ids` exist in a dictionary table (`areas` / `enterptypes`).
async fn known(
    tx: &Transaction<'_>,
    sql: &str,
    app: AppId,
    ids: Vec<&str>,
) -> StoreResult<HashSet<String>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let st = tx.prepare_cached(sql).await.map_err(pg)?;
    let rows = tx.query(&st, &[&app.0, &ids]).await.map_err(pg)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The accounts named by the accids in `$2`: one index probe per accid. (With `accid = ANY($2)`
/// a planner without fresh statistics, as during an import, scans the whole table instead.)
const BY_ACCID: &str = "UNNEST($2::text[]) AS u(accid), \
     LATERAL (SELECT * FROM accounts WHERE app_id = $1 AND accid = u.accid LIMIT 1) a";

const KNOWN_AREAS: &str = "SELECT areaid FROM areas WHERE app_id = $1 AND areaid = ANY($2)";
const KNOWN_TYPES: &str =
    "SELECT enterptypeid FROM enterptypes WHERE app_id = $1 AND enterptypeid = ANY($2)";

/// `UnknownArea` / `UnknownEnterptype` for a profile naming dictionary entries that are not there.
async fn check_dict_refs(tx: &Transaction<'_>, app: AppId, p: &Profile) -> StoreResult<()> {
    if let Some(areaid) = nonempty(&p.areaid)
        && known(tx, KNOWN_AREAS, app, vec![areaid]).await?.is_empty()
    {
        return Err(StoreError::UnknownArea(areaid.to_owned()));
    }
    if let Some(t) = nonempty(&p.enterptypeid)
        && known(tx, KNOWN_TYPES, app, vec![t]).await?.is_empty()
    {
        return Err(StoreError::UnknownEnterptype(t.to_owned()));
    }
    Ok(())
}

const INSERT_ACCOUNTS: &str = "INSERT INTO accounts (app_id, ordinal, accid, token_hash, name, icon, sign, email, \
     birth, mobile, gender, ex, props, areaid, enterptypeid, created_ms, seq) \
     SELECT $1::bigint, u.*, $2::bigint, $3::bigint FROM UNNEST($4::bigint[], $5::text[], $6::bytea[], $7::text[], $8::text[], \
     $9::text[], $10::text[], $11::text[], $12::text[], $13::smallint[], $14::text[], $15::text[], $16::text[], \
     $17::text[]) AS u";

async fn create(
    tx: &Transaction<'_>,
    app: AppId,
    accounts: Vec<NewAccount>,
) -> StoreResult<Vec<StoreResult<Ordinal>>> {
    let row = tx
        .query_opt(
            "UPDATE apps SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq, next_ordinal",
            &[&app.0],
        )
        .await
        .map_err(pg)?
        .ok_or_else(|| StoreError::Internal(format!("app {app} not found")))?;
    let seq: i64 = row.get(0);
    let mut next: i64 = row.get(1);
    let areas = known(
        tx,
        KNOWN_AREAS,
        app,
        accounts
            .iter()
            .filter_map(|a| nonempty(&a.profile.areaid))
            .collect(),
    )
    .await?;
    let types = known(
        tx,
        KNOWN_TYPES,
        app,
        accounts
            .iter()
            .filter_map(|a| nonempty(&a.profile.enterptypeid))
            .collect(),
    )
    .await?;
    let accids: Vec<&str> = accounts.iter().map(|a| a.accid.as_str()).collect();
    let st = tx
        .prepare_cached(&format!("SELECT a.accid FROM {BY_ACCID}"))
        .await
        .map_err(pg)?;
    let existing: Vec<String> = tx
        .query(&st, &[&app.0, &accids])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut taken: HashSet<&str> = existing.iter().map(String::as_str).collect();

    let mut results = Vec::with_capacity(accounts.len());
    let mut rows: Vec<&NewAccount> = Vec::with_capacity(accounts.len());
    let mut ordinals: Vec<i64> = Vec::with_capacity(accounts.len());
    for a in &accounts {
        let p = &a.profile;
        if let Some(id) = nonempty(&p.areaid).filter(|id| !areas.contains(*id)) {
            results.push(Err(StoreError::UnknownArea(id.to_owned())));
            continue;
        }
        if let Some(id) = nonempty(&p.enterptypeid).filter(|id| !types.contains(*id)) {
            results.push(Err(StoreError::UnknownEnterptype(id.to_owned())));
            continue;
        }
        if !taken.insert(a.accid.as_str()) {
            results.push(Err(StoreError::AlreadyRegistered));
            continue;
        }
        if next > i64::from(u32::MAX) {
            return Err(internal("account ordinals exhausted"));
        }
        results.push(Ok(Ordinal(next as u32)));
        ordinals.push(next);
        rows.push(a);
        next += 1;
    }
    if !rows.is_empty() {
        let text = |f: fn(&Profile) -> &Option<String>| -> Vec<Option<&str>> {
            rows.iter().map(|a| nonempty(f(&a.profile))).collect()
        };
        let accid: Vec<&str> = rows.iter().map(|a| a.accid.as_str()).collect();
        let hash: Vec<&[u8]> = rows.iter().map(|a| &a.token_hash[..]).collect();
        let gender: Vec<i16> = rows
            .iter()
            .map(|a| i16::from(a.profile.gender.unwrap_or(0)))
            .collect();
        let (name, icon, sign, email) = (
            text(|p| &p.name),
            text(|p| &p.icon),
            text(|p| &p.sign),
            text(|p| &p.email),
        );
        let (birth, mobile, ex, props) = (
            text(|p| &p.birth),
            text(|p| &p.mobile),
            text(|p| &p.ex),
            text(|p| &p.props),
        );
        let (areaid, enterptypeid) = (text(|p| &p.areaid), text(|p| &p.enterptypeid));
        let st = tx.prepare_cached(INSERT_ACCOUNTS).await.map_err(pg)?;
        tx.execute(
            &st,
            &[
                &app.0,
                &now_ms(),
                &seq,
                &ordinals,
                &accid,
                &hash,
                &name,
                &icon,
                &sign,
                &email,
                &birth,
                &mobile,
                &gender,
                &ex,
                &props,
                &areaid,
                &enterptypeid,
            ],
        )
        .await
        .map_err(pg)?;
    }
    tx.execute(
        "UPDATE apps SET next_ordinal = $2 WHERE id = $1",
        &[&app.0, &next],
    )
    .await
    .map_err(pg)?;
    Ok(results)
}

type Param = Box<dyn ToSql + Sync + Send>;

async fn update(
    tx: &Transaction<'_>,
    app: AppId,
    accid: &Accid,
    patch: AccountPatch,
) -> StoreResult<()> {
    let seq = next_change(tx, app).await?;
    check_dict_refs(tx, app, &patch.profile).await?;
    let found = tx
        .query_opt(
            "SELECT 1 FROM accounts WHERE app_id = $1 AND accid = $2",
            &[&app.0, &accid.as_str()],
        )
        .await
        .map_err(pg)?
        .is_some();
    if !found {
        return Err(StoreError::NotRegistered(accid.to_string()));
    }
    let p = &patch.profile;
    let mut sets: Vec<String> = vec!["seq = $3".into()];
    let mut values: Vec<Param> = vec![
        Box::new(app.0),
        Box::new(accid.as_str().to_owned()),
        Box::new(seq),
    ];
    let mut set = |col: &str, v: Param| {
        values.push(v);
        sets.push(format!("{col} = ${}", values.len()));
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
            set(col, Box::new(nonempty(v).map(str::to_owned)));
        }
    }
    if let Some(g) = p.gender {
        set("gender", Box::new(i16::from(g)));
    }
    if let Some(h) = patch.token_hash {
        set("token_hash", Box::new(h.to_vec()));
    }
    if let Some(b) = patch.blocked {
        set("blocked", Box::new(b));
    }
    if let Some(reason) = patch.kick {
        set("kick_seq", Box::new(seq));
        set("kick_reason", Box::new(reason));
    }
    let sql = format!(
        "UPDATE accounts SET {} WHERE app_id = $1 AND accid = $2",
        sets.join(", ")
    );
    let params: Vec<&(dyn ToSql + Sync)> =
        values.iter().map(|v| &**v as &(dyn ToSql + Sync)).collect();
    tx.execute(&sql, &params).await.map_err(pg)?;
    Ok(())
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_accounts(
        &self,
        app: AppId,
        accounts: Vec<NewAccount>,
    ) -> StoreResult<Vec<StoreResult<Ordinal>>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let results = create(&tx, app, accounts).await?;
        tx.commit().await.map_err(pg)?;
        Ok(results)
    }

    async fn update_account(
        &self,
        app: AppId,
        accid: &Accid,
        patch: AccountPatch,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        update(&tx, app, accid, patch).await?;
        tx.commit().await.map_err(pg)
    }

    async fn get_accounts(&self, app: AppId, accids: &[Accid]) -> StoreResult<Vec<Account>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM {BY_ACCID}"))
            .await
            .map_err(pg)?;
        let asked: Vec<&str> = accids.iter().map(Accid::as_str).collect();
        let rows = c.query(&st, &[&app.0, &asked]).await.map_err(pg)?;
        let found: HashMap<String, Account> = rows
            .iter()
            .map(account_from_row)
            .map(|a| (a.accid.as_str().to_owned(), a))
            .collect();
        Ok(asked
            .iter()
            .filter_map(|a| found.get(*a).cloned())
            .collect())
    }

    async fn credentials(&self, app: AppId, accid: &Accid) -> StoreResult<Option<Credentials>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT ordinal, token_hash, blocked, kick_seq FROM accounts WHERE app_id = $1 AND accid = $2",
            )
            .await
            .map_err(pg)?;
        let Some(r) = c
            .query_opt(&st, &[&app.0, &accid.as_str()])
            .await
            .map_err(pg)?
        else {
            return Ok(None);
        };
        let hash: Vec<u8> = r.get(1);
        let token_hash = <[u8; 32]>::try_from(hash.as_slice())
            .map_err(|_| internal(format!("token hash of {accid} is not 32 bytes")))?;
        Ok(Some(Credentials {
            ordinal: ordinal(&r, 0),
            token_hash,
            blocked: r.get(2),
            kick_seq: r.get(3),
        }))
    }

    async fn index_entries(&self, app: AppId) -> StoreResult<Vec<IndexEntry>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM accounts WHERE app_id = $1 ORDER BY ordinal"
            ))
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[&app.0]).await.map_err(pg)?;
        Ok(rows.iter().map(entry_from_row).collect())
    }

    async fn account_changes(&self, app: AppId, since: i64) -> StoreResult<Vec<IndexEntry>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM accounts WHERE app_id = $1 AND seq > $2 ORDER BY seq, ordinal"
            ))
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[&app.0, &since]).await.map_err(pg)?;
        Ok(rows.iter().map(entry_from_row).collect())
    }

    async fn accids_of(
        &self,
        app: AppId,
        ordinals: Vec<Ordinal>,
    ) -> StoreResult<Vec<(Ordinal, Accid)>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT a.ordinal, a.accid FROM UNNEST($2::bigint[]) AS u(ordinal), \
                 LATERAL (SELECT ordinal, accid FROM accounts WHERE app_id = $1 AND ordinal = u.ordinal LIMIT 1) a \
                 ORDER BY a.ordinal",
            )
            .await
            .map_err(pg)?;
        let mut wanted: Vec<i64> = ordinals.iter().map(|o| i64::from(o.0)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let rows = c.query(&st, &[&app.0, &wanted]).await.map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| (ordinal(r, 0), Accid::from_stored(r.get(1))))
            .collect())
    }

    async fn search_accounts(
        &self,
        app: AppId,
        prefix: &str,
        after: Option<&Accid>,
        limit: usize,
    ) -> StoreResult<Vec<Account>> {
        let c = self.client().await?;
        // Byte order whatever the database's collation, so pages follow one another the same
        // way on every backend. A console look-up, not a hot path: it reads the app's accounts.
        let st = c
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.app_id = $1 AND starts_with(a.accid, $2) \
                 AND a.accid COLLATE \"C\" > $3 ORDER BY a.accid COLLATE \"C\" LIMIT $4"
            ))
            .await
            .map_err(pg)?;
        let after = after.map_or("", Accid::as_str);
        let rows = c
            .query(&st, &[&app.0, &prefix, &after, &(limit as i64)])
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(account_from_row).collect())
    }
}
