//! `antispam/*` (qunfa): the app's keyword list for the filter that intercepts messages.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use serde_json::json;

use super::{Answer, Nim, ok};
use crate::state::AppState;

pub const MAX_WORDS: usize = 10_000;
pub const MAX_WORD_LEN: usize = 64;

/// `antispam/setWords`: replaces the app's list (`words`, a JSON array of strings).
pub async fn set_words(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let mut words = params.string_array("words", MAX_WORDS)?;
    for w in &mut words {
        *w = w.trim().to_owned();
        if w.is_empty() {
            return Err(ApiError::param("words must not hold empty strings").into());
        }
        if w.chars().count() > MAX_WORD_LEN {
            return Err(ApiError::param(format!(
                "words: {w:?} is longer than {MAX_WORD_LEN} characters"
            ))
            .into());
        }
    }
    words.sort();
    words.dedup();
    s.antispam.set_words(app.id, words).await?;
    ok(json!({}))
}

/// `antispam/getWords`: the app's own list (the config's global list is not shown).
pub async fn get_words(State(s): State<Arc<AppState>>, Nim { app, .. }: Nim) -> Answer {
    let words = s.store.words(app.id).await?;
    ok(json!({"data": {"words": words}}))
}
