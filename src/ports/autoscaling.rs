//! The `Autoscaling` port (Application Auto Scaling's scalable target).

use super::error::PortResult;
use async_trait::async_trait;
use serde::Serialize;

/// Application Auto Scaling's scalable target for a service's desired count: the bounds the
/// autoscaler keeps it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ScalableTarget {
    pub min: i32,
    pub max: i32,
    /// Dynamic scale-in is suspended (`SuspendedState.DynamicScalingInSuspended`).
    pub scale_in_suspended: bool,
}

impl ScalableTarget {
    /// `count` kept within the target's bounds.
    pub fn clamp(&self, count: i32) -> i32 {
        count.clamp(self.min, self.max.max(self.min))
    }
}

/// Application Auto Scaling, for the services it scales.
#[async_trait]
pub trait Autoscaling: Send + Sync {
    /// DescribeScalableTargets of `service/<cluster>/<service>` (`ecs:service:DesiredCount`).
    async fn scalable_target(&self, cluster: &str, service: &str) -> PortResult<Option<ScalableTarget>>;
    /// RegisterScalableTarget with only `SuspendedState.DynamicScalingInSuspended` set (min, max
    /// and the other suspensions stay as they are).
    async fn suspend_scale_in(&self, cluster: &str, service: &str, suspended: bool) -> PortResult<()>;
}

/// The resource id Application Auto Scaling gives an ECS service: `service/<cluster name>/<service>`.
pub fn scalable_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{}/{service}", cluster.rsplit('/').next().unwrap_or(cluster))
}
