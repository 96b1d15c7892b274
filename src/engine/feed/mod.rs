//! Watching by events (#28): before the start call, a temporary EventBridge rule on the default
//! bus matching this service's ECS events (and its CodeDeploy group's), and a temporary SQS queue
//! whose policy admits only that rule (`aws:SourceArn`). While a deployment is watched the driver
//! long-polls the queue (20 s receives) instead of sleeping, and looks as soon as an event
//! arrives: an event only says *look now*; DescribeServices / the service deployment /
//! GetDeployment stay the truth.
//!
//! - **At-least-once, unordered**: an event already seen (its id) or clearly older than the
//!   last look (by 30 s: AWS's clock against the runner's) changes nothing. A lost event costs
//!   at most [`SAFETY_POLL_SECS`]: the watch still looks that often. An event that says a deployment ended is followed by looks `RELOOK_SECS` apart
//!   until the API shows it (eventual consistency), at most `RELOOKS`.
//! - **A new rule matches a moment later** (the EventBridge API Reference, PutRule): one look
//!   `ACTIVATION_LOOK_SECS` after the rule was created catches what happened before it did.
//! - **No DeleteMessage**: the queue's visibility timeout (12 h) is longer than any run, so a
//!   received message never returns; the queue is deleted at the end.
//! - **Clean-up**: on every way out of the deploy stage (success, failure, Ctrl-C). A killed
//!   run's rule and queue carry `fgdeploy:expires`; the next run (or `fgdeploy cleanup`)
//!   deletes those whose expiry passed — never a live one of another run.
//! - **Fallback**: any failure to set up (permissions, quotas, an endpoint without the API)
//!   means polling, said once; a queue that stops answering mid-watch, the same.

mod record;

pub(crate) use record::{Feed, Heard, SAFETY_POLL_SECS};

use super::{Engine, Interrupt};
use crate::eventpattern::{self, Notice, epoch_seconds, rfc3339};
use crate::ports::{PortError, Tag};
use crate::spec::WatchMode;
use std::time::Duration;

/// Every rule and queue fgdeploy creates for a watch starts with this.
pub const NAME_PREFIX: &str = "fgdeploy-watch-";
/// The longest SQS long poll (ReceiveMessage `WaitTimeSeconds`).
const LONG_POLL_SECS: u32 = 20;
const TARGET_ID: &str = "fgdeploy-queue";
/// The tag that says when a rule or queue may be deleted by anyone's fgdeploy.
pub(crate) const EXPIRES_TAG: &str = "fgdeploy:expires";
const RUN_TAG: &str = "fgdeploy:run";
/// A rule and queue outlive their run's deadline by this much before others may delete them.
const EXPIRY_MARGIN_SECS: f64 = 2.0 * 3600.0;

engine_part!(
    /// The watch's rule and queue: set up, listened to, deleted (the engine's context through
    /// it; the driver in `watch` calls it between looks).
    Feeds
);

/// Where the watch's events come from: the service and, for CodeDeploy, its group.
pub(crate) struct Source<'a> {
    pub(crate) service_arn: &'a str,
    pub(crate) service: &'a str,
    pub(crate) codedeploy: Option<(&'a str, &'a str)>,
}

/// Ten hex digits that tell this run's rule and queue from another run's.
fn run_id(service_arn: &str, now: f64) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{service_arn}|{}", now.to_bits()).as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// A rule or queue name: the prefix, its expiry (epoch seconds: the sweep passes over another
/// run's live watch without reading its tags), a run id, and as much of the service name as fits
/// (rules: 64 characters of `[.-_A-Za-z0-9]`; queues: 80 of `[-_A-Za-z0-9]`).
fn feed_name(expires: f64, run: &str, service: &str) -> String {
    let head = format!("{NAME_PREFIX}{}-{run}-", expires.max(0.0).floor() as u64);
    let clean: String = service.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(64 - head.len()).collect();
    head + &clean
}

