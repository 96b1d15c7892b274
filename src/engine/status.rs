//! `status`: the service, its deployments, counts, serving revision and image, last events.

use crate::error::{Error, Result};
use crate::ports::{PortError, Ports, ServiceDeployment, ServiceState};
use crate::spec::Spec;
use crate::taskdef;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub service: ServiceState,
    pub service_deployment: Option<ServiceDeployment>,
    pub image: Option<String>,
}

pub async fn status(spec: &Spec, ports: &Ports) -> Result<StatusReport> {
    let clock = ports.clock.as_ref();
    let service =
        super::observe::retrying(clock, || ports.ecs.describe_service(spec.cluster(), spec.service())).await?.ok_or_else(|| {
            Error::Aws(PortError::NotFound {
                op: "ecs:DescribeServices".into(),
                message: format!("service {} not found in cluster {}", spec.service(), spec.cluster()),
            })
        })?;
    let service_deployment = match &service.current_service_deployment {
        Some(arn) => super::observe::retrying(clock, || ports.ecs.describe_service_deployments(std::slice::from_ref(arn)))
            .await
            .ok()
            .and_then(|v| v.into_iter().next()),
        None => None,
    };
    let image = match super::observe::retrying(clock, || ports.ecs.describe_task_definition(&service.task_definition)).await {
        Ok(td) => taskdef::image_of(&td.definition, spec.container()).map(str::to_string),
        Err(_) => None,
    };
    Ok(StatusReport { service, service_deployment, image })
}
