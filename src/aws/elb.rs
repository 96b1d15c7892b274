//! The `Elb` port over the SDK (ELBv2: listeners and rules).

use super::client::Aws;
use super::errors::map_err;
use crate::ports::*;
use crate::states::TargetHealthState;
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

    async fn target_health(&self, target_group_arn: &str) -> PortResult<Vec<TargetHealth>> {
        let op = "elasticloadbalancing:DescribeTargetHealth";
        self.gate(op).await;
        let out = self.elb.describe_target_health().target_group_arn(target_group_arn).send().await.map_err(|e| map_err(op, e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let t = d.target();
                let h = d.target_health();
                TargetHealth {
                    target: format!(
                        "{}:{}",
                        t.and_then(|t| t.id()).unwrap_or(""),
                        t.and_then(|t| t.port()).map_or(String::new(), |p| p.to_string())
                    ),
                    state: h
                        .and_then(|h| h.state())
                        .map_or(TargetHealthState::Unknown(String::new()), |s| TargetHealthState::from_aws(s.as_str())),
                    reason: h.and_then(|h| h.reason()).map(|r| r.as_str().to_string()),
                    description: h.and_then(|h| h.description()).map(str::to_string),
                }
            })
            .collect())
    }

    async fn health_check(&self, target_group_arn: &str) -> PortResult<HealthCheck> {
        let op = "elasticloadbalancing:DescribeTargetGroups";
        self.gate(op).await;
        let out = self.elb.describe_target_groups().target_group_arns(target_group_arn).send().await.map_err(|e| map_err(op, e))?;
        let g = out.target_groups().first().ok_or_else(|| PortError::NotFound { op: op.into(), message: target_group_arn.into() })?;
        Ok(HealthCheck {
            protocol: g.health_check_protocol().map(|p| p.as_str().to_string()),
            port: g.health_check_port().map(str::to_string),
            path: g.health_check_path().map(str::to_string),
            matcher: g.matcher().and_then(|m| m.http_code()).map(str::to_string),
        })
    }

    async fn forward_weights(&self, rule_arn: &str) -> PortResult<Vec<(String, i32)>> {
        let op = "elasticloadbalancing:DescribeRules";
        self.gate(op).await;
        let out = self.elb.describe_rules().rule_arns(rule_arn).send().await.map_err(|e| map_err(op, e))?;
        let rule = out.rules().first().ok_or_else(|| PortError::NotFound { op: op.into(), message: rule_arn.into() })?;
        Ok(rule
            .actions()
            .iter()
            .flat_map(|a| match a.forward_config() {
                Some(f) => {
                    f.target_groups().iter().filter_map(|t| Some((t.target_group_arn()?.to_string(), t.weight().unwrap_or(1)))).collect()
                }
                // A forward action to one target group, without ForwardConfig.
                None => a.target_group_arn().map(|t| vec![(t.to_string(), 1)]).unwrap_or_default(),
            })
            .collect())
    }

    async fn target_group_arn(&self, name: &str) -> PortResult<String> {
        let op = "elasticloadbalancing:DescribeTargetGroups";
        self.gate(op).await;
        let out = self.elb.describe_target_groups().names(name).send().await.map_err(|e| map_err(op, e))?;
        out.target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| PortError::NotFound { op: op.into(), message: name.into() })
    }
}
