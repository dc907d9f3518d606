//! Which `QUNFA_*` environment variables are settings. A variable names a key in capitals with
//! `__` between levels (`QUNFA_API__REPLAY_CHECK` is `api.replay_check`). Only variables that
//! name a documented key are read; any other `QUNFA_*` variable (a test harness's `QUNFA_BIN`,
//! say) is left alone, so an unrelated variable never stops the binary. One that looks like a
//! misspelt setting gets a warning naming the key it probably meant (see [`env_warnings`]).
//! Config files stay strict: an unknown key there is an error.

use std::collections::HashMap;

use super::DOCS;

/// Environment variables starting with `QUNFA_` that configure the client commands, not the
/// server, and so are not config keys.
pub const CLIENT_ENV: &[&str] = &[
    "QUNFA_APPKEY",
    "QUNFA_APPSECRET",
    "QUNFA_URL",
    "QUNFA_CONFIG",
];

/// The dotted key a variable name stands for (`QUNFA_API__REPLAY_CHECK` → `api.replay_check`).
fn key_of(var: &str) -> Option<String> {
    let rest = var.strip_prefix("QUNFA_")?;
    if CLIENT_ENV.contains(&var) || rest.is_empty() {
        return None;
    }
    let key = rest.to_ascii_lowercase().replace("__", ".");
    // `log` was a single key (the filter) before `[log]` had a format: keep `QUNFA_LOG` working.
    Some(if key == "log" {
        "log.level".into()
    } else {
        key
    })
}

fn known(key: &str) -> bool {
    DOCS.iter().any(|(k, _)| *k == key)
}

/// The variables that set a config key, as (variable, dotted key), in name order.
pub(super) fn settings(env: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = env
        .keys()
        .filter_map(|var| key_of(var).filter(|k| known(k)).map(|k| (var.clone(), k)))
        .collect();
    out.sort();
    out
}

/// Warnings for `QUNFA_*` variables that are not settings but look like one: within two edits
/// of a key, or under a known section (`QUNFA_API__REPLAY`). Others are not mentioned.
pub fn env_warnings(env: &HashMap<String, String>) -> Vec<String> {
    let mut vars: Vec<&String> = env.keys().collect();
    vars.sort();
    let mut out = Vec::new();
    for var in vars {
        let Some(key) = key_of(var).filter(|k| !known(k)) else {
            continue;
        };
        let nearest = DOCS
            .iter()
            .map(|(k, _)| (edits(&key, k), *k))
            .min()
            .filter(|(d, _)| *d <= 2);
        let section = key
            .split_once('.')
            .map(|(s, _)| s)
            .filter(|s| DOCS.iter().any(|(k, _)| k.starts_with(&format!("{s}."))));
        let hint = match (nearest, section) {
            (Some((_, k)), _) => format!("did you mean {}?", var_of(k)),
            (None, Some(s)) => format!("see the [{s}] keys in qunfa.example.toml"),
            (None, None) => continue,
        };
        out.push(format!("ignoring {var}: it names no setting ({hint})"));
    }
    out
}

/// The variable that sets `key`.
fn var_of(key: &str) -> String {
    format!("QUNFA_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Levenshtein distance, for the few dozen short keys there are.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[&str]) -> HashMap<String, String> {
        vars.iter().map(|v| (v.to_string(), "x".into())).collect()
    }

    #[test]
    fn only_documented_keys_are_settings() {
        let e = env(&[
            "QUNFA_LISTEN",
            "QUNFA_API__REPLAY_CHECK",
            "QUNFA_LOG",
            "QUNFA_LOG__FORMAT",
            "QUNFA_BIN",
            "QUNFA_APPKEY",
            "QUNFA_",
            "PATH",
        ]);
        assert_eq!(
            settings(&e),
            vec![
                ("QUNFA_API__REPLAY_CHECK".into(), "api.replay_check".into()),
                ("QUNFA_LISTEN".into(), "listen".into()),
                ("QUNFA_LOG".into(), "log.level".into()),
                ("QUNFA_LOG__FORMAT".into(), "log.format".into()),
            ]
        );
    }

    #[test]
    fn near_misses_are_warned_about_and_others_are_not() {
        let e = env(&[
            "QUNFA_LISTN",
            "QUNFA_API__REPLAY",
            "QUNFA_GATEWAY__PING_SEC",
            "QUNFA_BIN",
            "QUNFA_TEST_STORE",
            "QUNFA_URL",
        ]);
        assert_eq!(
            env_warnings(&e),
            vec![
                "ignoring QUNFA_API__REPLAY: it names no setting (see the [api] keys in qunfa.example.toml)",
                "ignoring QUNFA_GATEWAY__PING_SEC: it names no setting (did you mean QUNFA_GATEWAY__PING_SECS?)",
                "ignoring QUNFA_LISTN: it names no setting (did you mean QUNFA_LISTEN?)",
            ]
        );
    }

    #[test]
    fn edit_distance() {
        assert_eq!(edits("listn", "listen"), 1);
        assert!(edits("bin", "log.level") > 2);
        assert_eq!(edits("", "ab"), 2);
        assert_eq!(edits("abc", "abc"), 0);
    }
}
