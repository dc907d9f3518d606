//! 抄送 (message copy) and 第三方回调 (pre-send check): the per-app settings, the events an app's
//! server is sent, how they are signed, and the retry schedule. No IO: the outbox lives in the
//! store (`CallbackStore`), the HTTP client in `qunfa-server`.
//!
//! An event is written to the outbox in the transaction that stores what it describes (a
//! message, a recall) and rendered into NIM's payload only when it is sent (`payload.rs`), from
//! the stored message and the few facts the message does not hold (the client's type, the
//! recalled message's conversation), kept with the event as `ctx`.

mod payload;

pub use payload::{PreSendAnswer, pre_send_answer, render, render_message};

use serde_json::{Map, Value};
use sha1::{Digest as _, Sha1};

use crate::ApiError;
use crate::ids::{AppId, MsgId};
use crate::message::{Message, MsgKind};

/// Longest callback or pre-send URL accepted.
pub const MAX_URL: usize = 1024;

/// NIM's `eventType` values qunfa produces.
pub mod event {
    /// A stored message (P2P, team, custom notification, targeted send, broadcast).
    pub const MESSAGE: &str = "1";
    pub const LOGIN: &str = "2";
    pub const LOGOUT: &str = "3";
    /// Recall of a point-to-point message, a targeted send or a broadcast.
    pub const RECALL: &str = "7";
    /// Recall of a team message.
    pub const TEAM_RECALL: &str = "8";
}

/// Which kinds of events an app's server is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Events {
    pub messages: bool,
    pub recalls: bool,
    pub logins: bool,
}

impl Default for Events {
    fn default() -> Self {
        Events::ALL
    }
}

impl Events {
    pub const ALL: Events = Events {
        messages: true,
        recalls: true,
        logins: true,
    };
    pub const NONE: Events = Events {
        messages: false,
        recalls: false,
        logins: false,
    };

    /// A comma-separated list: `messages`, `recalls`, `logins` (or `msg`, `recall`, `login`),
    /// `all`, or empty / `none` for nothing. `param` names the parameter in a refusal.
    pub fn parse(raw: &str, param: &str) -> Result<Events, ApiError> {
        let mut e = Events::NONE;
        for word in raw.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word.to_ascii_lowercase().as_str() {
                "messages" | "message" | "msg" | "msgs" => e.messages = true,
                "recalls" | "recall" => e.recalls = true,
                "logins" | "login" => e.logins = true,
                "all" => e = Events::ALL,
                "none" => {}
                _ => {
                    return Err(ApiError::param(format!(
                        "{param}: {word:?} is not one of messages, recalls, logins, all, none"
                    )));
                }
            }
        }
        Ok(e)
    }

    /// As stored and shown: `messages,recalls,logins` (empty for none).
    pub fn as_list(&self) -> String {
        let mut out = Vec::new();
        if self.messages {
            out.push("messages");
        }
        if self.recalls {
            out.push("recalls");
        }
        if self.logins {
            out.push("logins");
        }
        out.join(",")
    }
}

/// An app's callback settings, stored with the app.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppCallbacks {
    /// Where events are POSTed (抄送); empty: nothing is copied.
    pub url: String,
    pub events: Events,
    /// Where a client's send is checked before it is stored (第三方回调); empty: no check.
    pub pre_send_url: String,
}

impl AppCallbacks {
    /// Whether a message of `kind` is copied: with a URL, and its kind selected.
    pub fn copies(&self, kind: MsgKind) -> bool {
        !self.url.is_empty()
            && match kind {
                MsgKind::Recall => self.events.recalls,
                _ => self.events.messages,
            }
    }

    /// Whether gateway logins and logouts are copied.
    pub fn copies_logins(&self) -> bool {
        !self.url.is_empty() && self.events.logins
    }
}

