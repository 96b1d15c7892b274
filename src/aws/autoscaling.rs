//! Application Auto Scaling through the SDK: the scalable target of a service's desired count.

use super::client::Aws;
use super::errors::map_err;
use crate::ports::*;
use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};

#[async_trait]
impl Autoscaling for Aws {
    async fn scalable_target(&self, cluster: &str, service: &str) -> PortResult<Option<ScalableTarget>> {
        let op = "application-autoscaling:DescribeScalableTargets";
        self.gate(op).await;
        let out = self
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(scalable_resource_id(cluster, service))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(out.scalable_targets().first().map(|t| ScalableTarget {
            min: t.min_capacity(),
            max: t.max_capacity(),
            scale_in_suspended: t.suspended_state().and_then(SuspendedState::dynamic_scaling_in_suspended).unwrap_or(false),
        }))
    }

    async fn suspend_scale_in(&self, cluster: &str, service: &str, suspended: bool) -> PortResult<()> {
        let op = "application-autoscaling:RegisterScalableTarget";
        self.gate(op).await;
        self.autoscaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(scalable_resource_id(cluster, service))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .suspended_state(SuspendedState::builder().dynamic_scaling_in_suspended(suspended).build())
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(())
    }
}
