//! `Nim`, the extractor every API handler takes: it authenticates the request (signature,
//! CurTime window, disabled app, replay, rate limit) and parses its parameters. A handler
//! without it cannot reach app data.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequest;
use axum::http::{HeaderMap, Request, header};
use http_body_util::{BodyExt, Limited};
use qunfa_core::account::Accid;
use qunfa_core::auth::{App, Signature};
use qunfa_core::dict::check_id;
use qunfa_core::ids::MsgId;
use qunfa_core::{ApiError, Code};

use super::Failure;
use crate::state::AppState;

/// An authenticated request: the app it acts for and its parameters.
pub struct Nim {
    pub app: Arc<App>,
    pub params: Params,
}

/// A header's value; absent reads as empty (the signature check then names it as missing,
/// after the AppKey, in NIM's order).
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    match headers.get(name) {
        None => Ok(""),
        Some(v) => v
            .to_str()
            .map(str::trim)
            .map_err(|_| ApiError::param(format!("bad header: {name}"))),
    }
}

/// `user/create` from `/nimserver/user/create.action`.
pub fn endpoint(path: &str) -> &str {
    let p = path.strip_prefix("/nimserver/").unwrap_or(path);
    p.strip_suffix(".action").unwrap_or(p)
}

impl FromRequest<Arc<AppState>> for Nim {
    type Rejection = Failure;

    async fn from_request(
        req: Request<axum::body::Body>,
        state: &Arc<AppState>,
    ) -> Result<Self, Failure> {
        let (parts, body) = req.into_parts();
        let max = state.config.api.max_body_bytes;
        let too_large = || ApiError::param(format!("request body is larger than {max} bytes"));
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large().into());
        }

        let appkey = header(&parts.headers, "AppKey")?;
        let sig = Signature {
            nonce: header(&parts.headers, "Nonce")?,
            curtime: header(&parts.headers, "CurTime")?,
            checksum: header(&parts.headers, "CheckSum")?,
        };
        let app = state
            .services
            .admit(appkey, sig, endpoint(parts.uri.path()))
            .await?;

        let wait = std::time::Duration::from_secs(state.config.api.body_timeout_secs.max(1));
        let bytes = tokio::time::timeout(wait, Limited::new(body, max).collect())
            .await
            .map_err(|_| {
                ApiError::new(
                    Code::Timeout,
                    format!("request body not received within {} s", wait.as_secs()),
                )
            })?
            .map_err(|_| too_large())?
            .to_bytes();
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let params = Params::parse(content_type, &bytes)?;
        Ok(Nim { app, params })
    }
}

/// Request parameters as NIM sees them: name → string. In a JSON body a non-string value
/// (number, array, object) stands for its JSON text, which is what NIM expects as the string;
/// which ones were not strings is kept, for parameters that must be text.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
    not_text: std::collections::HashSet<String>,
}

impl FromIterator<(String, String)> for Params {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Params {
        Params {
            values: pairs.into_iter().collect(),
            not_text: Default::default(),
        }
    }
}

/// One `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte. Bytes that
/// are not UTF-8 are refused (naming the parameter) rather than replaced with U+FFFD.
fn form_decode(raw: &[u8]) -> Result<String, Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(raw[i + 1]), hex(raw[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| e.into_bytes())
}

/// A form body's pairs, in order.
fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for part in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(at) => (&part[..at], &part[at + 1..]),
            None => (part, &part[part.len()..]),
        };
        let key =
            form_decode(k).map_err(|_| ApiError::param("a parameter name is not valid UTF-8"))?;
        let value =
            form_decode(v).map_err(|_| ApiError::param(format!("{key} is not valid UTF-8")))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

