//! The `Elb` port over the SDK (ELBv2: listeners and rules).

use super::client::Aws;
use super::errors::map_err;
use crate::ports::*;
use async_trait::async_trait;

#[async_trait]
impl Elb for Aws {
    async fn listener(&self, arn: &str) -> PortResult<Listener> {
        let op = "elasticloadbalancing:DescribeListeners";
        self.gate(op).await;
        let out = self.elb.describe_listeners().listener_arns(arn).send().await.map_err(|e| map_err(op, e))?;
        let l = out.listeners().first().ok_or_else(|| PortError::NotFound { op: op.into(), message: arn.into() })?;
        Ok(Listener {
            arn: l.listener_arn().unwrap_or(arn).to_string(),
            port: l.port(),
            protocol: l.protocol().map(|p| crate::states::ListenerProtocol::from_aws(p.as_str())),
            load_balancer_arn: l.load_balancer_arn().map(str::to_string),
        })
    }

    async fn load_balancer_dns(&self, arn: &str) -> PortResult<String> {
        let op = "elasticloadbalancing:DescribeLoadBalancers";
        self.gate(op).await;
        let out = self.elb.describe_load_balancers().load_balancer_arns(arn).send().await.map_err(|e| map_err(op, e))?;
        out.load_balancers()
            .first()
            .and_then(|l| l.dns_name())
            .map(str::to_string)
            .ok_or_else(|| PortError::NotFound { op: op.into(), message: arn.into() })
    }
}
