//! Secrets never reach the screen, the JSON stream or a summary file: values of `environment`
//! entries whose names look secret (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL, … plus the
//! deployspec's `task_definition.secret_patterns`) and everything in `secrets` are replaced in
//! plan diffs, keeping the change visible ("changed, redacted").

use crate::diff::Change;
use serde_json::Value;

/// Name fragments (case-insensitive) that make an environment variable's value secret.
pub(crate) const DEFAULT_PATTERNS: &[&str] =
    &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "PRIVATE", "AUTH", "CERT", "DSN"];

/// What is shown instead of a secret value.
pub(crate) const REDACTED: &str = "(redacted)";
/// What is shown for a secret value that changed.
pub(crate) const REDACTED_CHANGED: &str = "(changed, redacted)";

#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    patterns: Vec<String>,
    /// Values that are secret wherever they appear (SSM SecureString lookups).
    values: Vec<String>,
}

impl Redactor {
    /// The default patterns plus `extra`.
    pub(crate) fn new(extra: &[String]) -> Redactor {
        let mut patterns: Vec<String> = DEFAULT_PATTERNS.iter().map(|p| p.to_string()).collect();
        patterns.extend(extra.iter().map(|p| p.to_ascii_uppercase()));
        Redactor { patterns, values: Vec::new() }
    }

    /// Also hide these values wherever they appear in a change.
    pub(crate) fn with_values(mut self, values: Vec<String>) -> Redactor {
        self.values = values.into_iter().filter(|v| !v.is_empty()).collect();
        self
    }

    /// Replace every secret value inside the strings of `v`.
    fn scrub(&self, v: &mut Value) {
        match v {
            Value::String(s) if self.values.iter().any(|x| s.contains(x.as_str())) => {
                *s = REDACTED.into();
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.scrub(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.scrub(x)),
            _ => {}
        }
    }

    /// `v` as it may be shown: `(redacted)` when it holds a secret value.
    pub(crate) fn value(&self, v: &str) -> String {
        if self.values.iter().any(|x| v.contains(x.as_str())) { REDACTED.to_string() } else { v.to_string() }
    }

    pub(crate) fn is_secret_name(&self, name: &str) -> bool {
        let up = name.to_ascii_uppercase();
        self.patterns.iter().any(|p| !p.is_empty() && up.contains(p.as_str()))
    }

    /// Redact every change of a diff of normalized task definitions.
    pub(crate) fn changes(&self, changes: Vec<Change>) -> Vec<Change> {
        changes.into_iter().map(|c| self.change(c)).map(|c| self.scrubbed(c)).collect()
    }

    /// The change with the secret values hidden (a changed secret stays visible as a change).
    pub(crate) fn scrubbed(&self, c: Change) -> Change {
        if self.values.is_empty() {
            return c;
        }
        match c {
            Change::Add { path, mut value } => {
                self.scrub(&mut value);
                Change::Add { path, value }
            }
            Change::Remove { path, mut value } => {
                self.scrub(&mut value);
                Change::Remove { path, value }
            }
            Change::Change { path, mut from, mut to } => {
                self.scrub(&mut from);
                self.scrub(&mut to);
                if from == to && from == Value::String(REDACTED.into()) {
                    to = Value::String(REDACTED_CHANGED.into());
                }
                Change::Change { path, from, to }
            }
        }
    }

    fn change(&self, c: Change) -> Change {
        match c {
            Change::Change { path, from, to } if self.secret_path(&path) => Change::Change {
                path,
                from: Value::String(REDACTED.into()),
                to: Value::String(if from == to { REDACTED } else { REDACTED_CHANGED }.into()),
            },
            Change::Add { path, mut value } => {
                self.leaf_or_tree(&path, &mut value);
                Change::Add { path, value }
            }
            Change::Remove { path, mut value } => {
                self.leaf_or_tree(&path, &mut value);
                Change::Remove { path, value }
            }
            other => other,
        }
    }

    fn leaf_or_tree(&self, path: &str, value: &mut Value) {
        if self.secret_path(path) && !value.is_object() {
            *value = Value::String(REDACTED.into());
        } else if let Some(name) = entry_name(path, "environment") {
            if self.is_secret_name(name)
                && let Some(v) = value.get_mut("value")
            {
                *v = Value::String(REDACTED.into());
            }
        } else if entry_name(path, "secrets").is_some() {
            if let Some(v) = value.get_mut("valueFrom") {
                *v = Value::String(REDACTED.into());
            }
        } else {
            self.tree(value);
        }
    }

    /// Redact inside any JSON value: `environment` entries with secret names, all `secrets`.
    pub(crate) fn tree(&self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    match (k.as_str(), x) {
                        ("environment", Value::Array(entries)) => {
                            for e in entries {
                                let secret = e.get("name").and_then(Value::as_str).is_some_and(|n| self.is_secret_name(n));
                                if secret && let Some(val) = e.get_mut("value") {
                                    *val = Value::String(REDACTED.into());
                                }
                            }
                        }
                        ("secrets", Value::Array(entries)) => {
                            for e in entries {
                                if let Some(val) = e.get_mut("valueFrom") {
                                    *val = Value::String(REDACTED.into());
                                }
                            }
                        }
                        (_, x) => self.tree(x),
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.tree(x)),
            _ => {}
        }
    }

    /// `…environment[NAME].value` with a secret NAME, or anything under `…secrets[…]`.
    fn secret_path(&self, path: &str) -> bool {
        if path.contains(".secrets[") || path.starts_with("secrets[") {
            return true;
        }
        entry_name(path, "environment").is_some_and(|n| self.is_secret_name(n)) && path.ends_with(".value")
    }
}

/// The entry name in `…<list>[NAME]` or `…<list>[NAME].field`.
fn entry_name<'a>(path: &'a str, list: &str) -> Option<&'a str> {
    let marker = format!("{list}[");
    let start = path.rfind(&marker)? + marker.len();
    let rest = &path[start..];
    let end = rest.find(']')?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_are_redacted_and_their_change_stays_visible() {
        let r = Redactor::new(&["SESSION".into()]);
        let changes = vec![
            Change::Change {
                path: "containerDefinitions[web].environment[DB_PASSWORD].value".into(),
                from: json!("hunter2"),
                to: json!("hunter3"),
            },
            Change::Change {
                path: "containerDefinitions[web].environment[APP_ENV].value".into(),
                from: json!("staging"),
                to: json!("prod"),
            },
            Change::Add {
                path: "containerDefinitions[web].environment[API_TOKEN]".into(),
                value: json!({"name": "API_TOKEN", "value": "t0k3n"}),
            },
            Change::Add {
                path: "containerDefinitions[web].environment[MY_SESSION]".into(),
                value: json!({"name": "MY_SESSION", "value": "s3ss"}),
            },
            Change::Add {
                path: "containerDefinitions[web]".into(),
                value: json!({"name": "web", "environment": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "abc"}, {"name": "MODE", "value": "x"}], "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db"}]}),
            },
        ];
        let text: String = r.changes(changes).iter().map(|c| format!("{c}\n")).collect();
        for secret in ["hunter2", "hunter3", "t0k3n", "s3ss", "\"abc\"", "parameter/db"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("DB_PASSWORD].value: \"(redacted)\" → \"(changed, redacted)\""), "{text}");
        assert!(text.contains("\"staging\" → \"prod\""), "ordinary values stay: {text}");
        assert!(text.contains("\"x\""), "{text}");
    }
}
