//! The watch's temporary EventBridge rule and SQS queue (#28), over the JSON protocols through
//! `query` (EventBridge: AWS JSON 1.1, target `AWSEvents`; SQS: AWS JSON 1.0, target
//! `AmazonSQS`, botocore's `events/2015-10-07` and `sqs/2012-11-05` models) rather than two more
//! SDK crates for nine operations (build time, as `query.rs` says).

use super::client::Aws;
use super::query;
use crate::ports::*;
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;

/// AWS saying the rule or queue is not there (deleting twice is not an error).
fn gone(e: &PortError) -> bool {
    match e {
        PortError::NotFound { .. } => true,
        PortError::Rejected { code, .. } => {
            matches!(code.as_str(), "ResourceNotFoundException" | "QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue")
        }
        _ => false,
    }
}

fn tolerate_gone(r: PortResult<Value>) -> PortResult<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

fn text(v: &Value, key: &str, op: &str) -> PortResult<String> {
    v[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| PortError::Transient { op: op.into(), message: format!("malformed answer: no {key}") })
}

/// EventBridge's `[{Key, Value}]` tag list, both ways.
fn tag_list(tags: &[Tag]) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect())
}

fn tags_of(list: &Value) -> Vec<Tag> {
    list.as_array()
        .map(|a| a.iter().filter_map(|t| Some((t["Key"].as_str()?.to_string(), t["Value"].as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

impl Aws {
    /// One EventBridge call; `op` is `events:<Action>`.
    async fn events_call(&self, op: &str, body: Value) -> PortResult<Value> {
        let action = op.trim_start_matches("events:");
        self.gate(op).await;
        self.query.json_call(op, &self.query.events, action, &body).await?.map_err(|r| query::refused(op, r))
    }

    /// One SQS call; `op` is `sqs:<Action>`.
    async fn sqs_call(&self, op: &str, body: Value, timeout: Option<Duration>) -> PortResult<Value> {
        let action = op.trim_start_matches("sqs:");
        self.gate(op).await;
        self.query.json_call_within(op, &self.query.sqs, action, &body, timeout).await?.map_err(|r| query::refused(op, r))
    }
}

#[async_trait]
impl Bus for Aws {
    async fn put_rule(&self, name: &str, pattern: &str, description: &str, tags: &[Tag]) -> PortResult<String> {
        let body = json!({ "Name": name, "EventPattern": pattern, "State": "ENABLED", "Description": description, "Tags": tag_list(tags) });
        let op = "events:PutRule";
        text(&self.events_call(op, body).await?, "RuleArn", op)
    }

    async fn put_target(&self, rule: &str, id: &str, arn: &str) -> PortResult<()> {
        let op = "events:PutTargets";
        let answer = self.events_call(op, json!({ "Rule": rule, "Targets": [{ "Id": id, "Arn": arn }] })).await?;
        match answer["FailedEntries"].as_array().and_then(|f| f.first()) {
            None => Ok(()),
            Some(f) => Err(PortError::Rejected {
                op: "events:PutTargets".into(),
                code: f["ErrorCode"].as_str().unwrap_or("FailedEntry").into(),
                message: f["ErrorMessage"].as_str().unwrap_or_default().into(),
            }),
        }
    }

    async fn delete_rule(&self, rule: &str, target_ids: &[String]) -> PortResult<()> {
        if !target_ids.is_empty() {
            let op = "events:RemoveTargets";
            tolerate_gone(self.events_call(op, json!({ "Rule": rule, "Ids": target_ids })).await)?;
        }
        let op = "events:DeleteRule";
        tolerate_gone(self.events_call(op, json!({ "Name": rule })).await)
    }

    async fn rules(&self, prefix: &str) -> PortResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "NamePrefix": prefix });
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let op = "events:ListRules";
            let answer = self.events_call(op, body).await?;
            for r in answer["Rules"].as_array().into_iter().flatten() {
                if let (Some(n), Some(a)) = (r["Name"].as_str(), r["Arn"].as_str()) {
                    out.push((n.to_string(), a.to_string()));
                }
            }
            token = answer["NextToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn rule_tags(&self, arn: &str) -> PortResult<Vec<Tag>> {
        let op = "events:ListTagsForResource";
        Ok(tags_of(&self.events_call(op, json!({ "ResourceARN": arn })).await?["Tags"]))
    }
}

#[async_trait]
impl Queues for Aws {
    async fn create_queue(&self, name: &str, attributes: &[(String, String)], tags: &[Tag]) -> PortResult<String> {
        let attributes: serde_json::Map<String, Value> = attributes.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let tags: serde_json::Map<String, Value> = tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let body = json!({ "QueueName": name, "Attributes": attributes, "tags": tags });
        let op = "sqs:CreateQueue";
        text(&self.sqs_call(op, body, None).await?, "QueueUrl", op)
    }

    async fn receive(&self, url: &str, wait_secs: u32) -> PortResult<Vec<QueuedMessage>> {
        let wait = wait_secs.min(20);
        let body = json!({ "QueueUrl": url, "WaitTimeSeconds": wait, "MaxNumberOfMessages": 10 });
        // The long poll answers after up to `wait` seconds: the answer timeout is that plus 10.
        let op = "sqs:ReceiveMessage";
        let answer = self.sqs_call(op, body, Some(Duration::from_secs(u64::from(wait) + 10))).await?;
        Ok(answer["Messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| Some(QueuedMessage { id: m["MessageId"].as_str()?.to_string(), body: m["Body"].as_str()?.to_string() }))
            .collect())
    }

    async fn delete_queue(&self, url: &str) -> PortResult<()> {
        let op = "sqs:DeleteQueue";
        tolerate_gone(self.sqs_call(op, json!({ "QueueUrl": url }), None).await)
    }

    async fn queues(&self, prefix: &str) -> PortResult<Vec<String>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "QueueNamePrefix": prefix, "MaxResults": 1000 });
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let op = "sqs:ListQueues";
            let answer = self.sqs_call(op, body, None).await?;
            out.extend(answer["QueueUrls"].as_array().into_iter().flatten().filter_map(|u| u.as_str().map(str::to_string)));
            token = answer["NextToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn queue_tags(&self, url: &str) -> PortResult<Vec<Tag>> {
        let op = "sqs:ListQueueTags";
        let answer = self.sqs_call(op, json!({ "QueueUrl": url }), None).await?;
        Ok(answer["Tags"]
            .as_object()
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default())
    }
}
