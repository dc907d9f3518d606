//! `history/*`: NIM's session and broadcast history, and qunfa's per-account and mass-send
//! listings.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::{ApiError, Code};

use super::{Answer, Nim};
use crate::state::AppState;

fn todo(what: &str) -> Answer {
    Err(ApiError::new(Code::NotFound, format!("{what} is not built yet")).into())
}

pub async fn query_session_msg(State(_s): State<Arc<AppState>>, Nim { .. }: Nim) -> Answer {
    todo("history/querySessionMsg")
}
pub async fn query_broadcast_msg(State(_s): State<Arc<AppState>>, Nim { .. }: Nim) -> Answer {
    todo("history/queryBroadcastMsg")
}
pub async fn query_broadcast_msg_by_id(State(_s): State<Arc<AppState>>, Nim { .. }: Nim) -> Answer {
    todo("history/queryBroadcastMsgById")
}
pub async fn del_broadcast_msg_by_id(State(_s): State<Arc<AppState>>, Nim { .. }: Nim) -> Answer {
    todo("history/delBroadcastMsgById")
}
pub async fn query_user_msgs(State(_s): State<Arc<AppState>>, Nim { .. }: Nim) -> Answer {
    todo("history/queryUserMsgs")
}
pub async fn query_mass_msgs(State(_s): State<Arc<AppState>>, Nim { .. }: Nim) -> Answer {
    todo("history/queryMassMsgs")
}
