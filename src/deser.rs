//! Deserializing an input with *every* problem serde finds, not only the first: after each
//! problem the offending key is taken out and the rest deserialized again, so one run reports
//! every unknown key and every value of the wrong type. Used for the deployspec and the
//! task-definition template, whose callers word the messages.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// At most this many problems per input (and as many rounds).
const MAX_PROBLEMS: usize = 32;

/// One problem: the path of the key (`deploy.rolling.maximum_percent`, `containerDefinitions[0].
/// memory`; `.` for the whole input) and serde's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) path: String,
    pub(crate) message: String,
}

/// Deserialize `value`; on failure every problem found (in the order found). A required key
/// taken out after a problem of its own is not reported again as missing, and the search stops
/// there (nothing can stand in for it).
pub(crate) fn deserialize_all<T: DeserializeOwned>(mut value: Value) -> Result<T, Vec<Found>> {
    let mut found: Vec<Found> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    while found.len() < MAX_PROBLEMS {
        let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(t) if found.is_empty() => return Ok(t),
            Ok(_) => break,
            Err(e) => e,
        };
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if let Some(name) = missing_field(&message) {
            let key = if path == "." { name.to_string() } else { format!("{path}.{name}") };
            if !removed.contains(&key) {
                found.push(Found { path, message });
            }
            break;
        }
        found.push(Found { path: path.clone(), message });
        if path == "." || !remove(&mut value, &path) {
            break;
        }
        removed.push(path);
    }
    Err(found)
}

/// The field a "missing field `x`" message names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Take the key at `path` out of `value` (a key of an object; not an element of a list, whose
/// removal would shift the paths of the others). Whether it was there.
fn remove(value: &mut Value, path: &str) -> bool {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            parts.push(key);
        }
        if !rest.is_empty() {
            parts.extend(rest.split('[').map(|i| i.trim_end_matches(']')));
        }
    }
    let Some((last, head)) = parts.split_last() else { return false };
    let mut at = value;
    for p in head {
        let next = match at {
            Value::Object(m) => m.get_mut(*p),
            Value::Array(a) => p.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return false,
        }
    }
    match at {
        Value::Object(m) => m.remove(*last).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        #[serde(default)]
        count: Option<i32>,
        inner: Inner,
        #[serde(default)]
        list: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        flag: bool,
        #[serde(default)]
        size: Option<u8>,
    }

    fn paths(v: Value) -> Vec<String> {
        deserialize_all::<Outer>(v).expect_err("problems").into_iter().map(|f| format!("{}: {}", f.path, f.message)).collect()
    }

    #[test]
    fn every_unknown_key_and_wrong_type_is_found_in_one_run() {
        let v = serde_json::json!({"name": "x", "count": "three", "nmae": 1, "inner": {"flag": "yes", "size": 300, "colour": 1},
            "list": [{"flag": true}, {"szie": 1}]});
        let found = paths(v);
        let mut at: Vec<&str> = found.iter().map(|f| f.split(':').next().unwrap_or("")).collect();
        at.sort_unstable();
        assert_eq!(at, ["count", "inner.colour", "inner.flag", "inner.size", "list[1].szie", "nmae"], "{found:#?}");
        assert!(found.iter().any(|f| f.starts_with("count: invalid type: string \"three\"")), "{found:?}");
        assert!(found.iter().any(|f| f.starts_with("inner.colour: unknown field `colour`")), "{found:?}");
    }

    #[test]
    fn at_most_32_problems_are_reported() {
        let mut v = serde_json::json!({"name": "x", "inner": {}});
        for i in 0..40 {
            v[format!("extra{i:02}")] = 1.into();
        }
        let found = deserialize_all::<Outer>(v).expect_err("problems");
        assert_eq!(found.len(), MAX_PROBLEMS, "{found:?}");
    }

    #[test]
    fn a_required_key_with_a_wrong_value_is_not_also_missing_and_a_good_value_passes() {
        let found = paths(serde_json::json!({"name": 5, "inner": {}, "extra": 1}));
        assert_eq!(found.len(), 2, "the wrong value and the unknown key, not `name` missing: {found:?}");
        assert!(found[0].starts_with("name: invalid type") && found[1].starts_with("extra: unknown field"), "{found:?}");
        let found = paths(serde_json::json!({"inner": {}}));
        assert_eq!(found, [".: missing field `name`"]);
        assert!(deserialize_all::<Outer>(serde_json::json!({"name": "x", "inner": {"size": 3}})).is_ok());
    }
}
