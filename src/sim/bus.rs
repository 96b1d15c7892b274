//! EventBridge's default bus and SQS, as the watch uses them (#28): rules with exact-value
//! patterns (`crate::eventpattern::matches`), queues whose policy must admit the rule, and a
//! seeded delivery model — at-least-once (duplicates), unordered (each event its own latency),
//! occasionally lost, and a rule that starts matching a moment after PutRule. The defaults and
//! their sources are in docs/simulator.md (register rows 94–99).

use super::World;
use super::state::{ACCOUNT, Draws, REGION, SimQueue, SimRule};
use crate::eventpattern;
use crate::ports::{PortError, PortResult, QueuedMessage, Tag};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn rule_arn(name: &str) -> String {
    format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}")
}

fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn no_queue(op: &str) -> PortError {
    PortError::Rejected {
        op: op.into(),
        code: "QueueDoesNotExist".into(),
        message: "The specified queue does not exist for this wsdl version.".into(),
    }
}

/// Whether a queue policy lets EventBridge send this rule's events (the EventBridge User Guide's
/// SQS resource policy: principal `events.amazonaws.com`, `sqs:SendMessage`, `aws:SourceArn` of
/// the rule). Without it, AWS drops the delivery (the rule's FailedInvocations metric).
fn admits(policy: Option<&String>, rule_arn: &str) -> bool {
    let Some(doc) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else { return false };
    doc["Statement"].as_array().into_iter().flatten().any(|s| {
        s["Effect"] == "Allow"
            && s["Principal"]["Service"] == "events.amazonaws.com"
            && (s["Action"] == "sqs:SendMessage" || s["Action"].as_array().is_some_and(|a| a.contains(&json!("sqs:SendMessage"))))
            && s["Condition"]["ArnEquals"]["aws:SourceArn"] == rule_arn
    })
}

impl World {
    fn bus_draw(&mut self) -> f64 {
        let seed = self.faults.events.seed;
        self.bus.draws.get_or_insert(Draws(seed)).unit()
    }

    pub(crate) fn put_rule(&mut self, name: &str, pattern: &str, tags: &[Tag]) -> PortResult<String> {
        let pattern: Value = serde_json::from_str(pattern).map_err(|e| PortError::Rejected {
            op: "events:PutRule".into(),
            code: "InvalidEventPatternException".into(),
            message: format!("Event pattern is not valid. Reason: {e}"),
        })?;
        let live_at = self.now + self.faults.events.activation_max_secs * self.bus_draw();
        let arn = rule_arn(name);
        let rule = SimRule { arn: arn.clone(), pattern, tags: tags.to_vec(), targets: Vec::new(), live_at };
        self.bus.rules.insert(name.to_string(), rule);
        Ok(arn)
    }

    pub(crate) fn put_target(&mut self, rule: &str, id: &str, arn: &str) -> PortResult<()> {
        let r = self.bus.rules.get_mut(rule).ok_or_else(|| rule_gone("events:PutTargets", rule))?;
        r.targets.retain(|(i, _)| i != id);
        r.targets.push((id.to_string(), arn.to_string()));
        Ok(())
    }

    /// RemoveTargets (when `ids`), then DeleteRule: a rule that still has targets is refused.
    pub(crate) fn delete_rule(&mut self, rule: &str, ids: &[String]) -> PortResult<()> {
        let Some(r) = self.bus.rules.get_mut(rule) else { return Ok(()) };
        r.targets.retain(|(i, _)| !ids.contains(i));
        if !r.targets.is_empty() {
            return Err(PortError::Rejected {
                op: "events:DeleteRule".into(),
                code: "ValidationException".into(),
                message: "Rule can't be deleted since it has targets.".into(),
            });
        }
        self.bus.rules.remove(rule);
        Ok(())
    }

    pub(crate) fn rules(&self, prefix: &str) -> Vec<(String, String)> {
        self.bus.rules.iter().filter(|(n, _)| n.starts_with(prefix)).map(|(n, r)| (n.clone(), r.arn.clone())).collect()
    }

    pub(crate) fn rule_tags(&self, arn: &str) -> PortResult<Vec<Tag>> {
        let r = self.bus.rules.values().find(|r| r.arn == arn).ok_or_else(|| rule_gone("events:ListTagsForResource", arn))?;
        Ok(r.tags.clone())
    }

