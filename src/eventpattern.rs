//! The watch's EventBridge pattern (#28), the subset of EventBridge's matching the simulator
//! plays, and what fgdeploy reads of a delivered event.
//!
//! The pattern matches this service's ECS events (their `resources` name the service ARN:
//! "Amazon ECS service deployment state change events", "Amazon ECS service action events") and
//! its CodeDeploy deployment group's (`resources` name the deployment group ARN: "Monitor
//! CodeDeploy deployments with Amazon EventBridge"), in one rule: EventBridge matches an array
//! field when any of its values is among the pattern's ("Arrays in Amazon EventBridge event
//! patterns"). An event only says *look now*: the APIs stay the truth.

use serde_json::{Value, json};

/// The detail types the watch listens to.
pub const DETAIL_TYPES: [&str; 4] =
    ["ECS Deployment State Change", "ECS Service Action", "ECS Hook State Change", "CodeDeploy Deployment State-change Notification"];

/// The CodeDeploy deployment group's ARN, in the service ARN's partition, region and account.
pub fn deployment_group_arn(service_arn: &str, app: &str, group: &str) -> Option<String> {
    let mut p = service_arn.split(':');
    let (_, partition, _, region, account) = (p.next()?, p.next()?, p.next()?, p.next()?, p.next()?);
    Some(format!("arn:{partition}:codedeploy:{region}:{account}:deploymentgroup:{app}/{group}"))
}

/// The rule's pattern: the service's ECS events and, for a CodeDeploy service, its deployment
/// group's; the deployment's own id is not known before the start call, so deployments are told
/// apart when an event arrives ([`Notice::deployment`]).
pub fn pattern(service_arn: &str, deployment_group: Option<&str>) -> Value {
    // Hook events name the service deployment (`…:service-deployment/<cluster>/<service>/<id>`),
    // not the service: a prefix match ("Prefix matching", EventBridge User Guide).
    let deployments = service_arn.replacen(":service/", ":service-deployment/", 1) + "/";
    let mut resources = vec![json!(service_arn), json!({ "prefix": deployments })];
    let mut sources = vec!["aws.ecs"];
    if let Some(dg) = deployment_group {
        resources.push(json!(dg));
        sources.push("aws.codedeploy");
    }
    json!({ "source": sources, "detail-type": DETAIL_TYPES, "resources": resources })
}

/// Whether `event` matches `pattern`, as EventBridge matches: every field of the pattern must be
/// in the event; a list of values matches when the event's value (or any of its values, for an
/// array) is one of them — equal, or a `prefix` filter; objects match field by field. Only
/// what [`pattern`] uses: exact values and prefixes.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else { return false };
    fields.iter().all(|(k, want)| {
        let Some(got) = event.get(k) else { return false };
        match want {
            Value::Object(_) => matches(want, got),
            Value::Array(allowed) => match got {
                Value::Array(values) => values.iter().any(|v| admitted(allowed, v)),
                v => admitted(allowed, v),
            },
            _ => false,
        }
    })
}

/// Whether one of a pattern's values admits `v`: equal, or `{"prefix": p}` of a string.
fn admitted(allowed: &[Value], v: &Value) -> bool {
    allowed.iter().any(|a| match a["prefix"].as_str() {
        Some(p) => v.as_str().is_some_and(|s| s.starts_with(p)),
        None => a == v,
    })
}

/// What an event says, as far as the watch cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The event's id (EventBridge may deliver one twice).
    pub id: String,
    /// Seconds since the epoch of the event's `time` (one-second resolution).
    pub time: Option<f64>,
    pub detail_type: String,
    /// ECS's `detail.eventName` or CodeDeploy's `detail.state`.
    pub name: String,
    /// The ECS deployment (`ecs-svc/…`) or CodeDeploy deployment (`d-…`) it is about.
    pub deployment: Option<String>,
}

impl Notice {
    /// Read a delivered event; `None` for a body that is not one.
    pub fn parse(body: &str) -> Option<Notice> {
        let v: Value = serde_json::from_str(body).ok()?;
        let detail = &v["detail"];
        let name = detail["eventName"].as_str().or_else(|| detail["state"].as_str()).unwrap_or_default();
        Some(Notice {
            id: v["id"].as_str()?.to_string(),
            time: v["time"].as_str().and_then(epoch_seconds),
            detail_type: v["detail-type"].as_str()?.to_string(),
            name: name.to_string(),
            deployment: detail["deploymentId"].as_str().map(str::to_string),
        })
    }

    /// The event says a deployment ended (or is being rolled back): the next look is likely
    /// decisive, and worth repeating soon if the API does not show it yet.
    pub fn is_terminal(&self) -> bool {
        matches!(self.name.as_str(), "SERVICE_DEPLOYMENT_COMPLETED" | "SERVICE_DEPLOYMENT_FAILED" | "SUCCESS" | "FAILURE" | "STOP")
    }
}

/// An event's time as it writes it: RFC 3339, whole seconds (`2020-05-23T12:31:14Z`).
pub fn rfc3339(secs: f64) -> String {
    aws_smithy_types::DateTime::from_secs(secs.floor() as i64).fmt(aws_smithy_types::date_time::Format::DateTime).unwrap_or_default()
}

/// An RFC 3339 time (`2020-05-23T12:31:14Z`) in seconds since the epoch.
pub fn epoch_seconds(text: &str) -> Option<f64> {
    aws_smithy_types::DateTime::from_str(text, aws_smithy_types::date_time::Format::DateTime).ok().map(|d| d.as_secs_f64())
}