/// The expiry a name carries (`None`: not one of [`feed_name`]'s; its tags decide).
fn name_expiry(name: &str) -> Option<f64> {
    let rest = name.rsplit('/').next()?.strip_prefix(NAME_PREFIX)?;
    rest.split('-').next()?.parse::<u64>().ok().map(|s| s as f64)
}

/// The queue policy: EventBridge may send this rule's events, nobody else anything (the
/// EventBridge User Guide, "Amazon SQS permissions").
fn queue_policy(queue_arn: &str, rule_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EventsToMyQueue", "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": rule_arn } },
        }],
    })
    .to_string()
}

/// The queue's ARN, in the rule's partition, region and account.
fn queue_arn(rule_arn: &str, name: &str) -> Option<String> {
    let mut p = rule_arn.split(':');
    let (_, partition, _, region, account) = (p.next()?, p.next()?, p.next()?, p.next()?, p.next()?);
    Some(format!("arn:{partition}:sqs:{region}:{account}:{name}"))
}

fn expired(tags: &[Tag], now: f64) -> bool {
    tags.iter().find(|(k, _)| k == EXPIRES_TAG).and_then(|(_, v)| epoch_seconds(v)).is_some_and(|at| at < now)
}

/// `fgdeploy cleanup`: delete the expired leftovers (every fgdeploy-tagged one with `all`).
pub async fn cleanup_feeds(ports: &crate::ports::Ports, all: bool) -> crate::error::Result<Vec<String>> {
    let e = Engine::new(ports.clone(), std::sync::Arc::new(super::Recorder::default()), super::Interrupt::default());
    Feeds(&e).sweep(all).await
}

