//! An app's server, as a NIM customer writes one: a real HTTP server on 127.0.0.1:0 that checks
//! every request's `MD5` against the body it received and its `CheckSum` against
//! `sha1(AppSecret + MD5 + CurTime)`, records what came, and answers as the test planned
//! (a status, a body, a delay).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use md5::Digest as _;
use serde_json::Value;
use sha1::Digest as _;

/// One answer the receiver gives.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay_ms: u64,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            body: String::new(),
            delay_ms: 0,
        }
    }

    pub fn json(body: &str) -> Reply {
        Reply {
            status: 200,
            body: body.into(),
            delay_ms: 0,
        }
    }

    pub fn slow(mut self, ms: u64) -> Reply {
        self.delay_ms = ms;
        self
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Got {
    pub appkey: String,
    pub curtime: i64,
    pub content_type: String,
    pub json: Value,
    /// `MD5` and `CheckSum` both right.
    pub signed: bool,
    /// The status it was answered with.
    pub answered: u16,
}

struct Inner {
    secret: String,
    got: Mutex<Vec<Got>>,
    plan: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
}

pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn handle(
    State(r): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let md5 = header(&headers, "MD5");
    let curtime = header(&headers, "CurTime");
    let checksum = header(&headers, "CheckSum");
    // What a receiver written against NIM's page does, step by step.
    let body_md5 = hex::encode(md5::Md5::digest(&body));
    let mut h = sha1::Sha1::new();
    h.update(format!("{}{}{}", r.secret, md5, curtime).as_bytes());
    let expected = hex::encode(h.finalize());
    let signed = body_md5 == md5 && expected == checksum;
    let reply = r
        .plan
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| r.default.lock().unwrap().clone());
    r.got.lock().unwrap().push(Got {
        appkey: header(&headers, "AppKey"),
        curtime: curtime.parse().unwrap_or(-1),
        content_type: header(&headers, "Content-Type"),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed,
        answered: reply.status,
    });
    // Recorded on arrival: a caller that gives up drops the connection, and this with it.
    if reply.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(reply.delay_ms)).await;
    }
    (StatusCode::from_u16(reply.status).unwrap(), reply.body)
}

impl Receiver {
    /// Starts one for the app with this secret, answering 200 unless planned otherwise.
    pub async fn start(secret: &str) -> Receiver {
        let inner = Arc::new(Inner {
            secret: secret.into(),
            got: Mutex::default(),
            plan: Mutex::default(),
            default: Mutex::new(Reply::status(200)),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/nim/callback", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, inner }
    }

    /// The next answers, in order; then the default again.
    pub fn plan(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.plan.lock().unwrap().extend(replies);
    }

    /// What it answers when nothing is planned.
    pub fn answer(&self, r: Reply) {
        *self.inner.default.lock().unwrap() = r;
    }

    pub fn got(&self) -> Vec<Got> {
        self.inner.got.lock().unwrap().clone()
    }

    /// The payloads it answered 200.
    pub fn delivered(&self) -> Vec<Value> {
        self.got()
            .into_iter()
            .filter(|g| g.answered == 200)
            .map(|g| g.json)
            .collect()
    }
}
