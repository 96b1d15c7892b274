//! The `Account` port: the read-only calls `verify` makes (SSM, Secrets Manager, IAM, EC2, Logs, ELBv2).

use super::error::PortResult;
use async_trait::async_trait;

/// What a release's task definition and service need to exist in the account (`verify`): each
/// answer is `Ok(true)` when it exists, `Ok(false)` when AWS says it does not.
#[async_trait]
pub trait Account: Send + Sync {
    /// SSM GetParameter (a name or a parameter ARN; the value is not decrypted).
    async fn parameter_exists(&self, name: &str) -> PortResult<bool>;
    /// Secrets Manager DescribeSecret (an ARN or a name).
    async fn secret_exists(&self, id: &str) -> PortResult<bool>;
    /// IAM GetRole: `None` when the role does not exist, else whether ECS tasks may assume it
    /// (its trust policy names `ecs-tasks.amazonaws.com`).
    async fn role_trusts_ecs_tasks(&self, arn: &str) -> PortResult<Option<bool>>;
    /// EC2 DescribeSubnets: the ids of `ids` that do not exist.
    async fn missing_subnets(&self, ids: &[String]) -> PortResult<Vec<String>>;
    /// EC2 DescribeSecurityGroups: the ids of `ids` that do not exist.
    async fn missing_security_groups(&self, ids: &[String]) -> PortResult<Vec<String>>;
    /// CloudWatch Logs DescribeLogGroups (exact name).
    /// DescribeLogGroups in `region` (a container's `awslogs-region`), or the client's region.
    async fn log_group_exists(&self, region: Option<&str>, name: &str) -> PortResult<bool>;
    /// ELBv2 DescribeTargetGroups.
    async fn target_group_exists(&self, arn: &str) -> PortResult<bool>;
    /// SSM GetParameter with decryption: the value, and whether it is a SecureString.
    async fn parameter_value(&self, name: &str) -> PortResult<(String, bool)>;
    /// Secrets Manager DescribeSecret: the secret's full ARN.
    async fn secret_arn(&self, id: &str) -> PortResult<String>;
    /// CloudFormation DescribeStacks: the stack's output `key` (None: the stack has no such output).
    async fn stack_output(&self, stack: &str, key: &str) -> PortResult<Option<String>>;
    /// S3 GetObject (a Terraform state in an S3 backend).
    async fn object(&self, bucket: &str, key: &str) -> PortResult<Vec<u8>>;
}
