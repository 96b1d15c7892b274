//! Taint: values that must never be stored or shown in plaintext. A value is tainted when it
//! holds the answer of a secret lookup (an SSM SecureString read with `ssm()`) or has the shape
//! of a credential: a GitHub token (`ghp_…`, `gho_…`, `ghs_…`, `github_pat_…`), an AWS access key
//! id (`AKIA…` / `ASIA…` and 16 more characters), a Slack token (`xoxb-`, `xoxa-`, `xoxp-`), a
//! PEM private key block, or a JWT (`eyJ….eyJ….…`).
//!
//! A tainted value in a plaintext field of the task definition (environment values, command,
//! entryPoint, docker labels, log options, tags) would be registered in plaintext in every
//! revision, readable by anyone with `ecs:DescribeTaskDefinition`, and kept forever; in a
//! service tag it is sent in plaintext through TagResource. Such a value is refused offline
//! (exit 3), field by field, with the fix — a `secrets` entry (or `secretOptions`) whose
//! `valueFrom` is the parameter's or secret's ARN, which ECS resolves when the task starts —
//! unless the field is listed in `task_definition.allow_plaintext` (the user accepts it).

use crate::error::InputError;
use std::path::Path;

/// Whether `v` has the shape of a credential.
pub(crate) fn token_shaped(v: &str) -> bool {
    !credentials_in(v).is_empty()
}

/// The credential-shaped parts of `v`: each token word, or the whole value for a PEM private key.
pub(crate) fn credentials_in(v: &str) -> Vec<String> {
    if v.contains("-----BEGIN") && v.contains("PRIVATE KEY-----") {
        return vec![v.to_string()];
    }
    v.split(|c: char| c.is_whitespace() || "\"'=,;:()[]{}".contains(c)).filter(|w| token_word(w)).map(str::to_string).collect()
}

fn token_word(w: &str) -> bool {
    let alnum = |s: &str, n: usize| s.len() >= n && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let github = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].iter().any(|p| w.strip_prefix(p).is_some_and(|r| alnum(r, 30)))
        || w.strip_prefix("github_pat_").is_some_and(|r| alnum(r, 30));
    let aws = (w.starts_with("AKIA") || w.starts_with("ASIA"))
        && w.len() == 20
        && w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let slack = ["xoxb-", "xoxa-", "xoxp-"].iter().any(|p| w.strip_prefix(p).is_some_and(|r| r.len() >= 10));
    let jwt = {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() == 3 && parts[0].starts_with("eyJ") && parts[1].starts_with("eyJ") && parts.iter().all(|p| p.len() >= 4)
    };
    github || aws || slack || jwt
}

/// The shortest value [`mark`] keeps: a shorter secret (`true`, `1234`) cannot be scrubbed from
/// output text without mangling it; such values are still refused in plaintext fields and
/// redacted field by field in plans, but not searched for in free text.
pub(crate) const SCRUB_MIN_LEN: usize = 6;

/// Every tainted value this process has seen (secret lookups' answers, `task_definition.redact`
/// variables' values), for [`scrub`]. Only grows.
static MARKED: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Taint these values for the rest of the process: every output line is scrubbed of them.
pub(crate) fn mark(values: impl IntoIterator<Item = String>) {
    let Ok(mut m) = MARKED.write() else { return };
    for v in values {
        let v = v.trim().to_string();
        if v.chars().count() >= SCRUB_MIN_LEN && !m.contains(&v) {
            // Inside a JSON string a value with quotes, backslashes or newlines is escaped.
            let escaped = serde_json::to_string(&v).unwrap_or_default();
            let escaped = escaped.trim_matches('"').to_string();
            if escaped != v && !m.contains(&escaped) {
                m.push(escaped);
            }
            m.push(v);
        }
    }
    // Longest first: a value that contains another is replaced whole.
    m.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// `text` as it may be shown anywhere (a terminal line, a JSON event, a log, a summary file):
/// every marked value, every credential-shaped word and every PEM private-key block replaced by
/// `(redacted)`.
pub(crate) fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = std::borrow::Cow::Borrowed(text);
    if let Ok(marked) = MARKED.read() {
        for v in marked.iter().filter(|v| text.contains(v.as_str())) {
            out = std::borrow::Cow::Owned(out.replace(v.as_str(), crate::redact::REDACTED));
        }
    }
    while let Some(start) = out.find("-----BEGIN").filter(|_| out.contains("PRIVATE KEY-----")) {
        let end = out[start..].find("-----END").and_then(|e| out[start + e..].find("KEY-----").map(|k| start + e + k + 8));
        let end = end.unwrap_or(out.len());
        out = std::borrow::Cow::Owned(format!("{}{}{}", &out[..start], crate::redact::REDACTED, &out[end..]));
    }
    let words: Vec<String> = credentials_in(&out);
    for w in words {
        out = std::borrow::Cow::Owned(out.replace(w.as_str(), crate::redact::REDACTED));
    }
    out
}

