//! What RegisterTaskDefinition, or a Fargate service running the revision, would reject — checked
//! offline, every problem of the template at once, each with its JSON path and the fix.
//! Limits follow the ECS API Reference (`API_RegisterTaskDefinition`, `API_ContainerDefinition`,
//! `API_HealthCheck`, `API_Tag`) and the Fargate task-definition considerations page.

use super::model::{ContainerDefinition, TaskDefinition};
use super::{fargate, is_fargate};
use crate::error::{InputError, Problems};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// RegisterTaskDefinition's request limit: the task definition as registered, ≤ 64 KiB.
pub(crate) const MAX_TASK_DEFINITION_BYTES: usize = 64 * 1024;

/// Family, container, service and cluster names: 1–255 letters, digits, hyphens, underscores.
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Check a task definition whose variables are expanded. `release` names the release container.
pub(crate) fn validate(td: &TaskDefinition, release: &str, path: &Path) -> Result<(), InputError> {
    let mut p = Problems::new(path);
    if !valid_name(&td.family) {
        p.at("family", format!("invalid family {:?}", td.family), "use 1-255 letters, digits, hyphens and underscores");
    }
    containers(td, release, &mut p);
    ports(td, &mut p);
    fargate_rules(td, &mut p);
    tags(td, &mut p);
    if let Ok(bytes) = serde_json::to_vec(td)
        && bytes.len() > MAX_TASK_DEFINITION_BYTES
    {
        p.at(
            "",
            format!("the task definition is {} bytes; RegisterTaskDefinition accepts at most 64 KiB", bytes.len()),
            "move large values (long environment values, scripts) to secrets, environment files or the image",
        );
    }
    p.finish()
}

fn containers(td: &TaskDefinition, release: &str, p: &mut Problems) {
    let defs = &td.container_definitions;
    if defs.is_empty() {
        p.at("containerDefinitions", "no containers", "define at least one container");
        return;
    }
    let mut seen = BTreeSet::new();
    for (i, c) in defs.iter().enumerate() {
        let at = |f: &str| format!("containerDefinitions[{i}].{f}");
        if !valid_name(&c.name) {
            p.at(at("name"), format!("invalid container name {:?}", c.name), "use 1-255 letters, digits, hyphens and underscores");
        } else if !seen.insert(c.name.as_str()) {
            p.at(
                at("name"),
                format!("container name {:?} is used twice", c.name),
                "container names must be unique within a task definition",
            );
        }
        if c.name != release && c.image.as_deref().is_none_or(str::is_empty) {
            p.at(
                at("image"),
                format!("container {:?} has no image", c.name),
                "set its image (only the release container gets {{ image }} automatically)",
            );
        }
        health_check(c, i, p);
    }
    if !defs.iter().any(|c| c.essential.unwrap_or(true)) {
        p.at("containerDefinitions", "no container is essential", "mark the release container \"essential\": true");
    }
    if !seen.contains(release) {
        let names: Vec<_> = seen.iter().copied().collect();
        p.at(
            "containerDefinitions",
            format!(
                "the release container {release:?} named by the deployspec is not in the task definition (containers: {})",
                names.join(", ")
            ),
            "set `task_definition.container` in the deployspec to one of these names",
        );
    }
    for (i, c) in defs.iter().enumerate() {
        for (j, d) in c.depends_on.iter().flatten().enumerate() {
            let at = format!("containerDefinitions[{i}].dependsOn[{j}]");
            if !seen.contains(d.container_name.as_str()) {
                p.at(
                    format!("{at}.containerName"),
                    format!("depends on {:?}, which is not a container here", d.container_name),
                    "name a container of this task definition",
                );
            } else if d.container_name == c.name {
                p.at(format!("{at}.containerName"), format!("container {:?} depends on itself", c.name), "remove the dependency");
            }
            if !["START", "COMPLETE", "SUCCESS", "HEALTHY"].contains(&d.condition.as_str()) {
                p.at(format!("{at}.condition"), format!("unknown condition {:?}", d.condition), "use START, COMPLETE, SUCCESS or HEALTHY");
            }
        }
    }
}

