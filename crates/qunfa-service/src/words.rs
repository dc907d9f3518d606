//! The keyword filter: a per-app word list (plus the config's global list), matched with
//! Aho-Corasick over the text a message shows. A hit marks the message `antispam`: stored,
//! never delivered. `antispam/setWords` and `getWords` are here too.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aho_corasick::AhoCorasick;
use qunfa_core::ids::AppId;
use qunfa_core::store::StoreResult;
use qunfa_core::{ApiError, Store};

use crate::Services;

pub const MAX_WORDS: usize = 10_000;
pub const MAX_WORD_LEN: usize = 64;

#[derive(Clone)]
struct Matcher {
    /// The app's `words_seq` this was built at.
    seq: i64,
    ac: Option<Arc<AhoCorasick>>,
}

pub struct KeywordFilter {
    store: Arc<dyn Store>,
    global: Vec<String>,
    apps: RwLock<HashMap<AppId, Matcher>>,
}

fn build(words: &[String]) -> Option<Arc<AhoCorasick>> {
    let words: Vec<&String> = words.iter().filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return None;
    }
    // Building only fails for absurd pattern sets (lists are capped), so treat a failure as
    // "no filter" rather than refusing every message.
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(words)
        .ok()
        .map(Arc::new)
}

impl KeywordFilter {
    pub fn new(store: Arc<dyn Store>, global: Vec<String>) -> Self {
        KeywordFilter {
            store,
            global,
            apps: RwLock::new(HashMap::new()),
        }
    }

    /// Reads `words_file` (one word per line, `#` comments); empty path: no global words.
    pub fn load_global(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
        if path.as_os_str().is_empty() {
            return Ok(Vec::new());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading antispam.words_file {}: {e}", path.display()))?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect())
    }

    async fn matcher(&self, app: AppId) -> StoreResult<Option<Arc<AhoCorasick>>> {
        if let Some(m) = self
            .apps
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&app)
        {
            return Ok(m.ac.clone());
        }
        // The sequence first: a list written meanwhile has a later one and replaces this.
        let seq = self.store.head(app).await?.words_seq;
        let mut words = self.store.words(app).await?;
        words.extend(self.global.iter().cloned());
        let ac = build(&words);
        let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
        let slot = apps.entry(app).or_insert(Matcher { seq, ac: None });
        if slot.seq <= seq {
            *slot = Matcher {
                seq,
                ac: ac.clone(),
            };
        }
        Ok(ac)
    }

    /// Whether `text` holds any of the app's words.
    pub async fn hits(&self, app: AppId, text: &str) -> StoreResult<bool> {
        Ok(self.matcher(app).await?.is_some_and(|m| m.is_match(text)))
    }

    /// Drops the app's matcher if the store's list is newer (`words_seq`); the next message
    /// rebuilds it.
    pub fn follow(&self, app: AppId, words_seq: i64) {
        let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
        if apps.get(&app).is_some_and(|m| m.seq < words_seq) {
            apps.remove(&app);
        }
    }
}

impl Services {
    /// `antispam/setWords`: replaces the app's list. Words are trimmed, sorted, de-duplicated.
    pub async fn set_words(&self, app: AppId, mut words: Vec<String>) -> Result<(), ApiError> {
        if words.len() > MAX_WORDS {
            return Err(ApiError::param(format!(
                "words has more than {MAX_WORDS} entries"
            )));
        }
        for w in &mut words {
            *w = w.trim().to_owned();
            if w.is_empty() {
                return Err(ApiError::param("words must not hold empty strings"));
            }
            if w.chars().count() > MAX_WORD_LEN {
                return Err(ApiError::param(format!(
                    "words: {w:?} is longer than {MAX_WORD_LEN} characters"
                )));
            }
        }
        words.sort();
        words.dedup();
        self.store.set_words(app, words).await?;
        self.changed(app).await?;
        Ok(())
    }

    /// `antispam/getWords`: the app's own list (the config's global list is not shown).
    pub async fn words(&self, app: AppId) -> Result<Vec<String>, ApiError> {
        Ok(self.store.words(app).await?)
    }
}
