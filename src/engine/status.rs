//! `status`: the service, its deployments, counts, serving revision and image, last events.

use crate::error::{Error, Result};
use crate::ports::{CdDeployment, CdTarget, PortError, Ports, ServiceDeployment, ServiceState};
use crate::spec::Spec;
use crate::taskdef;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StatusReport {
    pub service: ServiceState,
    pub service_deployment: Option<ServiceDeployment>,
    pub(crate) image: Option<String>,
    /// CODE_DEPLOY services: the active deployment, its task sets and traffic weights.
    pub codedeploy: Option<CodeDeployStatus>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CodeDeployStatus {
    pub(crate) application: String,
    pub(crate) deployment_group: String,
    pub deployment: Option<CdDeployment>,
    pub target: Option<CdTarget>,
}

pub async fn status(spec: &Spec, ports: &Ports) -> Result<StatusReport> {
    let clock = ports.clock.as_ref();
    let service = super::watch::retrying(clock, || ports.ecs.describe_service(spec.cluster(), spec.service())).await?.ok_or_else(|| {
        Error::Aws(PortError::NotFound {
            op: "ecs:DescribeServices".into(),
            message: format!("service {} not found in cluster {}", spec.service(), spec.cluster()),
        })
    })?;
    let service_deployment = match &service.current_service_deployment {
        Some(arn) => super::watch::retrying(clock, || ports.ecs.describe_service_deployments(std::slice::from_ref(arn)))
            .await
            .ok()
            .and_then(|v| v.into_iter().next()),
        None => None,
    };
    let image = match super::watch::retrying(clock, || ports.ecs.describe_task_definition(&service.task_definition)).await {
        Ok(td) => taskdef::image_of(&td.definition, spec.container()).map(str::to_string),
        Err(_) => None,
    };
    let codedeploy = if service.deployment_controller == crate::ports::Controller::CodeDeploy {
        Some(codedeploy_status(spec, ports).await?)
    } else {
        None
    };
    let mut service = service;
    // A live tag may hold a secret (set before fgdeploy refused that, or by someone else): shown
    // as `(redacted)` when it holds a secret lookup's answer or a credential-shaped value.
    let secrets = spec.secret_values();
    for v in service.tags.values_mut() {
        if crate::taint::tainted(v, &secrets) {
            *v = crate::redact::REDACTED.to_string();
        }
    }
    Ok(StatusReport { service, service_deployment, image, codedeploy })
}

/// The group's active deployment (if any) with its task sets and weights.
pub(super) async fn codedeploy_status(spec: &Spec, ports: &Ports) -> Result<CodeDeployStatus> {
    let clock = ports.clock.as_ref();
    let (app, group) = codedeploy_names(spec);
    let active = super::watch::retrying(clock, || ports.codedeploy.active_deployments(&app, &group)).await?;
    let (deployment, target) = match active.first() {
        Some(id) => {
            let d = super::watch::retrying(clock, || ports.codedeploy.deployment(id)).await?;
            let target = format!("{}:{}", spec.cluster().rsplit('/').next().unwrap_or(spec.cluster()), spec.service());
            let t = super::watch::retrying(clock, || ports.codedeploy.deployment_target(id, &target)).await.ok();
            (Some(d), t)
        }
        None => (None, None),
    };
    Ok(CodeDeployStatus { application: app, deployment_group: group, deployment, target })
}

/// The CodeDeploy application and group of a spec (its own names, else `aws ecs deploy`'s).
pub(super) fn codedeploy_names(spec: &Spec) -> (String, String) {
    let (app, group) = super::init_names(spec.cluster().rsplit('/').next().unwrap_or(spec.cluster()), spec.service());
    let bg = spec.file.deploy.blue_green.as_ref();
    (bg.and_then(|b| b.application.clone()).unwrap_or(app), bg.and_then(|b| b.deployment_group.clone()).unwrap_or(group))
}
