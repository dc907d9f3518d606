//! `antispam/*` (qunfa): the app's keyword list for the filter that intercepts messages.

use std::sync::Arc;

use axum::extract::State;
use qunfa_service::words::MAX_WORDS;
use serde_json::json;

use super::{Answer, Nim, ok};
use crate::state::AppState;

/// `antispam/setWords`: replaces the app's list (`words`, a JSON array of strings).
pub async fn set_words(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let words = params.string_array("words", MAX_WORDS)?;
    s.services.set_words(app.id, words).await?;
    ok(json!({}))
}

/// `antispam/getWords`: the app's own list (the config's global list is not shown).
pub async fn get_words(State(s): State<Arc<AppState>>, Nim { app, .. }: Nim) -> Answer {
    let words = s.services.words(app.id).await?;
    ok(json!({"data": {"words": words}}))
}
