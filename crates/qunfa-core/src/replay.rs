//! [`ReplayCheck`]: what a repeated (AppKey, Nonce, CurTime) inside the CurTime window gets
//! (`api.replay_check`). NIM refuses it with 431, and so does qunfa by default; some community
//! SDKs reuse a Nonce within a second, and `log` lets such a client keep working while it is
//! fixed, with a warning per repeat so the operator sees who still does it.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The replay rule's mode. Written in config as `"strict"`, `"log"` or `"off"`; `true` and
/// `false` (the setting's earlier, boolean form) still mean strict and off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplayCheck {
    /// Refuse the repeat with 431 `repeated request`; it has no effect.
    #[default]
    Strict,
    /// Accept the repeat and log a warning naming the app and endpoint.
    Log,
    /// Neither record nor check nonces.
    Off,
}

impl ReplayCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayCheck::Strict => "strict",
            ReplayCheck::Log => "log",
            ReplayCheck::Off => "off",
        }
    }

    /// Whether requests' triples are recorded at all.
    pub fn records(self) -> bool {
        self != ReplayCheck::Off
    }

    /// The mode a config value names: `strict`/`true`, `log`, `off`/`false` (any case).
    pub fn parse(s: &str) -> Option<ReplayCheck> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" | "true" => Some(ReplayCheck::Strict),
            "log" => Some(ReplayCheck::Log),
            "off" | "false" => Some(ReplayCheck::Off),
            _ => None,
        }
    }
}

impl fmt::Display for ReplayCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<bool> for ReplayCheck {
    fn from(on: bool) -> Self {
        if on {
            ReplayCheck::Strict
        } else {
            ReplayCheck::Off
        }
    }
}

impl Serialize for ReplayCheck {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

const EXPECTED: &str = "\"strict\", \"log\" or \"off\" (or true / false)";

struct ModeVisitor;

impl Visitor<'_> for ModeVisitor {
    type Value = ReplayCheck;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ReplayCheck, E> {
        Ok(v.into())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ReplayCheck, E> {
        ReplayCheck::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &EXPECTED))
    }
}

impl<'de> Deserialize<'de> for ReplayCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ReplayCheck, D::Error> {
        d.deserialize_any(ModeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct Holder {
        v: ReplayCheck,
    }

    fn from_json(v: &str) -> Result<ReplayCheck, String> {
        serde_json::from_str::<Holder>(&format!("{{\"v\":{v}}}"))
            .map(|h| h.v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_spelling_reads_and_the_mode_writes_as_its_name() {
        for (text, mode) in [
            ("true", ReplayCheck::Strict),
            ("\"strict\"", ReplayCheck::Strict),
            ("\"Strict\"", ReplayCheck::Strict),
            ("\"log\"", ReplayCheck::Log),
            ("false", ReplayCheck::Off),
            ("\"off\"", ReplayCheck::Off),
            ("\"false\"", ReplayCheck::Off),
        ] {
            assert_eq!(from_json(text), Ok(mode), "{text}");
        }
        let written = serde_json::to_string(&Holder {
            v: ReplayCheck::Log,
        })
        .unwrap_or_default();
        assert_eq!(written, r#"{"v":"log"}"#);
        assert_eq!(ReplayCheck::default(), ReplayCheck::Strict);
    }

    #[test]
    fn anything_else_is_refused_naming_the_choices() {
        let e = from_json("\"warn\"").unwrap_err();
        assert!(
            e.contains(r#"expected "strict", "log" or "off" (or true / false)"#),
            "{e}"
        );
        assert!(from_json("1").is_err());
    }
}
