//! Messages sent by clients over the gateway: a point-to-point or team message from the
//! session's account, with the same rules as `msg/sendMsg` (validation, keyword filter,
//! limits, `msgidClient` idempotency), a per-account rate limit (416), multi-device sync (the
//! sender's other sessions get what it sent), and the app's pre-send check (第三方回调): when
//! the app has a pre-send URL, its server is asked before the message is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use qunfa_core::account::Accid;
use qunfa_core::bus::Target;
use qunfa_core::callback::{self, PreSendAnswer};
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::{MsgKind, NewMessage, Sent};
use qunfa_core::team::Tid;
use qunfa_core::{ApiError, Code};

use crate::Services;
use crate::content::Content;
use crate::login::ClientInfo;
use crate::teams::messages::TeamSend;

/// Who a client's message is for.
#[derive(Clone, Debug)]
pub enum ClientTo {
    Account(Accid),
    Team(Tid),
}

/// A client's `send` frame, parsed.
#[derive(Clone, Debug)]
pub struct ClientSend {
    pub to: ClientTo,
    pub content: Content,
    pub mark_read: bool,
    pub msgidclient: Option<String>,
    /// The sending session's client (copied as `fromClientType`, `fromDeviceId`).
    pub client: ClientInfo,
}

/// What became of a client's send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientSent {
    Stored(Sent),
    /// The app's pre-send check refused it (or failed, with `callbacks.pre_send_on_failure`
    /// = `"block"`); `response_code` is the app server's, for the client.
    Blocked {
        response_code: Option<i64>,
    },
}

/// Per-account token buckets: `rate` sends a second, bursts of `burst`. Kept per node (a
/// client's sends go through the node it is connected to).
pub struct SendLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<(AppId, Ordinal), (f64, i64)>>,
}

impl SendLimiter {
    pub fn new(rate_per_sec: u32, burst: u32) -> SendLimiter {
        SendLimiter {
            rate: f64::from(rate_per_sec),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes one send from the account's bucket at `now_ms`; `false` when it is empty.
    pub fn take(&self, app: AppId, who: Ordinal, now_ms: i64) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 100_000 {
            // Full buckets are the same as no bucket: forget those, so idle accounts cost nothing.
            let (rate, burst) = (self.rate, self.burst);
            b.retain(|_, (tokens, at)| {
                *tokens + (now_ms - *at).max(0) as f64 / 1000.0 * rate < burst
            });
        }
        let (tokens, at) = b.entry((app, who)).or_insert((self.burst, now_ms));
        let refill = (now_ms - *at).max(0) as f64 / 1000.0 * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Services {
    /// A client's send, as the session's account: the message as `sendMsg` would store it,
    /// once the app's pre-send check (if it has one) let it pass.
    pub async fn client_send(
        &self,
        app: AppId,
        from: &Accid,
        from_o: Ordinal,
        mut req: ClientSend,
    ) -> Result<ClientSent, ApiError> {
        if !self.send_limit.take(app, from_o, self.now_ms()) {
            return Err(ApiError::new(
                Code::RateLimited,
                format!(
                    "too many sends: at most {} a second (gateway.send_rate_per_sec)",
                    self.send_limit.rate()
                ),
            ));
        }
        let to_o = match &req.to {
            ClientTo::Account(to) => Some(self.registered(app, to).await?),
            ClientTo::Team(_) => None,
        };
        let ctx = || callback::client_ctx(&req.client.client_type, &req.client.device_id);
        if let Some(answer) = self.pre_send(app, from, &req).await {
            match answer {
                PreSendAnswer::Block { response_code } => {
                    return Ok(ClientSent::Blocked { response_code });
                }
                PreSendAnswer::Pass { body: Some(body) } => {
                    let checked = qunfa_core::message::check_body(
                        req.content.msg_type,
                        Some(&body),
                        self.rules.max_body_chars,
                    )
                    .map_err(|e| ApiError::param(format!("modifyResponse.body: {}", e.desc)))?;
                    req.content.body = checked;
                }
                PreSendAnswer::Pass { body: None } | PreSendAnswer::Invalid(_) => {}
            }
        }
        let kind = match req.to {
            ClientTo::Team(_) => MsgKind::Team,
            ClientTo::Account(_) => MsgKind::P2p,
        };
        let copy = self.copying(app, kind).then(ctx);
        let sent = match (req.to, to_o) {
            (ClientTo::Team(tid), _) => {
                let team = TeamSend {
                    from: from.clone(),
                    tid,
                    content: req.content,
                    mark_read: req.mark_read,
                    msgidclient: req.msgidclient,
                };
                self.send_team_with(app, team, copy).await?
            }
            (ClientTo::Account(to), to_o) => {
                let to_o = to_o.ok_or_else(|| ApiError::internal("recipient checked above"))?;
                let mut m = NewMessage::new(
                    MsgKind::P2p,
                    from.clone(),
                    req.content.msg_type,
                    req.content.body_text(),
                );
                m.antispam = self.words.hits(app, &req.content.shown_text()).await?;
                m.to = Some(to);
                m.to_ordinal = Some(to_o);
                m.from_ordinal = Some(from_o);
                m.ext = req.content.ext;
                m.extra = req.content.extra;
                m.mark_read = req.mark_read;
                m.msgidclient = req.msgidclient;
                m.copy = copy;
                let both = Arc::new([to_o.0, from_o.0].into_iter().collect());
                let since = self.now_ms() - self.rules.dedupe_window_secs * 1000;
                let sent = self
                    .commit_guarded(app, Vec::new(), vec![(m, Target::Audience(both))], since)
                    .await?;
                sent.into_iter()
                    .next()
                    .ok_or_else(|| ApiError::internal("store answered no result for one message"))?
            }
        };
        Ok(ClientSent::Stored(sent))
    }

    /// Asks the app's pre-send URL about a client's send, when it has one: the eventType "1"
    /// payload of the message as it would be stored, without `msgidServer`.
    async fn pre_send(&self, app: AppId, from: &Accid, req: &ClientSend) -> Option<PreSendAnswer> {
        let a = self.apps.by_id(app)?;
        if a.callbacks.pre_send_url.is_empty() {
            return None;
        }
        let ctx = callback::client_ctx(&req.client.client_type, &req.client.device_id);
        let (kind, to, tid) = match &req.to {
            ClientTo::Account(to) => (MsgKind::P2p, Some(to.clone()), None),
            ClientTo::Team(tid) => (MsgKind::Team, None, Some(*tid)),
        };
        let mut m = NewMessage::new(
            kind,
            from.clone(),
            req.content.msg_type,
            req.content.body_text(),
        );
        m.to = to;
        m.tid = tid;
        m.ext.clone_from(&req.content.ext);
        m.extra.clone_from(&req.content.extra);
        m.msgidclient.clone_from(&req.msgidclient);
        let preview = m.stored(&Sent {
            msgid: MsgId(0),
            timetag: self.now_ms(),
            antispam: false,
            recipients: 1,
            duplicate: false,
        });
        let payload =
            serde_json::Value::Object(callback::render_message(&preview, &ctx)).to_string();
        Some(self.hooks.pre_send(&a, payload).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_at_the_rate() {
        let l = SendLimiter::new(10, 20);
        let (app, who) = (AppId(1), Ordinal(7));
        assert_eq!((0..25).filter(|_| l.take(app, who, 0)).count(), 20);
        assert!(!l.take(app, who, 50));
        assert!(l.take(app, who, 100), "one more after 100 ms");
        assert!(l.take(app, Ordinal(8), 100), "accounts are apart");
    }
}
