//! Task definitions: parsing the template with full fidelity, local validation of what AWS would
//! reject, and the normal form used for semantic diffs.

pub(crate) mod fargate;
pub(crate) mod model;
pub(crate) mod plaintext;
pub(crate) mod rules;

pub(crate) use fargate::is_fargate;
pub use model::TaskDefinition;
pub(crate) use plaintext::plaintext_fields;

use crate::error::InputError;
use crate::vars::Vars;
use serde_json::Value;
use std::path::Path;

/// Parse a task-definition template (RegisterTaskDefinition JSON, or pasted
/// `describe-task-definition` output) and expand its variables.
pub fn parse(path: &Path, text: &str, vars: &Vars) -> Result<TaskDefinition, InputError> {
    if let Some((key, line, col)) = rules::duplicate_key(text) {
        return Err(InputError::new(
            path,
            format!("duplicate key {key:?}: JSON parsers keep only one of the two values"),
            "remove one of the two (or merge them)",
        )
        .at_line_col(line, col));
    }
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        InputError::new(path, format!("not valid JSON: {e}"), "fix the JSON syntax at that line and column")
            .at_line_col(e.line(), e.column())
    })?;
    // `aws ecs describe-task-definition --include TAGS` output: {"taskDefinition": {...}, "tags": [...]}
    if let Value::Object(map) = &mut value
        && let Some(Value::Object(inner)) = map.get("taskDefinition")
    {
        let mut inner = inner.clone();
        if let Some(tags) = map.get("tags")
            && !inner.contains_key("tags")
        {
            inner.insert("tags".into(), tags.clone());
        }
        value = Value::Object(inner);
    }
    vars.expand_json(&mut value, &mut Vec::new()).map_err(|(field, e)| InputError::new(path, e.message, e.fix).at_field(field))?;
    from_value(path, value)
}

/// Deserialize a JSON value into the model; every problem (not only the first) names its JSON path.
pub fn from_value(path: &Path, value: Value) -> Result<TaskDefinition, InputError> {
    crate::deser::deserialize_all(value).map_err(|found| {
        let problems = found.into_iter().map(|f| {
            let (message, fix) = if let Some(rest) = f.message.strip_prefix("unknown field ") {
                let name = rest.split(',').next().unwrap_or(rest).trim();
                (
                    format!("unknown field {name}: RegisterTaskDefinition has no such field here"),
                    "check the spelling and nesting against `aws ecs register-task-definition --generate-cli-skeleton`, or remove it"
                        .to_string(),
                )
            } else if f.message.starts_with("missing field") {
                (f.message.clone(), "add the required field".to_string())
            } else if f.message.contains("untagged enum StrOrNum") {
                ("expected a string or a number".to_string(), "write it as ECS does, e.g. \"cpu\": \"256\"".to_string())
            } else {
                (f.message.clone(), "give the field the type ECS expects".to_string())
            };
            let err = InputError::new(path, message, fix);
            if f.path == "." || f.path.is_empty() { err } else { err.at_field(f.path) }
        });
        InputError::all(problems.collect()).err().unwrap_or_else(|| InputError::new(path, "cannot be read", "fix the template"))
    })
}

/// Put `image` into the container named `container`.
pub(crate) fn set_image(td: &mut TaskDefinition, container: &str, image: &str) -> bool {
    match td.container_definitions.iter_mut().find(|c| c.name == container) {
        Some(c) => {
            c.image = Some(image.to_string());
            true
        }
        None => false,
    }
}

/// The image of the container named `container`.
pub fn image_of<'a>(td: &'a TaskDefinition, container: &str) -> Option<&'a str> {
    td.container_definitions.iter().find(|c| c.name == container).and_then(|c| c.image.as_deref())
}

/// Check locally what RegisterTaskDefinition / a Fargate service would reject (every problem
/// at once; see [`rules`]).
pub fn validate(td: &TaskDefinition, image_container: &str, path: &Path) -> Result<(), InputError> {
    rules::validate(td, image_container, path)
}