    pub(crate) fn create_queue(&mut self, name: &str, attributes: &[(String, String)], tags: &[Tag]) -> PortResult<String> {
        let url = format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}");
        let attributes: BTreeMap<String, String> = attributes.iter().cloned().collect();
        if let Some(q) = self.bus.queues.get(name) {
            // CreateQueue is idempotent for the same attributes (SQS API Reference).
            return if q.attributes == attributes {
                Ok(q.url.clone())
            } else {
                Err(PortError::Rejected {
                    op: "sqs:CreateQueue".into(),
                    code: "QueueNameExists".into(),
                    message: format!("A queue already exists with the same name and a different value for attribute(s): {name}"),
                })
            };
        }
        let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
        let q = SimQueue { url: url.clone(), arn, attributes, tags: tags.to_vec(), messages: Vec::new() };
        self.bus.queues.insert(name.to_string(), q);
        Ok(url)
    }

    /// The messages receivable now (at most 10; they become invisible, as with a visibility
    /// timeout longer than the run), and when the next one becomes receivable.
    pub(crate) fn take_messages(&mut self, url: &str) -> PortResult<(Vec<QueuedMessage>, Option<f64>)> {
        let now = self.now;
        let q = self.bus.queues.get_mut(queue_name(url)).ok_or_else(|| no_queue("sqs:ReceiveMessage"))?;
        q.messages.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ready = q.messages.iter().take_while(|m| m.0 <= now).count().min(10);
        let taken = q.messages.drain(..ready).map(|(_, id, body)| QueuedMessage { id, body }).collect();
        Ok((taken, q.messages.first().map(|m| m.0)))
    }

    pub(crate) fn delete_queue(&mut self, url: &str) {
        self.bus.queues.remove(queue_name(url));
    }

    pub(crate) fn queues(&self, prefix: &str) -> Vec<String> {
        self.bus.queues.iter().filter(|(n, _)| n.starts_with(prefix)).map(|(_, q)| q.url.clone()).collect()
    }

    pub(crate) fn queue_tags(&self, url: &str) -> PortResult<Vec<Tag>> {
        Ok(self.bus.queues.get(queue_name(url)).ok_or_else(|| no_queue("sqs:ListQueueTags"))?.tags.clone())
    }

    /// An AWS service puts an event on the default bus: every live rule it matches sends it to
    /// its queue targets whose policy admits the rule, each copy with its own latency.
    pub(super) fn announce(&mut self, source: &str, detail_type: &str, resources: Vec<String>, detail: Value) {
        if self.bus.rules.is_empty() {
            return;
        }
        self.bus.events_sent += 1;
        let time = eventpattern::rfc3339(self.now);
        let event = json!({
            "version": "0", "id": format!("{:08x}-0000-4000-8000-{:012x}", self.bus.events_sent, self.seq),
            "detail-type": detail_type, "source": source, "account": ACCOUNT, "time": time, "region": REGION,
            "resources": resources, "detail": detail,
        });
        let now = self.now;
        let mut sends = Vec::new();
        for r in self.bus.rules.values().filter(|r| r.live_at <= now && eventpattern::matches(&r.pattern, &event)) {
            for (_, target) in &r.targets {
                if let Some(q) = self.bus.queues.values().find(|q| &q.arn == target && admits(q.attributes.get("Policy"), &r.arn)) {
                    sends.push(queue_name(&q.url).to_string());
                }
            }
        }
        let body = event.to_string();
        for name in sends {
            self.deliver(&name, &body);
        }
    }

    fn deliver(&mut self, queue: &str, body: &str) {
        let d = self.faults.events.clone();
        if self.bus_draw() < d.loss {
            return;
        }
        let copies = if self.bus_draw() < d.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            let spread = self.bus.draws.get_or_insert(Draws(d.seed)).lognormal(d.latency_sigma);
            let at = self.now + d.latency_median_secs * spread;
            let id = format!("msg-{}", self.next());
            if let Some(q) = self.bus.queues.get_mut(queue) {
                q.messages.push((at, id, body.to_string()));
            }
        }
    }

    /// ECS's "ECS Deployment State Change" for service `i` (the ECS Developer Guide's example:
    /// `eventType`, `eventName`, `deploymentId`, `updatedAt`, `reason`).
    pub(super) fn ecs_deployment_event(&mut self, i: usize, name: &str, deployment: &str, reason: &str) {
        let arn = self.services[i].arn.clone();
        let event_type = if name == "SERVICE_DEPLOYMENT_FAILED" { "ERROR" } else { "INFO" };
        let updated = eventpattern::rfc3339(self.now);
        let detail =
            json!({ "eventType": event_type, "eventName": name, "deploymentId": deployment, "updatedAt": updated, "reason": reason });
        self.announce("aws.ecs", "ECS Deployment State Change", vec![arn], detail);
    }

    /// ECS's "ECS Service Action" (SERVICE_STEADY_STATE, …) for service `i`.
    pub(super) fn ecs_service_action(&mut self, i: usize, name: &str) {
        let (arn, cluster) = (self.services[i].arn.clone(), self.services[i].cluster.clone());
        let cluster_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}");
        let detail = json!({ "eventType": "INFO", "eventName": name, "clusterArn": cluster_arn, "createdAt": self.now });
        self.announce("aws.ecs", "ECS Service Action", vec![arn], detail);
    }

    /// CodeDeploy's "CodeDeploy Deployment State-change Notification" (`state`: START, SUCCESS,
    /// FAILURE, STOP, READY, …) for a deployment of `application`/`group`.
    pub(super) fn codedeploy_event(&mut self, application: &str, group: &str, deployment: &str, state: &str) {
        let app_arn = format!("arn:aws:codedeploy:{REGION}:{ACCOUNT}:application:{application}");
        let dg_arn = format!("arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:{application}/{group}");
        let detail = json!({
            "region": REGION, "deploymentId": deployment, "instanceGroupId": "00000000-0000-0000-0000-000000000000",
            "deploymentGroup": group, "state": state, "application": application,
        });
        self.announce("aws.codedeploy", "CodeDeploy Deployment State-change Notification", vec![app_arn, dg_arn], detail);
    }
}

