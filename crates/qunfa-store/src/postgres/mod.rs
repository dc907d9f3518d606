//! The PostgreSQL backend: what several qunfa nodes share. This module owns opening: the URL
//! (with qunfa's own `schema` parameter), the connection pool, and the migrations applied at
//! open. One file per part of the port; message writes go through the group-committing
//! writer (`writer.rs`), every other write is an ordinary transaction on a pooled connection.

mod accounts;
mod admission;
mod apps;
mod batch;
mod callbacks;
mod delivery;
mod dict;
mod messages;
mod statements;
mod teams;
mod transfer;
mod words;
mod writer;

use std::fmt::Write as _;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use qunfa_core::ids::AppId;
use qunfa_core::store::{Store, StoreError, StoreResult};
use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

pub use admission::PgAdmission;

const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (2, include_str!("../../migrations/postgres/0002_teams.sql")),
    (
        3,
        include_str!("../../migrations/postgres/0003_callbacks.sql"),
    ),
];

/// How long `open` may take before it gives up on an unreachable server.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// The TCP connect timeout when the URL names none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// Where a URL points, parsed: the driver's configuration and qunfa's schema.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) schema: String,
}

impl Target {
    /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME&...]`. `schema` is
    /// qunfa's: it is taken out before the rest goes to tokio-postgres, and every connection
    /// gets it as its `search_path`.
    pub(crate) fn parse(url: &str) -> StoreResult<Target> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", v)) => schema = Some(v.to_owned()),
                _ => rest.push(pair),
            }
        }
        let schema = schema.unwrap_or_else(|| "public".to_owned());
        if schema.is_empty()
            || schema.len() > 63
            || schema.starts_with(|c: char| c.is_ascii_digit())
            || !schema
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StoreError::Internal(format!(
                "store.url: schema must be 1..=63 letters, digits or _ (not starting with a digit): {schema:?}"
            )));
        }
        let mut driver_url = base.to_owned();
        if !rest.is_empty() {
            let _ = write!(driver_url, "?{}", rest.join("&"));
        }
        let mut config: tokio_postgres::Config = driver_url.parse().map_err(|e| {
            // The driver's message never echoes the URL, so no password can leak through it.
            StoreError::Internal(format!("store.url is not a PostgreSQL URL: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let options = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} -c search_path=\"{schema}\""),
            _ => format!("-c search_path=\"{schema}\""),
        };
        config.options(options);
        if config.get_application_name().is_none() {
            config.application_name("qunfa");
        }
        Ok(Target { config, schema })
    }

    fn host(&self) -> String {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_owned(),
        }
    }

    fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or_else(|| self.user())
    }

    /// `HOST:PORT/DB`, for errors.
    pub(crate) fn place(&self) -> String {
        format!("{}:{}/{}", self.host(), self.port(), self.dbname())
    }

    /// What was opened, for logs: never the password.
    pub(crate) fn describe(&self) -> String {
        format!(
            "postgres {}@{} schema {}",
            self.user(),
            self.place(),
            self.schema
        )
    }

    /// Opens one connection of its own (the writer's, the migrator's).
    pub(crate) async fn connect(&self) -> StoreResult<tokio_postgres::Client> {
        let (client, conn) = self.config.connect(NoTls).await.map_err(|e| {
            StoreError::Internal(format!(
                "cannot connect to postgres at {}: {}",
                self.place(),
                pg_detail(&e)
            ))
        })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::warn!(error = %pg_detail(&e), "postgres connection ended");
            }
        });
        Ok(client)
    }
}

/// The PostgreSQL store: a pool for reads and ordinary writes, one writer for messages.
pub struct PgStore {
    pool: Pool,
    writer: writer::Writer,
    target: Target,
}

/// Opens the database `url` names (creating its schema and applying migrations) and answers
/// the store and the shared admission state. Fails within 30 s when the server is unreachable.
pub(crate) async fn open(url: &str, opts: &crate::Options) -> StoreResult<crate::Backend> {
    let target = Target::parse(url)?;
    let place = target.place();
    let opened = tokio::time::timeout(OPEN_TIMEOUT, PgStore::open_target(target, opts.pool_size))
        .await
        .map_err(|_| {
            StoreError::Internal(format!(
                "cannot connect to postgres at {place}: no answer within {} s",
                OPEN_TIMEOUT.as_secs()
            ))
        })??;
    let admission = PgAdmission::new(opened.pool.clone(), opts.curtime_window_secs, opts.limits);
    let store = std::sync::Arc::new(opened);
    Ok(crate::Backend {
        describe: store.target.describe(),
        source: None,
        sink: Some(store.clone()),
        store,
        admission: Some(std::sync::Arc::new(admission)),
        embedded: None,
    })
}

impl PgStore {
    /// Opens `url` with a pool of `pool_size` connections (plus the writer's own).
    pub async fn open(url: &str, pool_size: usize) -> StoreResult<PgStore> {
        let target = Target::parse(url)?;
        let place = target.place();
        tokio::time::timeout(OPEN_TIMEOUT, Self::open_target(target, pool_size))
            .await
            .map_err(|_| {
                StoreError::Internal(format!(
                    "cannot connect to postgres at {place}: no answer within {} s",
                    OPEN_TIMEOUT.as_secs()
                ))
            })?
    }

    async fn open_target(target: Target, pool_size: usize) -> StoreResult<PgStore> {
        let mut client = target.connect().await?;
        migrate(&mut client, &target.schema).await?;
        drop(client);
        let manager = Manager::from_config(
            target.config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(internal)?;
        let writer = writer::Writer::start(target.clone()).await?;
        Ok(PgStore {
            pool,
            writer,
            target,
        })
    }

    /// What was opened, for logs (never the password).
    pub fn describe(&self) -> String {
        self.target.describe()
    }

    /// The shared admission state on this store's database, sharing its pool.
    pub fn admission(
        &self,
        window_secs: i64,
        limits: qunfa_core::ratelimit::Limits,
    ) -> PgAdmission {
        PgAdmission::new(self.pool.clone(), window_secs, limits)
    }

    /// This deployment's identity (random, made by the first migration).
    pub async fn deployment_id(&self) -> StoreResult<String> {
        let c = self.client().await?;
        let row = c
            .query_one("SELECT value FROM meta WHERE key = 'deployment_id'", &[])
            .await
            .map_err(pg)?;
        Ok(row.get(0))
    }

    pub(crate) async fn client(&self) -> StoreResult<Object> {
        get(&self.pool).await
    }
}

pub(crate) async fn get(pool: &Pool) -> StoreResult<Object> {
    pool.get()
        .await
        .map_err(|e| StoreError::Internal(format!("no postgres connection: {e}")))
}

impl Store for PgStore {
    fn is_shared(&self) -> bool {
        true
    }
}

/// Applies the migrations the schema has not seen, under a transaction-scoped advisory lock
/// (keyed by schema) so nodes starting together apply each exactly once.
async fn migrate(client: &mut tokio_postgres::Client, schema: &str) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('qunfa migrations ' || $1::text, 0))",
        &[&schema],
    )
    .await
    .map_err(pg)?;
    // The schema name was checked to be a plain identifier by `Target::parse`.
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET LOCAL search_path TO \"{schema}\"; \
         CREATE TABLE IF NOT EXISTS qunfa_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL);"
    ))
    .await
    .map_err(pg)?;
    let applied: Vec<i32> = tx
        .query("SELECT version FROM qunfa_migrations", &[])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let started = std::time::Instant::now();
    let mut applying = Vec::new();
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        applying.push(*version);
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Internal(format!("migration {version} failed: {}", pg_detail(&e)))
        })?;
        tx.execute(
            "INSERT INTO qunfa_migrations (version, applied_ms) VALUES ($1, $2)",
            &[version, &now_ms()],
        )
        .await
        .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)?;
    if !applying.is_empty() {
        tracing::info!(
            schema,
            versions = ?applying,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "postgres migrations applied"
        );
    }
    Ok(())
}

/// A driver error with its cause (tokio-postgres' own `Display` says only "db error").
pub(crate) fn pg_detail(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{db} (SQLSTATE {})", db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// `StoreError::Internal` from a driver error.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    StoreError::Internal(pg_detail(&e))
}

pub(crate) use qunfa_core::store::internal;

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Empty strings are stored as NULL: "set to empty" and "never set" read back the same.
pub(crate) fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Bumps the app's change sequence inside `tx` and answers the new value. The UPDATE locks the
/// app's row until the transaction ends, so every account, dictionary and keyword-list write of
/// an app is serialised by it and sequence order is commit order. Writers take it first, so a
/// refused write (which rolls back) leaves the sequence as it was.
pub(crate) async fn next_change(
    tx: &deadpool_postgres::Transaction<'_>,
    app: AppId,
) -> StoreResult<i64> {
    let st = tx
        .prepare_cached(
            "UPDATE apps SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq",
        )
        .await
        .map_err(pg)?;
    let row = tx.query_opt(&st, &[&app.0]).await.map_err(pg)?;
    row.map(|r| r.get(0))
        .ok_or_else(|| StoreError::Internal(format!("app {app} not found")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_schema_and_never_show_the_password() {
        let t = Target::parse(
            "postgres://qunfa:s3cret@db.example:6543/chat?schema=tenant_1&sslmode=disable",
        )
        .unwrap();
        assert_eq!(t.schema, "tenant_1");
        assert_eq!(
            t.describe(),
            "postgres qunfa@db.example:6543/chat schema tenant_1"
        );
        assert_eq!(t.config.get_options(), Some("-c search_path=\"tenant_1\""));
        assert_eq!(t.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));

        let t = Target::parse("postgresql://root@127.0.0.1/test").unwrap();
        assert_eq!(
            t.describe(),
            "postgres root@127.0.0.1:5432/test schema public"
        );

        let t = Target::parse("postgres://root@h/db?options=-c%20work_mem%3D8MB&connect_timeout=3")
            .unwrap();
        assert_eq!(
            t.config.get_options(),
            Some("-c work_mem=8MB -c search_path=\"public\"")
        );
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );

        for bad in ["x;drop", "", "1abc", "a\"b"] {
            let url = format!("postgres://root@h/db?schema={bad}");
            assert!(Target::parse(&url).is_err(), "{bad:?}");
        }
        let Err(StoreError::Internal(e)) = Target::parse("postgres://root:pw@h/db?bogus=1") else {
            panic!("an unknown parameter is refused");
        };
        assert!(!e.contains("pw"), "{e}");
    }
}
