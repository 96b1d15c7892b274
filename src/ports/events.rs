//! The `Bus` and `Queues` ports: a temporary EventBridge rule on the default bus and the SQS
//! queue it feeds, through which a watch hears of ECS and CodeDeploy events (#28).

use super::error::PortResult;
use async_trait::async_trait;

/// A tag: key and value.
pub type Tag = (String, String);

/// One message received from the queue: its id and its body (the EventBridge event, JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMessage {
    pub id: String,
    pub body: String,
}

/// EventBridge, default bus: the rule's life and the listing that finds leftovers.
#[async_trait]
pub trait Bus: Send + Sync {
    /// PutRule (ENABLED, with tags): the rule's ARN.
    async fn put_rule(&self, name: &str, pattern: &str, description: &str, tags: &[Tag]) -> PortResult<String>;
    /// PutTargets: one target, the queue.
    async fn put_target(&self, rule: &str, id: &str, arn: &str) -> PortResult<()>;
    /// RemoveTargets then DeleteRule (a rule with targets cannot be deleted). A rule that is
    /// already gone is not an error.
    async fn delete_rule(&self, rule: &str, target_ids: &[String]) -> PortResult<()>;
    /// ListRules with a name prefix: (name, ARN) of each.
    async fn rules(&self, prefix: &str) -> PortResult<Vec<(String, String)>>;
    /// ListTagsForResource of a rule.
    async fn rule_tags(&self, arn: &str) -> PortResult<Vec<Tag>>;
}

/// SQS: the queue's life, its long poll, and the listing that finds leftovers.
#[async_trait]
pub trait Queues: Send + Sync {
    /// CreateQueue with attributes (Policy, VisibilityTimeout, …) and tags: the queue URL.
    async fn create_queue(&self, name: &str, attributes: &[(String, String)], tags: &[Tag]) -> PortResult<String>;
    /// ReceiveMessage, long-polled for `wait_secs` (at most 20), up to 10 messages.
    async fn receive(&self, url: &str, wait_secs: u32) -> PortResult<Vec<QueuedMessage>>;
    /// DeleteQueue. A queue that is already gone is not an error.
    async fn delete_queue(&self, url: &str) -> PortResult<()>;
    /// ListQueues with a name prefix: their URLs.
    async fn queues(&self, prefix: &str) -> PortResult<Vec<String>>;
    /// ListQueueTags.
    async fn queue_tags(&self, url: &str) -> PortResult<Vec<Tag>>;
}