impl World {
    /// Announce every CodeDeploy deployment whose status changed since the last tick (START,
    /// READY, SUCCESS, FAILURE, STOP): called once a tick, so a stop by request is announced at
    /// the next simulated second.
    pub(super) fn announce_codedeploy_changes(&mut self) {
        if self.bus.rules.is_empty() {
            return;
        }
        let mut news = Vec::new();
        for d in &self.cd.deps {
            let state = match d.status.as_str() {
                "InProgress" => "START",
                "Ready" => "READY",
                "Succeeded" => "SUCCESS",
                "Failed" => "FAILURE",
                "Stopped" => "STOP",
                _ => continue,
            };
            if self.bus.cd_announced.get(&d.id).map(String::as_str) != Some(state) {
                let g = &self.cd.groups[d.group];
                news.push((g.application.clone(), g.group.clone(), d.id.clone(), state));
            }
        }
        for (app, group, id, state) in news {
            self.bus.cd_announced.insert(id.clone(), state.to_string());
            self.codedeploy_event(&app, &group, &id, state);
        }
    }
}

impl World {
    /// Announce every PAUSE hook instance that started waiting since the last tick as ECS does
    /// ("ECS Hook State Change", HOOK_AWAITING_ACTION; `resources` the service deployment, the
    /// documented example's shape).
    pub(super) fn announce_hook_changes(&mut self) {
        if self.bus.rules.is_empty() {
            return;
        }
        let mut news = Vec::new();
        for (i, svc) in self.services.iter().enumerate() {
            for sd in &svc.sds {
                let Some(n) = &sd.native else { continue };
                for h in n.hooks.iter().filter(|h| h.pause && h.status == crate::states::HookStatus::AwaitingAction) {
                    if !self.bus.hooks_announced.contains(&h.id) {
                        news.push((i, sd.arn.clone(), h.id.clone(), h.stage.to_string(), h.since + h.timeout_secs));
                    }
                }
            }
        }
        for (i, sd_arn, hook, stage, expires) in news {
            self.bus.hooks_announced.insert(hook.clone());
            let (service_arn, cluster) = (self.services[i].arn.clone(), self.services[i].cluster.clone());
            let at = eventpattern::rfc3339;
            let detail = json!({
                "eventType": "INFO", "eventName": "HOOK_AWAITING_ACTION", "hookId": hook, "hookType": "PAUSE",
                "expiresAt": at(expires), "lifecycleStage": stage,
                "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"),
                "serviceArn": service_arn, "serviceDeploymentArn": sd_arn, "updatedAt": at(self.now),
            });
            self.announce("aws.ecs", "ECS Hook State Change", vec![sd_arn], detail);
        }
    }
}

