//! `history`: what was deployed when — the service's deployments, newest first, with their
//! target revision, image, outcome and duration (ListServiceDeployments +
//! DescribeServiceDeployments, and DescribeTaskDefinition once per revision for its image).

use crate::error::{Error, Result};
use crate::ports::{PortError, Ports, ServiceDeployment};
use crate::spec::Spec;
use crate::states::SdStatus;
use crate::taskdef;
use serde::Serialize;
use std::collections::BTreeMap;

/// One service deployment, as `history` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HistoryEntry {
    pub service_deployment: String,
    pub status: SdStatus,
    /// The revision it deployed (`family:revision` ARN), when AWS says.
    pub task_definition: Option<String>,
    /// The image of the deployspec's container in that revision.
    pub image: Option<String>,
    pub created_at: Option<f64>,
    pub(crate) finished_at: Option<f64>,
    /// `finished_at − created_at`, for finished deployments.
    pub duration_secs: Option<f64>,
    /// Why it ended as it did (the rollback's or the status's reason), when AWS says.
    pub reason: Option<String>,
}

/// A service's deployment history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HistoryReport {
    pub(crate) cluster: String,
    pub(crate) service: String,
    pub entries: Vec<HistoryEntry>,
}

/// The newest `limit` deployments of the spec's service. Read-only.
pub async fn history(spec: &Spec, ports: &Ports, limit: usize) -> Result<HistoryReport> {
    let clock = ports.clock.as_ref();
    let arns = match super::watch::retrying(clock, || ports.ecs.list_service_deployments(spec.cluster(), spec.service(), None)).await {
        Ok(a) => a,
        Err(PortError::Unsupported { .. }) => {
            return Err(Error::usage(
                "this endpoint has no ListServiceDeployments: the deployment history needs the service-deployment API",
                "use `fgdeploy status` for the deployments ECS still lists on the service",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut sds: Vec<ServiceDeployment> = Vec::new();
    for batch in arns.chunks(20).take(limit.div_ceil(20)) {
        sds.extend(super::watch::retrying(clock, || ports.ecs.describe_service_deployments(batch)).await?);
    }
    sds.sort_by(|a, b| b.created_at.partial_cmp(&a.created_at).unwrap_or(std::cmp::Ordering::Equal));
    sds.truncate(limit);
    let mut images: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut entries = Vec::new();
    for sd in sds {
        let image = match &sd.target_task_definition {
            Some(td) => {
                if !images.contains_key(td) {
                    let found = super::watch::retrying(clock, || ports.ecs.describe_task_definition(td)).await.ok();
                    let image = found.and_then(|r| taskdef::image_of(&r.definition, spec.container()).map(str::to_string));
                    images.insert(td.clone(), image);
                }
                images.get(td).cloned().flatten()
            }
            None => None,
        };
        entries.push(entry(sd, image));
    }
    Ok(HistoryReport { cluster: spec.cluster().to_string(), service: spec.service().to_string(), entries })
}

fn entry(sd: ServiceDeployment, image: Option<String>) -> HistoryEntry {
    let duration_secs = match (sd.created_at, sd.finished_at) {
        (Some(c), Some(f)) if f >= c => Some(f - c),
        _ => None,
    };
    HistoryEntry {
        service_deployment: sd.arn,
        status: sd.status,
        task_definition: sd.target_task_definition,
        image,
        created_at: sd.created_at,
        finished_at: sd.finished_at,
        duration_secs,
        reason: sd.rollback_reason.or(sd.status_reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(status: &str, created: Option<f64>, finished: Option<f64>) -> ServiceDeployment {
        ServiceDeployment {
            arn: "arn:sd".into(),
            status: SdStatus::from_aws(status),
            status_reason: Some("status reason".into()),
            target_revision: None,
            target_task_definition: Some("web:3".into()),
            source_task_definitions: vec![],
            created_at: created,
            finished_at: finished,
            rollback_reason: None,
            circuit_breaker: None,
            lifecycle_stage: None,
            hooks: vec![],
        }
    }

    #[test]
    fn an_entry_has_its_duration_only_when_finished() {
        let e = entry(sd("SUCCESSFUL", Some(100.0), Some(137.0)), Some("img:v3".into()));
        assert_eq!(e.duration_secs, Some(37.0));
        assert_eq!((e.task_definition.as_deref(), e.image.as_deref()), (Some("web:3"), Some("img:v3")));
        assert_eq!(e.reason.as_deref(), Some("status reason"));
        assert_eq!(entry(sd("IN_PROGRESS", Some(100.0), None), None).duration_secs, None);
        assert_eq!(entry(sd("SUCCESSFUL", None, Some(137.0)), None).duration_secs, None);
        assert_eq!(entry(sd("SUCCESSFUL", Some(100.0), Some(90.0)), None).duration_secs, None, "clock skew is no duration");
        let mut rolled = sd("ROLLBACK_SUCCESSFUL", Some(1.0), Some(2.0));
        rolled.rollback_reason = Some("circuit breaker".into());
        assert_eq!(entry(rolled, None).reason.as_deref(), Some("circuit breaker"), "the rollback's reason first");
    }
}
