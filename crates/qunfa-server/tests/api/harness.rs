//! Starts a real qunfa (port 0, a manual clock) on SQLite in a temp dir, or, with
//! `QUNFA_TEST_STORE=postgres`, on a PostgreSQL schema of its own (`QUNFA_TEST_PG`): the same
//! suite runs on both backends.

use std::sync::Arc;

use qunfa_core::auth::App;
use qunfa_core::clock::{Clock, ManualClock, SystemClock};
use qunfa_server::client::NimClient;
use qunfa_server::{AppState, Config, Server};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Which backend the suite runs on (`QUNFA_TEST_STORE`).
pub fn on_postgres() -> bool {
    std::env::var("QUNFA_TEST_STORE").is_ok_and(|v| v == "postgres")
}

pub struct TestServer {
    pub base: String,
    /// The PostgreSQL schema, when the suite runs on PostgreSQL.
    pub pg: Option<qunfa_store::testing::PgSchema>,
    pub clock: ManualClock,
    pub app: App,
    pub client: NimClient,
    server: Option<Arc<Server>>,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        // The tests' own HTTP clients use TLS-capable reqwest too: it needs the provider first.
        qunfa_server::tls::install();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        cfg.api.app_refresh_ms = 50;
        cfg.store.synchronous_full = false;
        let pg = on_postgres().then(qunfa_store::testing::PgSchema::new);
        if let Some(pg) = &pg {
            cfg.store.url = pg.url();
            cfg.store.pool_size = 4;
        }
        tweak(&mut cfg);
        let clock = ManualClock::new(SystemClock.now_ms());
        let server = Arc::new(
            Server::open(cfg, Arc::new(clock.clone()))
                .await
                .expect("server opens"),
        );
        let app = server
            .bootstrapped
            .clone()
            .expect("first start creates an app");
        let (base, stop, running) = serve(server.clone()).await;
        let client =
            NimClient::new(&base, &app.appkey, &app.secret).with_clock(Arc::new(clock.clone()));
        TestServer {
            base,
            pg,
            clock,
            app,
            client,
            server: Some(server),
            dir,
            stop: Some(stop),
            running: Some(running),
        }
    }

    /// Stops the server (as SIGTERM would) and starts it again on the same store and clock,
    /// on a new port.
    pub async fn restart(&mut self) {
        self.stop();
        if let Some(r) = self.running.take() {
            r.await.expect("server task");
        }
        let cfg = self.state().config.clone();
        // The old server (and its data directory lock) goes first.
        self.server = None;
        let server = Arc::new(
            Server::open(cfg, Arc::new(self.clock.clone()))
                .await
                .expect("server opens again"),
        );
        self.server = Some(server.clone());
        let (base, stop, running) = serve(server).await;
        self.client = NimClient::new(&base, &self.app.appkey, &self.app.secret)
            .with_clock(Arc::new(self.clock.clone()));
        self.base = base;
        self.stop = Some(stop);
        self.running = Some(running);
    }

    pub fn clock_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.server.as_ref().expect("the server is running").state
    }

    /// A client for another app, on the same clock.
    pub fn client_for(&self, app: &App) -> NimClient {
        NimClient::new(&self.base, &app.appkey, &app.secret)
            .with_clock(Arc::new(self.clock.clone()))
    }

    pub async fn new_app(&self, name: &str) -> (App, NimClient) {
        let app = self
            .state()
            .services
            .store
            .create_app(name)
            .await
            .expect("create app");
        let c = self.client_for(&app);
        (app, c)
    }

    pub async fn call(&self, endpoint: &str, params: &[(&str, &str)]) -> Value {
        self.client
            .call(endpoint, params)
            .await
            .expect("call answers")
    }
}

impl TestServer {
    /// The same store opened again, as another process (`qunfa app …`) would.
    pub async fn open_store_again(&self) -> std::sync::Arc<dyn qunfa_core::Store> {
        let c = &self.state().config;
        let opts = qunfa_store::Options {
            data_dir: c.data_dir.clone(),
            synchronous_full: false,
            pool_size: 2,
            curtime_window_secs: 300,
            limits: qunfa_core::ratelimit::Limits {
                default: c.rate_limits.default,
                batch: c.rate_limits.batch,
                broadcast: c.rate_limits.broadcast,
                team_query: c.rate_limits.team_query,
            },
        };
        qunfa_store::open(&c.store.url, &opts)
            .await
            .expect("store opens again")
            .store
    }

    /// Breaks the database under the running server, as a failing disk or a bad hand edit
    /// would: drops `table`.
    pub async fn drop_table(&self, table: &str) {
        match &self.pg {
            None => {
                let path = self.dir.path().join(qunfa_store::sqlite::DB_FILE);
                let conn = rusqlite::Connection::open(path).expect("open sqlite");
                conn.execute_batch(&format!("DROP TABLE {table}"))
                    .expect("drop table");
            }
            Some(pg) => {
                let c = pg_client().await;
                c.batch_execute(&format!("DROP TABLE \"{}\".{table} CASCADE", pg.name()))
                    .await
                    .expect("drop table");
            }
        }
    }

    /// Everything the store holds, as bytes: the database files (after a checkpoint) for
    /// SQLite, every row of every table as text for PostgreSQL.
    pub async fn stored_bytes(&self) -> Vec<u8> {
        match &self.pg {
            None => {
                let path = self.dir.path().join(qunfa_store::sqlite::DB_FILE);
                let conn = rusqlite::Connection::open(path).expect("open sqlite");
                conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                    .expect("checkpoint");
                let mut out = Vec::new();
                for entry in std::fs::read_dir(self.dir.path()).expect("data dir") {
                    out.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
                }
                out
            }
            Some(pg) => {
                let c = pg_client().await;
                let tables = c
                    .query(
                        "SELECT tablename FROM pg_tables WHERE schemaname = $1",
                        &[&pg.name()],
                    )
                    .await
                    .expect("tables");
                let mut out = Vec::new();
                for t in tables {
                    let name: String = t.get(0);
                    let rows = c
                        .query(
                            &format!("SELECT t::text FROM \"{}\".{name} t", pg.name()),
                            &[],
                        )
                        .await
                        .expect("rows");
                    for r in rows {
                        out.extend(r.get::<_, String>(0).into_bytes());
                    }
                }
                out
            }
        }
    }

    /// Starts the server's shutdown (as SIGTERM does for `qunfa serve`).
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Creates accounts with the given accids (panics unless each answers 200).
pub async fn create_users(s: &TestServer, accids: &[&str]) {
    for a in accids {
        let r = s.call("user/create", &[("accid", a)]).await;
        assert_eq!(r["code"], 200, "creating {a}: {r}");
    }
}

/// Runs `server` on a fresh port: its base URL, its stop switch and its task.
async fn serve(server: Arc<Server>) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        qunfa_server::run(listener, server, async {
            let _ = stopped.await;
        })
        .await
        .expect("server runs");
    });
    (base, stop, running)
}

async fn pg_client() -> tokio_postgres::Client {
    let base = qunfa_store::testing::pg_base_url();
    let (client, conn) = tokio_postgres::connect(
        base.split('?').next().unwrap_or_default(),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect to postgres");
    tokio::spawn(conn);
    client
}
