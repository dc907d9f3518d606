//! The TOML tables the layers are merged in: dotted paths, merging, scalars from the environment.

use std::collections::HashMap;

pub(super) fn lookup<'a>(t: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut cur = t.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_table()?.get(p)?;
    }
    Some(cur)
}

/// Leaf keys of a table as dotted paths.
pub fn leaf_keys(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in t {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v.as_table() {
            Some(sub) => leaf_keys(sub, &path, out),
            None => out.push(path),
        }
    }
}

pub(super) fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

pub(super) fn set_dotted(t: &mut toml::Table, path: &str, value: toml::Value) {
    match path.split_once('.') {
        None => {
            t.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = t
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(sub) = entry {
                set_dotted(sub, rest, value);
            }
        }
    }
}

/// An environment value as TOML: `true`, `42`, `1.5` and arrays (`["10.0.0.0/8"]`) keep their
/// type, anything else is a string.
pub(super) fn parse_scalar(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
    {
        Some(
            v @ (toml::Value::Boolean(_)
            | toml::Value::Integer(_)
            | toml::Value::Float(_)
            | toml::Value::Array(_)),
        ) => v,
        _ => toml::Value::String(raw.to_owned()),
    }
}

/// Reads the process environment into a map (the one place that does).
pub fn process_env() -> HashMap<String, String> {
    std::env::vars().collect()
}
