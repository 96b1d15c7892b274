//! The fields of a task definition ECS stores and shows in plaintext (the taint checks read them).

use super::model::TaskDefinition;

/// Every plaintext field of a task definition, as (field path, value).
pub(crate) fn plaintext_fields(td: &TaskDefinition) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in &td.container_definitions {
        let at = |f: String| format!("containerDefinitions[{}].{f}", c.name);
        for e in c.environment.iter().flatten() {
            if let (Some(n), Some(v)) = (&e.name, &e.value) {
                out.push((at(format!("environment[{n}]")), v.clone()));
            }
        }
        for (what, list) in [("command", &c.command), ("entryPoint", &c.entry_point)] {
            for (i, v) in list.iter().flatten().enumerate() {
                out.push((at(format!("{what}[{i}]")), v.clone()));
            }
        }
        for (k, v) in c.docker_labels.iter().flatten() {
            out.push((at(format!("dockerLabels.{k}")), v.clone()));
        }
        for (k, v) in c.log_configuration.iter().flat_map(|l| l.options.iter().flatten()) {
            out.push((at(format!("logConfiguration.options.{k}")), v.clone()));
        }
    }
    for t in td.tags.iter().flatten() {
        if let (Some(k), Some(v)) = (&t.key, &t.value) {
            out.push((format!("tags[{k}]"), v.clone()));
        }
    }
    out
}
