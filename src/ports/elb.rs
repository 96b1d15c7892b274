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

#[async_trait]
pub trait Elb: Send + Sync {
    async fn listener(&self, arn: &str) -> PortResult<Listener>;
    async fn load_balancer_dns(&self, arn: &str) -> PortResult<String>;
}
