//! A message's content as the sender gave it, already checked against its type.

use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Content {
    pub msg_type: u16,
    /// The body object, checked by [`qunfa_core::message::check_body`].
    pub body: Map<String, Value>,
    pub ext: Option<String>,
    /// NIM's other send parameters (option, payload, push fields…) as a JSON object: stored so
    /// nothing is lost, not acted on.
    pub extra: Option<String>,
}

impl Content {
    /// The body as stored (compact JSON).
    pub fn body_text(&self) -> String {
        Value::Object(self.body.clone()).to_string()
    }

    /// The text the keyword filter looks at.
    pub fn shown_text(&self) -> String {
        qunfa_core::message::shown_text(&Value::Object(self.body.clone()), self.ext.as_deref())
    }
}