impl Params {
    pub fn parse(content_type: &str, body: &[u8]) -> Result<Params, ApiError> {
        let ct = content_type.trim().to_ascii_lowercase();
        let trimmed = body.trim_ascii();
        let is_json =
            ct.starts_with("application/json") || (ct.is_empty() && trimmed.starts_with(b"{"));
        if trimmed.is_empty() {
            return Ok(Params::default());
        }
        if is_json {
            if std::str::from_utf8(trimmed).is_err() {
                return Err(ApiError::param("body is not valid UTF-8"));
            }
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(trimmed)
                    .map_err(|_| ApiError::param("body is not a JSON object"))?;
            return Ok(Params::from_json(map));
        }
        Ok(parse_form(body)?.into_iter().collect())
    }

    /// The fields of a JSON object, as a JSON body gives them: a string is itself, any other
    /// value its JSON text, `null` absent. (The gateway's frames are parsed this way too.)
    pub fn from_json(map: serde_json::Map<String, serde_json::Value>) -> Params {
        let mut params = Params::default();
        for (k, v) in map {
            match v {
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => {
                    params.values.insert(k, s);
                }
                other => {
                    params.not_text.insert(k.clone());
                    params.values.insert(k, other.to_string());
                }
            }
        }
        params
    }

    /// The raw value, if given (an empty string counts as given).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A value that must be text and non-empty: in a JSON body, a number, array or object is
    /// refused.
    pub fn required_text(&self, name: &str) -> Result<&str, ApiError> {
        if self.not_text.contains(name) {
            return Err(ApiError::param(format!("{name} must be a string")));
        }
        self.required(name)
    }