/// The normal form of a task definition for comparison: fields ECS fills in with defaults are
/// removed, lists keyed by name are sorted, empty lists and maps dropped, cpu/memory canonical.
pub fn normalize(td: &TaskDefinition) -> Value {
    let mut v = serde_json::to_value(td).unwrap_or(Value::Null);
    let awsvpc = td.network_mode.as_deref() == Some("awsvpc");
    if let Value::Object(top) = &mut v {
        if let Some(Value::String(cpu)) = top.get("cpu").cloned()
            && let Some(u) = fargate::parse_cpu(&cpu)
        {
            top.insert("cpu".into(), Value::String(u.to_string()));
        }
        if let Some(Value::String(mem)) = top.get("memory").cloned()
            && let Some(m) = fargate::parse_memory(&mem)
        {
            top.insert("memory".into(), Value::String(m.to_string()));
        }
        if let Some(Value::Number(n)) = top.get("cpu").cloned() {
            top.insert("cpu".into(), Value::String(n.to_string()));
        }
        if let Some(Value::Number(n)) = top.get("memory").cloned() {
            top.insert("memory".into(), Value::String(n.to_string()));
        }
        if let Some(Value::Array(containers)) = top.get_mut("containerDefinitions") {
            for c in containers.iter_mut() {
                let Value::Object(c) = c else { continue };
                if c.get("essential") == Some(&Value::Bool(true)) {
                    c.remove("essential");
                }
                if c.get("cpu") == Some(&Value::from(0)) {
                    c.remove("cpu");
                }
                if let Some(Value::Array(pms)) = c.get_mut("portMappings") {
                    for pm in pms.iter_mut() {
                        let Value::Object(pm) = pm else { continue };
                        if pm.get("protocol") == Some(&Value::from("tcp")) {
                            pm.remove("protocol");
                        }
                        if awsvpc && pm.get("hostPort").is_some() && pm.get("hostPort") == pm.get("containerPort") {
                            pm.remove("hostPort");
                        }
                    }
                }
                for key in ["environment", "secrets"] {
                    sort_by_key(c.get_mut(key), "name");
                }
            }
        }
        sort_by_key(top.get_mut("tags"), "key");
        if let Some(Value::Array(rc)) = top.get_mut("requiresCompatibilities") {
            rc.sort_by_key(|a| a.to_string());
        }
    }
    drop_empty(&mut v);
    v
}

fn sort_by_key(v: Option<&mut Value>, key: &str) {
    if let Some(Value::Array(items)) = v {
        items.sort_by(|a, b| {
            let ka = a.get(key).and_then(Value::as_str).unwrap_or("");
            let kb = b.get(key).and_then(Value::as_str).unwrap_or("");
            ka.cmp(kb)
        });
    }
}

fn drop_empty(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for val in map.values_mut() {
                drop_empty(val);
            }
            map.retain(|_, val| match val {
                Value::Null => false,
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vars() -> Vars {
        Vars::from_process(Path::new(".")).with_env(BTreeMap::new()).with_git_sha("abc")
    }

    fn td(json: &str) -> Result<TaskDefinition, InputError> {
        parse(Path::new("t.json"), json, &vars())
    }

    const OK: &str = r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],
        "cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"x"}]}"#;

    #[test]
    fn unknown_field_names_its_path() {
        let e = td(r#"{"family":"web","containerDefinitions":[{"name":"web","imagee":"x"}]}"#).unwrap_err();
        assert_eq!(e.location, crate::error::Location::Field("containerDefinitions[0].imagee".into()));
        assert!(e.message.contains("imagee"), "{}", e.message);
    }

    #[test]
    fn describe_output_is_accepted() {
        let t = td(r#"{"taskDefinition":{"family":"web","revision":3,"status":"ACTIVE","taskDefinitionArn":"arn:x",
            "registeredAt":"2026-01-01","compatibilities":["EC2"],"requiresAttributes":[],"registeredBy":"me",
            "deregisteredAt":null,"deleteRequestedAt":null,
            "containerDefinitions":[{"name":"web","image":"x"}]},"tags":[{"key":"a","value":"b"}]}"#)
        .unwrap();
        assert_eq!(t.tags.unwrap()[0].key.as_deref(), Some("a"));
        let out = serde_json::to_value(td(OK).unwrap()).unwrap();
        assert!(out.get("revision").is_none());
    }

    #[test]
    fn fargate_rules() {
        let ok = td(OK).unwrap();
        validate(&ok, "web", Path::new("t.json")).unwrap();
        let e = validate(&ok, "app", Path::new("t.json")).unwrap_err();
        assert!(e.message.contains("\"app\""), "{}", e.message);
        let bad = td(&OK.replace("\"512\"", "\"4096\"")).unwrap();
        assert!(validate(&bad, "web", Path::new("t.json")).unwrap_err().message.contains("no task size"));
        let bad = td(&OK.replace("awsvpc", "bridge")).unwrap();
        assert!(validate(&bad, "web", Path::new("t.json")).unwrap_err().message.contains("awsvpc"));
    }

    #[test]
    fn normal_form_ignores_ecs_defaults() {
        let a = td(r#"{"family":"web","networkMode":"awsvpc","cpu":"1 vCPU","containerDefinitions":[{"name":"web","image":"x",
            "portMappings":[{"containerPort":80}],"environment":[{"name":"B","value":"2"},{"name":"A","value":"1"}]}]}"#)
        .unwrap();
        let b = td(r#"{"family":"web","networkMode":"awsvpc","cpu":"1024","volumes":[],"placementConstraints":[],
            "containerDefinitions":[{"name":"web","image":"x","cpu":0,"essential":true,"mountPoints":[],
            "portMappings":[{"containerPort":80,"hostPort":80,"protocol":"tcp"}],
            "environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}"#)
        .unwrap();
        assert_eq!(normalize(&a), normalize(&b));
        let c = td(r#"{"family":"web","networkMode":"awsvpc","cpu":"1024","containerDefinitions":[{"name":"web","image":"y"}]}"#).unwrap();
        assert_ne!(normalize(&a), normalize(&c));
    }
}