impl Feeds<'_> {
    /// Set up the watch's rule and queue (after deleting expired leftovers), unless `mode` is
    /// `poll`. Any failure: polling, said once; what was created is deleted.
    pub(crate) async fn open(&self, mode: WatchMode, src: &Source<'_>, deadline: f64) {
        if mode == WatchMode::Poll {
            return;
        }
        let _ = self.sweep(false).await;
        match self.create_feed(src, deadline).await {
            Ok(feed) => {
                self.info(format!(
                    "watching by events: EventBridge rule and SQS queue {} (and a look every {SAFETY_POLL_SECS:.0} s besides)",
                    feed.rule
                ));
                *self.feed.lock().unwrap_or_else(|p| p.into_inner()) = Some(feed);
            }
            Err((e, made)) => {
                self.warn(format!("watching by polling: the event rule and queue could not be set up ({e})"));
                self.delete_feed(&made).await;
            }
        }
    }

    /// PutRule, CreateQueue (policy, tags), PutTargets. On an error, what exists so far.
    async fn create_feed(&self, src: &Source<'_>, deadline: f64) -> Result<Feed, (PortError, Feed)> {
        let now = self.ports.clock.now();
        let run = run_id(src.service_arn, now);
        let expires = deadline + EXPIRY_MARGIN_SECS;
        let name = feed_name(expires, &run, src.service);
        let dg = src.codedeploy.and_then(|(app, group)| eventpattern::deployment_group_arn(src.service_arn, app, group));
        let pattern = eventpattern::pattern(src.service_arn, dg.as_deref()).to_string();
        let tags: Vec<Tag> = vec![(RUN_TAG.into(), run.clone()), (EXPIRES_TAG.into(), rfc3339(expires))];
        let mut feed = Feed::new(now);
        let description = format!("fgdeploy's watch of {} (deleted when the run ends)", src.service_arn);
        let rule_arn = match self.ports.bus.put_rule(&name, &pattern, &description, &tags).await {
            Ok(arn) => arn,
            Err(e) => return Err((e, feed)),
        };
        feed.rule = name.clone();
        let Some(q_arn) = queue_arn(&rule_arn, &name) else {
            let e = PortError::Transient { op: "events:PutRule".into(), message: format!("malformed rule ARN {rule_arn}") };
            return Err((e, feed));
        };
        let attributes = [
            ("Policy".to_string(), queue_policy(&q_arn, &rule_arn)),
            ("VisibilityTimeout".to_string(), "43200".to_string()),
            ("MessageRetentionPeriod".to_string(), "3600".to_string()),
        ];
        match self.ports.queues.create_queue(&name, &attributes, &tags).await {
            Ok(url) => feed.queue_url = url,
            Err(e) => return Err((e, feed)),
        }
        match self.ports.bus.put_target(&name, TARGET_ID, &q_arn).await {
            Ok(()) => Ok(feed),
            Err(e) => Err((e, feed)),
        }
    }

    /// Delete this run's rule and queue (every way out of the deploy stage).
    pub(crate) async fn close(&self) {
        let feed = self.feed.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(f) = feed {
            self.delete_feed(&f).await;
        }
    }

    async fn delete_feed(&self, f: &Feed) {
        let mut failed = Vec::new();
        if !f.rule.is_empty()
            && let Err(e) = self.ports.bus.delete_rule(&f.rule, &[TARGET_ID.to_string()]).await
        {
            failed.push(format!("rule {}: {e}", f.rule));
        }
        if !f.queue_url.is_empty()
            && let Err(e) = self.ports.queues.delete_queue(&f.queue_url).await
        {
            failed.push(format!("queue {}: {e}", f.queue_url));
        }
        if !failed.is_empty() {
            self.warn(format!(
                "the watch's {} could not be deleted; it expires with its tag {EXPIRES_TAG} and the next run (or `fgdeploy cleanup`) deletes it",
                failed.join(", ")
            ));
        }
    }

    /// Delete the rules and queues named [`NAME_PREFIX`] whose `fgdeploy:expires` passed (or,
    /// with `all`, every one that carries the tag). The names of what was deleted.
    pub(crate) async fn sweep(&self, all: bool) -> crate::error::Result<Vec<String>> {
        let now = self.ports.clock.now();
        let mut deleted = Vec::new();
        // Another run's live watch says so in its name: its tags are not read.
        let candidate = |name: &str| all || name_expiry(name).is_none_or(|at| at < now);
        for (name, arn) in self.ports.bus.rules(NAME_PREFIX).await? {
            if !candidate(&name) {
                continue;
            }
            let tags = self.ports.bus.rule_tags(&arn).await?;
            let ours = tags.iter().any(|(k, _)| k == EXPIRES_TAG);
            if ours && (all || expired(&tags, now)) {
                self.ports.bus.delete_rule(&name, &[TARGET_ID.to_string()]).await?;
                deleted.push(format!("rule {name}"));
            }
        }
        for url in self.ports.queues.queues(NAME_PREFIX).await? {
            if !candidate(&url) {
                continue;
            }
            let tags = self.ports.queues.queue_tags(&url).await?;
            let ours = tags.iter().any(|(k, _)| k == EXPIRES_TAG);
            if ours && (all || expired(&tags, now)) {
                self.ports.queues.delete_queue(&url).await?;
                deleted.push(format!("queue {url}"));
            }
        }
        Ok(deleted)
    }

    /// Whether the watch hears events now.
    pub(in crate::engine) fn live(&self) -> bool {
        self.feed.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|f| !f.broken)
    }

    /// The driver's next wait: for a wait events can wake (`evented`) while the run hears
    /// events, listen until the look it must make anyway ([`Feed::wait`]; `looked_at`: the look
    /// that just happened); otherwise the poller's `poll`. Whether to listen.
    pub(in crate::engine) fn plan_wait(
        &self,
        evented: bool,
        looked_at: Option<f64>,
        moment: Option<Duration>,
        poll: Duration,
    ) -> (Duration, bool) {
        let mut guard = self.feed.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut().filter(|f| evented && !f.broken) {
            Some(f) => {
                if let Some(at) = looked_at {
                    f.looked(at);
                }
                (f.wait(moment, self.ports.clock.now()), true)
            }
            None => (poll, false),
        }
    }

    /// One long poll of the queue for up to `wait_secs` (at most 20): whether an event that is
    /// news arrived. A queue that fails (not a throttle or a transient error) ends the events
    /// for this run: polling, said once. An interrupt ends the poll.
    pub(in crate::engine) async fn hear(&self, wait_secs: u32, interrupt: Option<&Interrupt>) -> Heard {
        let url = match self.feed.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(f) if !f.broken => f.queue_url.clone(),
            _ => return Heard::Quiet,
        };
        let wait = wait_secs.min(LONG_POLL_SECS);
        let received = match interrupt {
            Some(i) => tokio::select! {
                r = self.ports.queues.receive(&url, wait) => r,
                _ = i.wait() => return Heard::Quiet,
            },
            None => self.ports.queues.receive(&url, wait).await,
        };
        match received {
            Ok(messages) => {
                let mut guard = self.feed.lock().unwrap_or_else(|p| p.into_inner());
                let news = guard.as_mut().is_some_and(|f| f.heard(messages.iter().filter_map(|m| Notice::parse(&m.body))));
                if news { Heard::News } else { Heard::Quiet }
            }
            Err(e) if e.is_retryable() => Heard::Retry,
            Err(e) => {
                if let Some(f) = self.feed.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                    f.broken = true;
                }
                self.warn(format!("watching by polling from now on: the event queue failed ({e})"));
                Heard::Quiet
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_both_services_limits() {
        let long = "a".repeat(255);
        let n = feed_name(1_800_000_000.0, "0123456789", &long);
        assert!(n.len() == 64 && n.starts_with(NAME_PREFIX), "{n}");
        let odd = feed_name(1_800_000_000.5, "0123456789", "web.api:v2");
        assert_eq!(odd, "fgdeploy-watch-1800000000-0123456789-webapiv2", "only the characters SQS allows");
        assert_eq!(name_expiry(&odd), Some(1_800_000_000.0));
        assert_eq!(name_expiry(&format!("https://sqs.eu-west-1.amazonaws.com/1/{odd}")), Some(1_800_000_000.0), "a queue URL");
        assert_eq!(name_expiry("fgdeploy-watch-dead"), None, "not a name fgdeploy wrote: the tags decide");
    }

    #[test]
    fn the_policy_admits_only_the_rule() {
        let p: serde_json::Value =
            serde_json::from_str(&queue_policy("arn:aws:sqs:eu-west-1:1:q", "arn:aws:events:eu-west-1:1:rule/r")).expect("json");
        let s = &p["Statement"][0];
        assert_eq!(s["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(s["Condition"]["ArnEquals"]["aws:SourceArn"], "arn:aws:events:eu-west-1:1:rule/r");
        assert_eq!(s["Resource"], "arn:aws:sqs:eu-west-1:1:q");
        assert_eq!(queue_arn("arn:aws-cn:events:cn-north-1:1:rule/r", "q").as_deref(), Some("arn:aws-cn:sqs:cn-north-1:1:q"));
    }

    #[test]
    fn only_expired_tags_are_leftovers() {
        let tags = |at: &str| vec![(EXPIRES_TAG.to_string(), at.to_string())];
        assert!(expired(&tags("2026-01-01T00:00:00Z"), epoch_seconds("2026-01-01T00:00:01Z").expect("t")));
        assert!(!expired(&tags("2026-01-01T00:00:00Z"), epoch_seconds("2025-12-31T23:59:59Z").expect("t")));
        assert!(!expired(&[], 1e12), "without the tag it is not fgdeploy's");
        assert!(!expired(&tags("tomorrow"), 1e12), "an unreadable expiry is left alone");
    }
}