/// `API_HealthCheck`: interval 5–300 s, timeout 2–120 s, retries 1–10, startPeriod 0–300 s.
fn health_check(c: &ContainerDefinition, i: usize, p: &mut Problems) {
    let Some(h) = &c.health_check else { return };
    for (name, value, lo, hi) in [
        ("interval", h.interval, 5, 300),
        ("timeout", h.timeout, 2, 120),
        ("retries", h.retries, 1, 10),
        ("startPeriod", h.start_period, 0, 300),
    ] {
        if let Some(v) = value
            && !(lo..=hi).contains(&v)
        {
            p.at(format!("containerDefinitions[{i}].healthCheck.{name}"), format!("{v} is out of range"), format!("use {lo} to {hi}"));
        }
    }
    if let (Some(t), Some(iv)) = (h.timeout, h.interval)
        && t > iv
    {
        p.at(
            format!("containerDefinitions[{i}].healthCheck.timeout"),
            format!("timeout {t} s is longer than the interval {iv} s"),
            "make the timeout shorter than the interval",
        );
    }
}

/// Under `awsvpc` every container shares one network namespace: a port is bound once, and
/// `hostPort` is absent or equal to `containerPort`.
fn ports(td: &TaskDefinition, p: &mut Problems) {
    let awsvpc = td.network_mode.as_deref() == Some("awsvpc");
    let mut bound: BTreeMap<(i32, String), String> = BTreeMap::new();
    for (i, c) in td.container_definitions.iter().enumerate() {
        for (j, m) in c.port_mappings.iter().flatten().enumerate() {
            let at = format!("containerDefinitions[{i}].portMappings[{j}]");
            let Some(port) = m.container_port else { continue };
            if !(1..=65535).contains(&port) {
                p.at(format!("{at}.containerPort"), format!("{port} is not a port"), "use 1 to 65535");
                continue;
            }
            if awsvpc && m.host_port.is_some_and(|h| h != port) {
                p.at(
                    format!("{at}.hostPort"),
                    format!(
                        "hostPort {} differs from containerPort {port}; under awsvpc they must be equal",
                        m.host_port.unwrap_or_default()
                    ),
                    "remove hostPort (or set it equal to containerPort)",
                );
            }
            let protocol = m.protocol.clone().unwrap_or_else(|| "tcp".into());
            let host = if awsvpc { port } else { m.host_port.unwrap_or(0) };
            if host == 0 {
                continue; // bridge mode with a dynamic host port
            }
            if let Some(other) = bound.insert((host, protocol.clone()), c.name.clone()) {
                p.at(
                    format!("{at}.containerPort"),
                    format!("port {host}/{protocol} is bound twice (containers {other:?} and {:?})", c.name),
                    "give each mapping its own port",
                );
            }
        }
    }
}

fn fargate_rules(td: &TaskDefinition, p: &mut Problems) {
    if !is_fargate(td) {
        p.at(
            "requiresCompatibilities",
            "the template does not name FARGATE in requiresCompatibilities: a Fargate service refuses such a revision (after it was registered)",
            "add \"requiresCompatibilities\": [\"FARGATE\"]",
        );
        return;
    }
    match td.network_mode.as_deref() {
        Some("awsvpc") => {}
        other => {
            let found = other.map_or("nothing".to_string(), |m| format!("{m:?}"));
            p.at("networkMode", format!("Fargate requires networkMode \"awsvpc\", found {found}"), "set \"networkMode\": \"awsvpc\"");
        }
    }
    ec2_only(td, p);
    let (Some(cpu), Some(mem)) = (&td.cpu, &td.memory) else {
        p.at("cpu", "Fargate requires task-level cpu and memory", "set e.g. \"cpu\": \"256\", \"memory\": \"512\"");
        return;
    };
    let (cpu_s, mem_s) = (cpu.as_string(), mem.as_string());
    let Some(cpu_units) = fargate::parse_cpu(&cpu_s) else {
        p.at("cpu", format!("cannot read cpu {cpu_s:?}"), "use CPU units (\"256\", \"1024\") or vCPU (\"1 vCPU\")");
        return;
    };
    let Some(mem_mib) = fargate::parse_memory(&mem_s) else {
        p.at("memory", format!("cannot read memory {mem_s:?}"), "use MiB (\"512\", \"2048\") or GB (\"2 GB\")");
        return;
    };
    if let Err(valid) = fargate::check(cpu_units, mem_mib) {
        let field = if fargate::check_cpu(cpu_units) { "memory" } else { "cpu" };
        p.at(field, format!("Fargate has no task size cpu={cpu_s} memory={mem_s}"), valid);
    }
    containers_fit(td, (cpu_units, mem_mib), p);
}

