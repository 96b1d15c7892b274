//! JSON beside the SDK: Smithy documents both ways, and which paths of a value carry something.

/// Paths of values that carry something (not null, empty, false, 0 or "").
pub(super) fn meaningful_paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    use serde_json::Value::*;
    match v {
        Object(m) => {
            for (k, x) in m {
                meaningful_paths(x, &if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, out);
            }
        }
        Array(a) => a.iter().for_each(|x| meaningful_paths(x, &format!("{prefix}[]"), out)),
        Null | Bool(false) => {}
        String(s) if s.is_empty() => {}
        Number(n) if n.as_f64() == Some(0.0) => {}
        _ => {
            if !out.iter().any(|p| p == prefix) {
                out.push(prefix.to_string());
            }
        }
    }
}

/// `hookDetails` (a smithy Document) as JSON, and back: kept exactly, whatever a team put there.
pub(super) fn document_to_json(d: &aws_smithy_types::Document) -> serde_json::Value {
    use aws_smithy_types::{Document, Number};
    match d {
        Document::Object(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), document_to_json(v))).collect()),
        Document::Array(a) => serde_json::Value::Array(a.iter().map(document_to_json).collect()),
        Document::Number(Number::PosInt(n)) => (*n).into(),
        Document::Number(Number::NegInt(n)) => (*n).into(),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Document::String(s) => s.clone().into(),
        Document::Bool(b) => (*b).into(),
        Document::Null => serde_json::Value::Null,
    }
}

pub(super) fn json_to_document(v: &serde_json::Value) -> aws_smithy_types::Document {
    use aws_smithy_types::{Document, Number};
    match v {
        serde_json::Value::Object(m) => Document::Object(m.iter().map(|(k, v)| (k.clone(), json_to_document(v))).collect()),
        serde_json::Value::Array(a) => Document::Array(a.iter().map(json_to_document).collect()),
        serde_json::Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            _ => Number::Float(n.as_f64().unwrap_or_default()),
        }),
        serde_json::Value::String(s) => Document::String(s.clone()),
        serde_json::Value::Bool(b) => Document::Bool(*b),
        serde_json::Value::Null => Document::Null,
    }
}
