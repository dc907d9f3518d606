//! NIM's payloads: an outbox event rendered into the JSON object POSTed to the app's server
//! (every value a string, keys in byte order, as NIM's own example), and the pre-send check's
//! answer read back.

use serde_json::{Map, Value};

use super::{CallbackEvent, event};
use crate::message::{Message, MsgKind};

fn s(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

/// NIM's `msgType` name of a message type.
fn msg_type(m: &Message) -> &'static str {
    match (m.kind, m.tid.is_some()) {
        (MsgKind::Notify, true) => return "CUSTOM_TEAM_MSG",
        (MsgKind::Notify, false) => return "CUSTOM_P2P_MSG",
        (MsgKind::Broadcast, _) => return "TEXT",
        _ => {}
    }
    match m.msg_type {
        0 => "TEXT",
        1 => "PICTURE",
        2 => "AUDIO",
        3 => "VIDEO",
        4 => "LOCATION",
        5 => "NOTIFICATION",
        6 => "FILE",
        10 => "TIPS",
        _ => "CUSTOM",
    }
}

fn conv_type(m: &Message) -> &'static str {
    match (m.kind, m.tid.is_some()) {
        (MsgKind::Team, _) => "TEAM",
        (MsgKind::Notify, true) => "CUSTOM_TEAM",
        (MsgKind::Notify, false) => "CUSTOM_PERSON",
        (MsgKind::Mass, _) => "MASS",
        (MsgKind::Broadcast, _) => "BROADCAST",
        _ => "PERSON",
    }
}

fn extra(m: &Message) -> Map<String, Value> {
    match m.extra.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(o))) => o,
        _ => Map::new(),
    }
}

/// A value as NIM's string: strings as they are, anything else JSON-encoded.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(t) => t.clone(),
        other => other.to_string(),
    }
}

/// The string fields of `ctx` (the facts the message does not hold), copied as they are.
fn ctx_fields(ctx: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(ctx) {
        Ok(Value::Object(o)) => o.into_iter().map(|(k, v)| (k, s(as_text(&v)))).collect(),
        _ => Map::new(),
    }
}

/// The eventType "1" payload of a message (without `msgidServer` and `eventId`, which the
/// caller adds once the message has them): what the pre-send check is asked about too.
pub fn render_message(m: &Message, ctx: &str) -> Map<String, Value> {
    let mut o = Map::new();
    let ctx = ctx_fields(ctx);
    let x = extra(m);
    o.insert("eventType".into(), s(event::MESSAGE));
    o.insert("convType".into(), s(conv_type(m)));
    let to = match (m.kind, m.tid, &m.to) {
        (MsgKind::Mass | MsgKind::Broadcast, _, _) => String::new(),
        (_, Some(tid), _) => tid.to_string(),
        (_, None, Some(to)) => to.to_string(),
        _ => String::new(),
    };
    o.insert("to".into(), s(to));
    o.insert("fromAccount".into(), s(m.from.as_str()));
    for key in ["fromClientType", "fromDeviceId", "fromNick"] {
        let v = ctx.get(key).cloned().unwrap_or_else(|| match key {
            "fromClientType" => s("REST"),
            _ => s(""),
        });
        o.insert(key.into(), v);
    }
    o.insert("msgTimestamp".into(), s(m.timetag));
    let kind = msg_type(m);
    o.insert("msgType".into(), s(kind));
    let body: Option<Value> = serde_json::from_str(&m.body).ok();
    let text = body
        .as_ref()
        .and_then(|b| b.get("msg"))
        .and_then(Value::as_str);
    let (body, attach) = match (m.kind, kind) {
        (MsgKind::Broadcast, _) => (m.body.clone(), String::new()),
        (_, "TEXT" | "TIPS") => (text.unwrap_or("").to_owned(), String::new()),
        _ => (String::new(), m.body.clone()),
    };
    o.insert("body".into(), s(body));
    o.insert("attach".into(), s(attach));
    if let Some(ext) = &m.ext {
        o.insert("ext".into(), s(ext));
    }
    if matches!(m.kind, MsgKind::P2p | MsgKind::Team) {
        o.insert(
            "msgidClient".into(),
            s(m.msgidclient.as_deref().unwrap_or("")),
        );
        o.insert("resendFlag".into(), s("0"));
    }
    if m.antispam {
        o.insert("antispam".into(), s("true"));
    }
    if let Some(env) = x.get("env") {
        o.insert("env".into(), s(as_text(env)));
    }
    match m.kind {
        MsgKind::Team if m.msg_type == 5 => {
            let ids = serde_json::from_str::<Value>(&m.body)
                .ok()
                .and_then(|v| v.pointer("/data/ids").cloned())
                .unwrap_or_else(|| Value::Array(Vec::new()));
            o.insert("tMembers".into(), s(ids.to_string()));
        }
        MsgKind::Notify => {
            o.insert(
                "customSafeFlag".into(),
                s(if m.offline { "1" } else { "0" }),
            );
            if let Some(p) = x.get("pushcontent") {
                o.insert("customApnsText".into(), s(as_text(p)));
            }
        }
        MsgKind::Mass => {
            o.insert("recipients".into(), s(m.recipients));
            o.insert("selection".into(), s(selection(m, &ctx).to_string()));
        }
        MsgKind::Broadcast => {
            o.insert("isOffline".into(), s(m.offline));
            o.insert("expireTime".into(), s(m.expire_ms.unwrap_or(0)));
            let os = x
                .get("targetOs")
                .cloned()
                .unwrap_or_else(|| Value::Array(Vec::new()));
            o.insert("targetOs".into(), s(os.to_string()));
        }
        _ => {}
    }
    o
}

