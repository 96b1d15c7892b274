//! The `Elb` port (ELBv2 listeners and rules).

use super::error::PortResult;
use async_trait::async_trait;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Listener {
    pub(crate) arn: String,
    pub(crate) port: Option<i32>,
    pub(crate) protocol: Option<crate::states::ListenerProtocol>,
    pub(crate) load_balancer_arn: Option<String>,
}

/// One target of a target group, as DescribeTargetHealth says (`reason` is AWS's code:
/// `Target.ResponseCodeMismatch`, `Target.Timeout`, `Target.FailedHealthChecks`, …).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TargetHealth {
    /// `id:port`.
    pub target: String,
    pub state: crate::states::TargetHealthState,
    pub reason: Option<String>,
    pub description: Option<String>,
}

/// What a target group's health check asks (DescribeTargetGroups).
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HealthCheck {
    pub protocol: Option<String>,
    /// A port number, or `traffic-port`.
    pub port: Option<String>,
    pub path: Option<String>,
    /// The HTTP codes it takes as healthy (`200`, `200-299`).
    pub matcher: Option<String>,
}

#[async_trait]
pub trait Elb: Send + Sync {
    async fn listener(&self, arn: &str) -> PortResult<Listener>;
    async fn load_balancer_dns(&self, arn: &str) -> PortResult<String>;
    /// DescribeTargetHealth of a target group.
    async fn target_health(&self, target_group_arn: &str) -> PortResult<Vec<TargetHealth>>;
    /// DescribeTargetGroups: the target group's health check.
    async fn health_check(&self, target_group_arn: &str) -> PortResult<HealthCheck>;
    /// DescribeRules of one rule: its forward action's target groups and their weights.
    async fn forward_weights(&self, rule_arn: &str) -> PortResult<Vec<(String, i32)>>;
    /// DescribeTargetGroups by name: the target group's ARN (a CodeDeploy group names its
    /// target groups by name only).
    async fn target_group_arn(&self, name: &str) -> PortResult<String>;
}