/// Each container's memory within the task's, reservations under their limits, and the
/// containers' cpu within the task's.
fn containers_fit(td: &TaskDefinition, (cpu_units, mem_mib): (u32, u32), p: &mut Problems) {
    let mut cpu_sum = 0i64;
    for (i, c) in td.container_definitions.iter().enumerate() {
        cpu_sum += i64::from(c.cpu.unwrap_or(0));
        for (name, v) in [("memory", c.memory), ("memoryReservation", c.memory_reservation)] {
            if let Some(v) = v
                && (v < 6 || v as u32 > mem_mib)
            {
                p.at(
                    format!("containerDefinitions[{i}].{name}"),
                    format!("{v} MiB does not fit the task's {mem_mib} MiB"),
                    "use at least 6 MiB and at most the task memory",
                );
            }
        }
        if let (Some(m), Some(r)) = (c.memory, c.memory_reservation)
            && r > m
        {
            p.at(
                format!("containerDefinitions[{i}].memoryReservation"),
                format!("{r} MiB is more than the hard limit {m} MiB"),
                "keep memoryReservation at or below memory",
            );
        }
    }
    if cpu_sum > i64::from(cpu_units) {
        p.at(
            "containerDefinitions",
            format!("the containers' cpu adds up to {cpu_sum}, more than the task's {cpu_units}"),
            "lower the containers' cpu or raise the task cpu",
        );
    }
}

/// Fields Fargate refuses (Fargate task-definition considerations).
fn ec2_only(td: &TaskDefinition, p: &mut Problems) {
    let fix = "remove it: Fargate does not support it";
    if td.placement_constraints.as_ref().is_some_and(|v| !v.is_empty()) {
        p.at("placementConstraints", "placementConstraints are not supported on Fargate", fix);
    }
    if td.inference_accelerators.as_ref().is_some_and(|v| !v.is_empty()) {
        p.at("inferenceAccelerators", "inferenceAccelerators are not supported on Fargate", fix);
    }
    if td.ipc_mode.is_some() {
        p.at("ipcMode", "ipcMode is not supported on Fargate", fix);
    }
    for (i, v) in td.volumes.iter().flatten().enumerate() {
        if v.host.as_ref().is_some_and(|h| h.source_path.is_some()) {
            p.at(
                format!("volumes[{i}].host.sourcePath"),
                "host paths are not supported on Fargate",
                "use an empty \"host\": {} (a bind mount) or EFS",
            );
        }
        if v.docker_volume_configuration.is_some() {
            p.at(
                format!("volumes[{i}].dockerVolumeConfiguration"),
                "Docker volumes are not supported on Fargate",
                "use a bind mount or EFS",
            );
        }
    }
    for (i, c) in td.container_definitions.iter().enumerate() {
        let at = |f: &str| format!("containerDefinitions[{i}].{f}");
        if c.links.as_ref().is_some_and(|l| !l.is_empty()) {
            p.at(at("links"), "links are not supported with awsvpc (Fargate)", "reach the other container on localhost");
        }
        if c.privileged == Some(true) {
            p.at(at("privileged"), "privileged containers are not supported on Fargate", fix);
        }
        if c.hostname.is_some() {
            p.at(at("hostname"), "hostname is not supported with awsvpc (Fargate)", fix);
        }
        if c.docker_security_options.as_ref().is_some_and(|v| !v.is_empty()) {
            p.at(at("dockerSecurityOptions"), "dockerSecurityOptions are not supported on Fargate", fix);
        }
        if c.extra_hosts.as_ref().is_some_and(|v| !v.is_empty()) {
            p.at(at("extraHosts"), "extraHosts is not supported with awsvpc (Fargate)", fix);
        }
        if let Some(lp) = &c.linux_parameters {
            if lp.devices.as_ref().is_some_and(|v| !v.is_empty()) {
                p.at(at("linuxParameters.devices"), "devices are not supported on Fargate", fix);
            }
            if lp.shared_memory_size.is_some() {
                p.at(at("linuxParameters.sharedMemorySize"), "sharedMemorySize is not supported on Fargate", fix);
            }
            if lp.tmpfs.as_ref().is_some_and(|v| !v.is_empty()) {
                p.at(at("linuxParameters.tmpfs"), "tmpfs is not supported on Fargate", fix);
            }
        }
    }
}