/// A targeted send's `selection`: areas, types, the explicit list's size, the teams.
fn selection(m: &Message, ctx: &Map<String, Value>) -> Value {
    let stored: Map<String, Value> = m
        .selection
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .unwrap_or_default();
    let list = stored
        .get("accids")
        .and_then(Value::as_array)
        .map(|a| a.len() as u64)
        .or_else(|| stored.get("accidCount").and_then(Value::as_u64))
        .unwrap_or(0);
    let arr = |k: &str| stored.get(k).cloned().unwrap_or(Value::Array(Vec::new()));
    let tids = ctx
        .get("tids")
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .unwrap_or(Value::Array(Vec::new()));
    let mut o = Map::new();
    o.insert("areaid".into(), arr("areaid"));
    o.insert("enterptypeid".into(), arr("enterptypeid"));
    o.insert("list".into(), Value::from(list));
    o.insert("tids".into(), tids);
    Value::Object(o)
}

/// A recall's eventType "7"/"8" payload.
fn render_recall(ev: &CallbackEvent, m: &Message) -> Map<String, Value> {
    let ctx = ctx_fields(&ev.ctx);
    let conv = ctx
        .get("convType")
        .and_then(Value::as_str)
        .unwrap_or(if m.tid.is_some() { "TEAM" } else { "PERSON" })
        .to_owned();
    let mut o = Map::new();
    o.insert("eventType".into(), s(&ev.event_type));
    o.insert("convType".into(), s(&conv));
    o.insert("fromAccount".into(), s(m.from.as_str()));
    let to = match (conv.as_str(), m.tid, &m.to) {
        ("TEAM", Some(tid), _) => tid.to_string(),
        ("PERSON", _, Some(to)) => to.to_string(),
        _ => String::new(),
    };
    o.insert("to".into(), s(to));
    o.insert("deleteMsgid".into(), s(m.ref_msgid.map_or(0, |r| r.get())));
    o.insert("msgidServer".into(), s(m.msgid));
    o.insert("msgTimestamp".into(), s(m.timetag));
    o.insert(
        "timetag".into(),
        ctx.get("timetag").cloned().unwrap_or_else(|| s("")),
    );
    let msg = serde_json::from_str::<Value>(&m.body)
        .ok()
        .and_then(|b| b.get("msg").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    o.insert("msg".into(), s(msg));
    let x = extra(m);
    o.insert(
        "attach".into(),
        s(x.get("attach").map(as_text).unwrap_or_default()),
    );
    if let Some(env) = x.get("env") {
        o.insert("env".into(), s(as_text(env)));
    }
    o
}

/// The exact body POSTed for an event (its MD5 is computed over these bytes). Stable: the same
/// event renders the same bytes on every attempt.
pub fn render(ev: &CallbackEvent) -> String {
    let mut o = match (&ev.message, ev.event_type.as_str()) {
        (Some(m), event::RECALL | event::TEAM_RECALL) => render_recall(ev, m),
        (Some(m), _) => {
            let mut o = render_message(m, &ev.ctx);
            o.insert("msgidServer".into(), s(m.msgid));
            o
        }
        (None, _) => ctx_fields(&ev.ctx),
    };
    o.insert("eventId".into(), s(ev.id));
    // serde_json's map keeps keys sorted: the body is the same bytes every time.
    Value::Object(o).to_string()
}

/// What an app's server answered a pre-send check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreSendAnswer {
    /// `{"errCode":0}`; with `modifyResponse.body`, the body to store instead (JSON text).
    Pass { body: Option<String> },
    /// `{"errCode":1}`, with the optional `responseCode` for the client.
    Block { response_code: Option<i64> },
    /// Not JSON with an integer `errCode` of 0 or 1: the failure policy decides.
    Invalid(String),
}

