//! The deployments and services the rolling deployer's unit tests decide on.
#![cfg(test)]

use crate::ports::{Deployment, ServiceState};
use crate::states::{DeploymentStatus, RolloutState, ServiceStatus};

pub(super) fn dep(id: &str, status: &str, td: &str, rollout: &str) -> Deployment {
    Deployment {
        id: id.into(),
        status: DeploymentStatus::from_aws(status),
        task_definition: td.into(),
        desired: 2,
        running: 2,
        pending: 0,
        failed_tasks: 0,
        rollout_state: Some(RolloutState::from_aws(rollout)),
        rollout_state_reason: None,
        created_at: None,
    }
}

pub(super) fn svc(deps: Vec<Deployment>) -> ServiceState {
    ServiceState {
        arn: "s".into(),
        name: "web".into(),
        cluster_arn: "c".into(),
        status: ServiceStatus::from_aws("ACTIVE"),
        desired_count: 2,
        running_count: 2,
        task_definition: "new".into(),
        deployments: deps,
        ..Default::default()
    }
}
