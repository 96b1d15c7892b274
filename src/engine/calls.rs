//! The service's mutating ECS calls made exactly once: UpdateService (read back after a transient
//! error), CreateService (one client token), TagResource.

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::ports::{ServiceState, UpdateService};
use crate::spec::Spec;
use crate::states::RolloutState;

crate::engine::engine_part!(
    /// The once-only service calls.
    Calls
);

impl Calls<'_> {
    /// UpdateService exactly once: after a transient error the service is read back, and the call
    /// is only repeated when it demonstrably did not take effect.
    pub(crate) async fn update_service_once(&self, update: &UpdateService) -> Result<ServiceState> {
        let mut backoff = crate::engine::backoff::Backoff::calls();
        for attempt in 1..=8 {
            match self.ports.ecs.update_service(update).await {
                Ok(s) => return Ok(s),
                Err(e) if e.is_retryable() && attempt < 8 => {
                    self.warn(format!("{e}; checking whether the update took effect"));
                    self.pause(backoff.next(self.ports.clock.now())).await;
                    let now =
                        self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(&update.cluster, &update.service)).await?;
                    if let Some(s) = now
                        && s.primary().is_some_and(|p| {
                            p.task_definition == update.task_definition && p.rollout_state != Some(RolloutState::Completed)
                        })
                    {
                        return Ok(s);
                    }
                }
                Err(e) => return Err(Error::Aws(e)),
            }
        }
        Err(Error::Internal("update_service_once: loop ended".into()))
    }

    /// Turn a failed deployment into the final error, rolling back where the policy says so.
    /// `ws`: the watch state, whose newly failed tasks are reported once fgdeploy has reacted.
    /// CreateService from the plan (a lost answer is retried with the same client token).
    pub(crate) async fn create_service_once(&self, spec: &Spec, plan: &Plan, new_td: &str) -> Result<ServiceState> {
        let req = crate::ports::CreateService {
            cluster: spec.cluster().to_string(),
            service: spec.service().to_string(),
            task_definition: new_td.to_string(),
            desired_count: plan.update.desired_count.unwrap_or(1),
            deployment_config: plan.update.deployment_config.clone(),
            settings: spec.file.service.definition.clone().unwrap_or_default(),
        };
        let svc = self.retry("ecs:CreateService", || self.ports.ecs.create_service(&req)).await?;
        self.info(format!("created service {} in {}", svc.name, spec.cluster()));
        Ok(svc)
    }

    /// TagResource for the tags the plan sets (UpdateService cannot set tags).
    pub(crate) async fn tag_service(&self, arn: &str, plan: &Plan) -> Result<()> {
        if plan.service_tags.is_empty() {
            return Ok(());
        }
        self.retry("ecs:TagResource", || self.ports.ecs.tag_service(arn, &plan.service_tags)).await?;
        Ok(())
    }
}
