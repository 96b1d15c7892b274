//! `verify`'s reads of the account: SSM, Secrets Manager, CloudWatch Logs, ELBv2 through the SDK; IAM,
//! EC2 and CloudFormation through `query`. "Does not exist" is an answer (`false`), not an error.

use super::client::Aws;
use super::errors::map_err;
use super::query;
use crate::ports::*;
use async_trait::async_trait;

/// Whether `e` is AWS saying the thing does not exist (each service has its own code for it).
fn absent(e: &PortError) -> bool {
    match e {
        PortError::NotFound { .. } => true,
        PortError::Rejected { code, .. } => {
            matches!(code.as_str(), "ParameterNotFound" | "NoSuchEntity" | "TargetGroupNotFound" | "ResourceNotFoundException")
                || code.ends_with(".NotFound")
                || code.ends_with(".Malformed")
        }
        _ => false,
    }
}

fn exists<T>(r: PortResult<T>) -> PortResult<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e) if absent(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

impl Aws {
    /// SSM GetParameter over the JSON protocol (`query::json_call`).
    async fn get_parameter(&self, name: &str, decrypt: bool) -> PortResult<serde_json::Value> {
        let op = "ssm:GetParameter";
        self.gate(op).await;
        let body = serde_json::json!({ "Name": name, "WithDecryption": decrypt });
        self.query.json_call(op, &self.query.ssm, "GetParameter", &body).await?.map_err(|r| query::refused(op, r))
    }
}

#[async_trait]
impl Account for Aws {
    async fn parameter_exists(&self, name: &str) -> PortResult<bool> {
        exists(self.get_parameter(name, false).await)
    }

    async fn secret_exists(&self, id: &str) -> PortResult<bool> {
        let op = "secretsmanager:DescribeSecret";
        self.gate(op).await;
        exists(self.secrets.describe_secret().secret_id(id).send().await.map_err(|e| map_err(op, e)))
    }

    async fn role_trusts_ecs_tasks(&self, arn: &str) -> PortResult<Option<bool>> {
        let op = "iam:GetRole";
        self.gate(op).await;
        let name = arn.rsplit('/').next().unwrap_or(arn);
        match self.query.call(op, &self.query.iam, "GetRole", &[("RoleName", name)]).await? {
            Ok(xml) => {
                // The document comes URL-encoded (IAM API Reference, `Role`).
                let doc = percent_decode(&query::tag(&xml, "AssumeRolePolicyDocument").unwrap_or_default());
                Ok(Some(doc.contains("ecs-tasks.amazonaws.com")))
            }
            Err(r) => match query::refused(op, r) {
                e if absent(&e) => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn missing_subnets(&self, ids: &[String]) -> PortResult<Vec<String>> {
        self.missing_ec2("ec2:DescribeSubnets", "DescribeSubnets", "SubnetId.1", ids).await
    }

    async fn missing_security_groups(&self, ids: &[String]) -> PortResult<Vec<String>> {
        self.missing_ec2("ec2:DescribeSecurityGroups", "DescribeSecurityGroups", "GroupId.1", ids).await
    }

    async fn log_group_exists(&self, region: Option<&str>, name: &str) -> PortResult<bool> {
        let op = "logs:DescribeLogGroups";
        self.gate(op).await;
        // The container's awslogs-region may not be the release's: ask that region.
        let other = region.filter(|r| self.logs.config().region().is_none_or(|mine| mine.as_ref() != *r));
        let client = match other {
            Some(r) => aws_sdk_cloudwatchlogs::Client::from_conf(
                self.logs.config().to_builder().region(aws_sdk_cloudwatchlogs::config::Region::new(r.to_string())).build(),
            ),
            None => self.logs.clone(),
        };
        // Every page: other groups that share the prefix (`/ecs/web-canary`, …) can fill the first.
        let mut pages = client.describe_log_groups().log_group_name_prefix(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            if page.log_groups().iter().any(|g| g.log_group_name() == Some(name)) {
                return Ok(true);
            }
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(false)
    }

    async fn target_group_exists(&self, arn: &str) -> PortResult<bool> {
        let op = "elasticloadbalancing:DescribeTargetGroups";
        self.gate(op).await;
        exists(self.elb.describe_target_groups().target_group_arns(arn).send().await.map_err(|e| map_err(op, e)))
    }

    async fn parameter_value(&self, name: &str) -> PortResult<(String, bool)> {
        let answer = self.get_parameter(name, true).await?;
        let p = &answer["Parameter"];
        if !p.is_object() {
            return Err(PortError::Transient { op: "ssm:GetParameter".into(), message: "response without parameter".into() });
        }
        // A Secrets Manager secret read through Parameter Store's reference path is a secret
        // whatever type the answer names (AWS answers SecureString; docs/simulator.md).
        let secret = p["Type"].as_str() == Some("SecureString") || name.starts_with("/aws/reference/secretsmanager/");
        Ok((p["Value"].as_str().unwrap_or_default().to_string(), secret))
    }

    async fn secret_arn(&self, id: &str) -> PortResult<String> {
        let op = "secretsmanager:DescribeSecret";
        self.gate(op).await;
        let out = self.secrets.describe_secret().secret_id(id).send().await.map_err(|e| map_err(op, e))?;
        out.arn().map(str::to_string).ok_or_else(|| PortError::Transient { op: op.into(), message: "response without ARN".into() })
    }

    async fn stack_output(&self, stack: &str, key: &str) -> PortResult<Option<String>> {
        let op = "cloudformation:DescribeStacks";
        self.gate(op).await;
        let xml = self.query.call(op, &self.query.cloudformation, "DescribeStacks", &[("StackName", stack)]).await?;
        let xml = xml.map_err(|r| query::refused(op, r))?;
        let stacks = query::members(&xml, "Stacks");
        let s = stacks.first().ok_or_else(|| PortError::NotFound { op: op.into(), message: format!("stack {stack} does not exist") })?;
        let outputs = query::members(s, "Outputs");
        Ok(outputs.iter().find(|o| query::tag(o, "OutputKey").as_deref() == Some(key)).and_then(|o| query::tag(o, "OutputValue")))
    }

    async fn object(&self, bucket: &str, key: &str) -> PortResult<Vec<u8>> {
        let op = "s3:GetObject";
        self.gate(op).await;
        let out = self.s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| map_err(op, e))?;
        let body = out.body.collect().await.map_err(|e| PortError::Transient { op: op.into(), message: e.to_string() })?;
        Ok(body.into_bytes().to_vec())
    }
}

/// `%7B%22Version…` → `{"Version…`; text that is not percent-encoded stays as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Aws {
    /// The ids among `ids` that EC2 does not know (`*.NotFound`), one Describe call each.
    async fn missing_ec2(&self, op: &str, action: &str, param: &str, ids: &[String]) -> PortResult<Vec<String>> {
        let mut missing = Vec::new();
        for id in ids {
            self.gate(op).await;
            match self.query.call(op, &self.query.ec2, action, &[(param, id)]).await? {
                Ok(_) => {}
                Err(r) => match query::refused(op, r) {
                    e if absent(&e) => missing.push(id.clone()),
                    e => return Err(e),
                },
            }
        }
        Ok(missing)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trust_policies_are_percent_decoded() {
        assert_eq!(
            super::percent_decode("%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D"),
            r#"{"Service":"ecs-tasks.amazonaws.com"}"#
        );
        assert_eq!(super::percent_decode("plain {} 100%"), "plain {} 100%");
    }
}
