//! The NIM-compatible HTTP API: `POST /nimserver/<group>/<name>.action`, one file per group.
//! Every answer is HTTP 200 with `{"code":…}` JSON; failures carry a `desc` naming the
//! offending parameter.

mod access;
pub mod antispam;
pub mod callback;
pub mod dic;
pub mod history;
pub mod lookup;
pub mod msg;
pub mod msg_params;
pub mod request;
pub mod routes;
pub mod stats;
pub mod team;
pub mod team_msg;
pub mod team_params;
pub mod timing;
pub mod user;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use qunfa_core::{ApiError, Code, StoreError};
use serde_json::{Value, json};

pub use request::{Nim, Params};
pub use routes::Routes;

use crate::state::AppState;

/// A failed request, answered as HTTP 200 `{"code":N,"desc":"…"}`.
#[derive(Debug)]
pub struct Failure(pub ApiError);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure(e.into())
    }
}

/// Attached to failed responses so the access middleware can report them.
#[derive(Clone, Debug)]
struct Failed(ApiError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = json!({"code": self.0.code.as_u16(), "desc": self.0.desc});
        let mut resp = json_response(&body);
        resp.extensions_mut().insert(Failed(self.0));
        resp
    }
}

/// A handler's answer.
pub type Answer = Result<Response, Failure>;

/// `{"code":200}` merged with `fields`.
pub fn ok(fields: Value) -> Answer {
    let mut body = json!({"code": 200});
    if let (Some(b), Value::Object(f)) = (body.as_object_mut(), fields) {
        b.extend(f);
    }
    Ok(json_response(&body))
}

fn json_response(body: &Value) -> Response {
    let mut resp = (StatusCode::OK, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Every route the server serves (the API, the gateway, the pages), before the fallbacks and
/// layers [`router`] adds. `docs/openapi.yaml` describes each of them (`tests/api/spec.rs`).
pub fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .route("/nimserver/user/create.action", post(user::create))
        .route("/nimserver/user/update.action", post(user::update))
        .route(
            "/nimserver/user/refreshToken.action",
            post(user::refresh_token),
        )
        .route("/nimserver/user/block.action", post(user::block))
        .route("/nimserver/user/unblock.action", post(user::unblock))
        .route("/nimserver/user/getUinfos.action", post(user::get_uinfos))
        .route(
            "/nimserver/user/updateUinfo.action",
            post(user::update_uinfo),
        )
        .route(
            "/nimserver/user/batchCreate.action",
            post(user::batch_create),
        )
        .route("/nimserver/dic/createArea.action", post(dic::create_area))
        .route("/nimserver/dic/updateArea.action", post(dic::update_area))
        .route("/nimserver/dic/deleteArea.action", post(dic::delete_area))
        .route("/nimserver/dic/listAreas.action", post(dic::list_areas))
        .route(
            "/nimserver/dic/createEnterptype.action",
            post(dic::create_enterptype),
        )
        .route(
            "/nimserver/dic/updateEnterptype.action",
            post(dic::update_enterptype),
        )
        .route(
            "/nimserver/dic/deleteEnterptype.action",
            post(dic::delete_enterptype),
        )
        .route(
            "/nimserver/dic/listEnterptypes.action",
            post(dic::list_enterptypes),
        )
        .route("/nimserver/msg/sendMsg.action", post(msg::send_msg))
        .route(
            "/nimserver/msg/sendBatchMsg.action",
            post(msg::send_batch_msg),
        )
        .route(
            "/nimserver/msg/sendMsgToAll.action",
            post(msg::send_msg_to_all),
        )
        .route(
            "/nimserver/msg/previewAudience.action",
            post(msg::preview_audience),
        )
        .route(
            "/nimserver/msg/broadcastMsg.action",
            post(msg::broadcast_msg),
        )
        .route("/nimserver/msg/recall.action", post(msg::recall))
        .route(
            "/nimserver/msg/recallMassMsg.action",
            post(msg::recall_mass_msg),
        )
        .route(
            "/nimserver/history/querySessionMsg.action",
            post(history::query_session_msg),
        )
        .route(
            "/nimserver/history/queryBroadcastMsg.action",
            post(history::query_broadcast_msg),
        )
        .route(
            "/nimserver/history/queryBroadcastMsgById.action",
            post(history::query_broadcast_msg_by_id),
        )
        .route(
            "/nimserver/history/delBroadcastMsgById.action",
            post(history::del_broadcast_msg_by_id),
        )
        .route(
            "/nimserver/history/queryUserMsgs.action",
            post(history::query_user_msgs),
        )
        .route(
            "/nimserver/history/queryMassMsgs.action",
            post(history::query_mass_msgs),
        )
        .route(
            "/nimserver/antispam/setWords.action",
            post(antispam::set_words),
        )
        .route(
            "/nimserver/antispam/getWords.action",
            post(antispam::get_words),
        )
        .route(
            "/nimserver/msg/queryMassMsgStats.action",
            post(stats::query_mass_msg_stats),
        )
        .route(
            "/nimserver/msg/markReadMsg.action",
            post(stats::mark_read_msg),
        )
        .route("/nimserver/user/search.action", post(lookup::search))
        .route(
            "/nimserver/dic/countAccounts.action",
            post(lookup::count_accounts),
        )
        .route(
            "/nimserver/msg/queryOverview.action",
            post(lookup::query_overview),
        )
        .route(
            "/nimserver/health/liveness.action",
            get(liveness).post(liveness),
        )
        .route(
            "/nimserver/app/setCallback.action",
            post(callback::set_callback),
        )
        .route(
            "/nimserver/app/getCallback.action",
            post(callback::get_callback),
        )
        .route(
            "/nimserver/app/listDeadCallbacks.action",
            post(callback::list_dead_callbacks),
        )
        .route(
            "/nimserver/app/resendCallbacks.action",
            post(callback::resend_callbacks),
        )
        .merge(team::routes())
        .route("/ws", axum::routing::get(crate::gateway::upgrade))
        .merge(crate::demo::router())
        .merge(crate::console::router())
        .merge(crate::health::routes())
}

/// The path of every route [`router`] serves, sorted.
pub fn route_paths() -> Vec<String> {
    let mut paths = routes().paths().to_vec();
    paths.sort();
    paths
}

/// The router production serves and the tests drive.
pub fn router(state: Arc<AppState>) -> Router {
    routes()
        .into_router()
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_answer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access::access,
        ))
        .layer(middleware::from_fn(timing::server_timing))
        .with_state(state)
}

async fn liveness() -> Answer {
    ok(json!({}))
}

/// An unknown path: HTTP 404 (so a status-based health check of a wrong path fails), with
/// NIM's JSON body.
async fn not_found(req: Request) -> Response {
    let mut resp = Failure(ApiError::new(
        Code::NotFound,
        format!("no such endpoint: {}", req.uri().path()),
    ))
    .into_response();
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

/// A known path with a method it does not take: HTTP 405, with NIM's JSON body (414: NIM's
/// own 405 means "parameter too long"). axum adds the `Allow` header of the route itself (POST
/// for the API, GET and HEAD for the pages and the gateway), so it is never wrong for one.
async fn method_not_allowed(req: Request) -> Response {
    let (method, path) = (req.method(), req.uri().path());
    let allowed = if path.starts_with("/nimserver/") {
        "POST"
    } else {
        "GET"
    };
    let mut resp = Failure(ApiError::param(format!(
        "method {method} not allowed: use {allowed}"
    )))
    .into_response();
    *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    resp
}

fn panic_answer(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    Failure(ApiError::internal("handler panicked")).into_response()
}