/// Reads a pre-send answer's body (the status was 200).
pub fn pre_send_answer(raw: &[u8]) -> PreSendAnswer {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(raw) else {
        return PreSendAnswer::Invalid("the answer is not a JSON object".into());
    };
    match o.get("errCode").and_then(Value::as_i64) {
        Some(0) => {}
        Some(1) => {
            return PreSendAnswer::Block {
                response_code: o.get("responseCode").and_then(Value::as_i64),
            };
        }
        Some(n) => return PreSendAnswer::Invalid(format!("errCode {n} is neither 0 nor 1")),
        None => return PreSendAnswer::Invalid("no integer errCode".into()),
    }
    let modify = match o.get("modifyResponse") {
        Some(Value::String(t)) => serde_json::from_str::<Value>(t).ok(),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        _ => None,
    };
    let body = modify.and_then(|m| match m.get("body") {
        Some(b @ Value::Object(_)) => Some(b.to_string()),
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    });
    PreSendAnswer::Pass { body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Accid;
    use crate::ids::{AppId, MsgId};
    use crate::message::{NewMessage, Sent};

    fn stored(m: &NewMessage, msgid: i64) -> Message {
        m.stored(&Sent {
            msgid: MsgId(msgid),
            timetag: 1441977355557,
            antispam: false,
            recipients: 1,
            duplicate: false,
        })
    }

    fn event(id: i64, t: &str, ctx: &str, m: Option<Message>) -> CallbackEvent {
        CallbackEvent {
            id,
            app: AppId(1),
            msgid: m.as_ref().map(|m| m.msgid),
            event_type: t.into(),
            ctx: ctx.into(),
            created_ms: 0,
            attempts: 0,
            next_ms: 0,
            dead: false,
            last_error: None,
            message: m,
        }
    }

    #[test]
    fn a_text_message_renders_as_nim_shows_it() {
        let mut n = NewMessage::new(
            MsgKind::P2p,
            Accid::from_stored("111".into()),
            0,
            r#"{"msg":"hello"}"#.into(),
        );
        n.to = Some(Accid::from_stored("222".into()));
        n.msgidclient = Some("1234567".into());
        let ev = event(
            9,
            "1",
            r#"{"fromClientType":"IOS","fromDeviceId":"thisisfromdeviceid"}"#,
            Some(stored(&n, 3456789)),
        );
        assert_eq!(
            render(&ev),
            r#"{"attach":"","body":"hello","convType":"PERSON","eventId":"9","eventType":"1","fromAccount":"111","fromClientType":"IOS","fromDeviceId":"thisisfromdeviceid","fromNick":"","msgTimestamp":"1441977355557","msgType":"TEXT","msgidClient":"1234567","msgidServer":"3456789","resendFlag":"0","to":"222"}"#
        );
    }

    #[test]
    fn pre_send_answers() {
        assert_eq!(
            pre_send_answer(br#"{"errCode":0}"#),
            PreSendAnswer::Pass { body: None }
        );
        assert_eq!(
            pre_send_answer(br#"{"errCode":1,"responseCode":20001}"#),
            PreSendAnswer::Block {
                response_code: Some(20001)
            }
        );
        assert_eq!(
            pre_send_answer(br#"{"errCode":0,"modifyResponse":"{\"body\":{\"msg\":\"***\"}}"}"#),
            PreSendAnswer::Pass {
                body: Some(r#"{"msg":"***"}"#.into())
            }
        );
        assert_eq!(
            pre_send_answer(br#"{"errCode":0,"modifyResponse":{"body":"{\"msg\":\"x\"}"}}"#),
            PreSendAnswer::Pass {
                body: Some(r#"{"msg":"x"}"#.into())
            }
        );
        assert!(matches!(pre_send_answer(b"ok"), PreSendAnswer::Invalid(_)));
        assert!(matches!(
            pre_send_answer(br#"{"errCode":"0"}"#),
            PreSendAnswer::Invalid(_)
        ));
    }
}