    /// A value that must be present and non-empty.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ApiError::missing(name)),
        }
    }

    /// An optional value of at most `max` characters.
    pub fn opt_max(&self, name: &str, max: usize) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            Some(v) if v.chars().count() > max => Err(ApiError::too_long(name, max)),
            v => Ok(v),
        }
    }

    pub fn accid(&self, name: &str) -> Result<Accid, ApiError> {
        Accid::parse(self.required(name)?, name)
    }

    /// NIM's booleans: `true`/`false` (also `1`/`0`); absent or empty means `default`.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
            Some(v) => Err(ApiError::param(format!(
                "{name} must be true or false: {v:?}"
            ))),
        }
    }

    /// An optional integer (absent or empty: `None`).
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::param(format!("{name} must be an integer: {v:?}"))),
        }
    }

    /// An integer that must be given.
    pub fn required_int(&self, name: &str) -> Result<i64, ApiError> {
        self.int(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// A msgid that must be given.
    pub fn msgid(&self, name: &str) -> Result<MsgId, ApiError> {
        self.required_int(name).map(MsgId)
    }

    /// An optional integer ≥ 0 (absent or empty: 0).
    pub fn non_negative(&self, name: &str) -> Result<i64, ApiError> {
        match self.int(name) {
            Ok(Some(n)) if n >= 0 => Ok(n),
            Ok(None) => Ok(0),
            _ => Err(ApiError::param(format!(
                "{name} must be a non-negative integer: {:?}",
                self.get(name).unwrap_or("").trim()
            ))),
        }
    }

    /// An integer from `lo` to `hi` (`unit` names what it counts, for the refusal); `default`
    /// when absent or empty.
    pub fn int_in(
        &self,
        name: &str,
        (lo, hi): (i64, i64),
        unit: &str,
        default: i64,
    ) -> Result<i64, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| {
                    ApiError::param(format!("{name} must be {lo} to {hi}{unit}: {v:?}"))
                }),
        }
    }

    /// `limit`, 1 to `max`; `default` when absent (`None`: required).
    pub fn limit(&self, default: Option<usize>, max: usize) -> Result<usize, ApiError> {
        match self.get("limit").map(str::trim) {
            None | Some("") => default.ok_or_else(|| ApiError::missing("limit")),
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| ApiError::param(format!("limit must be 1 to {max}: {v:?}"))),
        }
    }

    /// A switch given as one of `allowed` (named in this order when refused), on when it is
    /// `on`; absent or empty means off.
    pub fn switch(&self, name: &str, allowed: &[&str], on: &str) -> Result<bool, ApiError> {
        Ok(self.one_of(name, allowed)? == Some(on))
    }

    /// One of `choices` (absent or empty: `None`), refused naming them.
    pub fn one_of<'a>(&'a self, name: &str, choices: &[&str]) -> Result<Option<&'a str>, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) if choices.contains(&v) => Ok(Some(v)),
            Some(v) => {
                let (last, rest) = choices.split_last().unwrap_or((&"", &[]));
                let list = if rest.is_empty() {
                    last.to_string()
                } else {
                    format!("{} or {last}", rest.join(", "))
                };
                Err(ApiError::param(format!("{name} must be {list}: {v:?}")))
            }
        }
    }

    /// A comma-separated list of dictionary ids (`areaid=37,44`), each checked, repeats dropped.
    pub fn id_list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let mut out: Vec<String> = Vec::new();
        for id in self
            .get(name)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            check_id(name, id)?;
            if !out.iter().any(|x| x == id) {
                out.push(id.to_owned());
            }
        }
        Ok(out)
    }

    /// A JSON array (given as JSON text) of at most `max` strings.
    pub fn string_array(&self, name: &str, max: usize) -> Result<Vec<String>, ApiError> {
        let raw = self.required(name)?;
        let values: Vec<serde_json::Value> = serde_json::from_str(raw)
            .map_err(|_| ApiError::param(format!("{name} must be a JSON array of strings")))?;
        if values.len() > max {
            return Err(ApiError::new(
                Code::BadParam,
                format!("{name} has more than {max} entries"),
            ));
        }
        values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(ApiError::param(format!(
                    "{name} must be a JSON array of strings"
                ))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_stand_for_their_text() {
        let p = Params::parse(
            "application/json; charset=utf-8",
            br#"{"type": 2, "body": {"a": 1}, "two": ["x"], "s": "str", "n": null, "b": true}"#,
        )
        .unwrap();
        assert_eq!(p.get("type"), Some("2"));
        assert_eq!(p.get("body"), Some(r#"{"a":1}"#));
        assert_eq!(p.get("two"), Some(r#"["x"]"#));
        assert_eq!(p.get("s"), Some("str"));
        assert_eq!(p.get("n"), None);
        assert_eq!(p.get("b"), Some("true"));
    }

    #[test]
    fn form_with_any_charset_spelling() {
        for ct in [
            "application/x-www-form-urlencoded;charset=utf-8;",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "",
        ] {
            let p = Params::parse(ct, b"accid=a%40b&name=%E5%BC%A0").unwrap();
            assert_eq!(p.get("accid"), Some("a@b"));
            assert_eq!(p.get("name"), Some("张"));
        }
    }

    #[test]
    fn form_decoding_refuses_bytes_that_are_not_utf8() {
        let p = Params::parse("", b"a=%E5%BC%A0+x&b=100%25&c=%zz&d&e=").unwrap();
        assert_eq!(p.get("a"), Some("张 x"));
        assert_eq!(p.get("b"), Some("100%"));
        assert_eq!(p.get("c"), Some("%zz"), "a stray % stays as it is");
        assert_eq!((p.get("d"), p.get("e")), (Some(""), Some("")));
        let e = Params::parse("", b"accid=u&name=%FF%FE").unwrap_err();
        assert_eq!(e.desc, "name is not valid UTF-8");
        let e = Params::parse("", b"%FF=1").unwrap_err();
        assert_eq!(e.desc, "a parameter name is not valid UTF-8");
        let e = Params::parse("application/json", b"{\"name\":\"\xff\"}").unwrap_err();
        assert_eq!(e.desc, "body is not valid UTF-8");
    }

    #[test]
    fn json_values_that_must_be_text() {
        let p = Params::parse("application/json", br#"{"body": ["a"], "msg": "x"}"#).unwrap();
        assert_eq!(
            p.required_text("body").unwrap_err().desc,
            "body must be a string"
        );
        assert_eq!(p.required_text("msg"), Ok("x"));
    }

    #[test]
    fn endpoint_from_path() {
        assert_eq!(endpoint("/nimserver/user/create.action"), "user/create");
    }
}
