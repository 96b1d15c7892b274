//! The JSON Schemas of `docs/schema/`, generated from the types that serialize every line
//! (`engine::Event`, `render::documents::Document`) and the envelope the renderer adds
//! (`schema_version`, and for events `at` and `service`). `tests/it/docs.rs` checks that the
//! files are what this generates, so a schema cannot drift from the code; `UPDATE_SCHEMAS=1`
//! rewrites them.

use super::documents::Document;
use crate::engine::Event;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};
use std::borrow::Cow;

/// `schema_version`: 1 for every line of this major version.
struct SchemaVersion;

impl JsonSchema for SchemaVersion {
    fn schema_name() -> Cow<'static, str> {
        "SchemaVersion".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({ "const": super::SCHEMA_VERSION })
    }
}

/// One event of the stream, as the renderer prints it.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct EventLine {
    schema_version: SchemaVersion,
    /// When it happened (RFC 3339; virtual in the sandbox).
    #[serde(default)]
    at: Option<String>,
    /// The service it is about.
    #[serde(default)]
    service: Option<String>,
    #[serde(flatten)]
    event: Event,
}

/// `release --report FILE`: the failure report, with its schema version.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ReportLine {
    schema_version: SchemaVersion,
    #[serde(flatten)]
    report: crate::engine::report::FailureReport,
}

/// One document (plan, status, history, …), as a command prints it.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct DocumentLine<'a> {
    schema_version: SchemaVersion,
    #[serde(flatten)]
    document: Document<'a>,
}

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().for_serialize().into_generator()
}

/// The root of a schema file: its header, the schema and the definitions it refers to.
fn root(name: &str, title: &str, description: &str, schema: Value, defs: serde_json::Map<String, Value>) -> Value {
    let mut out = json!({
        "$schema": DRAFT,
        "$id": format!("https://fgdeploy.dev/schema/v1/{name}.schema.json"),
        "title": title,
    });
    if !description.is_empty() {
        out["description"] = description.into();
    }
    let used = reachable(&schema, &defs);
    if let (Value::Object(o), Value::Object(s)) = (&mut out, schema) {
        o.extend(s);
        if !used.is_empty() {
            o.insert("$defs".into(), Value::Object(used));
        }
    }
    out
}

/// The definitions `schema` refers to, directly or through each other.
fn reachable(schema: &Value, defs: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
                    out.push(r.to_string());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    refs(schema, &mut todo);
    let mut used = serde_json::Map::new();
    while let Some(name) = todo.pop() {
        if used.contains_key(&name) {
            continue;
        }
        if let Some(d) = defs.get(&name) {
            refs(d, &mut todo);
            used.insert(name, d.clone());
        }
    }
    used.sort_keys();
    used
}

/// The variant of a tagged enum's schema whose `event` is `tag`, with `schema_version` added.
fn variant(defs: &serde_json::Map<String, Value>, of: &str, tag: &str) -> Value {
    let variants = defs.get(of).and_then(|d| d.get("oneOf")).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut v = variants
        .into_iter()
        .find(|v| v.pointer("/properties/event/const").and_then(Value::as_str) == Some(tag))
        .unwrap_or_else(|| json!({ "description": format!("no variant {tag} of {of}") }));
    if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("schema_version".into(), json!({ "const": super::SCHEMA_VERSION }));
    }
    if let Some(req) = v.get_mut("required").and_then(Value::as_array_mut) {
        req.push("schema_version".into());
    }
    v
}

/// Every schema file: (name, its JSON).
pub fn schemas() -> Vec<(&'static str, Value)> {
    let mut g = generator();
    let event = g.subschema_for::<EventLine>();
    let document = g.subschema_for::<DocumentLine<'static>>();
    let report = g.subschema_for::<ReportLine>();
    g.subschema_for::<Event>();
    g.subschema_for::<Document<'static>>();
    let defs = g.take_definitions(true);
    let events = root(
        "events",
        "fgdeploy --output json: one event or document per line",
        "Every line fgdeploy prints with --output json. Discriminated by `event`. Additive changes only within schema_version 1: consumers must ignore fields and events they do not know.",
        json!({ "anyOf": [event.to_value(), document.to_value()] }),
        defs.clone(),
    );
    let one = |name: &str, title: &str, of: &str, tag: &str| root(name, title, "", variant(&defs, of, tag), defs.clone());
    let mut finished = variant(&defs, "Event", "finished");
    if let Some(p) = finished.get_mut("properties").and_then(Value::as_object_mut) {
        p.insert("service".into(), json!({ "type": "string" }));
    }
    if let Some(r) = finished.get_mut("required").and_then(Value::as_array_mut) {
        r.push("service".into());
    }
    let summary = root(
        "summary",
        "fgdeploy release --summary-file: the release's summary (one service), or a fleet's",
        "",
        json!({ "oneOf": [finished, variant(&defs, "Document", "fleet_finished")] }),
        defs.clone(),
    );
    vec![
        ("events", events),
        ("plan", one("plan", "fgdeploy plan --output json", "Document", "plan")),
        ("status", one("status", "fgdeploy status --output json", "Document", "status")),
        ("history", one("history", "fgdeploy history --output json", "Document", "history")),
        ("summary", summary),
        ("report", root("report", "fgdeploy release --report FILE: why the release failed", "", report.to_value(), defs.clone())),
    ]
}