fn rule_gone(op: &str, rule: &str) -> PortError {
    PortError::Rejected { op: op.into(), code: "ResourceNotFoundException".into(), message: format!("Rule {rule} does not exist.") }
}

#[async_trait::async_trait]
impl crate::ports::Bus for super::Sim {
    async fn put_rule(&self, name: &str, pattern: &str, _description: &str, tags: &[Tag]) -> PortResult<String> {
        let mut w = self.call("events:PutRule").await?;
        let now = w.now;
        w.mutations.push((now, super::Mutation::PutRule { name: name.to_string() }));
        w.put_rule(name, pattern, tags)
    }
    async fn put_target(&self, rule: &str, id: &str, arn: &str) -> PortResult<()> {
        self.call("events:PutTargets").await?.put_target(rule, id, arn)
    }
    async fn delete_rule(&self, rule: &str, target_ids: &[String]) -> PortResult<()> {
        if !target_ids.is_empty() {
            self.call("events:RemoveTargets").await?;
        }
        let mut w = self.call("events:DeleteRule").await?;
        let now = w.now;
        w.mutations.push((now, super::Mutation::DeleteRule { name: rule.to_string() }));
        w.delete_rule(rule, target_ids)
    }
    async fn rules(&self, prefix: &str) -> PortResult<Vec<(String, String)>> {
        Ok(self.call("events:ListRules").await?.rules(prefix))
    }
    async fn rule_tags(&self, arn: &str) -> PortResult<Vec<Tag>> {
        self.call("events:ListTagsForResource").await?.rule_tags(arn)
    }
}

#[async_trait::async_trait]
impl crate::ports::Queues for super::Sim {
    async fn create_queue(&self, name: &str, attributes: &[(String, String)], tags: &[Tag]) -> PortResult<String> {
        let mut w = self.call("sqs:CreateQueue").await?;
        let now = w.now;
        w.mutations.push((now, super::Mutation::CreateQueue { name: name.to_string() }));
        w.create_queue(name, attributes, tags)
    }

    /// The long poll on the virtual clock: answers as soon as a message is receivable, else
    /// after `wait_secs`.
    async fn receive(&self, url: &str, wait_secs: u32) -> PortResult<Vec<QueuedMessage>> {
        use crate::ports::Clock;
        let end = {
            let w = self.call("sqs:ReceiveMessage").await?;
            w.now + f64::from(wait_secs.min(20))
        };
        loop {
            let (now, next) = {
                let mut w = self.world();
                let (taken, next) = w.take_messages(url)?;
                if !taken.is_empty() || w.now >= end {
                    return Ok(taken);
                }
                (w.now, next)
            };
            // Up to the next receivable message, never more than a second (ECS may announce
            // something at the next simulated second).
            let step = next.map_or(1.0, |t| t - now).clamp(0.01, 1.0).min(end - now);
            Clock::sleep(self, std::time::Duration::from_secs_f64(step)).await;
        }
    }

    async fn delete_queue(&self, url: &str) -> PortResult<()> {
        let mut w = self.call("sqs:DeleteQueue").await?;
        let now = w.now;
        w.mutations.push((now, super::Mutation::DeleteQueue { name: queue_name(url).to_string() }));
        w.delete_queue(url);
        Ok(())
    }
    async fn queues(&self, prefix: &str) -> PortResult<Vec<String>> {
        Ok(self.call("sqs:ListQueues").await?.queues(prefix))
    }
    async fn queue_tags(&self, url: &str) -> PortResult<Vec<Tag>> {
        self.call("sqs:ListQueueTags").await?.queue_tags(url)
    }
}
