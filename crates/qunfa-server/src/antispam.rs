//! The keyword filter: a per-app word list (plus the config's global list), matched with
//! Aho-Corasick over the text a message shows. A hit marks the message `antispam`: stored,
//! never delivered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aho_corasick::AhoCorasick;
use qunfa_core::Store;
use qunfa_core::store::StoreResult;

pub struct KeywordFilter {
    store: Arc<dyn Store>,
    global: Vec<String>,
    apps: RwLock<HashMap<i64, Option<Arc<AhoCorasick>>>>,
}

fn build(words: &[String]) -> Option<Arc<AhoCorasick>> {
    let words: Vec<&String> = words.iter().filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return None;
    }
    // Building only fails for absurd pattern sets (the store caps the list), so treat a
    // failure as "no filter" rather than refusing every message.
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

    async fn matcher(&self, app: i64) -> StoreResult<Option<Arc<AhoCorasick>>> {
        if let Some(m) = self
            .apps
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&app)
        {
            return Ok(m.clone());
        }
        let mut words = self.store.words(app).await?;
        words.extend(self.global.iter().cloned());
        let m = build(&words);
        self.apps
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(app, m.clone());
        Ok(m)
    }

    /// Whether `text` holds any of the app's words.
    pub async fn hits(&self, app: i64, text: &str) -> StoreResult<bool> {
        Ok(self.matcher(app).await?.is_some_and(|m| m.is_match(text)))
    }

    /// Stores the app's list and rebuilds its matcher.
    pub async fn set_words(&self, app: i64, words: Vec<String>) -> StoreResult<()> {
        self.store.set_words(app, words.clone()).await?;
        let mut all = words;
        all.extend(self.global.iter().cloned());
        self.apps
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(app, build(&all));
        Ok(())
    }
}
