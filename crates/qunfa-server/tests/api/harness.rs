//! Starts a real qunfa (SQLite in a temp dir, port 0) with a manual clock.

use std::sync::Arc;

use qunfa_core::auth::App;
use qunfa_core::clock::{Clock, ManualClock, SystemClock};
use qunfa_server::client::NimClient;
use qunfa_server::{AppState, Config, Server};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct TestServer {
    pub base: String,
    pub clock: ManualClock,
    pub app: App,
    pub client: NimClient,
    pub server: Arc<Server>,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        cfg.api.app_refresh_ms = 50;
        cfg.store.synchronous_full = false;
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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let running = server.clone();
        tokio::spawn(async move {
            qunfa_server::run(listener, running, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        let client =
            NimClient::new(&base, &app.appkey, &app.secret).with_clock(Arc::new(clock.clone()));
        TestServer {
            base,
            clock,
            app,
            client,
            server,
            dir,
            stop: Some(stop),
        }
    }

    pub fn clock_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.server.state
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
