//! The embedded SQLite backend: one file in the data directory, WAL mode, migrations applied
//! at open, writes group-committed on one thread (see `conn.rs`).

mod conn;
mod messages;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use qunfa_core::account::{Accid, Account, AccountPatch, NewAccount, Profile};
use qunfa_core::auth::App;
use qunfa_core::dict::{Area, Enterptype};
use qunfa_core::message::{BroadcastFilter, Message, NewMessage, Sent};
use qunfa_core::store::{IndexEntry, OnCommit, SessionQuery, Store, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use conn::{Db, internal};

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_messages.sql"),
    include_str!("../../migrations/sqlite/0003_delivery.sql"),
    include_str!("../../migrations/sqlite/0004_lean_messages.sql"),
    include_str!("../../migrations/sqlite/0005_shared_audiences.sql"),
];

/// The database file inside a data directory.
pub const DB_FILE: &str = "qunfa.sqlite3";

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// `PRAGMA synchronous=FULL` (survives power loss) rather than NORMAL (survives a crash).
    pub synchronous_full: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous_full: true,
        }
    }
}

pub struct SqliteStore {
    db: Db,
    msgids: std::sync::Arc<messages::MsgidSeq>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) `DATA_DIR/qunfa.sqlite3`.
    pub fn open_dir(data_dir: &Path, opts: &SqliteOptions) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            internal(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        Self::open(&data_dir.join(DB_FILE), opts)
    }

    pub fn open(path: &Path, opts: &SqliteOptions) -> StoreResult<SqliteStore> {
        let db = Db::open(path, opts.synchronous_full, MIGRATIONS)?;
        Ok(SqliteStore {
            db,
            msgids: Default::default(),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn app_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<App> {
    Ok(App {
        id: r.get(0)?,
        appkey: r.get(1)?,
        secret: r.get(2)?,
        name: r.get(3)?,
        disabled: r.get(4)?,
        created_ms: r.get(5)?,
    })
}

const APP_COLS: &str = "id, appkey, secret, name, disabled, created_ms";

/// Empty strings are stored as NULL: "set to empty" and "never set" read back the same.
fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn check_dict_refs(conn: &Connection, app: i64, p: &Profile) -> StoreResult<()> {
    if let Some(areaid) = nonempty(&p.areaid)
        && !exists(
            conn,
            "SELECT 1 FROM areas WHERE app_id = ?1 AND areaid = ?2",
            app,
            areaid,
        )?
    {
        return Err(StoreError::UnknownArea(areaid.to_owned()));
    }
    if let Some(t) = nonempty(&p.enterptypeid) {
        let sql = "SELECT 1 FROM enterptypes WHERE app_id = ?1 AND enterptypeid = ?2";
        if !exists(conn, sql, app, t)? {
            return Err(StoreError::UnknownEnterptype(t.to_owned()));
        }
    }
    Ok(())
}

fn exists(conn: &Connection, sql: &str, app: i64, key: &str) -> StoreResult<bool> {
    let mut st = conn.prepare_cached(sql).map_err(internal)?;
    st.exists(params![app, key]).map_err(internal)
}

fn first_string(conn: &Connection, sql: &str, app: i64, key: &str) -> StoreResult<Option<String>> {
    let mut st = conn.prepare_cached(sql).map_err(internal)?;
    st.query_row(params![app, key], |r| r.get(0))
        .optional()
        .map_err(internal)
}

const ACCOUNT_COLS: &str = "accid, ordinal, name, icon, sign, email, birth, mobile, gender, ex, props, areaid, enterptypeid, blocked";

fn account_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        accid: Accid::from_stored(r.get(0)?),
        ordinal: r.get(1)?,
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

#[async_trait]
impl Store for SqliteStore {
    async fn create_app(&self, name: &str) -> StoreResult<App> {
        let name = name.to_owned();
        self.db
            .write(move |c| {
                let appkey = qunfa_core::random_hex(16);
                let secret = qunfa_core::random_hex(16);
                let created_ms = now_ms();
                c.execute(
                    "INSERT INTO apps (appkey, secret, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![appkey, secret, name, created_ms],
                )
                .map_err(internal)?;
                Ok(App {
                    id: c.last_insert_rowid(),
                    appkey,
                    secret,
                    name,
                    disabled: false,
                    created_ms,
                })
            })
            .await
    }

    async fn list_apps(&self) -> StoreResult<Vec<App>> {
        self.db
            .read(|c| {
                let mut st = c
                    .prepare_cached(&format!("SELECT {APP_COLS} FROM apps ORDER BY id"))
                    .map_err(internal)?;
                let rows = st.query_map([], app_from_row).map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn app_by_key(&self, appkey: &str) -> StoreResult<Option<App>> {
        let appkey = appkey.to_owned();
        self.db
            .read(move |c| {
                let sql = format!("SELECT {APP_COLS} FROM apps WHERE appkey = ?1");
                c.query_row(&sql, [appkey], app_from_row)
                    .optional()
                    .map_err(internal)
            })
            .await
    }

    async fn set_app_disabled(&self, appkey: &str, disabled: bool) -> StoreResult<App> {
        let appkey = appkey.to_owned();
        self.db
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE apps SET disabled = ?1 WHERE appkey = ?2",
                        params![disabled, appkey],
                    )
                    .map_err(internal)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!("app {appkey}")));
                }
                let sql = format!("SELECT {APP_COLS} FROM apps WHERE appkey = ?1");
                c.query_row(&sql, [appkey], app_from_row).map_err(internal)
            })
            .await
    }

    async fn create_accounts(
        &self,
        app: i64,
        accounts: Vec<NewAccount>,
    ) -> StoreResult<Vec<StoreResult<u32>>> {
        self.db
            .write(move |c| {
                let mut next: u32 = c
                    .query_row("SELECT next_ordinal FROM apps WHERE id = ?1", [app], |r| r.get(0))
                    .map_err(internal)?;
                let created_ms = now_ms();
                let mut insert = c
                    .prepare_cached(
                        "INSERT INTO accounts (app_id, ordinal, accid, token_hash, name, icon, sign, email, \
                         birth, mobile, gender, ex, props, areaid, enterptypeid, created_ms) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
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
                            app,
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
                        ])
                        .map_err(internal)?;
                    if n == 0 {
                        results.push(Err(StoreError::AlreadyRegistered));
                    } else {
                        results.push(Ok(next));
                        next = next.checked_add(1).ok_or_else(|| internal("account ordinals exhausted"))?;
                    }
                }
                c.execute("UPDATE apps SET next_ordinal = ?1 WHERE id = ?2", params![next, app])
                    .map_err(internal)?;
                Ok(results)
            })
            .await
    }

    async fn update_account(
        &self,
        app: i64,
        accid: &Accid,
        patch: AccountPatch,
    ) -> StoreResult<()> {
        let accid = accid.clone();
        self.db
            .write(move |c| {
                check_dict_refs(c, app, &patch.profile)?;
                let p = &patch.profile;
                let mut sets: Vec<String> = Vec::new();
                let mut values: Vec<rusqlite::types::Value> = Vec::new();
                let mut set = |col: &str, v: rusqlite::types::Value| {
                    values.push(v);
                    sets.push(format!("{col} = ?{}", values.len() + 2));
                };
                use rusqlite::types::Value as V;
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
                let sql = if sets.is_empty() {
                    "SELECT 1 FROM accounts WHERE app_id = ?1 AND accid = ?2".to_owned()
                } else {
                    format!(
                        "UPDATE accounts SET {} WHERE app_id = ?1 AND accid = ?2",
                        sets.join(", ")
                    )
                };
                let mut all: Vec<rusqlite::types::Value> =
                    vec![V::Integer(app), V::Text(accid.to_string())];
                all.extend(values);
                let found = if sets.is_empty() {
                    c.prepare(&sql)
                        .and_then(|mut s| s.exists(rusqlite::params_from_iter(all)))
                } else {
                    c.execute(&sql, rusqlite::params_from_iter(all))
                        .map(|n| n > 0)
                }
                .map_err(internal)?;
                if !found {
                    return Err(StoreError::NotRegistered(accid.to_string()));
                }
                Ok(())
            })
            .await
    }

    async fn get_accounts(&self, app: i64, accids: &[Accid]) -> StoreResult<Vec<Account>> {
        let accids = accids.to_vec();
        self.db
            .read(move |c| {
                let sql =
                    format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE app_id = ?1 AND accid = ?2");
                let mut st = c.prepare_cached(&sql).map_err(internal)?;
                let mut out = Vec::with_capacity(accids.len());
                for a in &accids {
                    if let Some(acc) = st
                        .query_row(params![app, a.as_str()], account_from_row)
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

    async fn token_hash(&self, app: i64, accid: &Accid) -> StoreResult<Option<[u8; 32]>> {
        let accid = accid.clone();
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT token_hash FROM accounts WHERE app_id = ?1 AND accid = ?2",
                    )
                    .map_err(internal)?;
                let h: Option<Vec<u8>> = st
                    .query_row(params![app, accid.as_str()], |r| r.get(0))
                    .optional()
                    .map_err(internal)?;
                Ok(h.and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()))
            })
            .await
    }

    async fn index_entries(&self, app: i64) -> StoreResult<Vec<IndexEntry>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT ordinal, areaid, enterptypeid, blocked, accid FROM accounts \
                         WHERE app_id = ?1 ORDER BY ordinal",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map([app], |r| {
                        Ok(IndexEntry {
                            ordinal: r.get(0)?,
                            accid: r.get(4)?,
                            areaid: r.get(1)?,
                            enterptypeid: r.get(2)?,
                            blocked: r.get(3)?,
                        })
                    })
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn create_area(&self, app: i64, area: Area) -> StoreResult<()> {
        self.db
            .write(move |c| {
                if exists(
                    c,
                    "SELECT 1 FROM areas WHERE app_id = ?1 AND areaid = ?2",
                    app,
                    &area.areaid,
                )? {
                    return Err(StoreError::AlreadyExists(format!("areaid {}", area.areaid)));
                }
                if let Some(parent) = &area.parentid
                    && !exists(
                        c,
                        "SELECT 1 FROM areas WHERE app_id = ?1 AND areaid = ?2",
                        app,
                        parent,
                    )?
                {
                    return Err(StoreError::UnknownParent(parent.clone()));
                }
                c.execute(
                    "INSERT INTO areas (app_id, areaid, name, parentid) VALUES (?1, ?2, ?3, ?4)",
                    params![app, area.areaid, area.name, area.parentid],
                )
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn update_area(
        &self,
        app: i64,
        areaid: &str,
        name: Option<String>,
        parentid: Option<Option<String>>,
    ) -> StoreResult<()> {
        let areaid = areaid.to_owned();
        self.db
            .write(move |c| {
                if !exists(
                    c,
                    "SELECT 1 FROM areas WHERE app_id = ?1 AND areaid = ?2",
                    app,
                    &areaid,
                )? {
                    return Err(StoreError::NotFound(format!("areaid {areaid}")));
                }
                if let Some(Some(parent)) = &parentid {
                    // Walk up from the new parent: meeting `areaid` on the way means a cycle.
                    let mut cur = Some(parent.clone());
                    let mut first = true;
                    while let Some(id) = cur {
                        if id == areaid {
                            return Err(StoreError::Cycle(parent.clone()));
                        }
                        let up: Option<Option<String>> = {
                            let mut st = c
                                .prepare_cached(
                                    "SELECT parentid FROM areas WHERE app_id = ?1 AND areaid = ?2",
                                )
                                .map_err(internal)?;
                            st.query_row(params![app, id], |r| r.get(0))
                                .optional()
                                .map_err(internal)?
                        };
                        match up {
                            None if first => return Err(StoreError::UnknownParent(parent.clone())),
                            None => break,
                            Some(p) => cur = p,
                        }
                        first = false;
                    }
                }
                if let Some(name) = name {
                    c.execute(
                        "UPDATE areas SET name = ?3 WHERE app_id = ?1 AND areaid = ?2",
                        params![app, areaid, name],
                    )
                    .map_err(internal)?;
                }
                if let Some(parent) = parentid {
                    c.execute(
                        "UPDATE areas SET parentid = ?3 WHERE app_id = ?1 AND areaid = ?2",
                        params![app, areaid, parent],
                    )
                    .map_err(internal)?;
                }
                Ok(())
            })
            .await
    }

    async fn delete_area(&self, app: i64, areaid: &str) -> StoreResult<()> {
        let areaid = areaid.to_owned();
        self.db
            .write(move |c| {
                let sql = "SELECT areaid FROM areas WHERE app_id = ?1 AND parentid = ?2 LIMIT 1";
                if let Some(child) = first_string(c, sql, app, &areaid)? {
                    return Err(StoreError::InUse(format!(
                        "areaid {areaid} is the parent of area {child}"
                    )));
                }
                let sql = "SELECT accid FROM accounts WHERE app_id = ?1 AND areaid = ?2 LIMIT 1";
                if let Some(accid) = first_string(c, sql, app, &areaid)? {
                    return Err(StoreError::InUse(format!(
                        "areaid {areaid} is used by account {accid}"
                    )));
                }
                let n = c
                    .execute(
                        "DELETE FROM areas WHERE app_id = ?1 AND areaid = ?2",
                        params![app, areaid],
                    )
                    .map_err(internal)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!("areaid {areaid}")));
                }
                Ok(())
            })
            .await
    }

    async fn list_areas(&self, app: i64) -> StoreResult<Vec<Area>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached("SELECT areaid, name, parentid FROM areas WHERE app_id = ?1 ORDER BY areaid")
                    .map_err(internal)?;
                let rows = st
                    .query_map([app], |r| Ok(Area { areaid: r.get(0)?, name: r.get(1)?, parentid: r.get(2)? }))
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn create_enterptype(&self, app: i64, t: Enterptype) -> StoreResult<()> {
        self.db
            .write(move |c| {
                let sql = "SELECT 1 FROM enterptypes WHERE app_id = ?1 AND enterptypeid = ?2";
                if exists(c, sql, app, &t.enterptypeid)? {
                    return Err(StoreError::AlreadyExists(format!(
                        "enterptypeid {}",
                        t.enterptypeid
                    )));
                }
                c.execute(
                    "INSERT INTO enterptypes (app_id, enterptypeid, name) VALUES (?1, ?2, ?3)",
                    params![app, t.enterptypeid, t.name],
                )
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn update_enterptype(&self, app: i64, id: &str, name: String) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE enterptypes SET name = ?3 WHERE app_id = ?1 AND enterptypeid = ?2",
                        params![app, id, name],
                    )
                    .map_err(internal)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!("enterptypeid {id}")));
                }
                Ok(())
            })
            .await
    }

    async fn delete_enterptype(&self, app: i64, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                let sql =
                    "SELECT accid FROM accounts WHERE app_id = ?1 AND enterptypeid = ?2 LIMIT 1";
                if let Some(accid) = first_string(c, sql, app, &id)? {
                    return Err(StoreError::InUse(format!(
                        "enterptypeid {id} is used by account {accid}"
                    )));
                }
                let n = c
                    .execute(
                        "DELETE FROM enterptypes WHERE app_id = ?1 AND enterptypeid = ?2",
                        params![app, id],
                    )
                    .map_err(internal)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!("enterptypeid {id}")));
                }
                Ok(())
            })
            .await
    }

    async fn list_enterptypes(&self, app: i64) -> StoreResult<Vec<Enterptype>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT enterptypeid, name FROM enterptypes WHERE app_id = ?1 ORDER BY enterptypeid",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map([app], |r| Ok(Enterptype { enterptypeid: r.get(0)?, name: r.get(1)? }))
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn store_messages(
        &self,
        app: i64,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
        on_commit: OnCommit,
    ) -> StoreResult<Vec<Sent>> {
        let seq = self.msgids.clone();
        self.db
            .write_then(
                move |c| messages::store(c, &seq, app, &msgs, now_ms, dedupe_since_ms),
                move |sent: &Vec<Sent>| on_commit(sent),
            )
            .await
    }

    async fn message(&self, app: i64, msgid: i64) -> StoreResult<Option<Message>> {
        self.db.read(move |c| messages::get(c, app, msgid)).await
    }

    async fn message_by_client(&self, app: i64, msgidclient: &str) -> StoreResult<Option<Message>> {
        let key = msgidclient.to_owned();
        self.db
            .read(move |c| messages::by_client(c, app, &key))
            .await
    }

    async fn message_audience(&self, app: i64, msgid: i64) -> StoreResult<Option<Vec<u8>>> {
        self.db
            .read(move |c| messages::audience(c, app, msgid))
            .await
    }

    async fn recall_message(
        &self,
        app: i64,
        msgid: i64,
        tombstone: NewMessage,
        now_ms: i64,
        on_commit: OnCommit,
    ) -> StoreResult<Sent> {
        let seq = self.msgids.clone();
        self.db
            .write_then(
                move |c| messages::recall(c, &seq, app, msgid, &tombstone, now_ms),
                move |sent: &Sent| on_commit(std::slice::from_ref(sent)),
            )
            .await
    }

    async fn session_messages(&self, app: i64, q: SessionQuery) -> StoreResult<Vec<Message>> {
        self.db.read(move |c| messages::session(c, app, &q)).await
    }

    async fn user_messages(
        &self,
        app: i64,
        ordinal: u32,
        after: i64,
        limit: usize,
        now_ms: i64,
    ) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| messages::for_user(c, app, ordinal, after, limit, now_ms))
            .await
    }

    async fn mass_messages(
        &self,
        app: i64,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| messages::mass(c, app, before, limit))
            .await
    }

    async fn broadcasts(
        &self,
        app: i64,
        start: i64,
        limit: usize,
        filter: BroadcastFilter,
    ) -> StoreResult<Vec<Message>> {
        self.db
            .read(move |c| messages::broadcasts(c, app, start, limit, filter))
            .await
    }

    async fn delete_broadcast(&self, app: i64, id: i64) -> StoreResult<bool> {
        self.db
            .write(move |c| messages::delete_broadcast(c, app, id))
            .await
    }

    async fn save_cursors(&self, app: i64, cursors: Vec<(u32, i64)>) -> StoreResult<()> {
        self.db
            .write(move |c| {
                let mut st = c
                    .prepare_cached(
                        "INSERT INTO cursors (app_id, ordinal, cursor) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (app_id, ordinal) DO UPDATE SET cursor = max(cursor, excluded.cursor)",
                    )
                    .map_err(internal)?;
                for (o, cur) in &cursors {
                    st.execute(params![app, o, cur]).map_err(internal)?;
                }
                Ok(())
            })
            .await
    }

    async fn delivered(&self, app: i64, msgid: i64) -> StoreResult<Vec<u32>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT ordinal FROM cursors WHERE app_id = ?1 AND cursor >= ?2",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map(params![app, msgid], |r| r.get(0))
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn add_reads(&self, app: i64, reads: Vec<(i64, Vec<u8>)>) -> StoreResult<()> {
        self.db
            .write(move |c| {
                for (msgid, blob) in &reads {
                    let old: Option<Vec<u8>> = c
                        .query_row(
                            "SELECT readers FROM reads WHERE app_id = ?1 AND msgid = ?2",
                            params![app, msgid],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(internal)?;
                    let mut bits = qunfa_core::audience::decode(blob).map_err(internal)?;
                    if let Some(old) = old {
                        bits |= qunfa_core::audience::decode(&old).map_err(internal)?;
                    }
                    c.execute(
                        "INSERT INTO reads (app_id, msgid, readers) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (app_id, msgid) DO UPDATE SET readers = excluded.readers",
                        params![app, msgid, qunfa_core::audience::encode(&bits)],
                    )
                    .map_err(internal)?;
                }
                Ok(())
            })
            .await
    }

    async fn readers(&self, app: i64, msgid: i64) -> StoreResult<Option<Vec<u8>>> {
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT readers FROM reads WHERE app_id = ?1 AND msgid = ?2",
                    params![app, msgid],
                    |r| r.get(0),
                )
                .optional()
                .map_err(internal)
            })
            .await
    }

    async fn accids_of(&self, app: i64, ordinals: Vec<u32>) -> StoreResult<Vec<(u32, String)>> {
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
                        .query_row(params![app, o], |r| r.get::<_, String>(0))
                        .optional()
                        .map_err(internal)?
                    {
                        out.push((o, a));
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn set_words(&self, app: i64, words: Vec<String>) -> StoreResult<()> {
        self.db
            .write(move |c| {
                let json = serde_json::to_string(&words).map_err(internal)?;
                c.execute(
                    "INSERT INTO antispam_words (app_id, words) VALUES (?1, ?2) \
                     ON CONFLICT (app_id) DO UPDATE SET words = excluded.words",
                    params![app, json],
                )
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn words(&self, app: i64) -> StoreResult<Vec<String>> {
        self.db
            .read(move |c| {
                let json: Option<String> = c
                    .query_row(
                        "SELECT words FROM antispam_words WHERE app_id = ?1",
                        [app],
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