/// `API_Tag`: at most 50; key 1–128, value 0–256 characters; the `aws:` prefix is AWS's.
fn tags(td: &TaskDefinition, p: &mut Problems) {
    let Some(tags) = &td.tags else { return };
    if tags.len() > 50 {
        p.at("tags", format!("{} tags; AWS allows 50", tags.len()), "keep at most 50 tags");
    }
    for (i, t) in tags.iter().enumerate() {
        let key = t.key.as_deref().unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            p.at(format!("tags[{i}].key"), format!("tag key {key:?} must be 1-128 characters"), "shorten or set the key");
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            p.at(format!("tags[{i}].key"), format!("tag key {key:?} uses the reserved aws: prefix"), "choose another key");
        }
        if t.value.as_deref().is_some_and(|v| v.chars().count() > 256) {
            p.at(format!("tags[{i}].value"), "tag value is longer than 256 characters", "shorten the value");
        }
    }
}

/// serde_json keeps the last of two equal keys silently; a template with one is an error (the
/// first value would be lost). Returns the key and its 1-based line and column.
pub(crate) fn duplicate_key(text: &str) -> Option<(String, usize, usize)> {
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    struct Walk;
    impl<'de> Deserialize<'de> for Walk {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Walk)
        }
    }
    impl<'de> Visitor<'de> for Walk {
        type Value = Walk;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Walk, A::Error> {
            let mut keys = BTreeSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !keys.insert(k.clone()) {
                    return Err(A::Error::custom(format!("duplicate key {k:?}")));
                }
                m.next_value::<Walk>()?;
            }
            Ok(Walk)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Walk, A::Error> {
            while s.next_element::<Walk>()?.is_some() {}
            Ok(Walk)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_str<E>(self, _: &str) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_unit<E>(self) -> Result<Walk, E> {
            Ok(Walk)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match Walk::deserialize(&mut de) {
        Err(e) if e.to_string().starts_with("duplicate key") => {
            let key = e.to_string().split('"').nth(1).unwrap_or_default().to_string();
            Some((key, e.line(), e.column()))
        }
        _ => None,
    }
}

/// Where `{{ image }}` appears in a template (JSON paths), before variables are expanded.
pub(crate) fn image_placeholders(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find("{{") {
                let after = &rest[i + 2..];
                let Some(j) = after.find("}}") else { break };
                if after[..j].trim() == "image" {
                    out.push(path.to_string());
                }
                rest = &after[j + 2..];
            }
        }
        serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| image_placeholders(x, &format!("{path}[{i}]"), out)),
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                image_placeholders(x, &p, out);
            }
        }
        _ => {}
    }
}
