//! Account lookups in templates: `ssm("/path")`, `secret_arn("name")`, `tfstate("aws_subnet.a.id")`
//! and `cfn_output("stack", "Key")`. A load first renders with a recording table (every lookup a
//! template makes is noted, a stand-in returned), the caller resolves them all through the ports
//! before any mutating call, and the real load renders with the answers. Answers are cached for
//! the run; SecureString values are marked secret and never shown.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One lookup, as the template wrote it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lookup {
    Ssm { name: String },
    SecretArn { name: String },
    Tfstate { address: String },
    CfnOutput { stack: String, key: String },
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Ssm { name } => write!(f, "ssm({name:?})"),
            Lookup::SecretArn { name } => write!(f, "secret_arn({name:?})"),
            Lookup::Tfstate { address } => write!(f, "tfstate({address:?})"),
            Lookup::CfnOutput { stack, key } => write!(f, "cfn_output({stack:?}, {key:?})"),
        }
    }
}

/// A resolved lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub(crate) value: String,
    /// An SSM SecureString (a Secrets Manager secret read through
    /// `/aws/reference/secretsmanager/` is one): used where the template needs it, never printed.
    pub(crate) secret: bool,
}

/// What the plan lists: the lookup and its value (a secret's shown as `(secret)`).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Resolved {
    pub(crate) lookup: String,
    pub value: String,
}

/// The lookups of one run: recorded while scanning, answered before the real load.
#[derive(Debug, Default)]
pub struct LookupTable {
    recording: bool,
    answers: Mutex<BTreeMap<Lookup, Option<Answer>>>,
    /// While recording: the file and field being rendered, and where each lookup was first seen.
    at: Mutex<Option<(std::path::PathBuf, String)>>,
    places: Mutex<BTreeMap<Lookup, (std::path::PathBuf, String)>>,
}

/// A stand-in value while recording (never reaches AWS: the real load replaces it).
pub(crate) const PENDING: &str = "fgdeploy-lookup-pending";

impl LookupTable {
    /// A table that records the lookups a render makes and answers each with a stand-in.
    pub(crate) fn recording() -> LookupTable {
        LookupTable { recording: true, ..LookupTable::default() }
    }

    /// A table with the answers (the real load).
    pub fn answered(answers: BTreeMap<Lookup, Answer>) -> LookupTable {
        crate::taint::mark(answers.values().filter(|a| a.secret).map(|a| a.value.clone()));
        LookupTable { answers: Mutex::new(answers.into_iter().map(|(k, v)| (k, Some(v))).collect()), ..LookupTable::default() }
    }

    /// The value for `l`: the answer, a stand-in while recording, else an error.
    pub(crate) fn get(&self, l: Lookup) -> Result<String, String> {
        let mut m = self.answers.lock().map_err(|_| "lookup table poisoned".to_string())?;
        match m.get(&l) {
            Some(Some(a)) => Ok(a.value.clone()),
            _ if self.recording => {
                if let (Ok(at), Ok(mut places)) = (self.at.lock(), self.places.lock())
                    && let Some(here) = at.clone()
                {
                    places.entry(l.clone()).or_insert(here);
                }
                m.insert(l, None);
                Ok(PENDING.to_string())
            }
            _ => Err(format!("{l} was not resolved before the template was rendered")),
        }
    }

    /// While recording: what is being rendered now (a file and a field path).
    pub(crate) fn rendering(&self, file: &std::path::Path, field: String) {
        if let Ok(mut at) = self.at.lock() {
            *at = Some((file.to_path_buf(), field));
        }
    }

    /// Where a lookup was first seen (file and field), when recorded.
    pub(crate) fn place(&self, l: &Lookup) -> Option<(std::path::PathBuf, String)> {
        self.places.lock().ok()?.get(l).cloned()
    }