/// Checks a callback URL: empty (off), or an absolute `http://` / `https://` URL with a host.
pub fn check_url(raw: &str, param: &str) -> Result<String, ApiError> {
    let url = raw.trim();
    if url.is_empty() {
        return Ok(String::new());
    }
    if url.chars().count() > MAX_URL {
        return Err(ApiError::too_long(param, MAX_URL));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let ok = host.is_some_and(|h| !h.is_empty() && !h.starts_with(':'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(ApiError::param(format!(
            "{param} must be an http:// or https:// URL: {url:?}"
        )));
    }
    Ok(url.to_owned())
}

/// The event type a stored message is copied as.
pub fn event_type(m_kind: MsgKind, tid_set: bool) -> &'static str {
    match (m_kind, tid_set) {
        (MsgKind::Recall, true) => event::TEAM_RECALL,
        (MsgKind::Recall, false) => event::RECALL,
        _ => event::MESSAGE,
    }
}

/// An event that is not a stored message (a login or logout): its type and whole payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub app: AppId,
    pub event_type: String,
    /// The payload as a JSON object (every value a string), without `eventId`.
    pub payload: String,
}

/// An outbox row, as the deliverer and `qunfa app callbacks` read it.
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackEvent {
    /// The outbox's id: `eventId` on the wire, stable across retries and resends.
    pub id: i64,
    pub app: AppId,
    /// The message it describes (message and recall events).
    pub msgid: Option<MsgId>,
    pub event_type: String,
    /// JSON object: what the payload needs besides the message (message events), or the whole
    /// payload (logins).
    pub ctx: String,
    pub created_ms: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_ms: i64,
    /// Attempts exhausted: kept until resent.
    pub dead: bool,
    pub last_error: Option<String>,
    /// The message, read with the event (message and recall events).
    pub message: Option<Message>,
}

/// An app's outbox at a glance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Waiting to be sent (due or in backoff).
    pub pending: u64,
    pub dead: u64,
    /// When the earliest pending event is due.
    pub next_ms: Option<i64>,
}

/// What a failed attempt leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failed {
    /// Try again at this time.
    Retry { next_ms: i64 },
    /// Attempts exhausted: a dead letter.
    Dead,
}

/// The retry schedule: `callbacks.backoff_initial_ms` doubling up to `backoff_max_ms`, for
/// `max_attempts` attempts in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial_ms: u64,
    pub max_ms: u64,
    pub max_attempts: u32,
}

impl Backoff {
    /// After the `attempts`-th failed attempt (1 for the first) at `now_ms`.
    pub fn after(&self, attempts: u32, now_ms: i64) -> Failed {
        if attempts >= self.max_attempts.max(1) {
            return Failed::Dead;
        }
        let shift = attempts.saturating_sub(1).min(40);
        let delay = self
            .initial_ms
            .saturating_mul(1u64 << shift)
            .min(self.max_ms.max(self.initial_ms));
        Failed::Retry {
            next_ms: now_ms.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX)),
        }
    }
}

/// The signature headers of one request: `MD5` of the exact body (lowercase hex) and
/// `CheckSum = sha1(AppSecret + MD5 + CurTime)` (lowercase hex), `CurTime` in milliseconds.
pub fn sign(secret: &str, body: &[u8], curtime_ms: &str) -> (String, String) {
    use md5::Digest as _;
    let md5 = hex::encode(md5::Md5::digest(body));
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(md5.as_bytes());
    h.update(curtime_ms.as_bytes());
    (md5, hex::encode(h.finalize()))
}

/// The context of a message sent by a client over the gateway: its client type and device.
pub fn client_ctx(client_type: &str, device_id: &str) -> String {
    let mut o = Map::new();
    o.insert("fromClientType".into(), Value::from(client_type));
    if !device_id.is_empty() {
        o.insert("fromDeviceId".into(), Value::from(device_id));
    }
    Value::Object(o).to_string()
}