/// Whether `v` is tainted, given the secret lookups' answers.
pub(crate) fn tainted(v: &str, secrets: &[String]) -> bool {
    secrets.iter().any(|s| !s.is_empty() && v.contains(s.as_str())) || token_shaped(v)
}

/// The refusals: every tainted value in a plaintext field not listed in `allowed`. The message
/// never shows the value.
pub(crate) fn refuse_plaintext(file: &Path, fields: &[(String, String)], secrets: &[String], allowed: &[String]) -> Vec<InputError> {
    fields
        .iter()
        .filter(|(field, v)| tainted(v, secrets) && !allowed.iter().any(|a| a == field))
        .map(|(field, v)| {
            let why = if secrets.iter().any(|s| !s.is_empty() && v.contains(s.as_str())) {
                "holds a secret value (an SSM SecureString's answer, or a variable named in task_definition.redact)"
            } else {
                "holds a credential-shaped value (a token, an access key, a private key or a JWT)"
            };
            InputError::new(
                file,
                format!("{field} {why}: it would be stored and sent in plaintext (readable with ecs:DescribeTaskDefinition, kept in every revision)"),
                "reference it instead: a `secrets` entry (or logConfiguration `secretOptions`) with valueFrom = the parameter's or secret's ARN, which ECS resolves when the task starts (`{{ secret_arn('name') }}` for Secrets Manager); or, accepting plaintext, list the field in task_definition.allow_plaintext",
            )
            .at_field(field.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_shapes_are_tainted_and_ordinary_values_are_not() {
        for t in [
            "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
            "token=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "AKIAIOSFODNN7EXAMPLE",
            "xoxb-123456789012-abcdef",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl",
        ] {
            assert!(token_shaped(t), "{t}");
        }
        for ok in ["production", "https://example.com/health", "AKIA", "ghp_short", "arn:aws:ssm:us-east-1:1:parameter/x", "eyJ.x"] {
            assert!(!token_shaped(ok), "{ok}");
        }
        assert_eq!(credentials_in("Bearer ghp_0123456789abcdefghijklmnopqrstuvwxyzAB now"), ["ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"]);
        assert!(tainted("postgres://u:hunter2secret@db/app", &["hunter2secret".into()]));
        assert!(!tainted("postgres://db/app", &["hunter2secret".into()]));
    }
}

#[cfg(test)]
mod redaction {
    #[test]
    fn a_credential_allowed_in_plaintext_is_still_hidden_in_a_diff() {
        let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
        let r = crate::redact::Redactor::new(&[]).with_values(super::credentials_in(&format!("Bearer {token}")));
        let c = crate::diff::Change::Change {
            path: "containerDefinitions[web].environment[GREETING]".into(),
            from: serde_json::Value::String("hello".into()),
            to: serde_json::Value::String(format!("Bearer {token}")),
        };
        let shown = serde_json::to_string(&r.scrubbed(c)).expect("json");
        assert!(!shown.contains(token) && shown.contains("(redacted)"), "{shown}");
    }
}
