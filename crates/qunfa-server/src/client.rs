//! A signing NIM client: what `qunfa call`, `qunfa import` and the tests use to talk to a server
//! the way an app backend would.

use std::time::Duration;

use anyhow::{Context, bail};
use qunfa_core::auth::checksum;
use qunfa_core::clock::{SharedClock, SystemClock};
use serde_json::Value;

#[derive(Clone)]
pub struct NimClient {
    http: reqwest::Client,
    base: String,
    appkey: String,
    secret: String,
    clock: SharedClock,
}

impl NimClient {
    /// `base` is the server's root URL, e.g. `http://127.0.0.1:8080`.
    pub fn new(base: &str, appkey: &str, secret: &str) -> NimClient {
        crate::tls::install();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_default();
        NimClient {
            http,
            base: base
                .trim_end_matches('/')
                .trim_end_matches("/nimserver")
                .to_owned(),
            appkey: appkey.to_owned(),
            secret: secret.to_owned(),
            clock: std::sync::Arc::new(SystemClock),
        }
    }

    /// Signs with this clock's time (tests move the server's and the client's clock together).
    pub fn with_clock(mut self, clock: SharedClock) -> NimClient {
        self.clock = clock;
        self
    }

    pub fn appkey(&self) -> &str {
        &self.appkey
    }

    /// `user/create`, `user/create.action` or `/nimserver/user/create.action` → full URL.
    pub fn url(&self, endpoint: &str) -> String {
        let e = endpoint
            .trim_start_matches('/')
            .trim_start_matches("nimserver/");
        let e = e.strip_suffix(".action").unwrap_or(e);
        format!("{}/nimserver/{e}.action", self.base)
    }

    /// Fresh signature headers: AppKey, Nonce, CurTime, CheckSum.
    pub fn sign(&self) -> [(&'static str, String); 4] {
        let nonce = qunfa_core::random_hex(16);
        let curtime = (self.clock.now_ms() / 1000).to_string();
        let sum = checksum(&self.secret, &nonce, &curtime);
        [
            ("AppKey", self.appkey.clone()),
            ("Nonce", nonce),
            ("CurTime", curtime),
            ("CheckSum", sum),
        ]
    }

    /// A signed form-encoded call (NIM's default), answering the JSON reply.
    pub async fn call(&self, endpoint: &str, params: &[(&str, &str)]) -> anyhow::Result<Value> {
        let body = serde_urlencoded::to_string(params).context("encoding form")?;
        self.send(
            endpoint,
            &self.sign(),
            "application/x-www-form-urlencoded;charset=utf-8",
            body.into_bytes(),
        )
        .await
    }

    /// A signed JSON call.
    pub async fn call_json(&self, endpoint: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(
            endpoint,
            &self.sign(),
            "application/json; charset=utf-8",
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Sends exactly these headers and body (tests use it to send bad signatures).
    pub async fn send(
        &self,
        endpoint: &str,
        headers: &[(&str, String)],
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .post(self.url(endpoint))
            .header("Content-Type", content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {}", self.url(endpoint)))?;
        let status = resp.status();
        let text = resp.text().await.context("reading answer")?;
        // qunfa answers an unknown path 404 and a wrong method 405, with NIM's JSON body.
        let nim_body = matches!(status.as_u16(), 404 | 405);
        if !status.is_success() && !nim_body {
            bail!("HTTP {status} from {}: {text}", self.url(endpoint));
        }
        serde_json::from_str(&text).with_context(|| format!("answer is not JSON: {text}"))
    }
}