    /// Every lookup the renders made.
    pub(crate) fn lookups(&self) -> Vec<Lookup> {
        self.answers.lock().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// The answered lookups for the plan, secrets hidden.
    pub(crate) fn resolved(&self) -> Vec<Resolved> {
        let m = self.answers.lock().map(|m| m.clone()).unwrap_or_default();
        m.into_iter()
            .filter_map(|(l, a)| {
                let a = a?;
                Some(Resolved { lookup: l.to_string(), value: if a.secret { "(secret)".into() } else { a.value } })
            })
            .collect()
    }

    /// The values that must never be shown.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let m = self.answers.lock().map(|m| m.clone()).unwrap_or_default();
        m.into_values().flatten().filter(|a| a.secret && !a.value.is_empty()).map(|a| a.value).collect()
    }
}

/// A value out of a Terraform state (format version 4): `type.name.attr…`, with `module.m.` and
/// `data.` prefixes, `[0]` / `["key"]` instance keys, nested attributes, and `output.name`.
pub(crate) fn tfstate_value(state: &serde_json::Value, address: &str) -> Result<String, String> {
    if let Some(name) = address.strip_prefix("output.") {
        let v = state.get("outputs").and_then(|o| o.get(name)).and_then(|o| o.get("value"));
        return v.map(scalar).ok_or_else(|| format!("the state has no output {name:?}"));
    }
    let (resource, attribute) = split_address(address)?;
    let r = state
        .get("resources")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .find(|r| {
            let module = r.get("module").and_then(|m| m.as_str());
            let mode = r.get("mode").and_then(|m| m.as_str()).unwrap_or("managed");
            module == resource.module.as_deref()
                && (mode == "data") == resource.data
                && r.get("type").and_then(|t| t.as_str()) == Some(resource.kind.as_str())
                && r.get("name").and_then(|t| t.as_str()) == Some(resource.name.as_str())
        })
        .ok_or_else(|| format!("the state has no resource {}", address.rsplit_once('.').map_or(address, |(r, _)| r)))?;
    let instances = r.get("instances").and_then(|i| i.as_array()).cloned().unwrap_or_default();
    let instance = instances
        .iter()
        .find(|i| match (&resource.key, i.get("index_key")) {
            (None, None) => true,
            (Some(k), Some(ik)) => k == ik,
            _ => false,
        })
        .ok_or_else(|| format!("{address}: no such instance in the state"))?;
    let mut v = instance.get("attributes").ok_or_else(|| format!("{address}: the instance has no attributes"))?;
    for part in attribute {
        v = match (part.parse::<usize>(), v) {
            (Ok(i), serde_json::Value::Array(a)) => a.get(i),
            _ => v.get(&part),
        }
        .ok_or_else(|| format!("{address}: no attribute {part:?}"))?;
    }
    Ok(scalar(v))
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct ResourceAddr {
    module: Option<String>,
    data: bool,
    kind: String,
    name: String,
    key: Option<serde_json::Value>,
}

fn split_address(address: &str) -> Result<(ResourceAddr, Vec<String>), String> {
    let bad = || format!("{address:?} is not a resource address with an attribute (e.g. aws_subnet.a.id or module.net.aws_subnet.a[0].id)");
    let mut parts: Vec<String> = address.split('.').map(str::to_string).collect();
    let mut module = Vec::new();
    while parts.first().map(String::as_str) == Some("module") && parts.len() > 1 {
        parts.remove(0);
        module.push(format!("module.{}", parts.remove(0)));
    }
    let data = parts.first().map(String::as_str) == Some("data");
    if data {
        parts.remove(0);
    }
    if parts.len() < 3 {
        return Err(bad());
    }
    let kind = parts.remove(0);
    let raw_name = parts.remove(0);
    let (name, key) = match raw_name.split_once('[') {
        Some((n, k)) => {
            let k = k.strip_suffix(']').ok_or_else(bad)?;
            let key = match k.parse::<i64>() {
                Ok(i) => serde_json::Value::from(i),
                Err(_) => serde_json::Value::from(k.trim_matches('"')),
            };
            (n.to_string(), Some(key))
        }
        None => (raw_name, None),
    };
    let module = (!module.is_empty()).then(|| module.join("."));
    Ok((ResourceAddr { module, data, kind, name, key }, parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> serde_json::Value {
        serde_json::json!({
            "version": 4,
            "outputs": {"vpc_id": {"value": "vpc-1", "type": "string"}},
            "resources": [
                {"mode": "managed", "type": "aws_subnet", "name": "a", "instances": [{"attributes": {"id": "subnet-0a", "tags": {"Name": "a"}}}]},
                {"mode": "managed", "type": "aws_subnet", "name": "b", "instances": [
                    {"index_key": 0, "attributes": {"id": "subnet-0b0"}}, {"index_key": 1, "attributes": {"id": "subnet-0b1"}}]},
                {"module": "module.net", "mode": "managed", "type": "aws_security_group", "name": "web", "instances": [{"index_key": "x", "attributes": {"id": "sg-1", "ports": [80, 443]}}]},
                {"mode": "data", "type": "aws_caller_identity", "name": "me", "instances": [{"attributes": {"account_id": "123"}}]}
            ]
        })
    }

    #[test]
    fn addresses_resolve_like_terraform() {
        let s = state();
        assert_eq!(tfstate_value(&s, "aws_subnet.a.id"), Ok("subnet-0a".into()));
        assert_eq!(tfstate_value(&s, "aws_subnet.a.tags.Name"), Ok("a".into()));
        assert_eq!(tfstate_value(&s, "aws_subnet.b[1].id"), Ok("subnet-0b1".into()));
        assert_eq!(tfstate_value(&s, "module.net.aws_security_group.web[\"x\"].id"), Ok("sg-1".into()));
        assert_eq!(tfstate_value(&s, "module.net.aws_security_group.web[\"x\"].ports.1"), Ok("443".into()));
        assert_eq!(tfstate_value(&s, "data.aws_caller_identity.me.account_id"), Ok("123".into()));
        assert_eq!(tfstate_value(&s, "output.vpc_id"), Ok("vpc-1".into()));
    }

    #[test]
    fn what_is_not_there_is_named() {
        let s = state();
        assert!(tfstate_value(&s, "aws_subnet.c.id").unwrap_err().contains("no resource aws_subnet.c"));
        assert!(tfstate_value(&s, "aws_subnet.b.id").unwrap_err().contains("no such instance"), "b has index keys");
        assert!(tfstate_value(&s, "aws_subnet.a.arn").unwrap_err().contains("no attribute \"arn\""));
        assert!(tfstate_value(&s, "aws_subnet").unwrap_err().contains("not a resource address"));
        for short in ["module", "module.net", "module.net.aws_subnet", "data.aws_x"] {
            assert!(tfstate_value(&s, short).unwrap_err().contains("not a resource address"), "{short}");
        }
        assert!(tfstate_value(&s, "output.nope").unwrap_err().contains("no output"));
        assert!(tfstate_value(&s, "aws_security_group.web[\"x\"].id").is_err(), "the module is part of the address");
    }

    #[test]
    fn the_table_records_then_answers_and_hides_secrets() {
        let t = LookupTable::recording();
        assert_eq!(t.get(Lookup::Ssm { name: "/db/url".into() }), Ok(PENDING.into()));
        assert_eq!(t.lookups(), vec![Lookup::Ssm { name: "/db/url".into() }]);
        let mut answers = BTreeMap::new();
        answers.insert(Lookup::Ssm { name: "/db/url".into() }, Answer { value: "postgres://x".into(), secret: true });
        answers.insert(
            Lookup::SecretArn { name: "db".into() },
            Answer { value: "arn:aws:secretsmanager:r:1:secret:db-AbC".into(), secret: false },
        );
        let t = LookupTable::answered(answers);
        assert_eq!(t.get(Lookup::Ssm { name: "/db/url".into() }), Ok("postgres://x".into()));
        assert!(t.get(Lookup::Ssm { name: "/other".into() }).unwrap_err().contains("ssm(\"/other\") was not resolved"));
        assert_eq!(t.secrets(), vec!["postgres://x".to_string()]);
        let shown = t.resolved();
        assert!(shown.iter().any(|r| r.lookup == "ssm(\"/db/url\")" && r.value == "(secret)"), "{shown:?}");
        assert!(shown.iter().any(|r| r.value.starts_with("arn:aws:secretsmanager")), "{shown:?}");
    }
}
