//! What a logged-in client asks of the gateway besides acks and reads: sending a message as
//! its account (`send` → `sent`), recalling its own (`recallMsg` → `recallMsgResult`), and
//! answering team invitations and applications (→ `result`). Each frame is checked as the
//! HTTP API checks its parameters (`api::Params`, `api::msg_params`), so a refusal carries the
//! code and `desc` the HTTP API would give.

use bytes::Bytes;
use qunfa_core::ApiError;
use qunfa_core::ids::MsgId;
use qunfa_core::team::Tid;
use qunfa_service::client::{ClientSend, ClientSent, ClientTo};
use qunfa_service::login::Session;
use serde_json::{Map, Value, json};

use super::protocol::{self, ClientFrame};
use crate::api::Params;
use crate::api::msg_params;
use crate::state::AppState;

fn logged(e: ApiError) -> ApiError {
    if let Some(detail) = &e.detail {
        tracing::error!(detail = %detail, "client frame failed");
    }
    e
}

async fn send(
    s: &AppState,
    who: &Session,
    mut frame: Map<String, Value>,
) -> Result<ClientSent, ApiError> {
    // The frame's `msgidClient` is sendMsg's `msgidclient`.
    if let Some(v) = frame.remove("msgidClient") {
        frame.insert("msgidclient".into(), v);
    }
    let params = Params::from_json(frame);
    let team = params
        .one_of("ope", &["0", "1"])?
        .ok_or_else(|| ApiError::missing("ope"))?
        == "1";
    let to = if team {
        ClientTo::Team(Tid::parse(params.get("to").unwrap_or(""), "to")?)
    } else {
        ClientTo::Account(params.accid("to")?)
    };
    let req = ClientSend {
        to,
        content: msg_params::content(&params, s.config.messages.max_body_chars)?,
        mark_read: msg_params::mark_read(&params)?,
        msgidclient: msg_params::msgidclient(&params)?,
        client: who.client.clone(),
    };
    s.services
        .client_send(who.app.id, &who.accid, who.ordinal, req)
        .await
}

/// A team frame as the session's account; `Some` data for the `result`.
async fn team(s: &AppState, who: &Session, frame: ClientFrame) -> Result<Option<Value>, ApiError> {
    let (app, me) = (who.app.id, &who.accid);
    let params = |m: Map<String, Value>| Params::from_json(m);
    let tid = |p: &Params| Tid::parse(p.get("tid").unwrap_or(""), "tid");
    let msg = |p: &Params| -> Result<String, ApiError> {
        Ok(p.opt_max("msg", qunfa_core::team::MAX_MSG)?
            .unwrap_or("")
            .to_owned())
    };
    let svc = &s.services;
    match frame {
        ClientFrame::AcceptInvite(m) => {
            let p = params(m);
            svc.accept_invite(app, tid(&p)?, me).await?;
        }
        ClientFrame::RejectInvite(m) => {
            let p = params(m);
            svc.reject_invite(app, tid(&p)?, me, msg(&p)?).await?;
        }
        ClientFrame::Apply(m) => {
            let p = params(m);
            let pending = svc.apply_to_team(app, tid(&p)?, me, msg(&p)?).await?;
            return Ok(Some(json!({ "pending": pending })));
        }
        ClientFrame::PassApply(m) => {
            let p = params(m);
            svc.pass_apply(app, tid(&p)?, me, &p.accid("accid")?)
                .await?;
        }
        ClientFrame::RejectApply(m) => {
            let p = params(m);
            svc.reject_apply(app, tid(&p)?, me, &p.accid("accid")?, msg(&p)?)
                .await?;
        }
        _ => {}
    }
    Ok(None)
}

/// Handles `send`, `recallMsg` and the team frames; answers the reply frame (`None` for other
/// frames).
pub async fn handle(s: &AppState, who: &Session, frame: ClientFrame) -> Option<Bytes> {
    match frame {
        ClientFrame::Send(m) => {
            let key = m
                .get("msgidClient")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let r = send(s, who, m).await.map_err(logged);
            Some(protocol::sent(key.as_deref(), r.as_ref()))
        }
        ClientFrame::RecallMsg(m) => {
            let id = m.get("msgid").and_then(Value::as_i64);
            let r = match id {
                Some(id) => s
                    .services
                    .recall_own(who.app.id, &who.accid, MsgId(id))
                    .await
                    .map_err(logged),
                None => Err(ApiError::param("msgid must be a msgid")),
            };
            Some(protocol::recall_result(id, r.as_ref().map(|_| ())))
        }
        frame @ (ClientFrame::AcceptInvite(_)
        | ClientFrame::RejectInvite(_)
        | ClientFrame::Apply(_)
        | ClientFrame::PassApply(_)
        | ClientFrame::RejectApply(_)) => {
            let req = match &frame {
                ClientFrame::AcceptInvite(m)
                | ClientFrame::RejectInvite(m)
                | ClientFrame::Apply(m)
                | ClientFrame::PassApply(m)
                | ClientFrame::RejectApply(m) => m.get("req").cloned(),
                _ => None,
            };
            let r = team(s, who, frame).await.map_err(logged);
            Some(protocol::result(req.as_ref(), r))
        }
        _ => None,
    }
}

/// The account's pending invitations, as `teamInvite` frames (sent after `synced`).
pub async fn pending_invites(s: &AppState, who: &Session) -> Vec<Bytes> {
    match s
        .services
        .pending_invitations(who.app.id, who.ordinal)
        .await
    {
        Ok(list) => list
            .iter()
            .map(|(inv, tname)| protocol::team_invite(inv, tname))
            .collect(),
        Err(e) => {
            let _ = logged(e);
            Vec::new()
        }
    }
}