/// The context of a recall: the recalled message's conversation and send time.
pub fn recall_ctx(original: &Message) -> String {
    let conv = match original.kind {
        MsgKind::Team => "TEAM",
        MsgKind::Mass => "MASS",
        MsgKind::Broadcast => "BROADCAST",
        _ => "PERSON",
    };
    let mut o = Map::new();
    o.insert("convType".into(), Value::from(conv));
    o.insert("timetag".into(), Value::from(original.timetag.to_string()));
    Value::Object(o).to_string()
}

/// What the use cases need of the callback machinery (the deliverer and the HTTP client, in
/// `qunfa-server`): telling it that events were queued, and asking an app's pre-send URL.
#[async_trait::async_trait]
pub trait Hooks: Send + Sync + 'static {
    /// Events of `app` were just committed to the outbox by this node: deliver them soon.
    fn queued(&self, app: AppId);
    /// Asks the app's pre-send URL about `payload` (one attempt, with its timeout). The
    /// failure policy is applied: the answer is `Pass` or `Block`, never `Invalid`.
    async fn pre_send(&self, app: &crate::auth::App, payload: String) -> PreSendAnswer;
}

/// No callback machinery (tools and tests that do not deliver): nothing is asked, all passes.
pub struct NoHooks;

#[async_trait::async_trait]
impl Hooks for NoHooks {
    fn queued(&self, _app: AppId) {}
    async fn pre_send(&self, _app: &crate::auth::App, _payload: String) -> PreSendAnswer {
        PreSendAnswer::Pass { body: None }
    }
}

/// The client types a gateway login may name (NIM's, plus `MAC`).
pub const CLIENT_TYPES: [&str; 7] = ["AOS", "IOS", "PC", "WINPHONE", "WEB", "MAC", "REST"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_reference_vector() {
        let body = r#"{"attach":"thisisattach","body":"hello","convType":"PERSON","eventType":"1","fromAccount":"111","fromClientType":"IOS","fromDeviceId":"thisisfromdeviceid","fromNick":"mike","msgTimestamp":"1441977355557","msgType":"TEXT","msgidClient":"1234567","msgidServer":"3456789","resendFlag":"0","to":"222"}"#;
        assert_eq!(body.len(), 297);
        let (md5, sum) = sign("1234567890ab", body.as_bytes(), "1440570500855");
        assert_eq!(md5, "976c63dc4263a5cf82d53daa435be67c");
        assert_eq!(sum, "ea57e0429b59d5fea0b497e874a5f3927bc684c0");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_then_gives_up() {
        let b = Backoff {
            initial_ms: 1000,
            max_ms: 300_000,
            max_attempts: 10,
        };
        let delays: Vec<i64> = (1..10)
            .map(|n| match b.after(n, 0) {
                Failed::Retry { next_ms } => next_ms,
                Failed::Dead => -1,
            })
            .collect();
        assert_eq!(
            delays,
            [
                1000, 2000, 4000, 8000, 16000, 32000, 64000, 128_000, 256_000
            ]
        );
        assert_eq!(b.after(10, 0), Failed::Dead);
        let capped = Backoff { max_ms: 5000, ..b };
        assert_eq!(capped.after(9, 7), Failed::Retry { next_ms: 5007 });
    }

    #[test]
    fn events_and_urls() {
        assert_eq!(
            Events::parse("msg,recall", "e").unwrap().as_list(),
            "messages,recalls"
        );
        assert_eq!(Events::parse("", "e").unwrap(), Events::NONE);
        assert_eq!(Events::parse("all", "e").unwrap(), Events::ALL);
        assert_eq!(
            Events::parse("msg,x", "events").unwrap_err().desc,
            "events: \"x\" is not one of messages, recalls, logins, all, none"
        );
        assert_eq!(check_url(" ", "url").unwrap(), "");
        assert_eq!(
            check_url("https://h.example:8443/cb?x=1", "url").unwrap(),
            "https://h.example:8443/cb?x=1"
        );
        for bad in [
            "ftp://h",
            "http://",
            "http:///x",
            "h.example/cb",
            "http://a b",
        ] {
            assert!(check_url(bad, "url").is_err(), "{bad}");
        }
    }
}
