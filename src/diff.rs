//! A semantic diff of two JSON values: paths are readable (`containerDefinitions[web].image`),
//! lists of objects with a `name` (or `key`) are matched by that name rather than by position.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    Add { path: String, value: Value },
    Remove { path: String, value: Value },
    Change { path: String, from: Value, to: Value },
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Change::Add { path, .. } | Change::Remove { path, .. } | Change::Change { path, .. } => path,
        }
    }

    /// The same change with its path under `p` (`p.path`).
    pub(crate) fn under(self, p: &str) -> Change {
        let at = |path: String| if path.is_empty() { p.to_string() } else { format!("{p}.{path}") };
        match self {
            Change::Add { path, value } => Change::Add { path: at(path), value },
            Change::Remove { path, value } => Change::Remove { path: at(path), value },
            Change::Change { path, from, to } => Change::Change { path: at(path), from, to },
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Add { path, value } => write!(f, "+ {path}: {value}"),
            Change::Remove { path, value } => write!(f, "- {path}: {value}"),
            Change::Change { path, from, to } => write!(f, "~ {path}: {from} → {to}"),
        }
    }
}

/// Changes that turn `old` into `new`.
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn list_key(items: &[Value]) -> Option<&'static str> {
    ["name", "key", "containerName"].into_iter().find(|k| {
        !items.is_empty() && items.iter().all(|i| i.get(*k).and_then(Value::as_str).is_some()) && {
            let mut names: Vec<_> = items.iter().filter_map(|i| i.get(*k).and_then(Value::as_str)).collect();
            names.sort();
            names.windows(2).all(|w| w[0] != w[1])
        }
    })
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => walk(&child(path, k), va, vb, out),
                    None => out.push(Change::Remove { path: child(path, k), value: va.clone() }),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(Change::Add { path: child(path, k), value: vb.clone() });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let key = list_key(a).filter(|k| list_key(b) == Some(k));
            match key {
                Some(k) => {
                    let name = |v: &Value| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    for va in a {
                        let n = name(va);
                        let p = format!("{path}[{n}]");
                        match b.iter().find(|vb| name(vb) == n) {
                            Some(vb) => walk(&p, va, vb, out),
                            None => out.push(Change::Remove { path: p, value: va.clone() }),
                        }
                    }
                    for vb in b {
                        let n = name(vb);
                        if !a.iter().any(|va| name(va) == n) {
                            out.push(Change::Add { path: format!("{path}[{n}]"), value: vb.clone() });
                        }
                    }
                }
                None if a.len() == b.len() && a.iter().chain(b).all(|v| v.is_object()) => {
                    for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                        walk(&format!("{path}[{i}]"), va, vb, out);
                    }
                }
                None => out.push(Change::Change { path: path.to_string(), from: old.clone(), to: new.clone() }),
            }
        }
        _ => out.push(Change::Change { path: path.to_string(), from: old.clone(), to: new.clone() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keyed_lists_and_scalars() {
        let a = json!({"c": [{"name": "web", "image": "a"}, {"name": "log", "image": "l"}], "x": 1});
        let b = json!({"c": [{"name": "log", "image": "l"}, {"name": "web", "image": "b"}], "y": 2});
        let d = diff(&a, &b);
        let s: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert_eq!(s, vec!["~ c[web].image: \"a\" → \"b\"", "- x: 1", "+ y: 2"]);
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn unkeyed_lists_change_whole() {
        let d = diff(&json!({"cmd": ["a", "b"]}), &json!({"cmd": ["a"]}));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path(), "cmd");
    }

    #[test]
    fn keyed_lists_add_and_remove_by_name() {
        let a = json!({"c": [{"name": "web", "image": "a"}, {"name": "log", "image": "l"}]});
        let b = json!({"c": [{"name": "web", "image": "a"}, {"name": "sidecar", "image": "s"}]});
        let s: Vec<String> = diff(&a, &b).iter().map(ToString::to_string).collect();
        assert_eq!(s, vec![r#"- c[log]: {"name":"log","image":"l"}"#, r#"+ c[sidecar]: {"name":"sidecar","image":"s"}"#]);
    }

    #[test]
    fn unkeyed_lists_of_objects_of_one_length_diff_by_position() {
        let d = diff(
            &json!({"p": [{"containerPort": 80}, {"containerPort": 81}]}),
            &json!({"p": [{"containerPort": 80}, {"containerPort": 82}]}),
        );
        assert_eq!(d.iter().map(Change::path).collect::<Vec<_>>(), vec!["p[1].containerPort"]);
        // Different lengths, or scalars: the whole list is one change.
        let d = diff(&json!({"p": [{"x": 1}]}), &json!({"p": [{"x": 1}, {"x": 2}]}));
        assert_eq!(d.iter().map(Change::path).collect::<Vec<_>>(), vec!["p"]);
        let d = diff(&json!({"cmd": ["a", "b"]}), &json!({"cmd": ["a", "c"]}));
        assert_eq!(d.iter().map(Change::path).collect::<Vec<_>>(), vec!["cmd"]);
    }
}
